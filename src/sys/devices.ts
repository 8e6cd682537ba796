// The host's device nodes, for --privileged containers (docker gives them every host device).
import { readdirSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A device node as the OCI spec's linux.devices lists it (runtime/spec.ts OciDevice has this shape). */
export interface HostDevice {
  type: 'c' | 'b';
  path: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

const SKIP = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/ptmx']);

function major(rdev: number): number {
  return ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & ~0xff & 0xfffff);
}

/** Every character and block device under /dev (not following symlinks), as OCI devices. */
export function hostDevices(dir = '/dev'): HostDevice[] {
  const out: HostDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (SKIP.has(p)) continue;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) out.push(...hostDevices(p));
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push({
        type: st.isCharacterDevice() ? 'c' : 'b',
        path: p,
        major: major(st.rdev),
        minor: minor(st.rdev),
        fileMode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
      });
    }
  }
  return out;
}

/** The device node at `path` (symlinks followed, as docker's --device does), or null when it is none. */
export function deviceNode(path: string): Omit<HostDevice, 'path'> | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return null;
  return {
    type: st.isCharacterDevice() ? 'c' : 'b',
    major: major(st.rdev),
    minor: minor(st.rdev),
    fileMode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
  };
}
