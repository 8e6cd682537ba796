// The overlay snapshotter (contract: ./snapshotter.ts). Layout under its root (<data-root>/overlay):
//   <chainid-hex>/diff            a committed layer's files (an overlay lower dir), row in `layers`
//   snapshots/<id>/fs, .../work   an active snapshot's upper and work dirs (a view's fs stays empty),
//                                 row in `snapshots` (key, kind, parent, upper, work: paths relative to
//                                 the root, so containers made before the snapshotter existed are
//                                 adopted where they are: ../containers/<id>/upper and work)
//   .tmp/                         emptied at start (where layers were applied before applyWith() used snapshots)
//   snapshots/<id>.img            an active snapshot prepared with a size (--storage-opt size=): a sparse
//                                 ext4 image loop-mounted on snapshots/<id>, so fs and work live inside
//                                 it and a writer past the size gets ENOSPC (src/sys/loopimage.ts). It
//                                 stays mounted while the snapshot exists (mounted again on first use
//                                 after a reboot, e2fsck'd first) and is unmounted, detached and
//                                 deleted by remove(). Its presence is the record of the quota.
// Committed layers come from commit() of an active snapshot, also when a layer tar is applied:
//  - applyWith() does what containerd's unpacker does: prepare(extract-<random>, parent), the applier
//    (../sys/tar/extract.ts applyToMounts, the safe streaming extractor) writes the layer into the
//    snapshot's mounts (the overlay's upper dir, whiteouts as overlay whiteouts), then commit(). A
//    failed apply removes the snapshot; a crash leaves an extract-* row that sweep() drops at start,
//    so no half layer is ever recorded. Layers shared by several images are stored once.
//  - commit() renames the upper dir into <chainid-hex>/diff, then swaps the rows in one transaction.
//  - remove() refuses a layer other snapshots are built on (Conflict), deletes the row, then the files.
// Under --userns-remap (`idMap`, src/core/idmap.ts) the layers' files are owned by host ids shifted
// into the daemon's subordinate range: applyWith() hands the map to its filler (the extractor shifts
// each entry), a new snapshot's "/" (fs) and work dir belong to the remapped root, and diff() shifts
// the owners back to the container's ids, so a committed or saved layer carries the same ids as one
// made by an unremapped daemon.
// Which layers are still wanted (images, pulls in flight) is the images room's business (layer_holds);
// active and view snapshots keep their parent chain by themselves: remove() refuses to break it.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { DB } from '../store/db.js';
import { Conflict, InvalidArgument, NotFound } from '../core/errors.js';
import { isMounted, type Mount } from '../sys/mount.js';
import { copyTree } from '../sys/chroot.js';
import { detachLoopsUnder, makeExt4Image, mountImage, unmountImage } from '../sys/loopimage.js';
import { applyToMounts } from '../sys/tar/extract.js';
import { IMPORT } from '../sys/tar/rules.js';
import { chainId as computeChainId } from './chain.js';
import { changesOf } from './changes.js';
import { layersLookup, layerTar, measure, scanUpper } from './diff.js';
import { hostRoot, type IdentityMapping } from '../core/idmap.js';
import type { Change, DiffOptions, PrepareOptions, SnapshotInfo, Snapshotter, Usage } from './snapshotter.js';

export interface LayerRow {
  chainId: string;
  diffId: string;
  parent: string | null;
  size: number;
}

interface SnapshotRow {
  key: string;
  kind: 'active' | 'view';
  parent: string | null;
  upper: string | null;
  work: string | null;
  created: string;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Keys of the active snapshots applyWith() extracts layers into (containerd names them so too). */
const EXTRACT_PREFIX = 'extract-';

function hex(d: string): string {
  return d.startsWith('sha256:') ? d.slice(7) : d;
}

/** Sum of the sizes of all non-directory entries (what docker reports as a layer's size). */
export function treeSize(dir: string): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else total += lstatSync(p).size;
    }
  };
  walk(dir);
  return total;
}

