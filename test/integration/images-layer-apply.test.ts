// The untrusted-layer extractor (src/snapshots/apply.ts) on crafted tars: every escape is refused and
// writes nothing outside the layer directory; whiteouts become overlay whiteouts. Needs root (chown,
// mknod, trusted.* xattrs) and attr (setfattr/getfattr).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer, LayerError } from '../../src/snapshots/apply.js';
import { makeTar, type TarEntry } from './registry-helpers.js';

let base: string; let outside: string;

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
  try { await applyLayer(Readable.from(await makeTar(entries)), dir); return { dir }; } catch (err) { return { dir, err }; }
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
  const r = await apply([{ name: 'a/', type: 'directory' }, { name: 'a/../../evil', data: 'x' }]);
  assert.ok(r.err instanceof LayerError);
  assert.match((r.err as Error).message, /'\.\.'/);
  outsideUntouched();
});

test('entries through a symlink are refused (absolute and relative targets)', async () => {
  for (const target of [outside, '../outside', '../../../../../../..' + outside]) {
    const r = await apply([{ name: 'link', type: 'symlink', linkname: target }, { name: 'link/evil', data: 'x' }]);
    assert.ok(r.err instanceof LayerError, String(r.err));
    assert.match((r.err as Error).message, /through a symlink/);
    outsideUntouched();
  }
});

test('a file entry replaces a symlink instead of writing through it', async () => {
  const r = await apply([{ name: 'x', type: 'symlink', linkname: join(outside, 'secret') }, { name: 'x', data: 'inside\n' }]);
  assert.equal(r.err, undefined);
  assert.equal(readFileSync(join(r.dir, 'x'), 'utf8'), 'inside\n');
  assert.ok(!lstatSync(join(r.dir, 'x')).isSymbolicLink());
  outsideUntouched();
});

test('hard links to outside are refused (absolute, .., through a symlink)', async () => {
  for (const entries of [
    [{ name: 'hl', type: 'link', linkname: join(outside, 'secret') }],
    [{ name: 'hl', type: 'link', linkname: '../outside/secret' }],
    [{ name: 'sl', type: 'symlink', linkname: outside }, { name: 'hl', type: 'link', linkname: 'sl/secret' }],
  ] as TarEntry[][]) {
    const r = await apply(entries);
    assert.ok(r.err instanceof LayerError, String(r.err));
    assert.ok(!existsSync(join(r.dir, 'hl')));
    assert.equal(lstatSync(join(outside, 'secret')).nlink, 1);
  }
  const ok = await apply([{ name: 'f', data: 'f\n' }, { name: 'g', type: 'link', linkname: 'f' }]);
  assert.equal(ok.err, undefined);
  assert.equal(lstatSync(join(ok.dir, 'g')).nlink, 2);
});

test('device nodes are never created; fifos are', async () => {
  const r = await apply([{ name: 'dev/', type: 'directory' }, { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }, { name: 'fifo', type: 'fifo' }]);
  assert.equal(r.err, undefined);
  assert.deepEqual(readdirSync(join(r.dir, 'dev')), []);
  assert.ok(lstatSync(join(r.dir, 'fifo')).isFIFO());
});

test('whiteouts become 0/0 character devices, opaque markers an xattr', async () => {
  const r = await apply([{ name: 'etc/', type: 'directory' }, { name: 'etc/.wh.passwd', data: '' }, { name: 'opq/', type: 'directory' },
    { name: 'opq/.wh..wh..opq', data: '' }, { name: 'opq/new', data: 'n' }]);
  assert.equal(r.err, undefined);
  const st = lstatSync(join(r.dir, 'etc/passwd'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.ok(!existsSync(join(r.dir, 'etc/.wh.passwd')));
  const x = execFileSync('getfattr', ['--absolute-names', '-n', 'trusted.overlay.opaque', '--only-values', join(r.dir, 'opq')]).toString();
  assert.equal(x, 'y');
  assert.ok(!existsSync(join(r.dir, 'opq/.wh..wh..opq')));
});

test('modes, owners and symlinks are kept', async () => {
  const r = await apply([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755 }, { name: 'bin/alias', type: 'symlink', linkname: 'tool' }]);
  assert.equal(r.err, undefined);
  assert.equal(lstatSync(join(r.dir, 'bin/tool')).mode & 0o7777, 0o4755);
  assert.ok(lstatSync(join(r.dir, 'bin/alias')).isSymbolicLink());
});

test('tarDirectoryStream streams a directory as a tar (and errors for a missing one)', async () => {
  const { tarDirectoryStream: exportTree } = await import('../../src/sys/tar.js');
  const r = await apply([{ name: 'etc/', type: 'directory' }, { name: 'etc/hostname', data: 'box\n' }]);
  const chunks: Buffer[] = [];
  for await (const c of exportTree(r.dir)) chunks.push(c as Buffer);
  const file = join(base, 'export.tar');
  writeFileSync(file, Buffer.concat(chunks));
  assert.deepEqual(execFileSync('tar', ['-tf', file]).toString().trim().split('\n'), ['./', './etc/', './etc/hostname']);
  await assert.rejects(async () => { for await (const _ of exportTree(join(base, 'missing'))) { /* drain */ } }, /Cannot open/);
});
