// COPY and ADD into a build container's root, with docker's destination rules:
//  - the destination is a directory when it ends with '/', when there are several sources, or when
//    it already is a directory in the image; a directory source copies its contents;
//  - files keep mode and mtime, owners become 0:0 or --chown's, modes --chmod's;
//  - ADD of a local tar (plain, gzip, bzip2, xz) extracts it into the destination directory.
// Every byte goes source root -> tar stream -> the one safe extractor (src/sys/tar/extract.ts): the
// source is read by open directory fds resolved inside its root (src/sys/tar/pack.ts) and written
// by fds resolved inside the target root, so a symlink in the context or in the image can never make
// the copy read or write outside them.
import type { IdentityMapping } from '../core/idmap.js';
import { closeSync, createReadStream, readSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgument } from '../core/errors.js';
import { decompressor, sniff, type AnyCompression } from '../sys/compress.js';
import { extractTarStream } from '../sys/tar/extract.js';
import { checkLocatedDir, locate, mapHeaders, packLocated, statLocated } from '../sys/tar/pack.js';
import { type ExtractRules, LayerError, type TarHead } from '../sys/tar/rules.js';
import { openFileIn, RootPathError, SafeRoot } from '../sys/saferoot.js';

/** COPY's extraction: names relative to the destination, symlinks in the image resolved inside its root. */
const INTO_IMAGE: ExtractRules = {
  absolute: 'strip',
  symlinkParents: 'follow',
  whiteouts: false,
  devices: 'create',
  replaceDirs: true,
  rootEntry: false,
  owners: true,
  xattrs: true,
};

export interface CopyOwner {
  uid: number;
  gid: number;
}

/** Rewrites owners (and modes, with --chmod) of a tar stream's entries. */
function retarget(src: Readable, owner: CopyOwner, chmod: number | undefined): Readable {
  return mapHeaders(src, (h) => {
    const nh: TarHead = { ...h, uid: owner.uid, gid: owner.gid, uname: '', gname: '' };
    if (chmod !== undefined && h.type !== 'symlink') nh.mode = chmod;
    return nh;
  });
}

/** Whether `path` is a directory in the root (symlinks resolved inside it). */
export function isDirIn(root: string, path: string): boolean {
  let l;
  try {
    l = locate(root, path, true);
  } catch {
    return false;
  }
  try {
    checkLocatedDir(l);
    return true;
  } catch {
    return false;
  } finally {
    l.close();
  }
}

/** A local file ADD extracts: compressed (gzip, bzip2, xz, zstd) or a plain tar ('none'); undefined: not an archive. */
type ArchiveKind = AnyCompression | undefined;

export interface CopyRequest {
  /** Where sources are read: the context directory, or a mounted stage/image root for --from. */
  srcRoot: string;
  /** Source paths relative to srcRoot (already expanded and checked). */
  sources: string[];
  /** The mounted root of the build container. */
  destRoot: string;
  /** Absolute destination in the image (may end with '/'). */
  dest: string;
  owner: CopyOwner;
  chmod?: number;
  /** ADD: local archives are extracted. */
  add: boolean;
  /** Scratch space for decompressing bzip2/xz archives. */
  tmpRoot: string;
  /** --userns-remap: the daemon's id maps (owners are written shifted). */
  idMap?: IdentityMapping;
}

async function extractInto(tar: Readable, r: CopyRequest, base: string): Promise<void> {
  try {
    await extractTarStream(retarget(tar, r.owner, r.chmod), r.destRoot, INTO_IMAGE, base.replace(/^\/+/, ''), {
      idMap: r.idMap,
    });
  } catch (e) {
    if (e instanceof LayerError) throw new InvalidArgument(`failed to copy files: ${e.message}`);
    throw e;
  }
}

/** Copies the sources into the destination root. Throws InvalidArgument for a source that is not there. */
export async function copyInto(r: CopyRequest): Promise<void> {
  const destDir = r.dest.endsWith('/') || r.sources.length > 1 || isDirIn(r.destRoot, r.dest);
  const dest = r.dest.length > 1 ? r.dest.replace(/\/+$/, '') : r.dest;
  for (const src of r.sources) {
    let l;
    try {
      l = locate(r.srcRoot, src, true);
    } catch (e) {
      if (e instanceof RootPathError)
        throw new InvalidArgument(
          `file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`,
        );
      throw e;
    }
    try {
      let st;
      try {
        st = statLocated(l);
      } catch {
        throw new InvalidArgument(
          `file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`,
        );
      }
      if (st.isDir) {
        mkdirIn(r.destRoot, dest);
        await extractInto(packLocated(l, '.'), r, dest);
        continue;
      }
      if (r.add && !st.isLink) {
        const kind = archiveKind(l.dir, l.name);
        if (kind) {
          await addArchive(l.dir, l.name, kind, r, dest);
          continue;
        }
      }
      const base = src.split('/').pop() || src;
      if (destDir) await extractInto(packLocated(l, base), r, dest);
      else await extractInto(packLocated(l, posix.basename(dest)), r, posix.dirname(dest));
    } finally {
      l.close();
    }
  }
}

/** Creates a directory (and its parents) inside the root, symlinks resolved inside it. */
function mkdirIn(root: string, path: string): void {
  const sr = SafeRoot.open(root);
  try {
    closeSync(sr.openDir(path, { create: true, symlinks: 'follow' }));
  } catch (e) {
    if (e instanceof RootPathError)
      throw new InvalidArgument(`failed to copy files: cannot create ${path}: ${e.message}`);
    throw e;
  } finally {
    sr.close();
  }
}

function archiveKind(dir: number, name: string): ArchiveKind {
  let fd: number;
  try {
    fd = openFileIn(dir, name);
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, 512, 0);
    const c = sniff(head.subarray(0, n));
    if (c !== 'none') return c;
    return n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar' ? 'none' : undefined;
  } finally {
    closeSync(fd);
  }
}

/** ADD of a local archive: its entries (names cleaned, '..' refused) land under the destination directory. */
async function addArchive(
  dir: number,
  name: string,
  kind: Exclude<ArchiveKind, undefined>,
  r: CopyRequest,
  dest: string,
): Promise<void> {
  const fd = openFileIn(dir, name);
  const src = createReadStream('', { fd, autoClose: true });
  await extractInto(kind === 'none' ? src : src.pipe(decompressor(kind)), r, dest);
}
