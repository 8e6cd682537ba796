// The extracting half of cocon's one tar codec (src/sys/tar/), the one extractor for untrusted tar
// streams: pulled, loaded and committed layers (applyLayer), imported root filesystems (IMPORT
// rules), `docker cp` into a container (COPY rules) and out of it onto the host (HOST rules, the
// CLI), entry by entry, with our own rules (./rules.ts) rather than GNU tar's:
//  - names are cleaned ('./', '.' and trailing '/' removed); a '..' component is refused
//    (LayerError); an absolute name is refused for layers and made relative for import and cp
//    (as docker does);
//  - every entry is written through src/sys/saferoot.ts: each parent directory is opened from the
//    already-open one with O_NOFOLLOW, so nothing is ever written through a symlink that leads out
//    of the target root, even when another process (a running container) swaps entries meanwhile.
//    Layers refuse a parent path that goes through a symlink (a layer is extracted alone, no
//    legitimate entry needs it); import and cp resolve such a symlink inside the root, against the
//    real tree, the way the container sees it;
//  - hard links must name an existing entry inside the root (same rules) that is not a directory;
//  - whiteouts (layers and import): '.wh.<name>' becomes an overlay whiteout (0/0 character device
//    '<name>'), '.wh..wh..opq' marks its directory opaque (trusted.overlay.opaque=y);
//  - character and block devices are skipped in layers, created for import and cp (as root docker
//    does); fifos are created;
//  - symlink targets are stored as given (they are resolved inside the container's root at use);
//  - files are created with O_EXCL|O_NOFOLLOW (an existing entry is unlinked first, never followed);
//    cp refuses to replace a directory by a non-directory and the reverse (docker's messages);
//    owners (unless HOST), modes (incl. setuid), mtimes and PAX xattrs (SCHILY.xattr.*) are kept;
//  - with `idMap` (a daemon under --userns-remap) owners are the container's ids and are stored as
//    the host ids they map to (src/core/idmap.ts); an owner beyond the maps is refused (LayerError).
// readTar() is the codec's reader for trusted archives that are read, not written out (a docker-archive's
// index, a build context's listing).
import {
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { IdMapError, type IdentityMapping, ownerToHost } from '../../core/idmap.js';
import { fdPath, openDirIn, RootPathError, SafeRoot } from '../saferoot.js';
import { mkfifo, mknodDevice, mknodWhiteout, setOpaque, setXattr } from '../xattr.js';
import {
  applyExtended,
  BLOCK,
  decodeHeader,
  decodeLongName,
  decodePaxRecords,
  headerOnly,
  padding,
  TarFormatError,
  type TarHeader,
} from './format.js';
import type { Mount } from '../mount.js';
import { applyDirOf, cleanEntryName, type ExtractRules, LAYER, LayerError, replaceTop, whiteoutOf } from './rules.js';

type Header = TarHeader;

export interface ApplyStats {
  entries: number;
  skipped: string[];
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Extracts an uncompressed layer tar into `root` (an existing, empty directory) with the LAYER rules. */
export function applyLayer(src: Readable, root: string, idMap?: IdentityMapping): Promise<ApplyStats> {
  return extractTarStream(src, root, LAYER, '', { idMap });
}

/**
 * The layer applier (containerd's diff.Apply): extracts an uncompressed layer tar into the mounts of
 * an active snapshot prepared on the layer's parent (./rules.ts applyDirOf: the overlay's upper dir),
 * with `rules` (LAYER; IMPORT for `docker import`). The caller then commits the snapshot.
 */
export function applyToMounts(
  src: Readable,
  mounts: Mount[],
  idMap?: IdentityMapping,
  rules: ExtractRules = LAYER,
): Promise<ApplyStats> {
  return extractTarStream(src, applyDirOf(mounts), rules, '', { idMap });
}

export interface ExtractOptions {
  /** Replaces each name's first component ('' drops it), as `docker cp` renames the copied path. */
  renameTop?: string;
  /** --userns-remap: entry owners are container ids, written as the host ids they map to. */
  idMap?: IdentityMapping;
}

/**
 * Extracts an uncompressed tar stream into the directory `base` (relative to `root`, default the
 * root itself) with `rules`. Entry names count from `base`; nothing is written outside `root`.
 * See ExtractOptions for renaming and id mapping. Rejects with LayerError on a refused entry (entries before it stay written; the caller discards).
 */
export async function extractTarStream(
  src: Readable,
  root: string,
  rules: ExtractRules,
  base = '',
  opts: ExtractOptions = {},
): Promise<ApplyStats> {
  const r = SafeRoot.open(root);
  try {
    const x = new Extraction(r, rules, base, opts.renameTop, opts.idMap);
    await readEntries(src, (h, data) => x.entry(h, data));
    x.finish();
    return x.stats;
  } finally {
    r.close();
  }
}

/**
 * Reads a tar stream entry by entry: `onEntry` gets each header and its data stream (which it must
 * consume or leave to be drained). Malformed tars reject with LayerError. For archives that are read,
 * not extracted (a docker-archive's index, a build context's listing); extraction is extractTarStream's.
 */
export async function readTar(
  src: Readable,
  onEntry: (h: Header, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  await readEntries(src, async (h, data) => {
    await onEntry(h, data);
    await drain(data);
  });
}

/** Pulls exact byte counts from a stream's chunks, without copying when a chunk holds them. */
class Bytes {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    return true;
  }

  /** Exactly n bytes; null at a clean end (nothing left); TarFormatError when it ends inside them. */
  async take(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.more())) {
        if (this.buf.length === 0) return null;
        throw new TarFormatError('unexpected end of tar data');
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next up to n bytes as they come (n > 0); TarFormatError when the stream ends first. */
  async chunk(n: number): Promise<Buffer> {
    if (this.buf.length === 0 && !(await this.more())) throw new TarFormatError('unexpected end of tar data');
    const k = Math.min(n, this.buf.length);
    const out = this.buf.subarray(0, k);
    this.buf = this.buf.subarray(k);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.chunk(n)).length;
  }
}

/**
 * The codec's tar reader (./format.ts for the blocks): calls `onEntry` for each entry with its header
 * (PAX, GNU long names applied; xattrs byte-exact) and its data, one entry at a time; data the callback
 * leaves unread is skipped. Zero blocks are skipped (concatenated archives read on); a malformed tar
 * rejects with TarFormatError (a LayerError). On any error the source is destroyed, unless it is the
 * body of a request being served: the API reads the rest of it, so that its answer reaches the client.
 */
async function readEntries(
  src: Readable,
  onEntry: (h: TarHeader, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const served = src instanceof IncomingMessage && typeof src.method === 'string';
  // a node Readable (iterator() can leave it undestroyed), or any async iterable stream (streamx)
  const iterable: AsyncIterable<Buffer> =
    typeof src.iterator === 'function' ? src.iterator({ destroyOnReturn: !served }) : (src as AsyncIterable<Buffer>);
  const it = iterable[Symbol.asyncIterator]();
  const bytes = new Bytes(it);
  let global = new Map<string, Buffer>();
  let local: Array<[string, Buffer]> = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  let pending = false; // extended headers read and not yet applied
  try {
    for (;;) {
      const b = await bytes.take(BLOCK);
      if (!b) break;
      const raw = decodeHeader(b);
      if (!raw) {
        if (pending) throw new TarFormatError('invalid tar: extended header without an entry');
        continue;
      }
      const { flag, header } = raw;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const body = raw.dataSize ? await bytes.take(raw.dataSize) : Buffer.alloc(0);
        if (!body) throw new TarFormatError('unexpected end of tar data');
        const kept = Buffer.from(body); // the chunk it lies in moves on
        await bytes.skip(padding(raw.dataSize));
        if (flag === 'x') local = local.concat(decodePaxRecords(kept));
        else if (flag === 'g') {
          global = new Map(global);
          for (const [k, v] of decodePaxRecords(kept)) global.set(k, v);
        } else if (flag === 'L') longName = decodeLongName(kept);
        else longLink = decodeLongName(kept);
        pending = flag !== 'g';
        continue;
      }
      const h = applyExtended(header, global, local, longName, longLink);
      local = [];
      longName = longLink = undefined;
      pending = false;
      const size = headerOnly(h.type) ? 0 : h.size;
      if (headerOnly(h.type)) h.size = 0;
      let left = size;
      const data: AsyncIterable<Buffer> = {
        async *[Symbol.asyncIterator]() {
          while (left > 0) {
            const c = await bytes.chunk(left);
            left -= c.length;
            yield c;
          }
        },
      };
      await onEntry(h, data);
      await bytes.skip(left + padding(size));
    }
    if (pending) throw new TarFormatError('invalid tar: extended header without an entry');
  } catch (e) {
    if (served) await it.return?.();
    else src.destroy();
    throw e;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    /* discard */
  }
}

class Extraction {
  readonly stats: ApplyStats = { entries: 0, skipped: [] };
  private readonly dirTimes: Array<[string, Date]> = [];
  constructor(
    private readonly root: SafeRoot,
    private readonly rules: ExtractRules,
    private readonly base: string,
    private readonly renameTop?: string,
    private readonly idMap?: IdentityMapping,
  ) {}

  private walkOpts() {
    return { create: true, symlinks: this.rules.symlinkParents } as const;
  }

  /** Opens the parent of `rel` (relative to the root) and returns it with the final name. */
  private parentOf(rel: string, entryName: string): { dir: number; name: string } {
    const i = rel.lastIndexOf('/');
    return { dir: this.dirOf(i < 0 ? '' : rel.slice(0, i), entryName), name: rel.slice(i + 1) };
  }

  /** Opens (creating it when missing) the directory `rel` relative to the root. */
  private dirOf(rel: string, entryName: string): number {
    try {
      return this.root.openDir(rel, this.walkOpts());
    } catch (e) {
      if (e instanceof RootPathError) {
        if (e.code === 'ESYMLINK') throw new LayerError(`refusing entry through a symlink: ${entryName}`);
        if (e.code === 'ENOTDIR') throw new LayerError(`refusing entry under a non-directory: ${entryName}`);
        throw new LayerError(`${e.message} (entry ${entryName})`);
      }
      throw e;
    }
  }

  private full(rel: string): string {
    return this.base ? (rel ? `${this.base}/${rel}` : this.base) : rel;
  }

  /** Removes whatever is at name in dir (never following it); true when a directory was kept. */
  private clear(dir: number, name: string, entryName: string, keepDir: boolean): boolean {
    const p = fdPath(dir, name);
    const st = lstatOrNull(p);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      if (!this.rules.replaceDirs) throw new LayerError(`cannot overwrite directory "${entryName}" with non-directory`);
      rmSync(p, { recursive: true, force: true });
      return false;
    }
    if (keepDir && !this.rules.replaceDirs)
      throw new LayerError(`cannot overwrite non-directory "${entryName}" with directory`);
    unlinkSync(p);
    return false;
  }

  async entry(h: Header, stream: AsyncIterable<Buffer>): Promise<void> {
    this.stats.entries++;
    if (this.idMap) {
      try {
        Object.assign(h, ownerToHost(h.uid, h.gid, this.idMap));
      } catch (e) {
        if (e instanceof IdMapError) throw new LayerError(`${e.message} (entry ${h.name})`);
        throw e;
      }
    }
    const clean = cleanEntryName(h.name, this.rules.absolute);
    const rel = this.renameTop === undefined || !clean ? clean : replaceTop(clean, this.renameTop);
    if (rel === '') {
      await drain(stream);
      if (h.type === 'directory' && this.rules.rootEntry) {
        // the root entry ('./'): take its mode and owner only
        const fd = this.dirOf(this.base, h.name);
        try {
          fchownSync(fd, h.uid, h.gid);
          fchmodSync(fd, h.mode & 0o7777);
        } finally {
          closeSync(fd);
        }
        this.dirTimes.push([this.base, h.mtime ?? new Date(0)]);
      }
      return;
    }
    const wo = this.rules.whiteouts ? whiteoutOf(rel) : undefined;
    if (wo) {
      await drain(stream);
      if (wo.kind === 'opaque') {
        const dir = this.dirOf(this.full(wo.dir), h.name);
        try {
          await setOpaque(fdPath(dir));
        } finally {
          closeSync(dir);
        }
      } else {
        const { dir, name } = this.parentOf(this.full(wo.path), h.name);
        try {
          this.clear(dir, name, h.name, false);
          await mknodWhiteout(fdPath(dir, name));
        } finally {
          closeSync(dir);
        }
      }
      return;
    }
    if (h.type === 'link') {
      await drain(stream);
      await this.hardLink(h, rel);
      return;
    }
    const { dir, name } = this.parentOf(this.full(rel), h.name);
    try {
      if ((await this.write(h, rel, stream, dir, name)) && this.rules.xattrs) {
        for (const [x, value] of h.xattrs ?? []) {
          if (x.startsWith('trusted.overlay.')) continue; // only whiteout entries may set overlay metadata
          try {
            await setXattr(fdPath(dir, name), x, value);
          } catch {
            /* filesystem without that namespace: skip */
          }
        }
      }
    } finally {
      closeSync(dir);
    }
  }

  /** Writes one non-link entry as `name` in the open directory `dir`; false when it was skipped. */
  private async write(
    h: Header,
    rel: string,
    stream: AsyncIterable<Buffer>,
    dir: number,
    name: string,
  ): Promise<boolean> {
    const p = fdPath(dir, name);
    const mode = h.mode & 0o7777;
    const mtime = h.mtime ?? new Date(0);
    switch (h.type) {
      case 'directory': {
        await drain(stream);
        if (!this.clear(dir, name, h.name, true)) mkdirSync(p, 0o700);
        const fd = this.openEntryDir(dir, name, h.name);
        try {
          if (this.rules.owners) fchownSync(fd, h.uid, h.gid);
          fchmodSync(fd, mode);
        } finally {
          closeSync(fd);
        }
        this.dirTimes.push([this.full(rel), mtime]);
        return true;
      }
      case 'file':
      case 'contiguous-file': {
        this.clear(dir, name, h.name, false);
        const fh = await open(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of stream) {
            let off = 0;
            while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
          }
          if (this.rules.owners) await fh.chown(h.uid, h.gid);
          await fh.chmod(mode);
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        return true;
      }
      case 'symlink': {
        await drain(stream);
        this.clear(dir, name, h.name, false);
        symlinkSync(h.linkname ?? '', p);
        if (this.rules.owners) lchownSync(p, h.uid, h.gid);
        lutimesSync(p, mtime, mtime);
        return true;
      }
      case 'fifo': {
        await drain(stream);
        this.clear(dir, name, h.name, false);
        await mkfifo(p, mode);
        if (this.rules.owners) lchownSync(p, h.uid, h.gid);
        return true;
      }
      case 'character-device':
      case 'block-device': {
        await drain(stream);
        if (this.rules.devices === 'skip') {
          this.stats.skipped.push(rel);
          return false;
        }
        this.clear(dir, name, h.name, false);
        await mknodDevice(p, h.type === 'block-device' ? 'b' : 'c', h.devmajor ?? 0, h.devminor ?? 0, mode);
        if (this.rules.owners) lchownSync(p, h.uid, h.gid);
        return true;
      }
      default:
        await drain(stream);
        this.stats.skipped.push(rel);
        return false;
    }
  }

  /** Opens a directory entry just made or kept, refusing one swapped for a symlink meanwhile. */
  private openEntryDir(dir: number, name: string, entryName: string): number {
    try {
      return openDirIn(dir, name);
    } catch {
      throw new LayerError(`directory entry changed while extracting: ${entryName}`);
    }
  }

  private async hardLink(h: Header, rel: string): Promise<void> {
    const named = cleanEntryName(h.linkname ?? '', this.rules.absolute);
    const target = this.renameTop === undefined || !named ? named : replaceTop(named, this.renameTop);
    if (!target) throw new LayerError(`refusing hard link to the root: ${h.name}`);
    const from = this.parentOf(this.full(target), h.name);
    try {
      const st = lstatOrNull(fdPath(from.dir, from.name));
      if (!st) throw new LayerError(`refusing hard link to a missing entry: ${h.name} -> ${h.linkname}`);
      if (st.isDirectory()) throw new LayerError(`refusing hard link to a directory: ${h.name} -> ${h.linkname}`);
      if (target === rel) return;
      const to = this.parentOf(this.full(rel), h.name);
      try {
        this.clear(to.dir, to.name, h.name, false);
        // link(2) does not follow a symlink named as the source: at worst it links that symlink (inside the root)
        linkSync(fdPath(from.dir, from.name), fdPath(to.dir, to.name));
      } finally {
        closeSync(to.dir);
      }
    } finally {
      closeSync(from.dir);
    }
    // a hard link shares the target's inode: no owner/mode/time of its own
  }

  /** Directory mtimes last: creating entries inside changed them. */
  finish(): void {
    for (const [rel, t] of this.dirTimes.reverse()) {
      try {
        const fd = this.root.openDir(rel, { symlinks: this.rules.symlinkParents });
        try {
          futimesSync(fd, t, t);
        } finally {
          closeSync(fd);
        }
      } catch {
        /* gone (whiteout of a dir) */
      }
    }
  }
}
