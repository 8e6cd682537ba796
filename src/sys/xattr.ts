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
export async function mknodDevice(
  path: string,
  kind: 'c' | 'b',
  major: number,
  minor: number,
  mode: number,
): Promise<void> {
  await runOk('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, kind, String(major), String(minor)]);
}

/**
 * Every extended attribute under a directory (all namespaces, symlinks not followed), read by one
 * getfattr run: path relative to `dir` ('' for dir itself) -> name -> raw value. Entries without
 * attributes are absent.
 */
export async function xattrsUnder(dir: string): Promise<Map<string, Map<string, Buffer>>> {
  const root = dir.replace(/\/+$/, '');
  const r = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root]);
  if (r.code !== 0 && r.stdout === '') throw new Error(`getfattr ${root}: ${r.stderr.trim() || 'exit ' + r.code}`);
  const out = new Map<string, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = unescapeGetfattr(line.slice(8));
      const rel = abs === root ? '' : abs.startsWith(root + '/') ? abs.slice(root.length + 1) : undefined;
      cur = rel === undefined ? undefined : new Map();
      if (cur && rel !== undefined) out.set(rel, cur);
      continue;
    }
    const eq = line.indexOf('=');
    if (!cur || eq <= 0) continue;
    const v = line.slice(eq + 1);
    cur.set(unescapeGetfattr(line.slice(0, eq)), v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.alloc(0));
  }
  return out;
}

/** getfattr writes '\\' as '\\\\' and other unprintable bytes of names as '\ooo' (octal). */
function unescapeGetfattr(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
      continue;
    }
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
      continue;
    }
    bytes.push(...Buffer.from(s[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}
