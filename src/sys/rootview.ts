// Where a run puts its mount points and the files it copies in, for the two ways a root is used:
// the root itself (BaseView: paths resolved in it, missing ones created there), or a throwaway
// overlay over it (OverlayView: the base is only read; mount points and files that must be added
// are written to the overlay's upper directory before the overlay is mounted, with their parent
// directories mirrored from the base, owner and mode included, so the merged view looks the same).
// Paths inside the root are resolved with its symlinks taken relative to the root, never leading
// outside (see resolveInRoot).
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { readlinkSync } from 'node:fs';
import { resolveInRoot } from './chroot.js';

export interface RootView {
  /** The directory the command sees as / (its host path in the run's mount namespace). */
  readonly root: string;
  /** Host path (in the run's view) of `inner`, made to exist as a directory or a file. */
  target(inner: string, kind: 'dir' | 'file'): string;
  /** Host path of `inner` to read its current content, or undefined when missing. */
  existing(inner: string): string | undefined;
  /** Writes `inner` (its final component resolved like target) with `data`. */
  write(inner: string, data: string | Buffer, mode?: number): void;
}

export class BaseView implements RootView {
  constructor(readonly root: string) {}
  target(inner: string, kind: 'dir' | 'file'): string {
    const t = resolveInRoot(this.root, inner, kind);
    if (!t) throw new Error(`cannot make ${inner} in ${this.root}: a component is not a directory`);
    return t;
  }
  existing(inner: string): string | undefined {
    return resolveInRoot(this.root, inner);
  }
  write(inner: string, data: string | Buffer, mode = 0o644): void {
    writeExisting(this.target(inner, 'file'), data, mode);
  }
}

/**
 * Resolves `inner` in `root` like resolveInRoot, but a missing tail is kept as written (it holds no
 * symlink, since it does not exist). Returns the path relative to the root ('' = the root) and
 * whether it exists. Throws when a component on the way is not a directory.
 */
export function resolveRel(root: string, inner: string): { rel: string; exists: boolean } {
  const R = root.replace(/\/+$/, '');
  let todo = inner.split('/').filter((s) => s && s !== '.');
  let cur: string[] = [];
  let links = 0;
  let missing = false;
  while (todo.length) {
    const comp = todo.shift()!;
    if (comp === '..') {
      cur.pop();
      continue;
    }
    if (missing) {
      cur.push(comp);
      continue;
    }
    const host = R + '/' + [...cur, comp].join('/');
    let st;
    try {
      st = lstatSync(host);
    } catch {
      missing = true;
      cur.push(comp);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw new Error(`too many levels of symbolic links in ${inner}`);
      const t = readlinkSync(host);
      if (t.startsWith('/')) cur = [];
      todo = [...t.split('/').filter((s) => s && s !== '.'), ...todo];
      continue;
    }
    if (todo.length && !st.isDirectory())
      throw new Error(`${inner}: ${[...cur, comp].join('/')} is not a directory in the root`);
    cur.push(comp);
  }
  return { rel: cur.join('/'), exists: !missing };
}

export class OverlayView implements RootView {
  /** lower: the base root (read only); upper/work: the overlay's dirs; root: where it is mounted. */
  constructor(
    readonly lower: string,
    readonly upper: string,
    readonly root: string,
  ) {}

  /** Creates the parents of `rel` in upper, each with the owner and mode of the base's directory. */
  private parents(rel: string): void {
    const parts = rel.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      const u = `${this.upper}/${sub}`;
      try {
        lstatSync(u);
        continue;
      } catch {
        /* make it */
      }
      mkdirSync(u);
      try {
        const st = lstatSync(`${this.lower}/${sub}`);
        if (st.isDirectory()) {
          chownSync(u, st.uid, st.gid);
          chmodSync(u, st.mode & 0o7777);
        }
      } catch {
        chmodSync(u, 0o755);
      }
    }
  }

  target(inner: string, kind: 'dir' | 'file'): string {
    const { rel, exists } = resolveRel(this.lower, inner);
    if (!exists) {
      this.parents(rel);
      const u = `${this.upper}/${rel}`;
      try {
        lstatSync(u);
      } catch {
        if (kind === 'dir') mkdirSync(u, { mode: 0o755 });
        else closeSync(openSync(u, 'a', 0o644));
      }
    }
    return rel ? `${this.root}/${rel}` : this.root;
  }

  existing(inner: string): string | undefined {
    const { rel, exists } = resolveRel(this.lower, inner);
    if (!exists) return undefined;
    try {
      lstatSync(`${this.upper}/${rel}`);
      return `${this.upper}/${rel}`;
    } catch {
      return `${this.lower}/${rel}`;
    }
  }

  write(inner: string, data: string | Buffer, mode = 0o644): void {
    const { rel } = resolveRel(this.lower, inner);
    if (!rel) throw new Error(`cannot write the root itself`);
    this.parents(rel);
    let keep: { mode: number; uid: number; gid: number } | undefined;
    try {
      const st = lstatSync(`${this.lower}/${rel}`);
      if (st.isFile()) keep = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } catch {
      /* new */
    }
    const u = `${this.upper}/${rel}`;
    writeFileSync(u, data, { mode: keep?.mode ?? mode });
    if (keep) {
      chownSync(u, keep.uid, keep.gid);
      chmodSync(u, keep.mode);
    }
  }
}

/** Replaces a file's content in place (keeps its owner and mode; a new file gets `mode`). */
function writeExisting(path: string, data: string | Buffer, mode: number): void {
  writeFileSync(path, data, { mode });
}
