// The one tar codec (src/sys/tar/): what it packs is read by GNU tar (long names, symlinks, modes,
// hard links); layers it packs with a HeaderPolicy are deterministic (same tree -> same digest,
// whatever the files' mtimes and owners); the HOST rules of `docker cp` to the host rename the top
// entry, leave owners to the caller and refuse '..' and entries through a symlink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractTarStream, readTar } from '../../src/sys/tar/extract.js';
import { locate, packLocated, packTree, writeTar } from '../../src/sys/tar/pack.js';
import { applyDirOf, applyPolicy, HOST, LayerError, replaceTop } from '../../src/sys/tar/rules.js';

async function bytes(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'sys-tar-'));
  mkdirSync(join(d, 'src/sub'), { recursive: true });
  writeFileSync(join(d, 'src/a.txt'), 'hello\n', { mode: 0o640 });
  writeFileSync(join(d, 'src/sub/' + 'x'.repeat(120)), 'long name');
  symlinkSync('a.txt', join(d, 'src/link'));
  linkSync(join(d, 'src/a.txt'), join(d, 'src/hard'));
  return d;
}

test('packLocated output is read by GNU tar (long names, symlinks, hard links, modes)', async () => {
  const d = tree();
  try {
    const l = locate(d, 'src', false);
    const tarFile = join(d, 'out.tar');
    try {
      writeFileSync(tarFile, await bytes(packLocated(l, 'src')));
    } finally {
      l.close();
    }
    const list = spawnSync('tar', ['-tvf', tarFile], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /-rw-r----- .* src\/a\.txt/);
    assert.match(list.stdout, /src\/link -> a\.txt/);
    assert.match(list.stdout, /src\/hard link to src\/a\.txt/);
    assert.match(list.stdout, new RegExp(`src/sub/${'x'.repeat(120)}`));
    mkdirSync(join(d, 'x'));
    assert.equal(spawnSync('tar', ['-xf', tarFile, '-C', join(d, 'x')]).status, 0);
    assert.equal(readFileSync(join(d, 'x/src/sub/' + 'x'.repeat(120)), 'utf8'), 'long name');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a layer packed with a HeaderPolicy is deterministic: same content -> same digest', async () => {
  const a = tree();
  const b = tree();
  try {
    // the same content with other mtimes and owners, created in another order
    utimesSync(join(b, 'src/a.txt'), 1_000_000, 1_000_000);
    chownSync(join(b, 'src/sub'), 1234, 1234);
    writeFileSync(join(a, 'src/z'), 'z');
    writeFileSync(join(b, 'src/y-first'), 'y');
    writeFileSync(join(a, 'src/y-first'), 'y');
    writeFileSync(join(b, 'src/z'), 'z');
    const policy = { rootOwner: true, mtime: new Date(1_700_000_000_000) };
    const ta = await bytes(packTree(join(a, 'src'), { rootEntry: true, policy }));
    const tb = await bytes(packTree(join(b, 'src'), { rootEntry: true, policy }));
    assert.equal(sha(ta), sha(tb));
    assert.equal(sha(ta), sha(await bytes(packTree(join(a, 'src'), { rootEntry: true, policy }))), 'twice the same');
    // sorted names, fixed owners and times, no user or group names
    const seen: string[] = [];
    await readTar(Readable.from([ta]), async (h) => {
      seen.push(h.name);
      assert.equal(h.uid, 0);
      assert.equal(h.gid, 0);
      assert.equal(h.uname ?? '', '');
      assert.equal(h.gname ?? '', '');
      assert.equal(h.mtime?.getTime(), 1_700_000_000_000);
    });
    assert.deepEqual(seen, ['./', 'a.txt', 'hard', 'link', 'sub/', `sub/${'x'.repeat(120)}`, 'y-first', 'z']);
    // other content, other digest
    writeFileSync(join(b, 'src/z'), 'Z');
    assert.notEqual(sha(ta), sha(await bytes(packTree(join(b, 'src'), { rootEntry: true, policy }))));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('applyPolicy clears names and sets owner and mtime only when asked', () => {
  const h = { name: 'f', uid: 5, gid: 6, uname: 'u', gname: 'g', mtime: new Date(5000) };
  assert.deepEqual(applyPolicy(h, {}), { ...h, uname: '', gname: '' });
  assert.deepEqual(applyPolicy(h, { rootOwner: true, mtime: new Date(0) }), {
    ...h,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime: new Date(0),
  });
  assert.equal(replaceTop('a/b/c', 'x'), 'x/b/c');
  assert.equal(replaceTop('a/b', ''), 'b');
  assert.equal(replaceTop('a', 'x'), 'x');
});

function tarOf(
  entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink'; data?: string; linkname?: string }>,
) {
  return writeTar(async (w) => {
    for (const e of entries)
      await w.entry(
        { name: e.name, type: e.type ?? 'file', mode: 0o644, uid: 4321, gid: 4321, linkname: e.linkname },
        e.data === undefined ? undefined : Buffer.from(e.data),
      );
  });
}

test("HOST rules: the top entry is renamed, owners stay the caller's, escapes are refused", async () => {
  const d = mkdtempSync(join(tmpdir(), 'sys-tar-host-'));
  try {
    const dest = join(d, 'dest');
    mkdirSync(dest);
    await extractTarStream(
      tarOf([
        { name: 'src/', type: 'directory' },
        { name: 'src/a.txt', data: 'a' },
        { name: 'src/l', type: 'symlink', linkname: '/etc' },
      ]),
      dest,
      HOST,
      '',
      { renameTop: 'renamed' },
    );
    assert.equal(readFileSync(join(dest, 'renamed/a.txt'), 'utf8'), 'a');
    assert.equal(readlinkSync(join(dest, 'renamed/l')), '/etc');
    assert.equal(statSync(join(dest, 'renamed/a.txt')).uid, process.getuid?.() ?? 0, 'owner is the caller');
    // contents only ('' drops the top)
    await extractTarStream(
      tarOf([
        { name: 'src/', type: 'directory' },
        { name: 'src/b', data: 'b' },
      ]),
      dest,
      HOST,
      '',
      { renameTop: '' },
    );
    assert.equal(readFileSync(join(dest, 'b'), 'utf8'), 'b');
    await assert.rejects(extractTarStream(tarOf([{ name: '../evil', data: 'x' }]), dest, HOST), LayerError);
    assert.ok(!existsSync(join(d, 'evil')));
    // through the symlink the tar itself planted: refused, nothing lands in its target
    const outside = join(d, 'outside');
    mkdirSync(outside);
    await assert.rejects(
      extractTarStream(
        tarOf([
          { name: 'esc', type: 'symlink', linkname: outside },
          { name: 'esc/pwned', data: 'x' },
        ]),
        dest,
        HOST,
      ),
      /through a symlink/,
    );
    assert.ok(!existsSync(join(outside, 'pwned')));
    assert.ok(lstatSync(join(dest, 'esc')).isSymbolicLink());
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('applyDirOf: the applier writes into an overlay upper dir or a writable bind, nothing else', () => {
  assert.equal(
    applyDirOf([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l1:/l2', 'upperdir=/u', 'workdir=/w'] }]),
    '/u',
  );
  assert.equal(applyDirOf([{ type: 'bind', source: '/s/fs', options: ['bind', 'rw'] }]), '/s/fs');
  assert.throws(() => applyDirOf([{ type: 'bind', source: '/s', options: ['bind', 'ro'] }]), /read-only/);
  assert.throws(
    () => applyDirOf([{ type: 'overlay', source: 'overlay', options: ['ro', 'lowerdir=/a:/b'] }]),
    /read-only/,
  );
  assert.throws(() => applyDirOf([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b'] }]), /no writable/);
  assert.throws(() => applyDirOf([]), /expected one mount/);
});
