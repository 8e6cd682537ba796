// Where a run puts its mount points and the files it copies in, for the two ways a root is used:
// the root itself (BaseView: paths resolved in it, missing ones created there), or a throwaway
// overlay over it (OverlayView: the base is only read; mount points and files that must be added
// are written to the overlay's upper directory before the overlay is mounted, with their parent
// directories mirrored from the base, owner and mode included, so the merged view looks the same).
// Paths inside the root are resolved with its symlinks taken relative to the root, never leading
// outside (src/sys/rootpath.ts).
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { existingInRoot, walkInRoot } from './rootpath.js';

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
    const t = existingInRoot(this.root, inner, kind);
    if (!t) throw new Error(`cannot make ${inner} in ${this.root}: a component is not a directory`);
    return t;
  }
  existing(inner: string): string | undefined {
    return existingInRoot(this.root, inner);
  }
  write(inner: string, data: string | Buffer, mode = 0o644): void {
    writeExisting(this.target(inner, 'file'), data, mode);
  }
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
    const { rel, exists } = walkInRoot(this.lower, inner);
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
    const { rel, exists } = walkInRoot(this.lower, inner);
    if (!exists) return undefined;
    try {
      lstatSync(`${this.upper}/${rel}`);
      return `${this.upper}/${rel}`;
    } catch {
      return `${this.lower}/${rel}`;
    }
  }

  write(inner: string, data: string | Buffer, mode = 0o644): void {
    const { rel } = walkInRoot(this.lower, inner);
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
