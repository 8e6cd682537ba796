// Private state on disk: the daemon's directories and state files are closed to other local users,
// with dockerd's modes. The data root and exec root are 0710 root:root (only root, and the root
// group for the API socket, may pass), the directories under them 0700, state files 0600, logs
// 0640. The restriction is on the parent directories: what containers see (layer contents, a
// container's upper dir and rootfs, volume contents, the hosts/hostname/resolv.conf files bound into
// it) keeps the modes it needs, since a container process reaches those through its own mounts,
// never through the data root's path.
//
// The daemon runs with umask 022, as dockerd sets it: runc creates mount points inside container
// roots with 0755 minus the inherited umask, and a container user must still traverse them. So
// every private mode here is explicit, never left to the umask.
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';

/** Modes of the daemon's own files and directories. */
export const PRIVATE = {
  /** The data root and exec root. */
  root: 0o710,
  /** Every directory of state under them. */
  dir: 0o700,
  /** State files: the database, records, bundles' config.json, content blobs. */
  file: 0o600,
  /** Container logs (docker's json logs are 0640 root:root). */
  log: 0o640,
} as const;

/** dockerd's umask: see the header. Returns the previous one. */
export function setDaemonUmask(): number {
  return process.umask(0o022);
}

/**
 * Sets `path`'s permission bits to `mode` when it exists and differs (an install made by an older
 * cocon is tightened at start). Follows a symlink, as an admin's symlinked data root should be
 * tightened too. Returns false when the path does not exist.
 */
export function tighten(path: string, mode: number): boolean {
  let cur: number;
  try {
    cur = statSync(path).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (cur !== mode) chmodSync(path, mode);
  return true;
}

/** mkdir -p `path` (directories it creates get `mode`), then gives `path` itself exactly `mode`. */
export function privateDir(path: string, mode: number = PRIVATE.dir): string {
  mkdirSync(path, { recursive: true, mode });
  tighten(path, mode);
  return path;
}

/**
 * --userns-remap: a directory on the path to a container's rootfs, 0710 root:<remapped gid> as dockerd
 * makes them, so that the remapped root (which runc mounts the rootfs as) may pass and nobody else.
 */
export function shareWithRemappedRoot(path: string, gid: number): string {
  mkdirSync(path, { recursive: true, mode: PRIVATE.root });
  chownSync(path, 0, gid);
  chmodSync(path, PRIVATE.root);
  return path;
}

/** Creates `path` empty with `mode` when it is missing, else gives it `mode`. */
export function privateFile(path: string, mode: number = PRIVATE.file): string {
  closeSync(openSync(path, 'a', mode));
  tighten(path, mode);
  return path;
}

/** A socket's (or file's) mode as octal text and its group's name (numeric when /etc/group lacks it). */
export function modeAndGroup(path: string): { mode: string; group: string } | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  return { mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), group: groupName(st.gid) ?? String(st.gid) };
}

/** The gid of a group of /etc/group, or null. */
export function groupId(name: string): number | null {
  try {
    for (const l of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = l.split(':');
      if (f[0] === name && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
    }
  } catch {
    /* no /etc/group */
  }
  return null;
}

function groupName(gid: number): string | null {
  try {
    for (const l of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = l.split(':');
      if (f[2] === String(gid)) return f[0];
    }
  } catch {
    /* no /etc/group */
  }
  return null;
}

/** The API socket: 0660 root:cocon when a `cocon` group exists (like the docker group), else root:root. */
export function restrictSocket(path: string): void {
  chmodSync(path, 0o660);
  chownSync(path, 0, groupId('cocon') ?? 0);
}
