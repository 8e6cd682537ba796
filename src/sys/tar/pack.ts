// The packing half of cocon's one tar codec (src/sys/tar/): TarWriter (entries
// written one by one: layer diffs, docker-archives, re-owned COPY sources) and the tree packer,
// which reads through src/sys/saferoot.ts: the path is resolved inside the root (symlinks the way
// the container sees them), and the tree is walked by open directory fds, each child opened from its
// open parent with O_NOFOLLOW and described by fstat of what was opened, so a container that swaps
// a directory and a symlink while we read cannot make us read a file outside its root. It serves
// `docker cp` out (packLocated), `docker export`, build contexts and cp sources of the CLI, and
// deterministic layers (packTree with a HeaderPolicy: entries sorted by name, fixed owners and
// mtimes, no user or group names: the same tree gives the same bytes).
import { closeSync, createReadStream, fstatSync, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { fdPath, openDirIn, openFileIn, RootPathError, SafeRoot } from '../saferoot.js';
import { xattrsUnder } from '../xattr.js';
import { readTar } from './extract.js';
import { encodeEntryHeader, END, padding } from './format.js';
import { applyPolicy, deviceNumbers, type HeaderPolicy, type TarHead, type TarHeader, xattrPax } from './rules.js';

/**
 * A tar being written entry by entry; `stream` is what the reader gets. When the reader goes away
 * the pending entry rejects; `fail(e)` ends the stream with an error.
 */
export class TarWriter {
  readonly stream = new PassThrough({ highWaterMark: 1 << 20 });
  /** Entries are written one after the other, whoever calls. */
  private tail: Promise<void> = Promise.resolve();

  private queue(f: () => Promise<void>): Promise<void> {
    const run = this.tail.then(f);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Writes `b`, waiting while the reader is behind; rejects once the reader went away. */
  private async put(b: Buffer): Promise<void> {
    if (this.stream.destroyed || this.stream.writableEnded) throw new Error('tar reader went away');
    if (this.stream.write(b)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error) => {
        this.stream.off('drain', ok);
        this.stream.off('close', gone);
        if (e) reject(e);
        else resolve();
      };
      const ok = () => done();
      const gone = () => done(new Error('tar reader went away'));
      this.stream.on('drain', ok);
      this.stream.on('close', gone);
    });
  }

  /** Writes an entry without data, or with the whole of `data`. */
  entry(h: TarHead, data?: Buffer): Promise<void> {
    return this.queue(async () => {
      const size = data?.length ?? 0;
      const head = encodeEntryHeader(h, size);
      const t = h.type ?? 'file';
      if (size && t !== 'file' && t !== 'contiguous-file') throw new Error(`no data allowed for a ${t} entry`);
      if (!size) return this.put(head);
      await this.put(Buffer.concat([head, data!, Buffer.alloc(padding(size))]));
    });
  }

  /** Writes a file entry of `h.size` bytes read from `src`; fewer or more bytes are an error. */
  file(h: TarHead, src: Readable): Promise<void> {
    return this.queue(async () => {
      const size = h.size ?? 0;
      try {
        await this.put(encodeEntryHeader({ ...h, type: h.type ?? 'file' }, size));
        let n = 0;
        for await (const c of src as AsyncIterable<Buffer>) {
          n += c.length;
          if (n > size) throw new Error(`${h.name}: more data than its size (${size})`);
          await this.put(c);
        }
        if (n !== size) throw new Error(`${h.name}: ${n} bytes of ${size} (file changed while packing?)`);
        if (padding(size)) await this.put(Buffer.alloc(padding(size)));
      } catch (e) {
        src.destroy();
        throw e;
      }
    });
  }

  finalize(): void {
    void this.queue(async () => {
      if (this.stream.destroyed) return;
      this.stream.end(END);
    });
  }

  fail(e: Error): void {
    this.stream.destroy(e);
  }
}

/** Runs `write` on a new TarWriter and returns its stream; an error of `write` ends the stream with it. */
export function writeTar(write: (w: TarWriter) => Promise<void>): PassThrough {
  const w = new TarWriter();
  write(w).then(
    () => w.finalize(),
    (e: Error) => w.fail(e),
  );
  return w.stream;
}

/** The tar `src` with every header passed through `map` (COPY --chown/--chmod); errors end the stream. */
export function mapHeaders(src: Readable, map: (h: TarHeader) => TarHead): PassThrough {
  return writeTar((w) =>
    readTar(src, async (h, data) => {
      const nh = map(h);
      if ((h.type === 'file' || h.type === 'contiguous-file') && (h.size ?? 0) > 0)
        await w.file(nh, Readable.from(data));
      else await w.entry(nh);
    }),
  );
}

