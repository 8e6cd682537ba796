// The overlay snapshotter: one read-only directory per layer, keyed by chain id:
//   <dataRoot>/overlay/<chainid-hex>/diff      the layer's files (an overlay lower dir)
//   <dataRoot>/overlay/.tmp/<random>/           layers being applied
// Lifecycle: apply(tar, diffId, parent) -> dirs for mounts (diffDir) -> remove when no image uses it.
//  - apply() extracts into .tmp, measures, renames the finished directory into place and only then
//    records the row in the `layers` table (chain_id, diff_id, parent, size). A crash leaves either a
//    .tmp dir (removed by sweep() at start) or an unrecorded dir (replaced by the next apply() of that
//    layer): no half layer is ever recorded.
//  - Layers shared by several images are stored once: apply() of a recorded chain id is a no-op.
//  - remove() deletes the row, then the directory.
// Tar handling: apply() (local imports, trusted host tars) uses GNU tar via src/sys/tar.ts; layers from
// registries and archives go through applyWith() + ./apply.ts (untrusted-tar rules, whiteouts).
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DB } from '../store/db.js';
import { extractTarStream, IMPORT } from './apply.js';
import { chainId as computeChainId } from './chain.js';

export interface LayerRow { chainId: string; diffId: string; parent: string | null; size: number }

function hex(d: string): string { return d.startsWith('sha256:') ? d.slice(7) : d; }

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

export class OverlaySnapshotter {
  readonly tmpRoot: string;

  constructor(readonly root: string, private readonly db: DB) {
    this.tmpRoot = join(root, '.tmp');
    mkdirSync(this.tmpRoot, { recursive: true, mode: 0o700 });
  }

  dir(chainId: string): string { return join(this.root, hex(chainId)); }
  diffDir(chainId: string): string { return join(this.dir(chainId), 'diff'); }

  get(chainId: string): LayerRow | undefined {
    const r = this.db.prepare('SELECT chain_id, diff_id, parent, size FROM layers WHERE chain_id = ?').get(chainId) as
      { chain_id: string; diff_id: string; parent: string | null; size: number } | undefined;
    return r && { chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size };
  }

  has(chainId: string): boolean { return !!this.get(chainId) && existsSync(this.diffDir(chainId)); }

  list(): LayerRow[] {
    return (this.db.prepare('SELECT chain_id, diff_id, parent, size FROM layers').all() as Array<{ chain_id: string; diff_id: string; parent: string | null; size: number }>)
      .map((r) => ({ chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size }));
  }

  /**
   * Applies an uncompressed root filesystem tar (import) on top of `parent` (a chain id, or undefined
   * for a base layer) with the safe extractor's IMPORT rules. Returns the layer and whether this call
   * created it. Throws (LayerError) and leaves nothing when the tar cannot be extracted.
   */
  async apply(tarFile: string, diffId: string, parent: string | undefined): Promise<{ layer: LayerRow; created: boolean }> {
    return this.applyWith(diffId, parent, (diff) => extractTarStream(createReadStream(tarFile), diff, IMPORT));
  }

  /**
   * The general form of apply(): `fill` writes the layer's files into a fresh temp directory (for
   * pulled layers: the safe streaming extractor of ./apply.ts); when it resolves, the directory is
   * measured, renamed into place and recorded. When it rejects, the temp directory is removed and
   * nothing is recorded.
   */
  async applyWith(diffId: string, parent: string | undefined, fill: (diffDir: string) => Promise<unknown>): Promise<{ layer: LayerRow; created: boolean }> {
    const chainId = computeChainId(parent, diffId);
    const existing = this.get(chainId);
    if (existing && existsSync(this.diffDir(chainId))) return { layer: existing, created: false };
    const tmp = join(this.tmpRoot, randomBytes(12).toString('hex'));
    const diff = join(tmp, 'diff');
    // The layer's directory is private like its parents; diff/ is the layer's "/" (0755 as in images).
    mkdirSync(tmp, { mode: 0o700 });
    mkdirSync(diff, { mode: 0o755 });
    let size: number;
    try {
      await fill(diff);
      size = treeSize(diff);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    const dest = this.dir(chainId);
    // Another apply of the same layer may have finished meanwhile; an unrecorded leftover is replaced.
    const now = this.get(chainId);
    if (now && existsSync(this.diffDir(chainId))) { rmSync(tmp, { recursive: true, force: true }); return { layer: now, created: false }; }
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    const layer: LayerRow = { chainId, diffId, parent: parent ?? null, size };
    this.db.prepare('INSERT OR REPLACE INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)').run(chainId, diffId, parent ?? null, size);
    return { layer, created: true };
  }

  /** Forgets a layer and deletes its directory. */
  remove(chainId: string): void {
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
    rmSync(this.dir(chainId), { recursive: true, force: true });
  }

  /**
   * Start-up cleanup: temp dirs of interrupted applies. (A directory whose row was never written is
   * not swept here, since other rooms may keep directories beside ours; apply() replaces it.)
   */
  sweep(): void {
    rmSync(this.tmpRoot, { recursive: true, force: true });
    mkdirSync(this.tmpRoot, { recursive: true, mode: 0o700 });
  }
}
