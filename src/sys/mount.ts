// Mounts and unmounts through mount(8)/umount(8): Node has no mount(2).
import { readFileSync } from 'node:fs';
import { runOk, run } from './exec.js';

export async function mountOverlay(lowerDirs: string[], upper: string, work: string, target: string): Promise<void> {
  // lowerdir lists the top layer first, as overlayfs expects.
  const opts = `lowerdir=${lowerDirs.join(':')},upperdir=${upper},workdir=${work}`;
  await runOk('mount', ['-t', 'overlay', 'overlay', '-o', opts, target]);
}

/** A read-only overlay of `lowerDirs` (top first; at least two). */
export async function mountOverlayReadonly(lowerDirs: string[], target: string): Promise<void> {
  await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowerDirs.join(':')}`, target]);
}

export async function bindMount(src: string, target: string, readonly = false): Promise<void> {
  await runOk('mount', ['--bind', src, target]);
  if (readonly) await runOk('mount', ['-o', 'remount,bind,ro', target]);
}

/** Unmounts target (lazily if busy); a path that is not mounted is not an error. */
export async function unmount(target: string): Promise<void> {
  if (!isMounted(target)) return;
  const r = await run('umount', [target]);
  if (r.code !== 0 && isMounted(target)) await runOk('umount', ['-l', target]);
}

export function isMounted(target: string): boolean {
  const t = target.replace(/\/+$/, '');
  return readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .some((l) => l.split(' ')[1]?.replace(/\\040/g, ' ') === t);
}

/** Every mount point at or under a directory, deepest first (for teardown). */
export function mountsUnder(dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((p): p is string => !!p && (p === d || p.startsWith(d + '/')))
    .sort((a, b) => b.length - a.length);
}
