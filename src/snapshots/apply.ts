// Applying an untrusted layer tar (OCI image-spec layer.md) into an empty layer directory, entry by
// entry, with our own rules rather than GNU tar's:
//  - names are cleaned ('./', '.' and trailing '/' removed); an absolute name or a '..' component
//    is refused (LayerError), as is a name whose parent path goes through a symlink, since a
//    symlink may point anywhere (the layer dir is extracted alone, so no legitimate entry needs it);
//  - hard links must name an earlier entry inside the layer (same rules) that is not a directory;
//  - whiteouts: '.wh.<name>' becomes an overlay whiteout (0/0 character device '<name>'),
//    '.wh..wh..opq' marks its directory opaque (trusted.overlay.opaque=y);
//  - character and block devices are skipped (never created), fifos are created;
//  - symlink targets are stored as given (they are resolved inside the container's root at run time);
//  - files are created with O_EXCL|O_NOFOLLOW (an existing entry is unlinked first, never followed);
//    owners, modes (incl. setuid), mtimes and PAX xattrs (SCHILY.xattr.*) are kept.
// Pure rules (cleanEntryName, whiteoutOf) are exported for unit tests; applyLayer does the I/O.
import { constants as C } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { mkfifo, mknodWhiteout, setOpaque, setXattr } from '../sys/xattr.js';

export class LayerError extends Error {}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE = '.wh..wh..opq';

/** Cleans a tar entry name into a relative path ('' = the root itself); throws LayerError when it escapes. */
export function cleanEntryName(name: string): string {
  if (name.startsWith('/')) throw new LayerError(`refusing entry with absolute path: ${name}`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new LayerError(`refusing entry with '..' in its path: ${name}`);
    parts.push(p);
  }
  return parts.join('/');
}

/** What a cleaned name means for whiteouts. */
export function whiteoutOf(rel: string): { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string } | undefined {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
  if (base === OPAQUE) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const target = base.slice(WHITEOUT_PREFIX.length);
    if (!target || target === '.' || target === '..') throw new LayerError(`invalid whiteout entry: ${rel}`);
    return { kind: 'whiteout', path: dir ? `${dir}/${target}` : target };
  }
  return undefined;
}

export interface ApplyStats { entries: number; skipped: string[] }

async function lstatOrNull(p: string) {
  try { return await lstat(p); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; throw e; }
}

/**
 * Makes sure every parent directory of `rel` exists inside root as a real directory (never a
 * symlink); creates missing ones (0755, root-owned, as tar does).
 */
async function ensureParents(root: string, rel: string, entryName: string): Promise<void> {
  const parts = rel.split('/');
  parts.pop();
  let cur = root;
  for (const p of parts) {
    cur = join(cur, p);
    const st = await lstatOrNull(cur);
    if (!st) { await mkdir(cur, { mode: 0o755 }); continue; }
    if (st.isSymbolicLink()) throw new LayerError(`refusing entry through a symlink: ${entryName}`);
    if (!st.isDirectory()) throw new LayerError(`refusing entry under a non-directory: ${entryName}`);
  }
}

/** Removes whatever is at p (not following symlinks), unless it is a directory and keepDir. */
async function clear(p: string, keepDir: boolean): Promise<boolean> {
  const st = await lstatOrNull(p);
  if (!st) return false;
  if (st.isDirectory()) {
    if (keepDir) return true;
    await rm(p, { recursive: true, force: true });
    return false;
  }
  await rm(p, { force: true });
  return false;
}

function paxXattrs(h: Header): Array<[string, Buffer]> {
  const pax = h.pax as Record<string, string> | null | undefined;
  if (!pax) return [];
  const out: Array<[string, Buffer]> = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('SCHILY.xattr.')) out.push([k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1')]);
  }
  return out;
}

/**
 * Extracts an uncompressed tar stream into `root` (an existing, empty directory) with the rules above.
 * Rejects with LayerError on a refused entry (the caller discards the directory).
 */