export class OverlaySnapshotter implements Snapshotter {
  readonly tmpRoot: string;
  private readonly snapRoot: string;
  /** Quota images being mounted, by snapshot dir (two users of one snapshot mount it once). */
  private readonly mounting = new Map<string, Promise<void>>();

  constructor(
    readonly root: string,
    private readonly db: DB,
    /** --userns-remap: layers and snapshots are owned by the ids this maps container ids to. */
    readonly idMap?: IdentityMapping,
  ) {
    this.tmpRoot = join(root, '.tmp');
    this.snapRoot = join(root, 'snapshots');
    mkdirSync(this.tmpRoot, { recursive: true, mode: 0o700 });
    mkdirSync(this.snapRoot, { recursive: true, mode: 0o700 });
  }

  // ---- committed layers (the images room: apply, sizes, inspect's GraphDriver) ---------------------

  /** A committed layer's directory (images room only: inspect's GraphDriver, save). */
  dir(chainId: string): string {
    return join(this.root, hex(chainId));
  }
  diffDir(chainId: string): string {
    return join(this.dir(chainId), 'diff');
  }

  get(chainId: string): LayerRow | undefined {
    const r = this.db.prepare('SELECT chain_id, diff_id, parent, size FROM layers WHERE chain_id = ?').get(chainId) as
      | { chain_id: string; diff_id: string; parent: string | null; size: number }
      | undefined;
    return r && { chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size };
  }

  has(chainId: string): boolean {
    return !!this.get(chainId) && existsSync(this.diffDir(chainId));
  }

  list(): LayerRow[] {
    return (
      this.db.prepare('SELECT chain_id, diff_id, parent, size FROM layers').all() as Array<{
        chain_id: string;
        diff_id: string;
        parent: string | null;
        size: number;
      }>
    ).map((r) => ({ chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size }));
  }

  /**
   * Applies an uncompressed root filesystem tar (import) on top of `parent` (a chain id, or undefined
   * for a base layer) with the safe extractor's IMPORT rules. Returns the layer and whether this call
   * created it. Throws (LayerError) and leaves nothing when the tar cannot be extracted.
   */
  async apply(
    tar: string | (() => Promise<Readable>),
    diffId: string,
    parent: string | undefined,
  ): Promise<{ layer: LayerRow; created: boolean }> {
    const open = typeof tar === 'string' ? async () => createReadStream(tar) : tar;
    return this.applyWith(diffId, parent, async (mounts, idMap) => applyToMounts(await open(), mounts, idMap, IMPORT));
  }

  /**
   * Makes the committed layer `diffId` on `parent` the way containerd's unpacker does: an active
   * snapshot is prepared on the parent (key `extract-<random>`), `fill` (the applier: the safe
   * streaming extractor, ../sys/tar/extract.ts applyToMounts) writes the layer into its mounts, and
   * commit() turns it into the layer (measured, renamed into place, recorded in one transaction).
   * When `fill` rejects the snapshot is removed and nothing is recorded; a crash leaves an extract-*
   * snapshot that sweep() removes at the next start. A layer that exists already (or that another
   * apply finished meanwhile) is returned with created false. `fill` gets the daemon's id map
   * (--userns-remap), which it must apply to the owners it writes (the extractor's `idMap` option).
   * `parentPending`: the parent is being applied by another call (a pull's concurrent layers); when
   * it is not committed yet, the layer is extracted meanwhile and committed on it once it is.
   */
  async applyWith(
    diffId: string,
    parent: string | undefined,
    fill: (mounts: Mount[], idMap: IdentityMapping | undefined) => Promise<unknown>,
    opts: { parentPending?: Promise<unknown> } = {},
  ): Promise<{ layer: LayerRow; created: boolean }> {
    const chainId = computeChainId(parent, diffId);
    const existing = this.get(chainId);
    if (existing && existsSync(this.diffDir(chainId))) return { layer: existing, created: false };
    const key = `${EXTRACT_PREFIX}${randomBytes(12).toString('hex')}`;
    // A parent still being applied (a pull extracts its layers concurrently): the layer is extracted
    // into a snapshot on nothing meanwhile (an overlay upper dir holds only the layer's own entries,
    // whatever lies below), and put on its parent once that is committed.
    const early = parent !== undefined && opts.parentPending !== undefined && !this.has(parent);
    const mounts = await this.prepare(key, early ? undefined : parent);
    try {
      await fill(mounts, this.idMap);
      if (early) {
        await opts.parentPending;
        this.reparent(key, parent!);
      }
      // Another apply of the same layer may have finished meanwhile; an unrecorded leftover is replaced.
      const now = this.get(chainId);
      if (now && existsSync(this.diffDir(chainId))) {
        this.removeNow(key);
        return { layer: now, created: false };
      }
      // a row whose files are gone is replaced
      if (now) this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
      await this.commit(chainId, key, { diffId });
    } catch (e) {
      if (this.row(key)) this.removeNow(key);
      throw e;
    }
    return { layer: this.get(chainId)!, created: true };
  }

