// Where `docker cp` reads or writes a container path: in the container's root, or, for a path at or
// under a mount point, in the host directory of that volume or bind (what the container sees
// there), running or stopped. The caller walks the returned directory with the fd-bound in-root
// walk (src/sys/saferoot.ts via the tar codec src/sys/tar/), so a symlink inside a
// volume resolves inside that volume and never leads out of it.
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { NotFound, NotImplemented } from '../core/errors.js';
import type { VolumeService } from '../volumes/service.js';
import type { MountPoint } from '../volumes/mounts.js';
import type { ContainerService } from './service.js';

/** The mount whose destination holds `path` (the deepest one), and the path below it ('/x/y', '/' for the mount point). Pure. */
export function mountForPath(mounts: readonly MountPoint[], path: string): { mount: MountPoint; rest: string } | null {
  const norm = posix.normalize('/' + path).replace(/\/+$/, '') || '/';
  let best: { mount: MountPoint; rest: string } | null = null;
  for (const m of mounts) {
    const dest = posix.normalize('/' + m.Destination).replace(/\/+$/, '') || '/';
    if (dest === '/') continue; // a mount over / is not something docker allows either
    if (norm !== dest && !norm.startsWith(dest + '/')) continue;
    if (best && best.mount.Destination.length >= dest.length) continue;
    best = { mount: m, rest: norm.slice(dest.length) || '/' };
  }
  if (!best) return null;
  // cp's trailing '/' and '/.' say "the directory" and "its content": keep them.
  if (best.rest !== '/' && path.endsWith('/')) best.rest += '/';
  if (path.endsWith('/.')) best.rest = best.rest.replace(/\/?$/, '/.');
  return best;
}

export interface CopyTarget {
  /** The directory the walk is rooted at (container root, volume or bind source). */
  dir: string;
  /** The path to resolve inside `dir`. */
  path: string;
  /** The mount the path lies in (null: the container's root). */
  mount: MountPoint | null;
  release(): Promise<void>;
}

/**
 * The root and path for a cp of `path` in container `ref`. NotFound for a missing bind source,
 * NotImplemented for a path on a tmpfs mount (it lives only in the running container).
 */
export async function copyTarget(
  c: ContainerService,
  volumes: VolumeService,
  ref: string,
  path: string,
  writable: boolean,
): Promise<CopyTarget> {
  const r = c.lookup(ref);
  const hit = mountForPath(r.mounts ?? [], path);
  if (!hit) {
    const root = await c.exportRoot(r.id, writable);
    return { dir: root.dir, path, mount: null, release: root.release };
  }
  const m = hit.mount;
  if (m.Type === 'tmpfs')
    throw new NotImplemented(`copying files from or to a tmpfs mount (${m.Destination}) is not supported`);
  if (m.Type === 'volume') {
    if (!m.Name) throw new NotFound(`Could not find the file ${path} in container ${ref}`);
    // A volume backed by a device, tmpfs or loop image is mounted only while a container uses it.
    const dir = await volumes.acquire(m.Name);
    const release = r.state.Running
      ? async () => undefined
      : async () => {
          if (!c.lookup(r.id).state.Running) await volumes.release(m.Name!, r.id);
        };
    return { dir, path: hit.rest, mount: m, release };
  }
  let st;
  try {
    st = statSync(m.Source);
  } catch {
    throw new NotFound(`Could not find the file ${path} in container ${ref}`);
  }
  if (st.isDirectory()) return { dir: m.Source, path: hit.rest, mount: m, release: async () => undefined };
  // A bind of a single file: only the mount point itself is there.
  if (hit.rest.replace(/\/\.?$/, '') !== '') throw new NotFound(`Could not find the file ${path} in container ${ref}`);
  return {
    dir: posix.dirname(m.Source),
    path: '/' + posix.basename(m.Source),
    mount: m,
    release: async () => undefined,
  };
}
