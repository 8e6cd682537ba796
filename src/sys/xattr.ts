// Extended attributes and special files through the OS tools (Node 20 has no setxattr or mknod):
// setfattr (package attr) and mknod (coreutils).
import { run, runOk } from './exec.js';

/** Sets an xattr; `value` is raw bytes (written as 0x hex so any byte survives). */
export async function setXattr(path: string, name: string, value: Buffer): Promise<void> {
  await runOk('setfattr', ['-h', '-n', name, '-v', '0x' + value.toString('hex'), '--', path]);
}

/** Marks a directory opaque for overlayfs (trusted.overlay.opaque=y). */
export async function setOpaque(dir: string): Promise<void> {
  await runOk('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', dir]);
}

/** Creates an overlay whiteout: a 0/0 character device. */
export async function mknodWhiteout(path: string): Promise<void> {
  await runOk('mknod', ['-m', '000', '--', path, 'c', '0', '0']);
}

/** Creates a named pipe. */
export async function mkfifo(path: string, mode: number): Promise<void> {
  await runOk('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, 'p']);
}

/** True when overlayfs marked the directory opaque (trusted.overlay.opaque=y). */
export async function isOpaque(dir: string): Promise<boolean> {
  const r = await run('getfattr', ['--only-values', '--absolute-names', '-n', 'trusted.overlay.opaque', '--', dir]);
  return r.code === 0 && r.stdout === 'y';
}

/** Creates a character ('c') or block ('b') device node. */
export async function mknodDevice(path: string, kind: 'c' | 'b', major: number, minor: number, mode: number): Promise<void> {
  await runOk('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, kind, String(major), String(minor)]);
}
