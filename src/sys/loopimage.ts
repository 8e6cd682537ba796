// Small filesystems of their own on image files: a sparse ext4 image, loop-mounted, unmounted with its
// loop device. The per-container writable-layer quota (--storage-opt size=, src/snapshots/overlay.ts)
// is one of these: the writer inside gets ENOSPC at the image's size, whatever the host has free.
//
// Lifecycle: makeExt4Image(image, bytes) -> mountImage(image, dir) ... unmountImage(dir, image) ->
// delete the file. mountImage checks the filesystem first (e2fsck -p: an image left by a crash is
// repaired, not refused). The loop devices are set up by mount(8) with autoclear, so unmounting detaches
// them; detachLoopsUnder() frees the ones a crash left set up without a mount.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { run, runOk, runSync } from './exec.js';
import { isMounted } from './mount.js';

/**
 * mkfs.ext4 options for a container's writable layer, chosen by measure (bench/quota-bench.ts): no
 * journal (the layer is scratch space; a crash is repaired by e2fsck at the next mount), no reserved
 * blocks (root inside the container gets the whole size), inode tables initialised lazily by the
 * kernel, no discard pass over the fresh (sparse) file.
 */
export const EXT4_LAYER_OPTIONS = ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'lazy_itable_init=1,nodiscard'];

/**
 * Creates `image` (it must not exist; mode 0600) as a sparse file of `bytes` and formats it ext4.
 * The file takes host space only as it is written. On any failure the file is gone again.
 */
export async function makeExt4Image(image: string, bytes: number, label = 'cocon-layer'): Promise<void> {
  closeSync(openSync(image, 'wx', 0o600));
  try {
    await runOk('truncate', ['-s', String(bytes), image]);
    await runOk('mkfs.ext4', [...EXT4_LAYER_OPTIONS, '-L', label, '-E', 'root_owner=0:0', image]);
  } catch (e) {
    rmSync(image, { force: true });
    throw e;
  }
}

/**
 * Mounts an ext4 image on `dir` through a loop device (autoclear: unmounting frees it), with discard
 * so that files deleted inside give their space back to the host. Checks the filesystem first
 * (`e2fsck -p`, a few ms on a clean small image). A dir already mounted is left as it is.
 */
export async function mountImage(image: string, dir: string): Promise<void> {
  if (isMounted(dir)) return;
  const fsck = await run('e2fsck', ['-p', image]);
  // 0: clean, 1: errors corrected; anything else needs a human.
  if (fsck.code > 1) throw new Error(`e2fsck -p ${image}: ${(fsck.stderr || fsck.stdout).trim()} (exit ${fsck.code})`);
  await runOk('mount', ['-t', 'ext4', '-o', 'loop,discard', image, dir]);
}

/**
 * Unmounts `dir` (lazily if busy; the loop device is freed when the last user goes) and detaches
 * any loop device still backed by `image`. Nothing mounted is not an error. Synchronous (a few ms):
 * the snapshotter removes snapshots inside the images room's synchronous steps.
 */
export function unmountImage(dir: string, image: string): void {
  if (isMounted(dir)) {
    const r = runSync('umount', [dir]);
    if (r.code !== 0 && isMounted(dir)) {
      const l = runSync('umount', ['-l', dir]);
      if (l.code !== 0 && isMounted(dir)) throw new Error(`umount ${dir}: ${(r.stderr || l.stderr).trim()}`);
    }
  }
  for (const dev of loopsBackedBy((f) => f === image)) detachLoop(dev);
}

/** The loop devices whose backing file matches (path as the kernel shows it, " (deleted)" removed). */
export function loopsBackedBy(match: (file: string) => boolean): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return out;
  }
  for (const n of names) {
    const f = loopBacking(`/dev/${n}`);
    if (f && match(f)) out.push(`/dev/${n}`);
  }
  return out;
}

/** The backing file of a loop device (/sys/block/loopN/loop/backing_file, " (deleted)" removed), or null. */
export function loopBacking(dev: string): string | null {
  const m = /^\/dev\/loop(\d+)$/.exec(dev);
  if (!m) return null;
  try {
    return readFileSync(`/sys/block/loop${m[1]}/loop/backing_file`, 'utf8')
      .trim()
      .replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** Detaches a loop device; one that is gone already is not an error. */
export function detachLoop(dev: string): void {
  const r = runSync('losetup', ['-d', dev]);
  if (r.code !== 0 && existsSync(`/sys/block/${dev.replace('/dev/', '')}/loop/backing_file`))
    throw new Error(`losetup -d ${dev}: ${r.stderr.trim()}`);
}

/**
 * Loop devices backed by a file under `dir` that no mount uses (a crash between losetup and mount):
 * detached. Returns how many.
 */
export function detachLoopsUnder(dir: string): number {
  const prefix = dir.replace(/\/+$/, '') + '/';
  const used = new Set(
    readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((s) => s?.startsWith('/dev/loop')),
  );
  let n = 0;
  for (const dev of loopsBackedBy((f) => f.startsWith(prefix))) {
    if (used.has(dev)) continue;
    try {
      detachLoop(dev);
      n++;
    } catch {
      // busy: a mount(8) of another snapshot is setting it up right now
    }
  }
  return n;
}
