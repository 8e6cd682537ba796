// The chroot root cache on the one tar codec (src/sys/debootstrap.ts packRoot/unpackRoot): what
// GNU tar --xattrs --numeric-owner kept, the codec keeps too: owners, modes (setuid, sticky), mtimes,
// hard links, device nodes, fifos, symlinks, and every xattr byte for byte (security.capability as
// setcap leaves it on ping); zstd when the host has it. Also an admin's gzip'd root (--from-tar).
// Needs root (mknod, chown, security.* xattrs) and attr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { packRoot, unpackRoot } from '../../src/sys/debootstrap.js';

const CAP = Buffer.from('01000002c0200000000000000000000000000000', 'hex');
const ALL = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
let tmp: string;

before(() => {
  tmp = mkdtempSync('/tmp/cocon-rootcache-');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function xattr(p: string, name: string): string {
  return execFileSync('getfattr', ['--absolute-names', '-h', '-e', 'hex', '--only-values', '-n', name, p]).toString(
    'hex',
  );
}

function makeRoot(dir: string): void {
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  mkdirSync(join(dir, 'dev'));
  mkdirSync(join(dir, 'tmp'));
  chmodSync(join(dir, 'tmp'), 0o1777);
  writeFileSync(join(dir, 'usr/bin/ping'), 'ping');
  chmodSync(join(dir, 'usr/bin/ping'), 0o755);
  execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x' + CAP.toString('hex'), join(dir, 'usr/bin/ping')]);
  writeFileSync(join(dir, 'usr/bin/su'), 'su');
  chownSync(join(dir, 'usr/bin/su'), 0, 0);
  chmodSync(join(dir, 'usr/bin/su'), 0o4755);
  writeFileSync(join(dir, 'usr/bin/owned'), 'x');
  chownSync(join(dir, 'usr/bin/owned'), 1234, 5678);
  execFileSync('setfattr', ['-n', 'user.all', '-v', '0x' + ALL.toString('hex'), join(dir, 'usr/bin/owned')]);
  linkSync(join(dir, 'usr/bin/owned'), join(dir, 'usr/bin/owned-too'));
  symlinkSync('usr/bin', join(dir, 'bin'));
  execFileSync('mknod', ['-m', '666', join(dir, 'dev/null'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '660', join(dir, 'dev/loop9'), 'b', '7', '9']);
  execFileSync('mkfifo', ['-m', '600', join(dir, 'dev/fifo')]);
  utimesSync(join(dir, 'usr/bin/ping'), new Date(1_600_000_000_000), new Date(1_600_000_000_000));
}

function assertSameRoot(got: string): void {
  const st = (p: string) => lstatSync(join(got, p));
  assert.equal(xattr(join(got, 'usr/bin/ping'), 'security.capability'), CAP.toString('hex'));
  assert.equal(st('usr/bin/ping').mtimeMs, 1_600_000_000_000);
  assert.equal(st('usr/bin/su').mode & 0o7777, 0o4755);
  assert.equal(st('tmp').mode & 0o7777, 0o1777);
  assert.equal(st('usr/bin/owned').uid, 1234);
  assert.equal(st('usr/bin/owned').gid, 5678);
  assert.equal(xattr(join(got, 'usr/bin/owned'), 'user.all'), ALL.toString('hex'));
  assert.equal(st('usr/bin/owned').ino, st('usr/bin/owned-too').ino, 'hard link lost');
  assert.equal(readlinkSync(join(got, 'bin')), 'usr/bin');
  assert.ok(st('dev/null').isCharacterDevice());
  assert.equal(st('dev/null').rdev, lstatSync('/dev/null').rdev);
  assert.ok(st('dev/loop9').isBlockDevice());
  assert.equal(st('dev/loop9').mode & 0o777, 0o660);
  assert.ok(st('dev/fifo').isFIFO());
  assert.equal(readFileSync(join(got, 'usr/bin/ping'), 'utf8'), 'ping');
}

test('packRoot/unpackRoot keep owners, modes, hard links, devices, fifos and binary xattrs (zstd)', async () => {
  const src = join(tmp, 'src');
  mkdirSync(src);
  makeRoot(src);
  const cache = join(tmp, 'root.tar');
  await packRoot(src, cache);
  const head = Buffer.alloc(4);
  const fd = openSync(cache, 'r');
  readSync(fd, head, 0, 4, 0);
  closeSync(fd);
  assert.equal(head.readUInt32LE(0), 0xfd2fb528, 'the cache is not zstd');
  // GNU tar reads what the codec wrote: names as `tar -C root .` writes them
  const list = execFileSync('tar', ['-I', 'zstd', '-tf', cache]).toString();
  assert.match(list, /^\.\/usr\/bin\/ping$/m);
  const out = join(tmp, 'out');
  mkdirSync(out);
  await unpackRoot(cache, out);
  assertSameRoot(out);
});

test('unpackRoot takes an admin root made by GNU tar --xattrs, gzip-compressed', async () => {
  const src = join(tmp, 'src2');
  mkdirSync(src);
  makeRoot(src);
  const file = join(tmp, 'admin.tar.gz');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', src, '-czf', file, '.']);
  const out = join(tmp, 'out2');
  mkdirSync(out);
  await unpackRoot(file, out);
  assertSameRoot(out);
});