export async function applyLayer(src: Readable, root: string): Promise<ApplyStats> {
  const stats: ApplyStats = { entries: 0, skipped: [] };
  const dirTimes: Array<[string, Date]> = [];
  const ex = extract();
  ex.on('entry', (h: Header, stream, next) => {
    applyEntry(root, h, stream as unknown as AsyncIterable<Buffer>, stats, dirTimes).then(() => next(), (e: Error) => next(e));
  });
  await pipeline(src, ex);
  // directory mtimes last: creating entries inside changed them
  for (const [p, t] of dirTimes.reverse()) { try { await utimes(p, t, t); } catch { /* gone (whiteout of a dir) */ } }
  return stats;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> { for await (const _ of stream) { /* discard */ } }

async function applyEntry(root: string, h: Header, stream: AsyncIterable<Buffer>, stats: ApplyStats, dirTimes: Array<[string, Date]>): Promise<void> {
  stats.entries++;
  const rel = cleanEntryName(h.name);
  if (rel === '') {
    // the root entry ('./'): take its mode and owner only
    await drain(stream);
    if (h.type === 'directory') {
      await chmod(root, h.mode & 0o7777);
      await lchown(root, h.uid, h.gid);
      dirTimes.push([root, h.mtime]);
    }
    return;
  }
  await ensureParents(root, rel, h.name);
  const wo = whiteoutOf(rel);
  if (wo) {
    await drain(stream);
    if (wo.kind === 'opaque') {
      const dir = wo.dir ? join(root, wo.dir) : root;
      if (!(await lstatOrNull(dir))) await mkdir(dir, { mode: 0o755 });
      await setOpaque(dir);
    } else {
      const p = join(root, wo.path);
      await clear(p, false);
      await mknodWhiteout(p);
    }
    return;
  }
  const p = join(root, rel);
  const mode = h.mode & 0o7777;
  const mtime = h.mtime ?? new Date(0);
  switch (h.type) {
    case 'directory': {
      const exists = await clear(p, true);
      if (!exists) await mkdir(p, { mode: 0o700 });
      await drain(stream);
      await lchown(p, h.uid, h.gid);
      await chmod(p, mode);
      dirTimes.push([p, mtime]);
      break;
    }
    case 'file': case 'contiguous-file': {
      await clear(p, false);
      const fh = await open(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of stream) {
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        }
        await fh.chown(h.uid, h.gid);
        await fh.chmod(mode);
        await fh.utimes(mtime, mtime);
      } finally { await fh.close(); }
      break;
    }
    case 'symlink': {
      await drain(stream);
      await clear(p, false);
      await symlink(h.linkname, p);
      await lchown(p, h.uid, h.gid);
      await lutimes(p, mtime, mtime);
      break;
    }
    case 'link': {
      await drain(stream);
      const target = cleanEntryName(h.linkname ?? '');
      if (!target) throw new LayerError(`refusing hard link to the layer root: ${h.name}`);
      await ensureParents(root, target, h.name);
      const tp = join(root, target);
      const st = await lstatOrNull(tp);
      if (!st) throw new LayerError(`refusing hard link to a missing entry: ${h.name} -> ${h.linkname}`);
      if (st.isDirectory()) throw new LayerError(`refusing hard link to a directory: ${h.name} -> ${h.linkname}`);
      if (tp === p) return;
      await clear(p, false);
      await link(tp, p);
      return; // a hard link shares the target's inode: no owner/mode/time of its own
    }
    case 'fifo': {
      await drain(stream);
      await clear(p, false);
      await mkfifo(p, mode);
      await lchown(p, h.uid, h.gid);
      break;
    }
    case 'character-device': case 'block-device': {
      await drain(stream);
      stats.skipped.push(rel);
      return;
    }
    default: {
      await drain(stream);
      stats.skipped.push(rel);
      return;
    }
  }
  for (const [name, value] of paxXattrs(h)) {
    if (name.startsWith('trusted.overlay.')) continue; // only whiteout entries may set overlay metadata
    try { await setXattr(p, name, value); } catch { /* filesystem without that namespace: skip */ }
  }
  void dirname;
}
