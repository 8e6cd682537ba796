// The content store: blobs addressed by their sha256 digest under <dataRoot>/content/sha256/<hex>.
//
// Lifecycle (as containerd's content store): ingest -> commit -> read -> delete.
//  - begin() opens an ingest: a temp file under content/ingest/ that is hashed while written.
//  - Ingest.commit(expected?, size?) verifies digest and size (InvalidArgument on mismatch), fsyncs the
//    file and renames it to its digest path; committing content that already exists drops the temp file.
//    No caller touches temp files or blob paths: blobs are read through read()/readBytes().
//  - Ingest.abort() removes the temp file. A crash leaves at most a temp file in ingest/ (swept by
//    sweepIngests() at start), never a half blob under a real digest.
//  - read/readBytes/exists/size/delete work on committed blobs; read of a missing blob throws NotFound.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  existsSync,
  readdirSync,
  writeSync,
  type WriteStream,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Internal, InvalidArgument, NotFound } from '../core/errors.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export function hexOf(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new InvalidArgument(`invalid digest: ${digest}`);
  return m[1];
}

export function sha256Digest(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** fsync on the thread pool: a 40 MB layer blob takes 30-40 ms here, which must not block the event loop. */
async function fsyncPathAsync(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A blob being written (containerd's content Writer): append() or write() the bytes, which are hashed
 * as they go; open()/head() read back what was written (to sniff or extract it before it is kept);
 * commit(expected, size) verifies the digest and size and renames the file under its digest;
 * abort() drops it. Nobody outside this module sees the temp file.
 */
export class Ingest {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private out?: WriteStream;
  private failed?: Error;
  private closed = false;
  private done = false;

  constructor(
    private readonly store: ContentStore,
    private readonly tmpPath: string,
  ) {}

  private sink(): WriteStream {
    if (this.closed) throw new Internal('ingest already closed');
    if (!this.out) {
      // opened now, not lazily: abort() must never race a pending open that would re-create the file
      this.out = createWriteStream('', { fd: openSync(this.tmpPath, 'a', 0o600) });
      // a write error wakes a waiting append() and fails the next one
      this.out.on('error', (e) => {
        this.failed = e;
        this.out?.emit('drain');
      });
    }
    return this.out;
  }

  /** Appends one chunk, hashing it; resolves once the file can take more (backpressure). */
  async append(chunk: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    const out = this.sink();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (out.write(chunk)) return;
    await new Promise<void>((resolve, reject) =>
      out.once('drain', () => (this.failed ? reject(this.failed) : resolve())),
    );
  }

  /** Appends a whole stream. */
  async write(src: Readable): Promise<void> {
    for await (const chunk of src) await this.append(chunk as Buffer);
  }

  get size(): number {
    return this.bytes;
  }

  /** The digest of everything written so far. */
  digest(): string {
    return 'sha256:' + this.hash.copy().digest('hex');
  }

  /** Ends writing: what was appended is in the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    const out = this.out;
    this.closed = true;
    if (out && !this.failed) await new Promise<void>((resolve) => out.end(() => resolve()));
    if (this.failed) throw this.failed;
  }

  /** Reads back everything written (ends writing first). */
  async open(): Promise<Readable> {
    await this.close();
    return createReadStream(this.tmpPath, { highWaterMark: 1 << 20 });
  }

  /** The first `n` bytes written (ends writing first). */
  async head(n: number): Promise<Buffer> {
    await this.close();
    const fd = openSync(this.tmpPath, 'r');
    try {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Verifies the digest (and the size, when given) and moves the blob into place. `sync: false`
   * skips the fsyncs for bulk layer blobs that are re-verifiable (a crash may then leave a damaged
   * blob under its digest, which verification detects; push re-hashes what it sends).
   */
  async commit(
    expected?: string,
    size?: number,
    opts: { sync?: boolean } = {},
  ): Promise<{ digest: string; size: number }> {
    if (this.done) throw new Internal('ingest already finished');
    try {
      await this.close();
    } catch (e) {
      this.abort();
      throw e;
    }
    const digest = this.digest();
    if (size !== undefined && size !== this.bytes) {
      this.abort();
      throw new InvalidArgument(`unexpected commit size ${this.bytes}, expected ${size}`);
    }
    if (expected && expected !== digest) {
      this.abort();
      throw new InvalidArgument(`unexpected digest: expected ${expected}, got ${digest}`);
    }
    this.done = true;
    const sync = opts.sync ?? true;
    const dest = this.store.path(digest);
    if (existsSync(dest)) {
      rmSync(this.tmpPath, { force: true });
      return { digest, size: this.bytes };
    }
    if (sync) await fsyncPathAsync(this.tmpPath);
    renameSync(this.tmpPath, dest);
    if (sync) await fsyncPathAsync(this.store.blobDir);
    return { digest, size: this.bytes };
  }

  abort(): void {
    this.done = true;
    this.closed = true;
    this.out?.destroy();
    rmSync(this.tmpPath, { force: true });
  }
}

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobDir = join(root, 'sha256');
    this.ingestDir = join(root, 'ingest');
    mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return join(this.blobDir, hexOf(digest));
  }

  exists(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  size(digest: string): number {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      throw new NotFound(`content ${digest}: not found`);
    }
  }

  /** Opens a new ingest (a temp file in ingest/). */
  begin(): Ingest {
    const tmp = join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    closeSync(openSync(tmp, 'w', 0o600));
    return new Ingest(this, tmp);
  }

  /** Writes a whole stream as one blob, verifying it against `expected` when given. */
  async ingest(src: Readable, expected?: string): Promise<{ digest: string; size: number }> {
    const w = this.begin();
    try {
      await w.write(src);
    } catch (e) {
      w.abort();
      throw e;
    }
    return await w.commit(expected);
  }

  /** Stores a small blob (image configs, manifests). */
  putBytes(data: Buffer | string, expected?: string): string {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(buf);
    if (expected && expected !== digest)
      throw new InvalidArgument(`unexpected digest: expected ${expected}, got ${digest}`);
    const dest = this.path(digest);
    if (existsSync(dest)) return digest;
    const tmp = join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
    fsyncPath(this.blobDir);
    return digest;
  }

  read(digest: string, opts: { highWaterMark?: number } = {}): Readable {
    if (!this.exists(digest)) throw new NotFound(`content ${digest}: not found`);
    return createReadStream(this.path(digest), opts);
  }

  readBytes(digest: string): Buffer {
    try {
      return readFileSync(this.path(digest));
    } catch {
      throw new NotFound(`content ${digest}: not found`);
    }
  }

  delete(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }

  /** Removes leftovers of interrupted ingests (call at daemon start, before any ingest). */
  sweepIngests(): void {
    for (const f of readdirSync(this.ingestDir)) rmSync(join(this.ingestDir, f), { force: true, recursive: true });
  }
}
