// The byte format of the one tar codec (src/sys/tar/format.ts) and its reader/writer: PAX record
// values are raw bytes (every byte value 0..255 of an xattr survives a round trip, also through GNU
// tar), malformed records (bad LEN, LEN past the header, no newline, truncated) and oversized
// extended headers are refused with a TarFormatError, checksums and numbers are checked, GNU long
// names and LIBARCHIVE.xattr.* (base64) records are read as GNU tar and bsdtar write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readTar } from '../../src/sys/tar/extract.js';
import {
  applyExtended,
  BLOCK,
  decodeHeader,
  decodePaxRecords,
  encodeEntryHeader,
  END,
  MAX_EXTENDED,
  padding,
  parseNumber,
  paxRecord,
  TarFormatError,
  type TarHeader,
} from '../../src/sys/tar/format.js';
import { writeTar } from '../../src/sys/tar/pack.js';
import { LayerError } from '../../src/sys/tar/rules.js';

const ALL = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

async function bytes(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function entries(tar: Buffer, chunk = 7): Promise<Array<{ h: TarHeader; data: Buffer }>> {
  // odd-sized chunks: headers and records straddle chunk boundaries
  const parts: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) parts.push(tar.subarray(i, i + chunk));
  const out: Array<{ h: TarHeader; data: Buffer }> = [];
  await readTar(Readable.from(parts), async (h, d) => {
    const c: Buffer[] = [];
    for await (const x of d) c.push(x);
    out.push({ h, data: Buffer.concat(c) });
  });
  return out;
}

/** A raw 'x' entry with `body` followed by a file entry `name`. */
function withPax(body: Buffer, name = 'f'): Buffer {
  const xh = encodeEntryHeader({ name: 'PaxHeaders.0/f', type: 'file', mtime: new Date(0) }, body.length);
  xh[156] = 'x'.charCodeAt(0);
  reseal(xh);
  return Buffer.concat([
    xh,
    body,
    Buffer.alloc(padding(body.length)),
    encodeEntryHeader({ name, mtime: new Date(0) }, 0),
    END,
  ]);
}

function reseal(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let s = 0;
  for (let i = 0; i < BLOCK; i++) s += b[i];
  b.write(s.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

test('an xattr with every byte value 0..255 round-trips byte for byte through writer and reader', async () => {
  const tar = await bytes(
    writeTar(async (w) => {
      await w.entry(
        {
          name: 'bin/ping',
          mode: 0o755,
          mtime: new Date(0),
          xattrs: [
            ['security.capability', ALL],
            ['user.x', ALL.subarray(128)],
          ],
        },
        Buffer.from('elf'),
      );
    }),
  );
  for (const chunk of [1, 7, 512, 1 << 16]) {
    const [e] = await entries(tar, chunk);
    assert.equal(e.h.name, 'bin/ping');
    assert.equal(e.data.toString(), 'elf');
    assert.deepEqual(e.h.xattrs, [
      ['security.capability', ALL],
      ['user.x', ALL.subarray(128)],
    ]);
  }
});

test('GNU tar and the codec agree on binary xattrs, both ways, byte for byte', async (t) => {
  if (spawnSync('setfattr', ['--version']).status !== 0) return t.skip('no setfattr (attr)');
  const d = mkdtempSync(join(tmpdir(), 'tar-format-'));
  try {
    const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0x80, 0x0a, 0x3d, 0x00, 0xc3]);
    const hex = '0x' + value.toString('hex');
    // GNU tar writes, the codec reads
    mkdirSync(join(d, 'src'));
    writeFileSync(join(d, 'src/f'), 'x');
    assert.equal(spawnSync('setfattr', ['-n', 'user.bin', '-v', hex, join(d, 'src/f')]).status, 0);
    const c = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '-C', join(d, 'src'), '-cf', join(d, 'g.tar'), 'f']);
    assert.equal(c.status, 0, String(c.stderr));
    const [e] = await entries(readFileSync(join(d, 'g.tar')));
    assert.deepEqual(e.h.xattrs, [['user.bin', value]]);
    // the codec writes, GNU tar extracts
    writeFileSync(
      join(d, 'c.tar'),
      await bytes(writeTar((w) => w.entry({ name: 'g', xattrs: [['user.bin', value]] }, Buffer.from('y')))),
    );
    mkdirSync(join(d, 'out'));
    const x = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '-C', join(d, 'out'), '-xf', join(d, 'c.tar')]);
    assert.equal(x.status, 0, String(x.stderr));
    const got = spawnSync('getfattr', ['--only-values', '-n', 'user.bin', join(d, 'out/g')]);
    assert.equal(got.status, 0, String(got.stderr));
    assert.deepEqual(got.stdout as Buffer, value);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('paxRecord: LEN counts itself, also across a digit boundary', () => {
  for (let n = 0; n < 300; n++) {
    const r = paxRecord('k', Buffer.alloc(n, 0x61));
    const len = Number(r.toString('latin1').split(' ')[0]);
    assert.equal(len, r.length, `value of ${n} bytes`);
    assert.deepEqual(decodePaxRecords(r), [['k', Buffer.alloc(n, 0x61)]]);
  }
});