  /** Puts an active snapshot made on nothing onto the committed `parent` (applyWith's early extraction). */
  private reparent(key: string, parent: string): void {
    this.lowerDirs(parent); // NotFound: the parent's apply failed
    this.db.prepare('UPDATE snapshots SET parent = ? WHERE key = ? AND parent IS NULL').run(parent, key);
  }

  /**
   * remove(), synchronously (the images room removes layers inside its own lock): a snapshot of any
   * kind. NotFound; Conflict while another snapshot is built on it.
   */
  removeNow(key: string): void {
    const snap = this.row(key);
    if (snap) {
      this.db.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
      this.removeFiles(snap);
      return;
    }
    const layer = this.get(key);
    if (!layer) throw new NotFound(`snapshot ${key} does not exist`);
    const users = this.childrenOf(key);
    if (users.length)
      throw new Conflict(`snapshot ${key} is the parent of ${users.length} other snapshot(s) (${users[0]})`);
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(key);
    rmSync(this.dir(key), { recursive: true, force: true });
  }

  /** Snapshots (active, view, committed) whose parent is `chainId`. */
  private childrenOf(chainId: string): string[] {
    const snaps = this.db.prepare('SELECT key FROM snapshots WHERE parent = ?').all(chainId) as Array<{ key: string }>;
    const layers = this.db.prepare('SELECT chain_id FROM layers WHERE parent = ?').all(chainId) as Array<{
      chain_id: string;
    }>;
    return [...snaps.map((r) => r.key), ...layers.map((r) => r.chain_id)];
  }

  /**
   * Start-up cleanup: temp dirs of interrupted applies and snapshot dirs without a row (a crash
   * between making and recording one, or between forgetting and deleting it), with their quota
   * images: unmounted, their loop devices detached, deleted. Loop devices a crash left set up on an
   * image without a mount are detached. (A layer directory whose row was never written is not swept
   * here; applyWith() replaces it.) A quota'd snapshot with a row is mounted again on first use.
   */
  sweep(): void {
    rmSync(this.tmpRoot, { recursive: true, force: true });
    mkdirSync(this.tmpRoot, { recursive: true, mode: 0o700 });
    // layers an interrupted applyWith() was extracting: their rows go, their dirs with the unowned below
    this.db.prepare('DELETE FROM snapshots WHERE key LIKE ?').run(`${EXTRACT_PREFIX}%`);
    const owned = new Set(
      (this.db.prepare('SELECT upper FROM snapshots').all() as Array<{ upper: string | null }>)
        .filter((r) => r.upper)
        .map((r) => dirname(this.abs(r.upper!))),
    );
    for (const e of readdirSync(this.snapRoot)) {
      const d = join(this.snapRoot, e.replace(/\.img$/, ''));
      if (owned.has(d)) continue;
      unmountImage(d, `${d}.img`);
      rmSync(join(this.snapRoot, e), { recursive: true, force: true });
    }
    detachLoopsUnder(this.snapRoot);
  }

