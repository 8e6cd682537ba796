// The content store: blobs addressed by their sha256 digest under <dataRoot>/content/sha256/<hex>.
//
// Lifecycle (as containerd's content store): ingest -> commit -> read -> delete.
//  - begin() opens an ingest: a temp file under content/ingest/ that is hashed while written.
//  - Ingest.commit(expected?) verifies the digest (InvalidArgument on mismatch), fsyncs the file, and
//    renames it to its digest path; committing content that already exists just drops the temp file.
//  - Ingest.abort() removes the temp file. A crash leaves at most a temp file in ingest/ (swept by
//    sweepIngests() at start), never a half blob under a real digest.
//  - read/readBytes/exists/size/delete work on committed blobs; read of a missing blob throws NotFound.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, existsSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** A blob being written. Write through stream(), or pass a source to ContentStore.ingest(). */
export class Ingest {
  private hash: Hash = createHash('sha256');
  private bytes = 0;
  private done = false;

  constructor(private readonly store: ContentStore, readonly tmpPath: string) {}

  /** Copies a source stream into the temp file while hashing it. */
  async write(src: Readable): Promise<void> {
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => { this.hash.update(chunk); this.bytes += chunk.length; cb(null, chunk); },
    });
    await pipeline(src, counter, createWriteStream(this.tmpPath, { flags: 'a', mode: 0o600 }));
  }

  get size(): number { return this.bytes; }

  /** The digest of everything written so far (call once writing is complete). */
  digest(): string {
    return 'sha256:' + this.hash.copy().digest('hex');
  }

  /** Verifies, fsyncs and renames into place. Returns the digest. */
  commit(expected?: string): { digest: string; size: number } {
    if (this.done) throw new Internal('ingest already finished');
    const digest = this.digest();
    if (expected && expected !== digest) {
      this.abort();
      throw new InvalidArgument(`unexpected digest: expected ${expected}, got ${digest}`);
    }
    this.done = true;
    const dest = this.store.path(digest);
    if (existsSync(dest)) { rmSync(this.tmpPath, { force: true }); return { digest, size: this.bytes }; }
    if (!existsSync(this.tmpPath)) closeSync(openSync(this.tmpPath, 'w', 0o600));
    fsyncPath(this.tmpPath);
    renameSync(this.tmpPath, dest);
    fsyncPath(this.store.blobDir);
    return { digest, size: this.bytes };
  }

  abort(): void {
    this.done = true;
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

  path(digest: string): string { return join(this.blobDir, hexOf(digest)); }

  exists(digest: string): boolean { return existsSync(this.path(digest)); }

  size(digest: string): number {
    try { return statSync(this.path(digest)).size; } catch { throw new NotFound(`content ${digest}: not found`); }
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
    } catch (e) { w.abort(); throw e; }
    return w.commit(expected);
  }

  /** Stores a small blob (image configs, manifests). */
  putBytes(data: Buffer | string, expected?: string): string {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(buf);
    if (expected && expected !== digest) throw new InvalidArgument(`unexpected digest: expected ${expected}, got ${digest}`);
    const dest = this.path(digest);
    if (existsSync(dest)) return digest;
    const tmp = join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally { closeSync(fd); }
    renameSync(tmp, dest);
    fsyncPath(this.blobDir);
    return digest;
  }

  /**
   * Moves a file the caller wrote and verified (its digest is `digest`) into place: fsync, rename.
   * The file must live in ingest/ (same filesystem). Content that already exists just drops the file.
   * sync=false skips the fsyncs (bulk layer blobs that are re-verifiable: a crash may then leave a
   * damaged blob under its digest, which verify() detects; push re-hashes what it sends).
   */
  adopt(tmpPath: string, digest: string, sync = true): void {
    const dest = this.path(digest);
    if (existsSync(dest)) { rmSync(tmpPath, { force: true }); return; }
    if (sync) fsyncPath(tmpPath);
    renameSync(tmpPath, dest);
    if (sync) fsyncPath(this.blobDir);
  }

  read(digest: string): Readable {
    if (!this.exists(digest)) throw new NotFound(`content ${digest}: not found`);
    return createReadStream(this.path(digest));
  }

  readBytes(digest: string): Buffer {
    try { return readFileSync(this.path(digest)); } catch { throw new NotFound(`content ${digest}: not found`); }
  }

  delete(digest: string): void { rmSync(this.path(digest), { force: true }); }

  /** Removes leftovers of interrupted ingests (call at daemon start, before any ingest). */
  sweepIngests(): void {
    for (const f of readdirSync(this.ingestDir)) rmSync(join(this.ingestDir, f), { force: true, recursive: true });
  }
}
