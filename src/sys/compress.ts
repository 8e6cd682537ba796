// Streaming decompression. gzip runs through ISA-L's `igzip -d` (Debian's isal package) when the host
// has it and the blob is large, else in-process (zlib); Node 20's zlib has no zstd, bzip2 or xz, so
// those run through the host's tool (`zstd -d`, `bzip2 -d`, `xz -d`). A tool runs as a child process
// in the middle of the stream, as `nobody` when the daemon is root (it parses untrusted bytes and needs
// no rights: stdin in, stdout out), the way dockerd pipes layers through unpigz. igzip inflates 3-10x
// faster than zlib on one core, which is the bottleneck of a pull on a small machine. Layers may
// only be gzip, zstd or plain; `docker import` also takes bzip2 and xz.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
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

/** Below this compressed size a gzip blob is inflated in-process: a child process costs more than it saves. */
export const IGZIP_MIN_BYTES = 1 << 20;
const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/local/bin'];
let igzipPath: string | null | undefined;

/** The host's igzip (ISA-L), or null; looked up once. */
function igzip(): string | null {
  if (igzipPath === undefined) {
    igzipPath = null;
    for (const d of TOOL_DIRS) {
      try {
        accessSync(`${d}/igzip`, constants.X_OK);
        igzipPath = `${d}/igzip`;
        break;
      } catch {
        /* next */
      }
    }
  }
  return igzipPath;
}

/**
 * A duplex that decompresses what is written into it. Errors (bad data, tool failure) surface as
 * stream errors. `size` is the compressed size when known: gzip of at least IGZIP_MIN_BYTES (or of
 * unknown size) goes through igzip when the host has it.
 */
export function decompressor(kind: AnyCompression, opts: { size?: number } = {}): Duplex {
  if (kind === 'gzip') {
    const tool = igzip();
    if (tool && (opts.size === undefined || opts.size >= IGZIP_MIN_BYTES)) return toolStream('gzip', tool);
    return createGunzip({ chunkSize: 256 * 1024 });
  }
  if (kind === 'none') return new PassThrough({ highWaterMark: 256 * 1024 });
  return toolStream(kind, kind);
}

/**
 * `cmd -d -c -q` as a duplex: stdin is the compressed stream, stdout the plain one. The readable side
 * ends only once the tool exited 0: a tool that stops on bad data has already written a clean
 * prefix, which must not pass for the whole.
 */
function toolStream(kind: AnyCompression, cmd: string): Duplex {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(cmd, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'], ...asNobody });
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
