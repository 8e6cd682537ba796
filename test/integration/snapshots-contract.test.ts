// The snapshotter contract suite (test/helpers/snapshots-contract.ts) against the overlay
// snapshotter, on a temp root with real overlayfs mounts.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotterContract } from '../helpers/snapshots-contract.js';
import { OverlaySnapshotter } from '../../src/snapshots/overlay.js';
import { openDb } from '../../src/store/db.js';
import { mountsUnder, unmount } from '../../src/sys/mount.js';

snapshotterContract('overlay', async () => {
  const root = mkdtempSync('/tmp/cocon-snap-contract-');
  const db = openDb(join(root, 'cocon.db'));
  const sn = new OverlaySnapshotter(join(root, 'overlay'), db);
  return {
    sn,
    cleanup: async () => {
      for (const m of mountsUnder(root)) await unmount(m);
      db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});
