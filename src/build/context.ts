// The build context on the daemon side: the request body (a tar, plain or gzip) streamed through the
// one safe extractor (src/sys/tar/extract.ts: '..' and absolute names refused, nothing written
// through a symlink) into a private temp directory, never held in memory; then the Dockerfile is read
// (resolved inside the context), .dockerignore'd paths are removed as dockerd does, and COPY/ADD
// sources are found (globs as Go's filepath.Match) and checksummed for the layer cache.
import { closeSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { decompressor, sniff } from '../sys/compress.js';
import { InvalidArgument, NotFound } from '../core/errors.js';
import { openFileIn, RootPathError } from '../sys/saferoot.js';
import { extractTarStream, readTar } from '../sys/tar/extract.js';
import { locate, packLocated, statLocated } from '../sys/tar/pack.js';
import { type ExtractRules, LayerError } from '../sys/tar/rules.js';
import { isIgnored, parseDockerignore } from './dockerignore.js';
import { globRegExp, hasGlob } from './glob.js';
import type { SourceEntry } from './instructions.js';

/** How the context is extracted: like an image layer, without whiteouts or devices. */
const CONTEXT: ExtractRules = {
  absolute: 'refuse',
  symlinkParents: 'refuse',
  whiteouts: false,
  devices: 'skip',
  replaceDirs: true,
  rootEntry: false,
  owners: true,
  xattrs: true,
};

/** Reads the first bytes of a stream and gives them back: [head, the whole stream]. */
async function peek(src: Readable, n: number): Promise<[Buffer, Readable]> {
  const chunks: Buffer[] = [];
  let len = 0;
  for (;;) {
    const c = src.read() as Buffer | null;
    if (c) {
      chunks.push(c);
      len += c.length;
      if (len >= n) break;
      continue;
    }
    if (src.readableEnded || src.destroyed) break;
    const more = await new Promise<boolean>((resolve) => {
      const done = () => {
        cleanup();
        resolve(false);
      };
      const ready = () => {
        cleanup();
        resolve(true);
      };
      const cleanup = () => {
        src.off('readable', ready);
        src.off('end', done);
        src.off('error', done);
        src.off('close', done);
      };
      src.once('readable', ready);
      src.once('end', done);
      src.once('error', done);
      src.once('close', done);
    });
    if (!more) break;
  }
  const head = Buffer.concat(chunks);
  const out = new PassThrough();
  out.write(head);
  src.on('error', (e) => out.destroy(e));
  src.pipe(out);
  return [head, out];
}

export interface Context {
  dir: string;
  dockerfile: string;
  remove(): void;
}

/** Extracts the context tar (plain or gzip) from `body` into a new directory under `tmpRoot`. */
export async function receiveContext(body: Readable, tmpRoot: string): Promise<string> {
  const dir = mkdtempSync(join(tmpRoot, 'tmp-build-'));
  try {
    const [head, stream] = await peek(body, 6);
    // docker takes a context tar plain or compressed (gzip, bzip2, xz, zstd)
    const kind = sniff(head);
    const tar: Readable = kind === 'none' ? stream : stream.pipe(decompressor(kind));
    if (head.length === 0) return dir; // an empty body: an empty context (the Dockerfile may come as "-")
    await extractTarStream(tar, dir, CONTEXT);
    return dir;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    if (e instanceof LayerError) throw new InvalidArgument(`invalid build context: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code === 'Z_DATA_ERROR')
      throw new InvalidArgument(`invalid build context: ${(e as Error).message}`);
    throw e;
  }
}

/** Reads a file of the context (its path resolved inside the context). NotFound with docker's words when missing. */
export function readContextFile(dir: string, path: string): Buffer | undefined {
  let l;
  try {
    l = locate(dir, path, true);
  } catch (e) {
    if (e instanceof RootPathError) return undefined;
    throw e;
  }
  try {
    let fd: number;
    try {
      fd = openFileIn(l.dir, l.name);
    } catch {
      return undefined;
    }
    try {
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } finally {
    l.close();
  }
}

/** The Dockerfile's text: `name` inside the context (docker also tries lower-case "dockerfile" for the default). */
export function readDockerfile(dir: string, name: string): string {
  const clean = posix.normalize('/' + name).slice(1);
  let b = readContextFile(dir, clean);
  if (!b && name === 'Dockerfile') b = readContextFile(dir, 'dockerfile');
  if (!b) throw new NotFound(`Cannot locate specified Dockerfile: ${name}`);
  return b.toString('utf8');
}

/** Removes the paths .dockerignore excludes (and .dockerignore itself when it excludes it), as dockerd does. */
export function applyDockerignore(dir: string): void {
  const raw = readContextFile(dir, '.dockerignore');
  if (!raw) return;
  const patterns = parseDockerignore(raw.toString('utf8'));
  if (!patterns.length) return;
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (isIgnored(r, patterns)) {
        // a directory with re-included paths below stays, minus what is still ignored
        if (st.isDirectory() && patterns.some((p) => p.exclusion)) {
          walk(r);
          continue;
        }
        rmSync(join(dir, r), { recursive: true, force: true });
        continue;
      }
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
}

/**
 * The context-relative paths a COPY source names: a cleaned path, or every path matching a glob.
 * A path that climbs out of the context ('../x') is refused as docker refuses it.
 */
export function expandSource(dir: string, src: string): string[] {
  const cleaned = posix.normalize(src.replace(/^\/+/, ''));
  if (cleaned === '..' || cleaned.startsWith('../'))
    throw new InvalidArgument(`forbidden path outside the build context: ${src} ()`);
  const rel = cleaned === '.' ? '' : cleaned.replace(/\/+$/, '');
  if (!hasGlob(rel)) return [rel];
  const re = globRegExp(rel);
  const depth = rel.split('/').length;
  const out: string[] = [];
  const walk = (r: string, d: number): void => {
    let names: string[];
    try {
      names = readdirSync(join(dir, r)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = r ? `${r}/${n}` : n;
      if (d === depth) {
        if (re.test(p)) out.push(p);
        continue;
      }
      let st;
      try {
        st = lstatSync(join(dir, p));
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, d + 1);
    }
  };
  walk('', 1);
  return out;
}

/** Entries (path, type, mode, owner, size, link target, content digest) of a source, for the cache checksum. */
export async function sourceEntries(root: string, rel: string): Promise<SourceEntry[]> {
  const l = locate(root, rel, true);
  try {
    const out: SourceEntry[] = [];
    await readTar(packLocated(l, '.'), async (h, data) => {
      const hash = createHash('sha256');
      for await (const b of data) hash.update(b);
      const type = h.type === 'directory' ? 'dir' : h.type === 'symlink' ? 'symlink' : 'file';
      out.push({
        path: h.name,
        type,
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.size ?? 0,
        link: h.linkname ?? undefined,
        digest: type === 'file' ? hash.digest('hex') : undefined,
      });
    });
    return out;
  } finally {
    l.close();
  }
}

/** Whether a source exists in the context (resolved inside it); its stat when it does. */
export function statSource(root: string, rel: string): ReturnType<typeof statLocated> | undefined {
  let l;
  try {
    l = locate(root, rel, true);
  } catch (e) {
    if (e instanceof RootPathError) return undefined;
    throw e;
  }
  try {
    const st = statLocated(l);
    if (st.isLink) return undefined; // a dangling link (or one that leads out and is resolved to nothing)
    return st;
  } catch (e) {
    if (e instanceof RootPathError) return undefined;
    throw e;
  } finally {
    l.close();
  }
}