  /**
   * Unmounts every quota image (their snapshots stay; each is mounted again on first use): the
   * daemon does it at shutdown when no container runs, so that a data root on its own filesystem
   * can be unmounted too. A running container's rootfs keeps its layer (overlayfs holds its own
   * reference to the upper filesystem).
   */
  unmountImages(): void {
    for (const e of readdirSync(this.snapRoot)) {
      if (!e.endsWith('.img')) continue;
      const dir = join(this.snapRoot, e.slice(0, -4));
      unmountImage(dir, `${dir}.img`);
    }
  }

  // ---- the snapshotter contract ----------------------------------------------------------------

  private row(key: string): SnapshotRow | undefined {
    return this.db.prepare('SELECT key, kind, parent, upper, work, created FROM snapshots WHERE key = ?').get(key) as
      | SnapshotRow
      | undefined;
  }

  /** Stored paths are relative to the root (absolute ones as given). */
  private abs(p: string): string {
    return isAbsolute(p) ? p : resolve(this.root, p);
  }
  private rel(p: string): string {
    return relative(this.root, p);
  }

  private activeRow(key: string, what: string): SnapshotRow & { upper: string } {
    const r = this.row(key);
    if (!r) {
      if (this.get(key)) throw new InvalidArgument(`${what}: snapshot ${key} is committed, not active`);
      throw new NotFound(`snapshot ${key} does not exist`);
    }
    if (r.kind !== 'active' || !r.upper)
      throw new InvalidArgument(`${what}: snapshot ${key} is a read-only view, not active`);
    return r as SnapshotRow & { upper: string };
  }

  /** The layer directories of a committed chain, top first. NotFound when a layer is missing. */
  private lowerDirs(parent: string | null): string[] {
    const out: string[] = [];
    for (let c = parent; c; ) {
      const l = this.get(c);
      if (!l || !existsSync(this.diffDir(c))) throw new NotFound(`parent snapshot ${c} does not exist`);
      out.push(this.diffDir(c));
      c = l.parent;
    }
    return out;
  }

  stat(key: string): SnapshotInfo {
    const r = this.row(key);
    if (r) return { kind: r.kind, name: key, parent: r.parent };
    const l = this.get(key);
    if (l) return { kind: 'committed', name: key, parent: l.parent };
    throw new NotFound(`snapshot ${key} does not exist`);
  }

  prepare(key: string, parent: string | undefined, opts: PrepareOptions = {}): Promise<Mount[]> {
    return this.create(key, parent, 'active', opts.size);
  }

  view(key: string, parent: string | undefined): Promise<Mount[]> {
    return this.create(key, parent, 'view');
  }

  private async create(
    key: string,
    parent: string | undefined,
    kind: 'active' | 'view',
    size?: number,
  ): Promise<Mount[]> {
    if (!KEY.test(key))
      throw new InvalidArgument(
        `invalid snapshot key ${JSON.stringify(key)}: use letters, digits, '_', '.', '-' (at most 128)`,
      );
    if (this.row(key)) throw new Conflict(`snapshot ${key} already exists`);
    this.lowerDirs(parent ?? null); // NotFound for a missing parent
    const dir = join(this.snapRoot, randomBytes(12).toString('hex'));
    const image = size ? `${dir}.img` : null;
    mkdirSync(dir, { mode: 0o700 });
    try {
      if (image) {
        await makeExt4Image(image, size!);
        await mountImage(image, dir);
        chmodSync(dir, 0o700); // the image's root is the snapshot's own dir
      }
      // fs's mode becomes the mode of the mounted "/": 0755 like an image root.
      mkdirSync(join(dir, 'fs'), { mode: 0o755 });
      if (kind === 'active') mkdirSync(join(dir, 'work'), { mode: 0o700 });
      this.ownByRoot(join(dir, 'fs'));
      if (kind === 'active') this.ownByRoot(join(dir, 'work'));
      this.insert(key, kind, parent ?? null, join(dir, 'fs'), kind === 'active' ? join(dir, 'work') : null);
    } catch (e) {
      if (image) {
        try {
          unmountImage(dir, image);
        } catch {
          // left for sweep() at the next start
        }
      }
      rmSync(dir, { recursive: true, force: true });
      if (image) rmSync(image, { force: true });
      throw e;
    }
    return this.mounts(key);
  }

