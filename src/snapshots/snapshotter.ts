// The snapshotter contract: what the rest of the engine may ask of a layer store. Implementation:
// ./overlay.ts (overlayfs). Shared test suite: test/helpers/snapshots-contract.ts.
//
// Kinds of snapshot:
//   committed  a read-only layer, named by its chain id; made by commit(), also for a layer tar:
//              ./overlay.ts applyWith() prepares an active snapshot on the parent, the applier
//              extracts into its mounts, commit() turns it into the layer; it may be the parent of
//              other snapshots.
//   active     a writable snapshot on top of a committed parent (or of nothing), named by a key chosen
//              by its user (a container id); made by prepare().
//   view       a read-only snapshot of a committed parent, named by a key; made by view().
//
// Lifecycle:  prepare(key, parent) -> mounts(key) -> [changes(key) | diff(key)] -> commit(name, key)
//             or remove(key);   view(key, parent) -> mounts(key) -> remove(key).
//
// The snapshotter hands out mounts (type, source, options), never its directories: a caller mounts
// them on a target of its own with src/sys/mount.ts mountAll() and unmounts that target before it
// commits or removes the snapshot. Every change of state is one SQLite transaction.
//
// Errors (src/core/errors.ts): NotFound (no snapshot with that key or name, unknown parent),
// Conflict (the key or name exists; removing a snapshot other snapshots are built on),
// InvalidArgument (a bad key; commit of a view; a name that is not the chain id of the content).
import type { Readable } from 'node:stream';
import type { Mount } from '../sys/mount.js';

export type { Mount } from '../sys/mount.js';

export type SnapshotKind = 'committed' | 'active' | 'view';

export interface SnapshotInfo {
  kind: SnapshotKind;
  /** The key (active, view) or the chain id (committed). */
  name: string;
  /** Chain id of the committed snapshot below; null for a base. */
  parent: string | null;
}

/** What a snapshot takes: bytes of its non-directory entries (as docker counts a layer) and inodes. */
export interface Usage {
  size: number;
  inodes: number;
}

/** docker diff's change kinds: 0 modified, 1 added, 2 deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

export interface DiffOptions {
  /**
   * Paths ('/etc/hosts') left out when the snapshot added them (not when it modified or deleted
   * them): mount points the runtime creates, which docker keeps in an init layer.
   */
  hide?: string[];
}

export interface PrepareOptions {
  /** Upper bound of the snapshot's own content, bytes (0 or absent: none but the data root's). */
  size?: number;
}

export interface Snapshotter {
  /** The snapshot's kind and parent. NotFound when there is none. */
  stat(key: string): SnapshotInfo;

  /**
   * Creates an active (writable) snapshot `key` on top of the committed snapshot `parent` (a chain
   * id; undefined for an empty base) and returns its mounts. Conflict when `key` exists, NotFound
   * when `parent` does not, InvalidArgument for a key that is not [A-Za-z0-9][A-Za-z0-9_.-]*.
   * `size` (bytes, --storage-opt size=) bounds what the snapshot may hold: a writer past it gets
   * ENOSPC. When the snapshot cannot be made (e.g. its quota cannot be set up) nothing of it is left.
   */
  prepare(key: string, parent: string | undefined, opts?: PrepareOptions): Promise<Mount[]>;

  /** Like prepare(), but the snapshot and its mounts are read-only. */
  view(key: string, parent: string | undefined): Promise<Mount[]>;

  /**
   * The mounts of an existing active or view snapshot. `readonly` asks for a read-only mount of an
   * active snapshot's current content (export of a stopped container). NotFound; InvalidArgument
   * for a committed snapshot (view it instead).
   */
  mounts(key: string, opts?: { readonly?: boolean }): Promise<Mount[]>;

  /**
   * Turns the active snapshot `key` (not mounted any more) into the committed snapshot `name`, whose
   * content is what the snapshot changed on top of its parent; `key` is gone afterwards. `name` must
   * be the chain id of the parent's chain and `diffId` (the digest of diff(key)'s tar).
   * NotFound, Conflict (name exists), InvalidArgument (a view; a name that does not match).
   */
  commit(name: string, key: string, opts: { diffId: string }): Promise<SnapshotInfo>;

  /**
   * What an active snapshot changed on top of its parent as an uncompressed layer tar (OCI image
   * layer format: deletions as '.wh.<name>', a directory that hides its parent's content carries
   * '.wh..wh..opq'). NotFound; InvalidArgument for a committed snapshot or a view.
   */
  diff(key: string, opts?: DiffOptions): Promise<Readable>;

  /** The same difference as a list of changes (docker diff), sorted by path. */
  changes(key: string, opts?: DiffOptions): Promise<Change[]>;

  /**
   * Removes a snapshot of any kind with its files. NotFound; Conflict while another snapshot (active,
   * view or committed) has it as parent.
   */
  remove(key: string): Promise<void>;

  /** Space taken by the snapshot itself (not its parents). NotFound. */
  usage(key: string): Promise<Usage>;
}
