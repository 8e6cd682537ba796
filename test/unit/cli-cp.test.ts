// The CLI's side of cp and build: docker's cp argument split, .dockerignore patterns and the build
// context tar (packed by the one tar codec, src/sys/tar/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { splitCpArg } from '../../src/cli/commands/cp.js';
import { readTar } from '../../src/sys/tar/extract.js';

test('cp argument split', () => {
  assert.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  assert.deepEqual(splitCpArg('/tmp/a:b'), { path: '/tmp/a:b' });
  assert.deepEqual(splitCpArg('./x:y'), { path: './x:y' });
  assert.deepEqual(splitCpArg('file'), { path: 'file' });
});

import { parseDockerignore, isIgnored } from '../../src/cli/dockerignore.js';
import { contextTar } from '../../src/cli/commands/build.js';

test('.dockerignore patterns like moby', () => {
  const p = parseDockerignore('# c\nnode_modules\n*.log\n!keep.log\n/tmp/**\n**/*.bak\ndocs/?.md\n');
  assert.ok(isIgnored('node_modules', p));
  assert.ok(isIgnored('node_modules/x/y.js', p));
  assert.ok(isIgnored('a.log', p));
  assert.ok(!isIgnored('keep.log', p));
  assert.ok(!isIgnored('sub/a.log', p), '*.log matches only at the root');
  assert.ok(isIgnored('tmp/a/b', p));
  assert.ok(isIgnored('x/y/z.bak', p) && isIgnored('z.bak', p));
  assert.ok(isIgnored('docs/a.md', p) && !isIgnored('docs/ab.md', p));
  assert.ok(!isIgnored('src/main.ts', p));
});

test('build context tar honours .dockerignore and always keeps the Dockerfile', async () => {
  const d = mkdtempSync(join(tmpdir(), 'cli-ctx-'));
  try {
    mkdirSync(join(d, 'sub'));
    mkdirSync(join(d, 'skip'));
    writeFileSync(join(d, 'Dockerfile'), 'FROM busybox\n');
    writeFileSync(join(d, 'a.txt'), 'a');
    writeFileSync(join(d, 'sub/b.txt'), 'b');
    writeFileSync(join(d, 'skip/c'), 'c');
    writeFileSync(join(d, '.dockerignore'), 'skip\nDockerfile\n*.txt\n');
    const names: string[] = [];
    await readTar(Readable.from(await contextTar(d, 'Dockerfile')), async (h) => {
      names.push(h.name.replace(/\/$/, ''));
    });
    names.sort();
    assert.deepEqual(names, ['.dockerignore', 'Dockerfile', 'sub', 'sub/b.txt']);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
