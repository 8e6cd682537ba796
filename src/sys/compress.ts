// Streaming decompression. gzip runs in-process (zlib, on the thread pool); Node 20's zlib has no
// zstd, bzip2 or xz, so those run through the host's tool (`zstd -d`, `bzip2 -d`, `xz -d`) as a child
// process in the middle of the stream, as `nobody` when the daemon is root (it parses untrusted bytes
// and needs no rights: stdin in, stdout out). Layers may only be gzip, zstd or plain; `docker import`
// also takes bzip2 and xz. (ISA-L's igzip through a pipe was tried for gzip: it halves the inflate
// CPU but made a 200 MB pull 30-70 % slower in wall time here, pipe copies and spawn included.)
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** The compressions a layer may have. */
export type Compression = 'gzip' | 'zstd' | 'none';
/** Every compression cocon reads (imports: `docker import` of a .tar.bz2 or .tar.xz). */
export type AnyCompression = Compression | 'bzip2' | 'xz';

/** What a blob's first bytes (6 are enough) say about its compression. */
export function sniff(head: Buffer): AnyCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/** A duplex that decompresses what is written into it. Errors (bad data, tool failure) surface as stream errors. */
export function decompressor(kind: AnyCompression): Duplex {
  if (kind === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (kind === 'none') return new PassThrough({ highWaterMark: 256 * 1024 });
  return toolStream(kind, ['-d', '-c', '-q']);
}

/** A duplex that zstd-compresses what is written into it (the host's `zstd`, all cores, level 3). */
export function zstdCompressor(): Duplex {
  return toolStream('zstd', ['-T0', '-3', '-c', '-q']);
}

/**
 * `cmd ARGS` (`-d -c -q`: decompress) as a duplex: stdin is the compressed stream, stdout the plain one. The readable side
 * ends only once the tool exited 0: a tool that stops on bad data has already written a clean
 * prefix, which must not pass for the whole.
 */
function toolStream(kind: AnyCompression, args: string[]): Duplex {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(kind, args, { stdio: ['pipe', 'pipe', 'pipe'], ...asNobody });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    if (err.length < 4096) err += b.toString();
  });
  const exited = new Promise<Error | null>((resolve) => {
    child.on('error', (e) => resolve(new Error(`${kind}: ${e.message}`)));
    child.on('close', (code) =>
      resolve(code === 0 ? null : new Error(`${kind}: ${err.trim() || 'exit status ' + code}`)),
    );
  });
  const plain = new Transform({
    highWaterMark: 256 * 1024,
    transform: (chunk: Buffer, _e, cb) => cb(null, chunk),
    flush: (cb) => {
      exited.then((e) => cb(e));
    },
  });
  child.stdout.pipe(plain);
  const d = Duplex.from({ writable: child.stdin, readable: plain });
  exited.then((e) => {
    if (e) d.destroy(e);
  });
  child.stdin.on('error', () => {
    /* reported through the exit status */
  });
  d.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return d;
}

/** Compression of a media type (OCI / Docker layer types). */
export function compressionOf(mediaType: string): Compression {
  if (/gzip$/.test(mediaType)) return 'gzip';
  if (/zstd$/.test(mediaType)) return 'zstd';
  return 'none';
}

export type { Readable };