  /** --userns-remap: gives a directory the snapshotter makes to the remapped root (else nothing). */
  private ownByRoot(path: string): void {
    if (!this.idMap) return;
    const r = hostRoot(this.idMap);
    chownSync(path, r.uid, r.gid);
  }

  /** The quota image of a snapshot (its dir + '.img'), or null when it has none. */
  private imageOf(r: SnapshotRow): { dir: string; image: string } | null {
    if (!r.upper) return null;
    const dir = dirname(this.abs(r.upper));
    if (dirname(dir) !== this.snapRoot || !existsSync(`${dir}.img`)) return null;
    return { dir, image: `${dir}.img` };
  }

  /** Mounts a snapshot's quota image when it is not (after a reboot); once per snapshot at a time. */
  private async ensureMounted(r: SnapshotRow): Promise<void> {
    const q = this.imageOf(r);
    if (!q || isMounted(q.dir)) return;
    let p = this.mounting.get(q.dir);
    if (!p) {
      p = mountImage(q.image, q.dir).finally(() => this.mounting.delete(q.dir));
      this.mounting.set(q.dir, p);
    }
    await p;
  }

  /** The size limit of a snapshot's own content in bytes (its quota image's size), 0 for none. */
  sizeLimit(key: string): number {
    const r = this.row(key);
    const q = r && this.imageOf(r);
    return q ? lstatSync(q.image).size : 0;
  }

