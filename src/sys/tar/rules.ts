// The pure half of cocon's one tar codec (src/sys/tar/): how entry names are cleaned, what whiteout
// names mean, the extraction rule sets (LAYER, IMPORT, COPY, HOST), device numbers, which xattrs
// go into a tar and the header of a deterministic tar. No I/O: ./extract.ts and ./pack.ts do it
// (./format.ts is the byte format), and unit tests cover these rules without root.
import type { Mount } from '../mount.js';
import type { TarHead } from './format.js';

export type { TarHead, TarHeader } from './format.js';

/** A refused or malformed entry: bad input (the API answers 400), never an internal fault. */
export class LayerError extends Error {}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE = '.wh..wh..opq';

/**
 * Cleans a tar entry name into a relative path ('' = the root itself). Throws LayerError on a '..'
 * component, and on an absolute name unless `absolute` is 'strip' (then it counts from the root).
 */
export function cleanEntryName(name: string, absolute: 'refuse' | 'strip' = 'refuse'): string {
  if (name.startsWith('/') && absolute === 'refuse') throw new LayerError(`refusing entry with absolute path: ${name}`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new LayerError(`refusing entry with '..' in its path: ${name}`);
    parts.push(p);
  }
  return parts.join('/');
}

/** A cleaned name with its first component replaced by `to` ('' drops it: the entries land in the root). */
export function replaceTop(rel: string, to: string): string {
  const i = rel.indexOf('/');
  const rest = i < 0 ? '' : rel.slice(i + 1);
  if (!to) return rest;
  return rest ? `${to}/${rest}` : to;
}

/** What a cleaned name means for whiteouts. */
export function whiteoutOf(
  rel: string,
): { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string } | undefined {
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

/** How an extraction treats names, symlinked parents, whiteouts, devices, owners and existing entries. */
export interface ExtractRules {
  absolute: 'refuse' | 'strip';
  /** A parent path through a symlink: refused, or resolved inside the root. */
  symlinkParents: 'refuse' | 'follow';
  whiteouts: boolean;
  devices: 'skip' | 'create';
  /** Whether an entry may replace a directory by a non-directory or the reverse (cp: no, as docker). */
  replaceDirs: boolean;
  /** Whether a './' entry sets the root directory's owner, mode and mtime. */
  rootEntry: boolean;
  /** Whether entries keep the tar's owners (false: the extracting user owns them, as docker cp to the host). */
  owners: boolean;
  /** Whether PAX SCHILY.xattr.* records are set on the entries. */
  xattrs: boolean;
}

/** Pulled, loaded and committed layers: nothing absolute, nothing through a symlink, no devices. */
export const LAYER: ExtractRules = {
  absolute: 'refuse',
  symlinkParents: 'refuse',
  whiteouts: true,
  devices: 'skip',
  replaceDirs: true,
  rootEntry: true,
  owners: true,
  xattrs: true,
};
/** `docker import` of a root filesystem: absolute names count from the root; devices are created. */
export const IMPORT: ExtractRules = { ...LAYER, absolute: 'strip', devices: 'create' };
/**
 * A root filesystem tarball (chroot root caches, `chroot create --from-tar`): as IMPORT, but a '.wh.'
 * file is a file (no overlay below a chroot root).
 */
export const ROOTFS: ExtractRules = { ...IMPORT, whiteouts: false };
/** `docker cp` into a container: symlinks already in its root resolve inside it, as the container sees them. */
export const COPY: ExtractRules = {
  absolute: 'strip',
  symlinkParents: 'follow',
  whiteouts: false,
  devices: 'create',
  replaceDirs: false,
  rootEntry: false,
  owners: true,
  xattrs: true,
};
/**
 * `docker cp` out to the host (the CLI): like docker's CopyTo (NoLchown, NoOverwriteDirNonDir), the
 * extracting user owns the files; nothing goes through a symlink; devices and xattrs are left out.
 */
export const HOST: ExtractRules = {
  absolute: 'strip',
  symlinkParents: 'refuse',
  whiteouts: false,
  devices: 'skip',
  replaceDirs: false,
  rootEntry: false,
  owners: false,
  xattrs: false,
};

/**
 * Where a layer applier writes into the mounts of an active snapshot, without mounting them (as
 * containerd's overlay applier does): the upper dir of a writable overlay (the layer's own content:
 * whiteouts go in as overlay whiteouts, which is what the LAYER rules write), or the source of a
 * writable bind (a snapshot on nothing). Anything else (read-only, several mounts, an overlay
 * without upperdir) is refused: it is not an active snapshot this applier can write.
 */
export function applyDirOf(mounts: Mount[]): string {
  if (mounts.length !== 1) throw new Error(`layer apply: expected one mount, got ${mounts.length}`);
  const [m] = mounts;
  if (m.options.includes('ro')) throw new Error('layer apply: the snapshot is mounted read-only');
  if (m.type === 'bind') return m.source;
  const upper = m.options.find((o) => o.startsWith('upperdir='));
  if (m.type === 'overlay' && upper) return upper.slice('upperdir='.length);
  throw new Error(`layer apply: no writable directory in a ${m.type} mount`);
}

/** The major and minor device numbers of a stat's rdev (glibc's encoding). */
export function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  return { devmajor: Math.floor(rdev / 256) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
}

/**
 * The xattrs carried into a tar (as PAX SCHILY.xattr.* records, values byte-exact): those `keep`
 * accepts, sorted by name; overlay's own never. Undefined when none is left.
 */
export function xattrPax(
  x: Map<string, Buffer> | undefined,
  keep: (name: string) => boolean,
): Array<[string, Buffer]> | undefined {
  if (!x) return undefined;
  const out = [...x]
    .filter(([k]) => !k.startsWith('trusted.overlay.') && keep(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return out.length ? out : undefined;
}

/** How the packer writes owners and times: as found, or normalised so the same tree gives the same bytes. */
export interface HeaderPolicy {
  /** Owners written as 0:0 (a build context, a bootstrapped layer); default: the files' owners. */
  rootOwner?: boolean;
  /** Every mtime set to this (a deterministic layer); default: the files' mtimes. */
  mtime?: Date;
}

/** A header after the policy: owner and mtime normalised, never user or group names. */
export function applyPolicy(h: TarHead, p: HeaderPolicy): TarHead {
  const out: TarHead = { ...h, uname: '', gname: '' };
  if (p.rootOwner) {
    out.uid = 0;
    out.gid = 0;
  }
  if (p.mtime) out.mtime = p.mtime;
  return out;
}
