// The in-root path resolver: where a path inside a root directory (a container's rootfs, a chroot,
// a layer) lands on the host, resolved the way a process chrooted there would see it. Symlinks are
// followed relative to the root (an absolute target restarts at the root, '..' never climbs above
// it), so no path nor link leads outside. Every path-string resolution inside a root goes through
// walkInRoot: the chroot manager (existingInRoot), run views (src/sys/rootview.ts) and volume
// copy-up (resolveInRoot).
//
// These walks resolve path strings, so they are for roots no one else changes meanwhile (a root
// being set up, a container not yet started). Inside a root a running process may change (docker
// cp, build COPY, layer extraction) use the fd-bound walk of src/sys/saferoot.ts instead.
import { closeSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { RootPathError } from './saferoot.js';

const MAX_LINKS = 40;

export interface WalkInRootOptions {
  /** Follow a symlink in the last component too (default true). Intermediate ones are always followed. */
  followLast?: boolean;
  /** Create missing components: directories, and the last one as a 'dir' or an empty 'file'. */
  create?: 'dir' | 'file';
}

/** Where a path resolved inside a root: relative to the root ('' = the root), on the host, and whether it exists. */
export interface InRootPath {
  rel: string;
  host: string;
  exists: boolean;
}

function parts(p: string): string[] {
  return p.split('/').filter((s) => s && s !== '.');
}

/**
 * Resolves `inner` inside `root`. A missing component (and what follows it) is kept as written and
 * `exists` is false, unless `create` makes it. Throws RootPathError ENOTDIR when an existing
 * component on the way is not a directory, ELOOP after 40 symlinks.
 */
export function walkInRoot(root: string, inner: string, opts: WalkInRootOptions = {}): InRootPath {
  const R = root.replace(/\/+$/, '');
  const followLast = opts.followLast ?? true;
  let todo = parts(inner);
  let cur: Array<{ name: string; missing: boolean }> = [];
  let links = 0;
  while (todo.length) {
    const comp = todo.shift()!;
    if (comp === '..') {
      cur.pop();
      continue;
    }
    const host = R + '/' + [...cur.map((c) => c.name), comp].join('/');
    let st: Stats | undefined;
    try {
      st = lstatSync(host);
    } catch {
      st = undefined;
    }
    if (!st) {
      if (opts.create) {
        if (todo.length === 0 && opts.create === 'file') closeSync(openSync(host, 'a', 0o644));
        else mkdirSync(host, { mode: 0o755 });
      }
      cur.push({ name: comp, missing: !opts.create });
      continue;
    }
    if (st.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw new RootPathError(`too many levels of symbolic links in ${inner}`, 'ELOOP');
      const target = readlinkSync(host);
      if (target.startsWith('/')) cur = [];
      todo = [...parts(target), ...todo];
      continue;
    }
    if (todo.length && !st.isDirectory())
      throw new RootPathError(`${inner}: ${[...cur.map((c) => c.name), comp].join('/')} is not a directory`, 'ENOTDIR');
    cur.push({ name: comp, missing: false });
  }
  const rel = cur.map((c) => c.name).join('/');
  return { rel, host: rel ? R + '/' + rel : R, exists: cur.every((c) => !c.missing) };
}

/**
 * The host path of `path` inside `root`; the last component is followed only when `followLast`.
 * Missing components are kept as they are (the caller stats).
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  return walkInRoot(root, path, { followLast }).host;
}

/**
 * The host path of `inner` inside `root` (as after chroot(root)), or undefined when a component is
 * missing (and `create` is not set) or is not a directory. `create` makes missing components.
 */
export function existingInRoot(root: string, inner: string, create?: 'dir' | 'file'): string | undefined {
  try {
    const p = walkInRoot(root, inner, { create });
    return p.exists ? p.host : undefined;
  } catch (e) {
    if (e instanceof RootPathError && e.code === 'ENOTDIR') return undefined;
    throw e;
  }
}