  /** Records a snapshot row, re-checking (in the same synchronous step) that the key is free and the parent exists. */
  private insert(
    key: string,
    kind: 'active' | 'view',
    parent: string | null,
    upper: string,
    work: string | null,
  ): void {
    this.db.transaction(() => {
      if (this.row(key)) throw new Conflict(`snapshot ${key} already exists`);
      if (parent && !this.get(parent)) throw new NotFound(`parent snapshot ${parent} does not exist`);
      this.db
        .prepare('INSERT INTO snapshots (key, kind, parent, upper, work, created) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key, kind, parent, this.rel(upper), work && this.rel(work), new Date().toISOString());
    })();
  }

  /**
   * Takes over the upper and work dirs of a container made before the snapshotter (they stay where
   * they are and become this snapshotter's: remove() deletes them). Conflict when `key` exists,
   * NotFound for a missing parent or upper dir.
   */
  adopt(key: string, parent: string | undefined, dirs: { upper: string; work: string }): void {
    if (!KEY.test(key)) throw new InvalidArgument(`invalid snapshot key ${JSON.stringify(key)}`);
    if (!existsSync(dirs.upper)) throw new NotFound(`cannot adopt ${key}: ${dirs.upper} does not exist`);
    this.lowerDirs(parent ?? null);
    mkdirSync(dirs.work, { recursive: true, mode: 0o700 });
    this.insert(key, 'active', parent ?? null, dirs.upper, dirs.work);
  }

  async mounts(key: string, opts: { readonly?: boolean } = {}): Promise<Mount[]> {
    const r = this.row(key);
    if (!r) {
      if (this.get(key)) throw new InvalidArgument(`snapshot ${key} is committed: view it to mount it`);
      throw new NotFound(`snapshot ${key} does not exist`);
    }
    const lowers = this.lowerDirs(r.parent);
    await this.ensureMounted(r);
    const upper = this.abs(r.upper ?? join(this.snapRoot, 'missing'));
    if (r.kind === 'view') {
      if (lowers.length === 0) return [{ type: 'bind', source: upper, options: ['bind', 'ro'] }];
      if (lowers.length === 1) return [{ type: 'bind', source: lowers[0], options: ['bind', 'ro'] }];
      return [{ type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${lowers.join(':')}`] }];
    }
    if (opts.readonly) {
      if (lowers.length === 0) return [{ type: 'bind', source: upper, options: ['bind', 'ro'] }];
      return [{ type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${[upper, ...lowers].join(':')}`] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: upper, options: ['bind', 'rw'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${this.abs(r.work!)}`],
      },
    ];
  }

  async commit(name: string, key: string, opts: { diffId: string }): Promise<SnapshotInfo> {
    const r = this.activeRow(key, 'commit');
    if (!/^sha256:[a-f0-9]{64}$/.test(opts.diffId))
      throw new InvalidArgument(`commit: invalid diff id ${JSON.stringify(opts.diffId)}`);
    const expected = computeChainId(r.parent ?? undefined, opts.diffId);
    if (name !== expected)
      throw new InvalidArgument(
        `commit: name ${name} is not the chain id of ${r.parent ?? 'an empty parent'} + ${opts.diffId} (${expected})`,
      );
    await this.ensureMounted(r);
    // checked after the last await before the rename: two commits of one name cannot interleave
    if (this.get(name)) throw new Conflict(`snapshot ${name} already exists`);
    const upper = this.abs(r.upper);
    const size = treeSize(upper); // counted as applyWith() counts a layer
    const dest = this.dir(name);
    rmSync(dest, { recursive: true, force: true }); // an unrecorded leftover of a crash
    mkdirSync(dest, { mode: 0o700 });
    // An upper inside a quota image is on another filesystem: copied (xattrs, whiteouts and all).
    if (this.imageOf(r)) await copyTree(upper, join(dest, 'diff'));
    else renameSync(upper, join(dest, 'diff'));
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
      this.db
        .prepare('INSERT INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)')
        .run(name, opts.diffId, r.parent, size);
    })();
    this.removeFiles(r);
    return { kind: 'committed', name, parent: r.parent };
  }

  async diff(key: string, opts: DiffOptions = {}): Promise<Readable> {
    const r = this.activeRow(key, 'diff');
    await this.ensureMounted(r);
    return layerTar(this.abs(r.upper), layersLookup(this.lowerDirs(r.parent)), { ...opts, idMap: this.idMap });
  }

  async changes(key: string, opts: DiffOptions = {}): Promise<Change[]> {
    const r = this.activeRow(key, 'changes');
    await this.ensureMounted(r);
    return changesOf(await scanUpper(this.abs(r.upper)), layersLookup(this.lowerDirs(r.parent)), opts);
  }

  async remove(key: string): Promise<void> {
    this.removeNow(key);
  }

  async usage(key: string): Promise<Usage> {
    const r = this.row(key);
    if (r) await this.ensureMounted(r);
    if (r)
      return r.kind === 'active' && r.upper && existsSync(this.abs(r.upper))
        ? measure(this.abs(r.upper))
        : { size: 0, inodes: 0 };
    const layer = this.get(key);
    if (layer) return { size: layer.size, inodes: measure(this.diffDir(key)).inodes };
    throw new NotFound(`snapshot ${key} does not exist`);
  }

  /**
   * Deletes a snapshot's own files: its dir under snapshots/ (with its quota image, unmounted and
   * detached first), or an adopted upper and work.
   */
  private removeFiles(r: SnapshotRow): void {
    const q = this.imageOf(r);
    if (q) {
      unmountImage(q.dir, q.image);
      rmSync(q.dir, { recursive: true, force: true });
      rmSync(q.image, { force: true });
      return;
    }
    for (const p of [r.upper, r.work]) {
      if (!p) continue;
      const a = this.abs(p);
      const own = dirname(a);
      rmSync(dirname(own) === this.snapRoot ? own : a, { recursive: true, force: true });
    }
  }
}
