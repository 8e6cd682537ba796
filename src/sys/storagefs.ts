// The data root on its own filesystem (the brief's first hardening point): `--storage-size SIZE`
// keeps the data root on an image file `<data-root>.img` that is allocated in full (fallocate, so
// the host's free space is taken once, at creation, and never again), formatted xfs and
// loop-mounted with project quotas; `--storage-device DEV` mounts a block device or LVM volume
// instead (formatted xfs only when it holds no filesystem yet). Later starts re-use the image and
// grow it when the size asked is larger; a smaller size is refused (xfs cannot shrink).
// Also: what the data root's filesystem is (statfs), for info, system df and `cocon check`.
import {
  existsSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  statSync,
  statfsSync,
  mkdirSync,
  realpathSync,
} from 'node:fs';
import { run, runOk } from './exec.js';
import { loopBacking } from './loopimage.js';

export interface DataRootFs {
  /** 'image' (--storage-size), 'device' (--storage-device) or 'host' (a directory of its parent fs). */
  kind: 'image' | 'device' | 'host';
  /** The mounted device (/dev/loop3, /dev/vg/cocon) or, for 'host', the fs holding the data root. */
  source: string;
  /** The image file for 'image'. */
  image?: string;
  fsType: string;
  /** Bytes. */
  size: number;
  used: number;
  available: number;
  /** xfs mounted with project quotas: per-container --storage-opt size= can be enforced. */
  projectQuota: boolean;
  /** The data root is a mount point of its own (not a directory on the host's root filesystem). */
  ownFilesystem: boolean;
}

interface MountEntry {
  source: string;
  target: string;
  fsType: string;
  options: string[];
}

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [source, target, fsType, opts] = l.split(' ');
      return { source: unescapeMount(source), target: unescapeMount(target), fsType, options: (opts ?? '').split(',') };
    });
}

/** The mount that holds `path` (the longest mount point that is a prefix of it). */
function mountOf(path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts()) {
    const t = m.target === '/' ? '/' : m.target.replace(/\/+$/, '');
    if (path === t || path.startsWith(t === '/' ? '/' : t + '/')) if (!best || t.length >= best.target.length) best = m;
  }
  return best;
}

function mountAt(path: string): MountEntry | undefined {
  return mounts()
    .filter((m) => m.target === path)
    .pop();
}

const hasQuota = (m: MountEntry | undefined) =>
  !!m && m.fsType === 'xfs' && m.options.some((o) => /^(prjquota|pquota|pqnoenforce)$/.test(o));

/** What the data root lives on now. */
export function describeDataRoot(dataRoot: string): DataRootFs {
  const real = existsSync(dataRoot) ? realpathSync(dataRoot) : dataRoot;
  const own = mountAt(real);
  const m = own ?? mountOf(real);
  const st = statfsSync(real);
  const image = own ? loopBacking(own.source) : null;
  return {
    kind: own ? (image ? 'image' : 'device') : 'host',
    source: m?.source ?? '?',
    ...(image ? { image } : {}),
    fsType: m?.fsType ?? '?',
    size: st.blocks * st.bsize,
    used: (st.blocks - st.bfree) * st.bsize,
    available: st.bavail * st.bsize,
    projectQuota: hasQuota(m),
    ownFilesystem: !!own,
  };
}

/** The image file kept for a data root: next to it, `<data-root>.img`. */
export function imagePathFor(dataRoot: string): string {
  return dataRoot.replace(/\/+$/, '') + '.img';
}

const MIN_XFS = 300 * 1024 * 1024;

async function mkfsXfs(target: string): Promise<void> {
  // Project quotas need no mkfs option on xfs (v5): they are switched on at mount (prjquota).
  await runOk('mkfs.xfs', ['-q', '-L', 'cocon-data', target]);
}

/** The filesystem type blkid finds on a device or image, '' when none. */
async function fsTypeOf(target: string): Promise<string> {
  const r = await run('blkid', ['-o', 'value', '-s', 'TYPE', target]);
  return r.code === 0 ? r.stdout.trim() : '';
}

