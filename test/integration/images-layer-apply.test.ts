// The untrusted-layer extractor (src/sys/tar/extract.ts) on crafted tars: every escape is refused and
// writes nothing outside the layer directory; whiteouts become overlay whiteouts. Needs root (chown,
// mknod, trusted.* xattrs) and attr (setfattr/getfattr).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer, extractTarStream } from '../../src/sys/tar/extract.js';
import { COPY, IMPORT, LayerError, type ExtractRules } from '../../src/sys/tar/rules.js';
import { SafeRoot, RootPathError } from '../../src/sys/saferoot.js';
import { symlinkSync } from 'node:fs';
import { makeTar, type TarEntry } from './registry-helpers.js';

let base: string;
let outside: string;

before(() => {
  base = mkdtempSync('/tmp/cocon-apply-');
  outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret\n');
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
async function apply(entries: TarEntry[]): Promise<{ dir: string; err?: unknown }> {
  const dir = join(base, `layer${n++}`);
  mkdirSync(dir);
  try {
    await applyLayer(Readable.from(await makeTar(entries)), dir);
    return { dir };
  } catch (err) {
    return { dir, err };
  }
}

function outsideUntouched(): void {
  assert.deepEqual(readdirSync(outside), ['secret']);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret\n');
  assert.ok(!existsSync(join(base, 'evil')));
}

test('absolute paths are refused', async () => {
  const r = await apply([{ name: `${outside}/evil`, data: 'x' }]);
  assert.ok(r.err instanceof LayerError, String(r.err));
  assert.match((r.err as Error).message, /absolute path/);
  outsideUntouched();
});

test("'..' components are refused", async () => {
  const r = await apply([
    { name: 'a/', type: 'directory' },
    { name: 'a/../../evil', data: 'x' },
  ]);
  assert.ok(r.err instanceof LayerError);
  assert.match((r.err as Error).message, /'\.\.'/);
  outsideUntouched();
});

test('entries through a symlink are refused (absolute and relative targets)', async () => {
  for (const target of [outside, '../outside', '../../../../../../..' + outside]) {
    const r = await apply([
      { name: 'link', type: 'symlink', linkname: target },
      { name: 'link/evil', data: 'x' },
    ]);
    assert.ok(r.err instanceof LayerError, String(r.err));
    assert.match((r.err as Error).message, /through a symlink/);
    outsideUntouched();
  }
});

test('a file entry replaces a symlink instead of writing through it', async () => {
  const r = await apply([
    { name: 'x', type: 'symlink', linkname: join(outside, 'secret') },
    { name: 'x', data: 'inside\n' },
  ]);
  assert.equal(r.err, undefined);
  assert.equal(readFileSync(join(r.dir, 'x'), 'utf8'), 'inside\n');
  assert.ok(!lstatSync(join(r.dir, 'x')).isSymbolicLink());
  outsideUntouched();
});

test('hard links to outside are refused (absolute, .., through a symlink)', async () => {
  for (const entries of [
    [{ name: 'hl', type: 'link', linkname: join(outside, 'secret') }],
    [{ name: 'hl', type: 'link', linkname: '../outside/secret' }],
    [
      { name: 'sl', type: 'symlink', linkname: outside },
      { name: 'hl', type: 'link', linkname: 'sl/secret' },
    ],
  ] as TarEntry[][]) {
    const r = await apply(entries);
    assert.ok(r.err instanceof LayerError, String(r.err));
    assert.ok(!existsSync(join(r.dir, 'hl')));
    assert.equal(lstatSync(join(outside, 'secret')).nlink, 1);
  }
  const ok = await apply([
    { name: 'f', data: 'f\n' },
    { name: 'g', type: 'link', linkname: 'f' },
  ]);
  assert.equal(ok.err, undefined);
  assert.equal(lstatSync(join(ok.dir, 'g')).nlink, 2);
});

test('device nodes are never created; fifos are', async () => {
  const r = await apply([
    { name: 'dev/', type: 'directory' },
    { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
    { name: 'fifo', type: 'fifo' },
  ]);
  assert.equal(r.err, undefined);
  assert.deepEqual(readdirSync(join(r.dir, 'dev')), []);
  assert.ok(lstatSync(join(r.dir, 'fifo')).isFIFO());
});

test('whiteouts become 0/0 character devices, opaque markers an xattr', async () => {
  const r = await apply([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.passwd', data: '' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/.wh..wh..opq', data: '' },
    { name: 'opq/new', data: 'n' },
  ]);
  assert.equal(r.err, undefined);
  const st = lstatSync(join(r.dir, 'etc/passwd'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.ok(!existsSync(join(r.dir, 'etc/.wh.passwd')));
  const x = execFileSync('getfattr', [
    '--absolute-names',
    '-n',
    'trusted.overlay.opaque',
    '--only-values',
    join(r.dir, 'opq'),
  ]).toString();
  assert.equal(x, 'y');
  assert.ok(!existsSync(join(r.dir, 'opq/.wh..wh..opq')));
});

test('modes, owners and symlinks are kept', async () => {
  const r = await apply([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
  ]);
  assert.equal(r.err, undefined);
  assert.equal(lstatSync(join(r.dir, 'bin/tool')).mode & 0o7777, 0o4755);
  assert.ok(lstatSync(join(r.dir, 'bin/alias')).isSymbolicLink());
});

test('packTree streams a directory as a tar, as docker export names it (and errors for a missing one)', async () => {
  const { packTree: exportTree } = await import('../../src/sys/tar/pack.js');
  const r = await apply([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hostname', data: 'box\n' },
  ]);
  const chunks: Buffer[] = [];
  for await (const c of exportTree(r.dir)) chunks.push(c as Buffer);
  const file = join(base, 'export.tar');
  writeFileSync(file, Buffer.concat(chunks));
  assert.deepEqual(execFileSync('tar', ['-tf', file]).toString().trim().split('\n'), ['etc/', 'etc/hostname']);
  await assert.rejects(async () => {
    for await (const _ of exportTree(join(base, 'missing'))) {
      /* drain */
    }
  }, /no such directory/);
});

async function extractWith(
  rules: ExtractRules,
  entries: TarEntry[],
  prepare?: (dir: string) => void,
  baseDir = '',
): Promise<{ dir: string; err?: unknown }> {
  const dir = join(base, `root${n++}`);
  mkdirSync(dir);
  prepare?.(dir);
  try {
    await extractTarStream(Readable.from(await makeTar(entries)), dir, rules, baseDir);
    return { dir };
  } catch (err) {
    return { dir, err };
  }
}

test('IMPORT rules: absolute names and hard links count from the root; devices are created', async () => {
  const r = await extractWith(IMPORT, [
    { name: `${outside}/abs`, data: 'a\n' },
    { name: 'h', type: 'link', linkname: `${outside}/abs` },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  ]);
  assert.equal(r.err, undefined, String(r.err));
  assert.equal(readFileSync(join(r.dir, outside, 'abs'), 'utf8'), 'a\n');
  assert.equal(lstatSync(join(r.dir, 'h')).nlink, 2);
  const st = lstatSync(join(r.dir, 'dev/null'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0x103);
  outsideUntouched();
});

test('COPY rules: symlinks already in the root resolve inside it, at any depth; dirs and non-dirs are not swapped', async () => {
  const prepare = (dir: string) => {
    mkdirSync(join(dir, 'tmp'));
    symlinkSync('/', join(dir, 'tmp/hostroot'));
    symlinkSync('../../../../../../..', join(dir, 'tmp/up'));
    symlinkSync(outside, join(dir, 'tmp/abs'));
  };
  const r = await extractWith(
    COPY,
    [
      { name: `hostroot${outside}/evil`, data: 'x' },
      { name: `up${outside}/evil2`, data: 'y' },
      { name: 'abs/evil3', data: 'z' },
      { name: 'abs/../../x', data: 'no' },
    ],
    prepare,
    '/tmp',
  );
  assert.ok(r.err instanceof LayerError, 'the .. entry is refused');
  assert.equal(readFileSync(join(r.dir, outside, 'evil'), 'utf8'), 'x');
  assert.equal(readFileSync(join(r.dir, outside, 'evil2'), 'utf8'), 'y');
  assert.equal(readFileSync(join(r.dir, outside, 'evil3'), 'utf8'), 'z');
  outsideUntouched();
  const d = await extractWith(COPY, [{ name: 'd', data: 'file over dir' }], (dir) => mkdirSync(join(dir, 'd')));
  assert.match(String(d.err), /cannot overwrite directory "d" with non-directory/);
  const f = await extractWith(COPY, [{ name: 'f/', type: 'directory' }], (dir) => writeFileSync(join(dir, 'f'), 'x'));
  assert.match(String(f.err), /cannot overwrite non-directory "f\/?" with directory/);
});

test('SafeRoot: .. stops at the root, link loops end with ELOOP, refuse mode names the symlink', () => {
  const dir = join(base, `saferoot${n++}`);
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  symlinkSync('loop', join(dir, 'loop'));
  symlinkSync('/a', join(dir, 'toa'));
  const r = SafeRoot.open(dir);
  try {
    const fd = r.openDir('../../../..'); // the root itself
    assert.deepEqual(readdirSync(`/proc/self/fd/${fd}`).sort(), ['a', 'loop', 'toa']);
    const b = r.openDir('toa/b/../../a/b');
    assert.deepEqual(readdirSync(`/proc/self/fd/${b}`), []);
    assert.throws(
      () => r.openDir('loop/x'),
      (e: unknown) => e instanceof RootPathError && e.code === 'ELOOP',
    );
    assert.throws(
      () => r.openDir('toa/b', { symlinks: 'refuse' }),
      (e: unknown) => e instanceof RootPathError && e.code === 'ESYMLINK',
    );
    assert.throws(
      () => r.openDir('missing'),
      (e: unknown) => e instanceof RootPathError && e.code === 'ENOENT',
    );
  } finally {
    r.close();
  }
});
