// File operations confined to a directory tree ("the root"), safe against symlinks planted in the
// tree and against a process that renames or swaps entries in it while we work (a running
// container, CVE-2018-15664 style).
//
// Design: an openat-style walk without openat (Node 20 has none). The root is opened once as a
// directory fd; every path component is then opened relative to the already-open parent through
// the /proc/<pid>/fd/<dirfd>/<name> magic link, with O_DIRECTORY|O_NOFOLLOW. The kernel resolves
// that path from the open directory itself, so a rename or swap after a step cannot redirect it:
// each step is bound to a directory we hold. A symlink met on the way (ELOOP/ENOTDIR) is read
// through the same kind of path and resolved against the root, the way the container itself
// would see it: an absolute target restarts at the root, '..' never climbs above it. Final
// entries are created, changed and read through /proc/<pid>/fd/<parentfd>/<name> with
// O_CREAT|O_EXCL|O_NOFOLLOW, fchown/fchmod/futimes on the opened fd, lchown/lutimes for links.
// /proc/<pid> (not /proc/self) so that helper tools spawned by the daemon (mknod, setfattr) resolve
// the same directories while we keep the fd open. This is why cp into and out of a running
// container needs no freezing: no step ever resolves a path string that the container can change
// between our check and our use. (Linux >= 5.6 openat2(RESOLVE_IN_ROOT) would do the same in one
// call, but it is not reachable from Node.)
import { closeSync, constants as C, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs';

export class RootPathError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'ESYMLINK',
  ) {
    super(message);
  }
}

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
/** Re-opening an open directory through its /proc magic link must follow that link. */
const REOPEN_FLAGS = C.O_RDONLY | C.O_DIRECTORY;
const MAX_HOPS = 40;

/** The path naming `name` inside the open directory `fd` ('' = the directory itself). */
export function fdPath(fd: number, name = ''): string {
  return `/proc/${process.pid}/fd/${fd}` + (name ? '/' + name : '');
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

export interface WalkOptions {
  /** Create missing directories (0755, owned by root), as tar does for an entry's parents. */
  create?: boolean;
  /** Symlinks on the way: resolve them inside the root (default), or refuse them (RootPathError ESYMLINK). */
  symlinks?: 'follow' | 'refuse';
}

/** An open directory tree. Every path given to its methods is relative to the root (a leading '/' too). */
export class SafeRoot {
  private constructor(
    readonly fd: number,
    readonly hostPath: string,
  ) {}

  static open(hostPath: string): SafeRoot {
    return new SafeRoot(openSync(hostPath, DIR_FLAGS), hostPath);
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  /**
   * Opens the directory at `path` (resolved inside the root) and returns its fd (caller closes).
   * Throws RootPathError: ENOENT (missing, and not create), ENOTDIR, ELOOP (too many links), ESYMLINK.
   */
  openDir(path: string, opts: WalkOptions = {}): number {
    const todo = path.split('/').filter((p) => p !== '' && p !== '.');
    const stack: number[] = [openSync(fdPath(this.fd), REOPEN_FLAGS)];
    let hops = 0;
    try {
      while (todo.length) {
        const part = todo.shift()!;
        const top = stack[stack.length - 1];
        if (part === '..') {
          if (stack.length > 1) closeSync(stack.pop()!);
          continue;
        }
        let fd: number;
        try {
          fd = openSync(fdPath(top, part), DIR_FLAGS);
        } catch (e) {
          const code = errno(e);
          if (code === 'ENOENT') {
            if (!opts.create) throw new RootPathError(`no such file or directory: ${path}`, 'ENOENT');
            try {
              mkdirSync(fdPath(top, part), 0o755);
            } catch (e2) {
              if (errno(e2) !== 'EEXIST') throw e2;
            }
            todo.unshift(part);
            if (++hops > MAX_HOPS) throw new RootPathError(`cannot create ${path}`, 'ELOOP');
            continue;
          }
          if (code !== 'ELOOP' && code !== 'ENOTDIR') throw e;
          if (++hops > MAX_HOPS) throw new RootPathError(`too many levels of symbolic links: ${path}`, 'ELOOP');
          let st: Stats;
          try {
            st = lstatSync(fdPath(top, part));
          } catch {
            todo.unshift(part);
            continue;
          } // changed under us: look again
          if (st.isDirectory()) {
            todo.unshift(part);
            continue;
          }
          if (!st.isSymbolicLink()) throw new RootPathError(`not a directory: ${path}`, 'ENOTDIR');
          if (opts.symlinks === 'refuse') throw new RootPathError(`path goes through a symlink: ${path}`, 'ESYMLINK');
          let target: string;
          try {
            target = readlinkSync(fdPath(top, part));
          } catch {
            todo.unshift(part);
            continue;
          }
          if (target.startsWith('/')) while (stack.length > 1) closeSync(stack.pop()!);
          todo.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
          continue;
        }
        stack.push(fd);
      }
      const out = stack.pop()!;
      return out;
    } finally {
      for (const fd of stack) closeSync(fd);
    }
  }

  /**
   * Resolves `path` to (open parent directory, final name), following symlinks inside the root for
   * the parent and, when `followLast`, for the final component too (a link to a directory is
   * entered; a link to a file or a dangling link ends there). The root itself resolves to its own
   * fd with name ''. The caller closes `dir`.
   */
  resolve(path: string, opts: WalkOptions & { followLast?: boolean } = {}): { dir: number; name: string } {
    let todo = path.split('/').filter((p) => p !== '' && p !== '.');
    for (let hops = 0; ; hops++) {
      // a trailing '..' is a directory to enter, not a name to create
      if (!todo.length || todo[todo.length - 1] === '..') {
        return { dir: this.openDir(todo.join('/'), opts), name: '' };
      }
      const name = todo[todo.length - 1];
      const dir = this.openDir(todo.slice(0, -1).join('/'), opts);
      if (!opts.followLast) return { dir, name };
      let st: Stats | undefined;
      try {
        st = lstatSync(fdPath(dir, name));
      } catch {
        st = undefined;
      }
      if (!st?.isSymbolicLink()) return { dir, name };
      if (hops >= MAX_HOPS) {
        closeSync(dir);
        throw new RootPathError(`too many levels of symbolic links: ${path}`, 'ELOOP');
      }
      let target: string;
      try {
        target = readlinkSync(fdPath(dir, name));
      } catch {
        closeSync(dir);
        continue;
      }
      closeSync(dir);
      const parent = todo.slice(0, -1);
      todo = (target.startsWith('/') ? [] : parent).concat(target.split('/').filter((p) => p !== '' && p !== '.'));
    }
  }
}

/** Opens the file `name` in the open directory `dir` for reading, never following a symlink (ELOOP). */
export function openFileIn(dir: number, name: string): number {
  return openSync(fdPath(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
}

/** Opens the directory `name` in the open directory `dir`, never following a symlink. */
export function openDirIn(dir: number, name: string): number {
  return name ? openSync(fdPath(dir, name), DIR_FLAGS) : openSync(fdPath(dir), REOPEN_FLAGS);
}
