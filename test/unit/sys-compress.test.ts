// Streaming decompression (src/sys/compress.ts): gzip in-process and zstd through the host's tool
// (a child process, as for bzip2 and xz) give back the bytes; concatenated gzip members are read
// whole; corrupt and truncated input fail the stream on both paths (a tool that stops on bad data has
// written a clean prefix, which must not pass for the whole). Needs the zstd tool (scripts/test installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { type AnyCompression, decompressor, sniff } from '../../src/sys/compress.js';

// compressible and a little random, 3 MiB
const plain = Buffer.concat(
  Array.from({ length: 3 * 1024 }, (_, i) =>
    Buffer.from(`line ${i} ${randomBytes(8).toString('hex')} `.padEnd(1024, '.')),
  ),
);
const zstd = (b: Buffer) => spawnSync('zstd', ['-q', '-c'], { input: b, maxBuffer: 1 << 26 }).stdout;

async function inflate(kind: AnyCompression, packed: Buffer): Promise<Buffer> {
  const d = decompressor(kind);
  const [out] = await Promise.all([
    buffer(d),
    pipeline(Readable.from([packed.subarray(0, 1000), packed.subarray(1000)]), d),
  ]);
  return out;
}

test('gzip (zlib) and zstd (the host tool) give the bytes back; sniff tells them apart', async () => {
  const gz = gzipSync(plain);
  const zs = zstd(plain);
  assert.equal(sniff(gz), 'gzip');
  assert.equal(sniff(zs), 'zstd');
  assert.ok((await inflate('gzip', gz)).equals(plain));
  assert.ok((await inflate('zstd', zs)).equals(plain));
});

test('gzip: concatenated members are read whole', async () => {
  const gz = Buffer.concat([gzipSync(Buffer.from('first member\n')), gzipSync(Buffer.from('second member\n'))]);
  assert.equal((await inflate('gzip', gz)).toString(), 'first member\nsecond member\n');
});

test('corrupt and truncated input fail the stream, in-process and through the tool', async () => {
  for (const [kind, packed] of [
    ['gzip', gzipSync(plain)],
    ['zstd', zstd(plain)],
  ] as const) {
    const corrupt = Buffer.from(packed);
    corrupt[corrupt.length >> 1] ^= 0xff;
    await assert.rejects(inflate(kind, corrupt), `${kind}: corrupt`);
    await assert.rejects(inflate(kind, packed.subarray(0, packed.length >> 1)), `${kind}: truncated`);
  }
});
