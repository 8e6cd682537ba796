// What a writable snapshot changed on top of its parent, read from its overlay upper dir: the pure
// rules shared by docker diff's change list and the layer tar of diff(). No I/O: ./diff.ts scans the
// upper dir into UpperEntry values and asks the parent's layers through a ParentLookup.
//
// Overlay upper dir -> OCI layer (image-spec layer.md "Whiteouts"):
//   a 0/0 character device <dir>/<name>       -> <dir>/.wh.<name>       (deleted: change kind 2)
//   a directory marked trusted.overlay.opaque -> the directory, then <dir>/.wh..wh..opq right after it
//                                                (the parent's entries below it that the snapshot did
//                                                not recreate are deleted: change kind 2)
//   anything else                              -> itself (added: 1, or modified: 0 when the parent has it)
import type { Change, DiffOptions } from './snapshotter.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type EntryType = 'dir' | 'file' | 'symlink' | 'whiteout' | 'char' | 'block' | 'fifo' | 'socket';

/** One entry of an upper dir, in walk order (a directory before its children, names sorted). */
export interface UpperEntry {
  /** Absolute inside the snapshot: '/etc/passwd'. */
  path: string;
  type: EntryType;
  /** A directory overlayfs marked opaque. */
  opaque: boolean;
}

/** What the parent snapshot holds (its merged view). */
export interface ParentLookup {
  has(path: string): boolean;
  /** Names directly below a directory of the parent; [] when it has none. */
  children(path: string): string[];
}

/** One member of a layer tar, in order: a copy of an upper entry, a whiteout file or an opaque marker. */
export type LayerMember =
  | { kind: 'entry'; path: string; entry: UpperEntry }
  | { kind: 'whiteout'; path: string; of: string }
  | { kind: 'opaque'; path: string; dir: string };

function childPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : `${dir}/${name}`;
}

function split(path: string): { dir: string; base: string } {
  const i = path.lastIndexOf('/');
  return { dir: i <= 0 ? '/' : path.slice(0, i), base: path.slice(i + 1) };
}

/** '/a/b' -> '/a/.wh.b' */
export function whiteoutPath(path: string): string {
  const { dir, base } = split(path);
  return childPath(dir, WHITEOUT_PREFIX + base);
}

/** True for an entry a user of the snapshot asked to leave out (a runtime mount point it added). */
function hidden(e: UpperEntry, parent: ParentLookup, hide: Set<string>): boolean {
  return e.type !== 'whiteout' && hide.has(e.path) && !parent.has(e.path);
}

/** Ancestors of a path, nearest first: '/a/b/c' -> '/a/b', '/a'. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = split(path).dir; p !== '/'; p = split(p).dir) out.push(p);
  return out;
}

/**
 * docker diff's list: deletions (whiteouts, and what an opaque directory hides), additions and
 * modifications, in walk order; paths in `hide` are left out when the snapshot added them, and so
 * is a directory of the parent that is in the upper dir only for them (/etc, copied up when the
 * runtime made /etc/hosts there: dockerd's init layer keeps it out of docker diff the same way).
 */
export function changesOf(entries: UpperEntry[], parent: ParentLookup, opts: DiffOptions = {}): Change[] {
  const hide = new Set(opts.hide ?? []);
  const inUpper = new Set(entries.map((e) => e.path));
  const holdsHidden = new Set<string>();
  const holdsShown = new Set<string>();
  for (const e of entries)
    for (const a of ancestors(e.path)) (hidden(e, parent, hide) ? holdsHidden : holdsShown).add(a);
  const onlyForHidden = (e: UpperEntry) =>
    e.type === 'dir' && !e.opaque && parent.has(e.path) && holdsHidden.has(e.path) && !holdsShown.has(e.path);
  const out: Change[] = [];
  for (const e of entries) {
    if (e.type === 'whiteout') {
      out.push({ Path: e.path, Kind: 2 });
      continue;
    }
    if (!hidden(e, parent, hide) && !onlyForHidden(e)) out.push({ Path: e.path, Kind: parent.has(e.path) ? 0 : 1 });
    if (e.type === 'dir' && e.opaque) {
      for (const name of parent.children(e.path)) {
        const p = childPath(e.path, name);
        if (!inUpper.has(p)) out.push({ Path: p, Kind: 2 });
      }
    }
  }
  return out;
}

/**
 * The members of the layer tar for an upper dir, in order: each directory before its content, an
 * opaque directory's marker right after the directory, whiteouts where the deleted entry was.
 */
export function layerMembers(entries: UpperEntry[], parent: ParentLookup, opts: DiffOptions = {}): LayerMember[] {
  const hide = new Set(opts.hide ?? []);
  const out: LayerMember[] = [];
  for (const e of entries) {
    if (e.type === 'whiteout') {
      out.push({ kind: 'whiteout', path: whiteoutPath(e.path), of: e.path });
      continue;
    }
    if (!hidden(e, parent, hide)) out.push({ kind: 'entry', path: e.path, entry: e });
    if (e.type === 'dir' && e.opaque) out.push({ kind: 'opaque', path: childPath(e.path, OPAQUE_MARKER), dir: e.path });
  }
  return out;
}

/** A tar member name for an absolute path: no leading '/', directories end in '/'. */
export function tarName(path: string, dir: boolean): string {
  const rel = path.replace(/^\/+/, '');
  return dir ? rel + '/' : rel;
}
