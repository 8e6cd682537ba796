// The I/O half of a snapshot's difference (pure rules: ./changes.ts): scans an overlay upper dir,
// looks entries up in the parent's layer directories, and writes the OCI layer tar with the one tar
// codec (src/sys/tar/): entries in walk order (names sorted), so the same changes give the same bytes.
// Entries carry their user.* xattrs and, as docker's layers do, security.capability (byte for byte).
import { createReadStream, existsSync, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeTar } from '../sys/tar/pack.js';
import { deviceNumbers, type TarHead, xattrPax } from '../sys/tar/rules.js';
import { xattrsUnder } from '../sys/xattr.js';
import { layerMembers, tarName, type EntryType, type ParentLookup, type UpperEntry } from './changes.js';
import type { DiffOptions, Usage } from './snapshotter.js';
import { ownerToContainer, type IdentityMapping } from '../core/idmap.js';

const OVERLAY_OPAQUE = 'trusted.overlay.opaque';

function typeOf(st: Stats): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return st.rdev === 0 ? 'whiteout' : 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

export interface ScannedEntry extends UpperEntry {
  stat: Stats;
  xattrs: Map<string, Buffer>;
}

/** Every entry of an upper dir in walk order (directories first, names sorted), with its xattrs. */
export async function scanUpper(upper: string): Promise<ScannedEntry[]> {
  const xattrs = await xattrsUnder(upper);
  const out: ScannedEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(upper, r));
      const x = xattrs.get(r) ?? new Map<string, Buffer>();
      const type = typeOf(st);
      out.push({
        path: '/' + r,
        type,
        opaque: type === 'dir' && x.get(OVERLAY_OPAQUE)?.toString() === 'y',
        stat: st,
        xattrs: x,
      });
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/**
 * The parent's merged view through its layer directories (top first): an entry exists when the
 * topmost layer that mentions it has it and not a whiteout for it.
 */
export function layersLookup(lowerDirs: string[]): ParentLookup {
  const find = (path: string): Stats | undefined => {
    for (const d of lowerDirs) {
      let st: Stats;
      try {
        st = lstatSync(join(d, path));
      } catch {
        continue;
      }
      return st.isCharacterDevice() && st.rdev === 0 ? undefined : st;
    }
    return undefined;
  };
  return {
    has: (path) => find(path) !== undefined,
    children: (path) => {
      const names = new Set<string>();
      for (const d of lowerDirs) {
        const p = join(d, path);
        if (!existsSync(p) || !lstatSync(p).isDirectory()) continue;
        for (const n of readdirSync(p)) names.add(n);
      }
      return [...names].filter((n) => find(`${path}/${n}`) !== undefined).sort();
    },
  };
}

/** Sum of the sizes of the non-directory entries below a directory, and its entry count. */
export function measure(dir: string): Usage {
  let size = 0;
  let inodes = 0;
  const seen = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      inodes++;
      if (e.isDirectory()) walk(p);
      else size += st.size;
    }
  };
  walk(dir);
  return { size, inodes };
}

/**
 * Streams the layer tar of an upper dir on top of `parent`: the tar's errors (an entry that vanished
 * while reading) end the stream with an error.
 */
export async function layerTar(
  upper: string,
  parent: ParentLookup,
  opts: DiffOptions & { idMap?: IdentityMapping } = {},
): Promise<Readable> {
  const entries = await scanUpper(upper);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const members = layerMembers(entries, parent, opts);
  const links = new Map<string, string>();
  return writeTar(async (w) => {
    const put = (h: TarHead) => w.entry(h);
    for (const m of members) {
      if (m.kind === 'whiteout') {
        await put({
          name: tarName(m.path, false),
          type: 'file',
          mode: 0o600,
          size: 0,
          mtime: new Date(0),
          uid: 0,
          gid: 0,
        });
        continue;
      }
      if (m.kind === 'opaque') {
        const d = byPath.get(m.dir)!;
        await put({
          name: tarName(m.path, false),
          type: 'file',
          mode: d.stat.mode & 0o777,
          size: 0,
          mtime: d.stat.mtime,
          uid: 0,
          gid: 0,
        });
        continue;
      }
      const e = byPath.get(m.path)!;
      const st = e.stat;
      const base: TarHead = {
        name: tarName(e.path, e.type === 'dir'),
        mode: st.mode & 0o7777,
        // --userns-remap: the owners as the container sees them (host ids shifted back)
        ...(opts.idMap ? ownerToContainer(st.uid, st.gid, opts.idMap) : { uid: st.uid, gid: st.gid }),
        mtime: st.mtime,
        xattrs: xattrPax(e.xattrs, (k) => k.startsWith('user.') || k === 'security.capability'),
      };
      const file = join(upper, e.path);
      const id = `${st.dev}:${st.ino}`;
      if (e.type !== 'dir' && st.nlink > 1 && links.has(id)) {
        await put({ ...base, type: 'link', linkname: tarName(links.get(id)!, false), size: 0 });
        continue;
      }
      if (e.type !== 'dir' && st.nlink > 1) links.set(id, e.path);
      switch (e.type) {
        case 'dir':
          await put({ ...base, type: 'directory' });
          break;
        case 'symlink':
          await put({ ...base, type: 'symlink', linkname: readlinkSync(file) });
          break;
        case 'fifo':
          await put({ ...base, type: 'fifo' });
          break;
        case 'char':
        case 'block':
          await put({
            ...base,
            type: e.type === 'char' ? 'character-device' : 'block-device',
            ...deviceNumbers(st.rdev),
          });
          break;
        case 'file':
          await w.file({ ...base, type: 'file', size: st.size }, createReadStream(file));
          break;
        default:
          break; // sockets are not carried in layers
      }
    }
  });
}