test('malformed PAX records are refused clearly', async () => {
  const bad: Array<[string, Buffer, RegExp]> = [
    ['no length', Buffer.from(' path=a\n'), /no length/],
    ['LEN too small', Buffer.from('3 a=b\n'), /too small/],
    ['LEN past the header', Buffer.from('99 path=a\n'), /overruns/],
    ['LEN overflow', Buffer.from('99999999999999999999 path=a\n'), /no length|overruns/],
    ['LEN one short (no newline at its end)', Buffer.from('9 path=ab\n'), /no newline/],
    ['truncated record', Buffer.from('12 path=abc'), /overruns/],
    ['no key', Buffer.from('6 =ab\n'), /no key/],
    ['data after NULs', Buffer.from('9 path=a\n\0\0x'), /after NUL/],
  ];
  for (const [what, body, re] of bad) {
    assert.throws(
      () => decodePaxRecords(body),
      (e) => e instanceof TarFormatError && re.test(e.message),
      what,
    );
    await assert.rejects(entries(withPax(body)), (e) => e instanceof LayerError && re.test((e as Error).message), what);
  }
  // a well-formed one is read, NUL padding after the records is tolerated
  const [e] = await entries(withPax(Buffer.concat([paxRecord('path', 'long/name'), Buffer.alloc(5)])));
  assert.equal(e.h.name, 'long/name');
});

test('an extended header past the bound is refused before it is read', async () => {
  const xh = encodeEntryHeader({ name: 'PaxHeaders.0/f', mtime: new Date(0) }, MAX_EXTENDED + 1);
  xh[156] = 'x'.charCodeAt(0);
  reseal(xh);
  assert.throws(() => decodeHeader(xh), /extended header of \d+ bytes/);
  await assert.rejects(entries(Buffer.concat([xh, Buffer.alloc(1024)])), /extended header/);
  assert.throws(
    () => encodeEntryHeader({ name: 'f', xattrs: [['user.big', Buffer.alloc(MAX_EXTENDED)]] }, 0),
    /too large/,
  );
});

test('headers: checksum, octal and base-256 numbers are checked; a truncated tar is refused', async () => {
  const h = encodeEntryHeader({ name: 'f', size: 0, mtime: new Date(0) }, 3);
  const damaged = Buffer.from(h);
  damaged[0] ^= 1;
  assert.throws(() => decodeHeader(damaged), /checksum/);
  const notOctal = Buffer.from(h);
  notOctal.write('0000009\0', 100, 'latin1');
  reseal(notOctal);
  assert.throws(() => decodeHeader(notOctal), /mode is not an octal number/);
  const unknown = Buffer.from(h);
  unknown.write('xxxxxx', 257, 'latin1');
  reseal(unknown);
  assert.throws(() => decodeHeader(unknown), /unknown format/);
  assert.equal(parseNumber(Buffer.from(' 0000644\0'), 'mode'), 0o644);
  assert.equal(parseNumber(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]), 'size'), 2 * 65536);
  assert.throws(() => parseNumber(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'size'), /negative/);
  assert.throws(
    () => parseNumber(Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'size'),
    /too large/,
  );
  // a file entry whose data is cut short
  await assert.rejects(entries(Buffer.concat([h, Buffer.from('ab')])), /unexpected end/);
  // a header cut short
  await assert.rejects(entries(h.subarray(0, 300)), /unexpected end/);
  // an extended header with no entry after it
  const x = withPax(paxRecord('path', 'a'));
  await assert.rejects(entries(x.subarray(0, 1024)), /without an entry/);
});

