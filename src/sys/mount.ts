// Mounts and unmounts through mount(8)/umount(8): Node has no mount(2).
import { readFileSync } from 'node:fs';
import { runOk, run } from './exec.js';

/**
 * A filesystem mount as a snapshotter hands it out (containerd's mount.Mount without a target):
 * `type` "overlay" (options lowerdir=top:...:bottom, upperdir=, workdir=, ro) or "bind" (options
 * "bind"/"rbind" and "ro"/"rw"). Paths in options may not contain ',' (nor ':' in lowerdir).
 */
export interface Mount {
  type: 'overlay' | 'bind';
  source: string;
  options: string[];
}

/**
 * Mounts a snapshot's mounts on `target`, in order (today snapshotters return one). A read-only bind
 * is a bind followed by a read-only remount, as mount(8) needs; when that second step fails, the
 * first is undone so nothing is left mounted.
 */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      if (m.type === 'overlay') {
        await runOk('mount', ['-t', 'overlay', m.source, '-o', m.options.join(','), target]);
        done.push(target);
      } else if (m.type === 'bind') {
        const rec = m.options.includes('rbind');
        await runOk('mount', [rec ? '--rbind' : '--bind', m.source, target]);
        done.push(target);
        if (m.options.includes('ro')) await runOk('mount', ['-o', 'remount,bind,ro', target]);
      } else {
        throw new Error(`unsupported mount type ${(m as Mount).type}`);
      }
    }
  } catch (e) {
    for (const t of done.reverse()) await unmount(t).catch(() => undefined);
    throw e;
  }
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
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1]?.replace(/\\040/g, ' ') === t);
}

/** Every mount point at or under a directory, deepest first (for teardown). */
export function mountsUnder(dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((p): p is string => !!p && (p === d || p.startsWith(d + '/')))
    .sort((a, b) => b.length - a.length);
}
