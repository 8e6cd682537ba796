// A container's init layer, as docker's: a small read-only layer between the image and the
// container's writable layer holding the mount points the engine binds over (/etc/hosts,
// /etc/hostname, /etc/resolv.conf) and those the runtime mounts (/proc, /sys, /dev). With them
// already there, neither cocon nor runc creates anything in the writable layer at start, so
// `docker diff` and `commit` show only what the container itself changed. Directories take the
// mode and owner the image gives them (the topmost layer holding them wins in overlayfs); a path
// the image has as something else than a directory (an /etc symlink) is left out, and the runtime
// then makes the mount point itself, as before. The layer goes on top of the lower dirs of the
// writable overlay the snapshotter hands out (a snapshot without parent, a plain bind, gets none).
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Mount } from '../sys/mount.js';

const DIRS = ['etc', 'proc', 'sys', 'dev'];
const ETC_FILES = ['hosts', 'hostname', 'resolv.conf'];

/** The image's entry at `rel` (layers top first): its lstat, or null when absent or whited out. */
function imageEntry(layerDirs: readonly string[], rel: string): Stats | null {
  for (const l of layerDirs) {
    let st: Stats;
    try {
      st = lstatSync(join(l, rel));
    } catch {
      continue;
    }
    if (st.isCharacterDevice() && st.rdev === 0) return null; // whiteout
    return st;
  }
  return null;
}

/**
 * (Re)makes the init layer of a container in `dir`, for an image of `layerDirs` (top first). What
 * the image does not have belongs to `root` (the host ids of the container's root under
 * --userns-remap; host root otherwise).
 */
export function makeInitLayer(
  dir: string,
  layerDirs: readonly string[],
  root: { uid: number; gid: number } = { uid: 0, gid: 0 },
): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 }); // closed like the other per-container dirs; its content is layer content
  for (const d of DIRS) {
    const st = imageEntry(layerDirs, d);
    if (st && !st.isDirectory()) continue;
    const p = join(dir, d);
    mkdirSync(p);
    chmodSync(p, st ? st.mode & 0o7777 : 0o755);
    chownSync(p, st ? st.uid : root.uid, st ? st.gid : root.gid);
    if (d !== 'etc') continue;
    for (const f of ETC_FILES) {
      const fst = imageEntry(layerDirs, `etc/${f}`);
      if (fst?.isDirectory()) continue;
      writeFileSync(join(p, f), '', { mode: 0o644 });
      chownSync(join(p, f), root.uid, root.gid);
    }
  }
}

/** The lower dirs (top first) of a writable overlay among `mounts`; null when there is none. Pure. */
export function overlayLowers(mounts: readonly Mount[]): string[] | null {
  if (mounts.length !== 1 || mounts[0].type !== 'overlay' || !mounts[0].options.some((o) => o.startsWith('upperdir=')))
    return null;
  const lower = mounts[0].options.find((o) => o.startsWith('lowerdir='));
  return lower ? lower.slice('lowerdir='.length).split(':') : null;
}

/** `mounts` with `dir` as the topmost lower layer of its writable overlay (unchanged without one). Pure. */
export function withInitLowerdir(mounts: readonly Mount[], dir: string): Mount[] {
  if (!overlayLowers(mounts)) return [...mounts];
  return mounts.map((m) => ({
    ...m,
    options: m.options.map((o) => (o.startsWith('lowerdir=') ? `lowerdir=${dir}:${o.slice('lowerdir='.length)}` : o)),
  }));
}

/** Makes the init layer in `dir` for the snapshot's `mounts` and returns the mounts with it. */
export function withInitLayer(mounts: readonly Mount[], dir: string, root?: { uid: number; gid: number }): Mount[] {
  const lowers = overlayLowers(mounts);
  if (!lowers) return [...mounts];
  makeInitLayer(dir, lowers, root);
  return withInitLowerdir(mounts, dir);
}