/** What a path inside a root is (lstat, or stat of the followed link), for X-Docker-Container-Path-Stat. */
export interface RootStat {
  name: string;
  size: number;
  mode: number;
  mtime: Date;
  isDir: boolean;
  isLink: boolean;
  linkTarget: string;
}

/** A resolved path: its open parent directory and final name ('' = `dir` is the path itself). */
export interface Located {
  root: SafeRoot;
  dir: number;
  name: string;
  close: () => void;
}

/**
 * Resolves `path` inside the root directory `rootDir`; the last component is followed only when
 * `followLast`. Throws RootPathError (ENOENT, ENOTDIR, ELOOP) when it does not resolve.
 */
export function locate(rootDir: string, path: string, followLast: boolean): Located {
  const root = SafeRoot.open(rootDir);
  try {
    const { dir, name } = root.resolve(path, { followLast, symlinks: 'follow' });
    return {
      root,
      dir,
      name,
      close: () => {
        closeSync(dir);
        root.close();
      },
    };
  } catch (e) {
    root.close();
    throw e;
  }
}

/** lstat of a located path; RootPathError ENOENT when it does not exist. */
export function statLocated(l: Located): RootStat {
  let st: Stats;
  try {
    st = l.name ? lstatSync(fdPath(l.dir, l.name)) : fstatSync(l.dir);
  } catch {
    throw new RootPathError('no such file or directory', 'ENOENT');
  }
  const isLink = st.isSymbolicLink();
  let linkTarget = '';
  if (isLink) {
    try {
      linkTarget = readlinkSync(fdPath(l.dir, l.name));
    } catch {
      linkTarget = '';
    }
  }
  return {
    name: l.name,
    size: st.size,
    mode: st.mode & 0o7777,
    mtime: st.mtime,
    isDir: st.isDirectory(),
    isLink,
    linkTarget,
  };
}

/** Checks that a located path is a directory (not a symlink to one). Throws RootPathError ENOENT/ENOTDIR. */
export function checkLocatedDir(l: Located): void {
  try {
    closeSync(openDirIn(l.dir, l.name));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RootPathError('no such file or directory', 'ENOENT');
    throw new RootPathError('not a directory', 'ENOTDIR');
  }
}

function baseHeader(st: Stats, name: string): TarHead {
  return { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0 };
}

/** What the tree packer leaves out: 'skip' an entry (and below it), 'walk' a directory without its entry. */
export type PackFilter = (rel: string, isDir: boolean) => 'keep' | 'skip' | 'walk';

/** Maps a file's host owner to the owner the tar carries (--userns-remap: the container's ids). */
export type OwnerMap = (uid: number, gid: number) => { uid: number; gid: number };

export interface PackOptions {
  policy?: HeaderPolicy;
  /** Owners as the reader must see them; applied here, before packing. */
  owner?: OwnerMap;
  filter?: PackFilter;
  /** xattrs by path relative to the packed root (xattrsUnder), carried as PAX records. */
  xattrs?: Map<string, Map<string, Buffer>>;
}

class Packer {
  private readonly links = new Map<string, string>();
  /** Set when the reader went away: no fd (the caller's ones are closed then) is touched again. */
  stopped = false;
  constructor(
    private readonly w: TarWriter,
    private readonly o: PackOptions = {},
  ) {}

  private head(h: TarHead, rel: string): TarHead {
    const owned = this.o.owner ? { ...h, ...this.o.owner(h.uid ?? 0, h.gid ?? 0) } : h;
    const out = this.o.policy ? applyPolicy(owned, this.o.policy) : owned;
    const xattrs = xattrPax(this.o.xattrs?.get(rel), () => true);
    return xattrs ? { ...out, xattrs } : out;
  }

  /** The './' entry of the open directory `fd` (a layer's root: its mode and owner). */
  async rootEntry(fd: number): Promise<void> {
    await this.w.entry({ ...this.head(baseHeader(fstatSync(fd), './'), ''), type: 'directory' });
  }

  /** Packs the children of the open directory `fd`, named `arc/child` ('' = at the top) and `rel/child`. */
  async children(fd: number, arc: string, rel: string): Promise<void> {
    for (const c of readdirSync(fdPath(fd)).sort())
      await this.add(fd, c, arc ? `${arc}/${c}` : c, rel ? `${rel}/${c}` : c);
  }

