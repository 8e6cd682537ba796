// The snapshotter contract suite (test/helpers/snapshots-contract.ts) against the overlay
// snapshotter, on a temp root with real overlayfs mounts: plain, and with every active snapshot
// prepared with a size (--storage-opt size=: its upper and work dirs on a loop-mounted ext4 image).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotterContract } from '../helpers/snapshots-contract.js';
import { OverlaySnapshotter } from '../../src/snapshots/overlay.js';
import type { Mount, PrepareOptions } from '../../src/snapshots/snapshotter.js';
import { openDb } from '../../src/store/db.js';
import { mountsUnder, unmount } from '../../src/sys/mount.js';
import { detachLoopsUnder } from '../../src/sys/loopimage.js';

/** Every active snapshot it prepares gets a 32 MiB quota. */
class QuotaOverlaySnapshotter extends OverlaySnapshotter {
  override prepare(key: string, parent: string | undefined, opts: PrepareOptions = {}): Promise<Mount[]> {
    return super.prepare(key, parent, { size: 32 * 1024 * 1024, ...opts });
  }
}

for (const [name, Kind] of [
  ['overlay', OverlaySnapshotter],
  ['overlay with a size quota', QuotaOverlaySnapshotter],
] as const) {
  snapshotterContract(name, async () => {
    const root = mkdtempSync('/tmp/cocon-snap-contract-');
    const db = openDb(join(root, 'cocon.db'));
    const sn = new Kind(join(root, 'overlay'), db);
    return {
      sn,
      cleanup: async () => {
        for (const m of mountsUnder(root)) await unmount(m);
        detachLoopsUnder(root);
        db.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  });
}