test('writer: long and non-ASCII names, big ids, sizes past 8 GiB and negative mtimes go where they fit', async () => {
  const long = 'd/'.repeat(80) + 'x'.repeat(90);
  const tar = await bytes(
    writeTar(async (w) => {
      await w.entry({ name: long, uid: 3_000_000, gid: 70_000, mtime: new Date(-5000) }, Buffer.from('1'));
      await w.entry({ name: 'é/ü', type: 'symlink', linkname: 'l'.repeat(150) + 'ö' });
      await w.entry({ name: 'dir', type: 'directory', mtime: new Date(0) });
    }),
  );
  const [a, b, c] = await entries(tar);
  assert.equal(a.h.name, long);
  assert.equal(a.h.uid, 3_000_000);
  assert.equal(a.h.gid, 70_000);
  assert.equal(a.h.mtime.getTime(), -5000);
  assert.equal(b.h.name, 'é/ü');
  assert.equal(b.h.linkname, 'l'.repeat(150) + 'ö');
  assert.equal(c.h.name, 'dir/');
  assert.equal(c.h.type, 'directory');
  // size field: octal up to 8 GiB - 1, base-256 beyond
  const big = encodeEntryHeader({ name: 'huge' }, 2 ** 34);
  assert.equal(big[124], 0x80);
  assert.equal(decodeHeader(big)!.header.size, 2 ** 34);
});

test('GNU long names and LIBARCHIVE.xattr.* records are read; global records apply to what follows', async () => {
  const name = 'n'.repeat(200);
  const lh = encodeEntryHeader({ name: '././@LongLink', mtime: new Date(0) }, name.length + 1);
  lh[156] = 'L'.charCodeAt(0);
  reseal(lh);
  const body = Buffer.from(name + '\0');
  const lib = paxRecord(`LIBARCHIVE.xattr.user.a%3Db`, ALL.toString('base64'));
  const grec = paxRecord('uname', 'globe');
  const g = encodeEntryHeader({ name: 'pax_global_header', mtime: new Date(0) }, grec.length);
  g[156] = 'g'.charCodeAt(0);
  reseal(g);
  const tar = Buffer.concat([
    g,
    grec,
    Buffer.alloc(padding(grec.length)),
    lh,
    body,
    Buffer.alloc(padding(body.length)),
    encodeEntryHeader({ name: 'short', mtime: new Date(0) }, 0),
    withPax(lib, 'g').subarray(0, -END.length),
    END,
  ]);
  const [a, b] = await entries(tar);
  assert.equal(a.h.name, name);
  assert.equal(a.h.uname, 'globe');
  assert.equal(b.h.name, 'g');
  assert.deepEqual(b.h.xattrs, [['user.a=b', ALL]]);
  assert.equal(b.h.uname, 'globe');
  await assert.rejects(entries(withPax(paxRecord('LIBARCHIVE.xattr.user.a', '!!notbase64'))), /not base64/);
  await assert.rejects(entries(withPax(paxRecord('GNU.sparse.major', '1'))), /sparse files are not supported/);
});

test('applyExtended: PAX size, ids and mtime are checked numbers', () => {
  const base = (): TarHeader => decodeHeader(encodeEntryHeader({ name: 'f', mtime: new Date(0) }, 0))!.header;
  assert.equal(applyExtended(base(), new Map(), [['size', Buffer.from('12')]]).size, 12);
  assert.equal(applyExtended(base(), new Map(), [['mtime', Buffer.from('1.5')]]).mtime.getTime(), 1500);
  assert.throws(() => applyExtended(base(), new Map(), [['size', Buffer.from('-1')]]), TarFormatError);
  assert.throws(() => applyExtended(base(), new Map(), [['uid', Buffer.from('1e9')]]), TarFormatError);
  assert.throws(() => applyExtended(base(), new Map(), [['path', Buffer.from('a\0b')]]), /NUL/);
});
