// Host-wide views used by the chroot tests: mount points and processes under a directory, in
// any mount namespace (chroot runs use private namespaces, so /proc/self/mounts is not enough).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Mount points under dir in any mount namespace of the host. */
export function mountsAnywhere(dir: string): string[] {
  const out = new Set<string>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let t = '';
    let root = '/';
    try {
      root = readlinkSync(`/proc/${p}/root`);
      t = readFileSync(`/proc/${p}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    const prefix = root === '/' ? '' : root; // a chrooted process sees mount points relative to its root
    for (const l of t.split('\n')) {
      const rel = l.split(' ')[4];
      const mp = rel === undefined ? undefined : prefix + (rel === '/' && prefix ? '' : rel);
      if (mp && (mp === dir || mp.startsWith(dir + '/'))) out.add(mp);
    }
  }
  return [...out];
}

/** Processes whose root is at or under dir. */
export function pidsIn(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const r = readlinkSync(`/proc/${p}/root`);
      if (r === dir || r.startsWith(dir + '/')) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}
