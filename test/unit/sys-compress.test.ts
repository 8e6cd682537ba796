// Streaming decompression (src/sys/compress.ts): gzip through ISA-L's igzip (a child process, for
// large or unknown sizes) and through zlib (small blobs) give the same bytes, concatenated gzip
// members included; corrupt and truncated input fail the stream on both paths. Needs igzip
// (Debian's isal, installed by scripts/test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { Gunzip, gzipSync } from 'node:zlib';
import { decompressor, IGZIP_MIN_BYTES, sniff } from '../../src/sys/compress.js';

// compressible and a little random, 3 MiB
const plain = Buffer.concat(
  Array.from({ length: 3 * 1024 }, (_, i) =>
    Buffer.from(`line ${i} ${randomBytes(8).toString('hex')} `.padEnd(1024, '.')),
  ),
);

async function inflate(gz: Buffer, size?: number): Promise<{ out: Buffer; inProcess: boolean }> {
  const d = decompressor('gzip', { size });
  const inProcess = d instanceof Gunzip;
  const [out] = await Promise.all([buffer(d), pipeline(Readable.from([gz.subarray(0, 1000), gz.subarray(1000)]), d)]);
  return { out, inProcess };
}

test('gzip: igzip for large or unknown sizes, zlib for small ones, same bytes', async () => {
  const gz = gzipSync(plain);
  assert.equal(sniff(gz), 'gzip');
  const big = await inflate(gz, IGZIP_MIN_BYTES);
  assert.equal(big.inProcess, false, 'a blob of IGZIP_MIN_BYTES goes through igzip');
  assert.ok(big.out.equals(plain));
  const unknown = await inflate(gz);
  assert.equal(unknown.inProcess, false);
  assert.ok(unknown.out.equals(plain));
  const small = await inflate(gz, IGZIP_MIN_BYTES - 1);
  assert.equal(small.inProcess, true, 'a small blob is inflated in-process');
  assert.ok(small.out.equals(plain));
});

test('gzip: concatenated members are read whole on both paths', async () => {
  const a = Buffer.from('first member\n');
  const b = Buffer.from('second member\n');
  const gz = Buffer.concat([gzipSync(a), gzipSync(b)]);
  for (const size of [undefined, 10])
    assert.equal((await inflate(gz, size)).out.toString(), 'first member\nsecond member\n');
});

test('gzip: corrupt and truncated input fail the stream on both paths', async () => {
  const gz = gzipSync(plain);
  const corrupt = Buffer.from(gz);
  corrupt[corrupt.length >> 1] ^= 0xff;
  const truncated = gz.subarray(0, gz.length >> 1);
  for (const bad of [corrupt, truncated])
    for (const size of [undefined, 10]) await assert.rejects(inflate(bad, size), `size ${size}`);
});
