// Dependencies point downward only (DESIGN.md, Layout): no engine room imports src/api, src/daemon
// or src/cli; src/sys imports only src/sys and src/core; src/core imports nothing of the project.
// Reads the import statements of every .ts file under src/ (static, re-exports, dynamic import()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENGINE = [
  'build',
  'containers',
  'images',
  'network',
  'volumes',
  'content',
  'snapshots',
  'registry',
  'runtime',
  'store',
  'sys',
  'chroot',
  'units',
];
const UPPER = ['api', 'daemon', 'cli'];
/** Rooms limited to a fixed set of project rooms (themselves included). */
const ONLY: Record<string, string[]> = { sys: ['sys', 'core'], core: ['core'] };

/** The module specifiers a TypeScript file imports or re-exports. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const res = [
    /(?:^|[\n;])\s*(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g, // import x from '...', export { a } from '...'
    /(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g, // import '...'
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // await import('...')
  ];
  for (const re of res) for (const m of text.matchAll(re)) out.push(m[1]);
  return out;
}

/** The src room ('api', 'sys', ...) a relative specifier of file src/<room>/... points into, or null. */
function targetRoom(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // node: builtins and packages
  const p = posix.normalize(posix.join(posix.dirname(file), spec));
  const m = /^src\/([^/]+)\//.exec(p);
  return m ? m[1] : null;
}

/** Every upward or sideways import that breaks the rules, as "file -> specifier (room)". */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const bad: string[] = [];
  for (const [file, text] of files) {
    const room = /^src\/([^/]+)\//.exec(file)?.[1];
    if (!room) continue;
    for (const spec of importsOf(text)) {
      const to = targetRoom(file, spec);
      if (to === null || to === room) continue;
      if (ENGINE.includes(room) && UPPER.includes(to)) bad.push(`${file} -> ${spec} (engine imports ${to}/)`);
      else if (ONLY[room] && !ONLY[room].includes(to))
        bad.push(`${file} -> ${spec} (${room}/ may import only ${ONLY[room].join(', ')})`);
    }
  }
  return bad;
}

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'src', 'core', 'errors.ts'))) {
    const up = dirname(d);
    if (up === d)
      throw new Error('cannot find the repository (src/core/errors.ts) above ' + fileURLToPath(import.meta.url));
    d = up;
  }
  return d;
}

function sources(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(join(root, 'src'));
  return out;
}

test('the checker sees every kind of import and flags what breaks the rules', () => {
  assert.deepEqual(
    importsOf(
      [
        "import { a } from './a.js';",
        'import type {\n  B,\n  C,\n} from "../b/c.js";',
        "import './side.js';",
        "export { d } from '../d/d.js';",
        "const m = await import('../daemon/main.js');",
        "import { readFileSync } from 'node:fs';",
      ].join('\n'),
    ),
    ['./a.js', '../b/c.js', '../d/d.js', 'node:fs', './side.js', '../daemon/main.js'],
  );
  const fake = new Map([
    ['src/images/x.ts', "import { NotFound } from '../api/errors.js';\nimport { log } from '../core/log.js';"],
    ['src/network/y.ts', "import type {\n  EventBus,\n} from '../daemon/events.js';"],
    [
      'src/sys/z.ts',
      "import type { OciDevice } from '../runtime/spec.js';\nimport { x } from './w.js';\nimport { InvalidArgument } from '../core/errors.js';",
    ],
    ['src/core/c.ts', "import { run } from '../sys/exec.js';"],
    [
      'src/api/ok.ts',
      "import type { Services } from '../daemon/services.js';\nimport { NotFound } from '../core/errors.js';",
    ],
    ['src/runtime/dyn.ts', "const { x } = await import('../cli/main.js');"],
  ]);
  assert.deepEqual(violations(fake), [
    'src/images/x.ts -> ../api/errors.js (engine imports api/)',
    'src/network/y.ts -> ../daemon/events.js (engine imports daemon/)',
    'src/sys/z.ts -> ../runtime/spec.js (sys/ may import only sys, core)',
    'src/core/c.ts -> ../sys/exec.js (core/ may import only core)',
    'src/runtime/dyn.ts -> ../cli/main.js (engine imports cli/)',
  ]);
});

test('src/: no engine room imports api/daemon/cli, sys imports only sys/core, core only core', () => {
  const files = sources(repoRoot());
  const rooms = new Set([...files.keys()].map((f) => f.split('/')[1]));
  for (const r of ['core', 'sys', 'containers', 'images', 'api', 'daemon'])
    assert.ok(rooms.has(r), `src/${r} was not read`);
  assert.ok(files.size > 50, `only ${files.size} source files read`);
  assert.deepEqual(violations(files), []);
});

test('one tar codec: src/sys/tar/ reads and writes tars itself (no tar library), no engine code spawns GNU tar', () => {
  const files = sources(repoRoot());
  assert.ok(files.has('src/sys/tar/format.ts'), 'the codec was not read');
  const users = [...files].filter(([, text]) => importsOf(text).includes('tar-stream')).map(([f]) => f);
  // tar-stream stays a test tool (an independent writer to craft archives with), never the engine's
  assert.deepEqual(users, []);
  // no GNU tar anywhere, chroot root caches and chroot export included
  const spawns = [...files].filter(([, text]) => /\b(?:run|spawn|runOk|execFile)\(\s*'tar'/.test(text)).map(([f]) => f);
  assert.deepEqual(spawns, []);
});