  /** Packs `name` of the open directory `dir` ('' = dir itself) as `arc`; `rel` names it for the filter and xattrs. */
  async add(dir: number, name: string, arc: string, rel = arc): Promise<void> {
    if (this.stopped) throw new Error('tar reader went away');
    let st: Stats;
    try {
      st = name ? lstatSync(fdPath(dir, name)) : fstatSync(dir);
    } catch {
      return;
    } // gone meanwhile
    const verdict = this.o.filter ? this.o.filter(rel, st.isDirectory()) : 'keep';
    if (verdict === 'skip' || (verdict === 'walk' && !st.isDirectory())) return;
    if (st.isDirectory()) {
      let fd: number;
      try {
        fd = openDirIn(dir, name);
      } catch {
        return;
      } // swapped for a non-directory: skip
      try {
        const dst = fstatSync(fd);
        if (verdict === 'keep')
          await this.w.entry({ ...this.head(baseHeader(dst, arc + '/'), rel), type: 'directory' });
        await this.children(fd, arc, rel);
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = readlinkSync(fdPath(dir, name));
      } catch {
        return;
      }
      await this.w.entry({ ...this.head(baseHeader(st, arc), rel), type: 'symlink', linkname: target });
      return;
    }
    if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'character-device' : 'block-device';
      await this.w.entry({ ...this.head(baseHeader(st, arc), rel), type, ...deviceNumbers(st.rdev) });
      return;
    }
    if (!st.isFile()) return; // sockets: as tar, skipped
    let fd: number;
    try {
      fd = openFileIn(dir, name);
    } catch {
      return;
    } // swapped for a symlink (ELOOP) or gone
    let closed = false;
    try {
      const fst = fstatSync(fd);
      if (!fst.isFile()) return;
      const key = `${fst.dev}:${fst.ino}`;
      if (fst.nlink > 1) {
        const first = this.links.get(key);
        if (first) {
          await this.w.entry({ ...this.head(baseHeader(fst, arc), rel), type: 'link', linkname: first });
          return;
        }
        this.links.set(key, arc);
      }
      const h = { ...this.head(baseHeader(fst, arc), rel), type: 'file' as const, size: fst.size };
      if (fst.size === 0) {
        await this.w.entry(h);
        return;
      }
      closed = true;
      await this.w.file(h, createReadStream('', { fd, start: 0, end: fst.size - 1, autoClose: true }));
    } finally {
      if (!closed) closeSync(fd);
    }
  }
}

function packWith(o: PackOptions, walk: (p: Packer) => Promise<void>): PassThrough {
  const w = new TarWriter();
  const packer = new Packer(w, o);
  w.stream.on('close', () => {
    packer.stopped = true;
  });
  walk(packer).then(
    () => w.finalize(),
    (e: Error) => w.fail(e),
  );
  return w.stream;
}

/**
 * A tar of a located path, its top entry named `arcName` ('' = its contents only, each child at the
 * top, for a directory). The stream errors when reading fails; the location stays open until the
 * stream ends (the caller closes it afterwards).
 */
export function packLocated(l: Located, arcName: string, o: PackOptions = {}): PassThrough {
  return packWith(o, async (p) => {
    if (arcName) return p.add(l.dir, l.name, arcName);
    const fd = openDirIn(l.dir, l.name);
    try {
      await p.children(fd, '', '');
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * A tar of the tree under the directory `dir`, names relative to it without a root entry (as
 * `docker export` writes a container's filesystem), sorted by name; with `xattrs`, every entry's
 * extended attributes go along as PAX records (byte for byte); `rootEntry` adds the './' entry and
 * `dotNames` names the entries './x' as `tar -C dir .` does. Errors (RootPathError ENOENT for a missing `dir`)
 * end the stream.
 */
export function packTree(
  dir: string,
  o: Omit<PackOptions, 'xattrs'> & { xattrs?: boolean; rootEntry?: boolean; dotNames?: boolean } = {},
): PassThrough {
  const { xattrs, rootEntry, dotNames, ...rest } = o;
  const opts: PackOptions = rest;
  return packWith(opts, async (p) => {
    let root: SafeRoot;
    try {
      root = SafeRoot.open(dir);
    } catch {
      throw new RootPathError(`cannot open ${dir}: no such directory`, 'ENOENT');
    }
    try {
      if (xattrs) opts.xattrs = await xattrsUnder(dir);
      if (rootEntry) await p.rootEntry(root.fd);
      await p.children(root.fd, dotNames ? '.' : '', '');
    } finally {
      root.close();
    }
  });
}
