// Tar streams of a path inside a container's root, for `docker cp` out (GET /containers/{id}/archive).
// Read through src/sys/saferoot.ts: the path is resolved inside the root (symlinks the way the
// container sees them), and the tree is walked by open directory fds, each child opened from its
// open parent with O_NOFOLLOW and described by fstat of what was opened, so a container that swaps
// a directory and a symlink while we read cannot make us read a file outside its root.
// (Extraction into a container, cp in, is the safe extractor's job: src/snapshots/apply.ts, COPY.)
import { closeSync, createReadStream, fstatSync, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { PassThrough } from 'node:stream';
import { pack, type Header, type Pack } from 'tar-stream';

type Headers = Partial<Header> & Pick<Header, 'name'>;
import { fdPath, openDirIn, openFileIn, RootPathError, SafeRoot } from './saferoot.js';

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

/** Maps a file's host owner to the owner the tar carries (--userns-remap: the container's ids). */
export type OwnerMap = (uid: number, gid: number) => { uid: number; gid: number };

function baseHeader(st: Stats, name: string, owner?: OwnerMap): Headers {
  const o = owner ? owner(st.uid, st.gid) : { uid: st.uid, gid: st.gid };
  return { name, mode: st.mode & 0o7777, uid: o.uid, gid: o.gid, mtime: st.mtime, size: 0 };
}

class Packer {
  private readonly links = new Map<string, string>();
  /** Set when the reader went away: no fd (the caller's ones are closed then) is touched again. */
  stopped = false;
  constructor(
    private readonly p: Pack,
    private readonly owner?: OwnerMap,
  ) {}

  private entry(h: Headers, data?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.p.entry(h, data ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve()));
    });
  }

  /** Packs `name` of the open directory `dir` ('' = dir itself) as `arc`. */
  async add(dir: number, name: string, arc: string): Promise<void> {
    if (this.stopped) throw new Error('tar reader went away');
    let st: Stats;
    try {
      st = name ? lstatSync(fdPath(dir, name)) : fstatSync(dir);
    } catch {
      return;
    } // gone meanwhile
    if (st.isDirectory()) {
      let fd: number;
      try {
        fd = name ? openDirIn(dir, name) : openDirIn(dir, '');
      } catch {
        return;
      } // swapped for a non-directory: skip
      try {
        const dst = fstatSync(fd);
        await this.entry({ ...baseHeader(dst, arc + '/', this.owner), type: 'directory' });
        const children = readdirSync(fdPath(fd)).sort();
        for (const c of children) await this.add(fd, c, `${arc}/${c}`);
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
      await this.entry({ ...baseHeader(st, arc, this.owner), type: 'symlink', linkname: target });
      return;
    }
    if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'character-device' : 'block-device';
      await this.entry({
        ...baseHeader(st, arc, this.owner),
        type,
        devmajor: Math.floor(st.rdev / 256) & 0xfff,
        devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
      });
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
          await this.entry({ ...baseHeader(fst, arc, this.owner), type: 'link', linkname: first });
          return;
        }
        this.links.set(key, arc);
      }
      await new Promise<void>((resolve, reject) => {
        if (fst.size === 0) {
          this.p.entry({ ...baseHeader(fst, arc, this.owner), type: 'file', size: 0 }, Buffer.alloc(0), (e) =>
            e ? reject(e) : resolve(),
          );
          return;
        }
        const sink = this.p.entry({ ...baseHeader(fst, arc, this.owner), type: 'file', size: fst.size }, (e) =>
          e ? reject(e) : resolve(),
        );
        const src = createReadStream('', { fd, start: 0, end: fst.size - 1, autoClose: true });
        closed = true;
        src.on('error', reject);
        // The reader went away mid-file: the pack destroys this entry; the error is ours to take.
        (sink as unknown as NodeJS.EventEmitter).on('error', (e: Error) => {
          src.destroy();
          reject(e);
        });
        src.pipe(sink as unknown as NodeJS.WritableStream);
      });
    } finally {
      if (!closed) closeSync(fd);
    }
  }
}

/**
 * A tar of a located path, its top entry named `arcName`, owners mapped by `owner` (ustar headers
 * hold ids below 2^18 only, so a shift to the container's ids is done here, before packing). The stream errors when reading fails;
 * the location stays open until the stream ends (the caller closes it afterwards).
 */
export function packLocated(l: Located, arcName: string, owner?: OwnerMap): PassThrough {
  const p = pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  p.on('error', (e: Error) => out.destroy(e));
  p.pipe(out);
  const packer = new Packer(p, owner);
  out.on('close', () => {
    packer.stopped = true;
  });
  packer.add(l.dir, l.name, arcName).then(
    () => p.finalize(),
    (e: Error) => {
      p.destroy(e);
      out.destroy(e);
    },
  );
  return out;
}