/**
 * Mounts an xfs filesystem with project quotas, or without them when the kernel has no xfs quota
 * support (CONFIG_XFS_QUOTA unset: "quota support not available in this kernel"): the data root is
 * still bounded by its size, only per-container quotas are then unavailable (describeDataRoot says so).
 */
async function mountQuota(source: string, target: string, opts: string[]): Promise<void> {
  const r = await run('mount', ['-o', [...opts, 'prjquota'].join(','), source, target]);
  if (r.code === 0) return;
  await runOk('mount', [...(opts.length ? ['-o', opts.join(',')] : []), source, target]);
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * Mounts the data root on its image file (created and formatted the first time, grown when `size`
 * is larger) or on `device`. Idempotent: a data root already mounted from the same image or device
 * (a daemon that stopped while containers ran) is re-used. Throws with a clear message when the
 * size is below xfs' minimum, smaller than the existing image, or when a first mount would hide
 * files already in the data root.
 */
export async function mountDataRoot(dataRoot: string, opts: { size?: number; device?: string }): Promise<DataRootFs> {
  mkdirSync(dataRoot, { recursive: true, mode: 0o710 });
  const root = realpathSync(dataRoot);
  const current = mountAt(root);
  let source: string;
  if (opts.device) {
    if (!existsSync(opts.device) || !statSync(opts.device).isBlockDevice())
      throw new Error(`--storage-device ${opts.device}: not a block device`);
    source = realpathSync(opts.device);
    if (current) {
      if (realpathSync(current.source) !== source)
        throw new Error(`data root ${root} is already a mount point of ${current.source}, not of ${opts.device}`);
      return describeDataRoot(root);
    }
    const type = await fsTypeOf(source);
    if (!type) {
      if (!isEmptyDir(root))
        throw new Error(
          `data root ${root} is not empty: move its content away (or onto ${opts.device}) before putting it on its own device`,
        );
      await mkfsXfs(source);
    }
    if ((type || 'xfs') === 'xfs') await mountQuota(source, root, []);
    else await runOk('mount', [source, root]);
    return describeDataRoot(root);
  }
  const size = opts.size ?? 0;
  if (size < MIN_XFS) throw new Error(`--storage-size ${size} bytes is too small: xfs needs at least 300M`);
  const image = imagePathFor(root);
  const fresh = !existsSync(image);
  if (current) {
    if (loopBacking(current.source) !== image)
      throw new Error(`data root ${root} is already a mount point of ${current.source}, not of ${image}`);
  } else if (fresh && !isEmptyDir(root)) {
    throw new Error(
      `data root ${root} is not empty: a new storage image would hide its content; move it away first (or start without --storage-size)`,
    );
  }
  const had = fresh ? 0 : statSync(image).size;
  if (!fresh && size < had)
    throw new Error(
      `--storage-size ${size} is smaller than the existing data root image ${image} (${had} bytes): xfs cannot shrink; give at least ${had} or move the data away`,
    );
  if (fresh) {
    closeSync(openSync(image, 'wx', 0o600));
    try {
      await runOk('fallocate', ['-l', String(size), image]);
      await mkfsXfs(image);
    } catch (e) {
      await run('rm', ['-f', image]);
      throw e;
    }
  } else if (size > had) {
    await runOk('fallocate', ['-l', String(size), image]);
  }
  if (!current) await mountQuota(image, root, ['loop']);
  if (size > had && !fresh) {
    const dev = mountAt(root)!.source;
    await runOk('losetup', ['-c', dev]);
    await runOk('xfs_growfs', [root]);
  }
  return describeDataRoot(root);
}

/** Unmounts the data root (the loop device goes with it: mount -o loop sets autoclear). */
export async function unmountDataRoot(dataRoot: string): Promise<void> {
  const root = existsSync(dataRoot) ? realpathSync(dataRoot) : dataRoot;
  if (!mountAt(root)) return;
  await runOk('umount', [root]);
}
