// Image archives: save (GET /images/get, /images/{name}/get) writes docker's legacy docker-archive
// layout (<v1id>/VERSION, <v1id>/json, <v1id>/layer.tar, <config hex>.json, manifest.json,
// repositories); load (POST /images/load) reads docker-archive tars (docker save of any version)
// and OCI image layouts (oci-layout, index.json, blobs/sha256/...).
// Loaded archives are untrusted: never unpacked under their own names (see "load" below); every layer
// is checked against the config's diff ids (and, for OCI, every blob against its digest) and applied
// with the safe extractor of src/sys/tar/extract.ts. Nothing is recorded unless everything checked out.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument, NotFound } from '../core/errors.js';
import { sha256Digest } from '../content/store.js';
import { applyToMounts, readTar } from '../sys/tar/extract.js';
import { TarWriter } from '../sys/tar/pack.js';
import { cleanEntryName, type TarHead, type TarHeader } from '../sys/tar/rules.js';
import { chainIds as computeChainIds } from '../snapshots/chain.js';
import { compressionOf, decompressor, sniff, type Compression } from '../sys/compress.js';
import { familiarName, familiarize, parse, parseNormalized, refString, withDefaultTag } from './reference.js';
import { parseImageConfig, type ImageService } from './service.js';
import type { Emit } from './progress.js';
import type { ImageRecord } from './types.js';

function hexOf(d: string): string {
  return d.replace(/^sha256:/, '');
}

/** Which images and tags a list of save names means (dockerd's rules: a repo name = all its tags, an id = no tag). */
function selectImages(svc: ImageService, names: string[]): Array<{ img: ImageRecord; tags: string[] }> {
  const out = new Map<string, { img: ImageRecord; tags: string[] }>();
  for (const n of names) {
    const { image, viaId } = svc.resolve(n);
    const entry = out.get(image.id) ?? { img: image, tags: [] };
    out.set(image.id, entry);
    if (viaId) continue;
    const p = parseNormalized(n);
    if (p.digest) continue;
    const full = svc
      .refs(image.id)
      .map((r) => parse(r))
      .filter((r) => r.tag !== undefined);
    const tags =
      p.tag !== undefined
        ? [refString(withDefaultTag(p))]
        : full.filter((r) => r.name === p.name).map((r) => refString(r));
    for (const t of tags.length ? tags : [refString(withDefaultTag(p))])
      if (!entry.tags.includes(t)) entry.tags.push(t);
  }
  return [...out.values()];
}

/** An uncompressed tar of a layer: the stored diff blob, or the distributable blob decompressed into an ingest that is dropped after. */
async function layerTar(
  svc: ImageService,
  img: ImageRecord,
  i: number,
): Promise<{ size: number; open: () => Promise<Readable>; release: () => void }> {
  const diffId = img.diffIds[i];
  if (svc.content.exists(diffId))
    return {
      size: svc.content.size(diffId),
      open: async () => svc.content.read(diffId, { highWaterMark: 1 << 20 }),
      release: () => undefined,
    };
  const b = img.layerBlobs?.[i];
  if (!b || !svc.content.exists(b.digest)) throw new NotFound(`layer ${diffId} of ${img.id} has no stored blob`);
  const w = svc.content.begin();
  try {
    await w.write(svc.content.read(b.digest).pipe(decompressor(compressionOf(b.mediaType))));
    await w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { size: w.size, open: () => w.open(), release: () => w.abort() };
}

/**
 * Streams a docker-archive of the named images. Names are resolved before anything is written
 * (NotFound -> the caller answers 404).
 */
export function saveImages(svc: ImageService, names: string[]): Readable {
  if (!names.length) throw new InvalidArgument('no images named');
  const sel = selectImages(svc, names);
  const w = new TarWriter();
  const entry = (h: TarHead, data?: Buffer) => w.entry(h, data);
  const streamEntry = (name: string, size: number, src: Readable, mtime: Date) =>
    w.file({ name, size, mode: 0o644, mtime, type: 'file' }, src);
  (async () => {
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { img, tags } of sel) {
      const mtime = new Date(Date.parse(img.created) || 0);
      const chain = computeChainIds(img.diffIds);
      const layers: string[] = [];
      let parent: string | undefined;
      for (let i = 0; i < img.diffIds.length; i++) {
        const top = i === img.diffIds.length - 1;
        const v1 = createHash('sha256')
          .update(`${chain[i]}\n${top ? img.id : ''}`)
          .digest('hex');
        const v1json: Record<string, unknown> = { id: v1, created: img.created, os: img.os };
        if (parent) v1json.parent = parent;
        if (top) Object.assign(v1json, { architecture: img.architecture, config: img.config });
        await entry({ name: `${v1}/`, type: 'directory', mode: 0o755, mtime });
        await entry({ name: `${v1}/VERSION`, mode: 0o644, mtime }, Buffer.from('1.0'));
        await entry({ name: `${v1}/json`, mode: 0o644, mtime }, Buffer.from(JSON.stringify(v1json)));
        const t = await layerTar(svc, img, i);
        try {
          await streamEntry(`${v1}/layer.tar`, t.size, await t.open(), mtime);
        } finally {
          t.release();
        }
        layers.push(`${v1}/layer.tar`);
        parent = v1;
        if (top)
          for (const t of tags) {
            const r = parse(t);
            (repositories[familiarName(r.name)] ??= {})[r.tag!] = v1;
          }
      }
      await entry({ name: `${hexOf(img.id)}.json`, mode: 0o644, mtime }, svc.content.readBytes(img.id));
      manifest.push({
        Config: `${hexOf(img.id)}.json`,
        RepoTags: tags.length ? tags.map(familiarize) : null,
        Layers: layers,
      });
    }
    const epoch = new Date(0);
    await entry({ name: 'manifest.json', mode: 0o644, mtime: epoch }, Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length)
      await entry(
        { name: 'repositories', mode: 0o644, mtime: epoch },
        Buffer.from(JSON.stringify(repositories) + '\n'),
      );
    w.finalize();
  })().catch((e: Error) => w.fail(e));
  return w.stream;
}

// ---------------------------------------------------------------- load
//
// The archive is never unpacked onto disk under its own names. It is spooled to a private temp file
// (0600, in a 0700 dir under the data root), indexed in a first pass (names cleaned, small files
// kept in memory for manifests and configs, symlinks between archive files — newer `docker save`
// writes them for shared blobs — resolved lexically within the index only), validated whole
// (manifest or index.json, configs, digests, layer counts), and only then are the needed layer
// files copied out in a second pass, under our own names, to be verified and applied.

/** Files up to this size are kept in memory by the first pass (manifests, configs, small blobs). */
const KEEP_MAX = 16 << 20;
const KEEP_TOTAL = 128 << 20;

interface IndexEntry {
  type: TarHeader['type'];
  linkname?: string;
  size: number;
  data?: Buffer;
}
type ArchiveIndex = Map<string, IndexEntry>;

function invalid(msg: string): InvalidArgument {
  return new InvalidArgument(`invalid archive: ${msg}`);
}

async function spool(src: Readable, file: string): Promise<void> {
  await pipeline(src, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
}

async function indexArchive(file: string): Promise<ArchiveIndex> {
  const index: ArchiveIndex = new Map();
  let kept = 0;
  try {
    await readTar(createReadStream(file), async (h, stream) => {
      let rel: string;
      try {
        rel = cleanEntryName(h.name);
      } catch {
        rel = '';
      }
      const keep =
        rel !== '' &&
        (h.type === 'file' || h.type === 'contiguous-file') &&
        (h.size ?? 0) <= KEEP_MAX &&
        kept + (h.size ?? 0) <= KEEP_TOTAL;
      const chunks: Buffer[] = [];
      for await (const c of stream) if (keep) chunks.push(c);
      if (!rel) return; // unsafe names are never looked up
      const data = keep ? Buffer.concat(chunks) : undefined;
      if (data) kept += data.length;
      index.set(rel, {
        type: h.type === 'contiguous-file' ? 'file' : h.type,
        linkname: h.linkname ?? undefined,
        size: h.size ?? 0,
        data,
      });
    });
  } catch (e) {
    throw invalid((e as Error).message);
  }
  return index;
}

/** The archive name a name means, its symlinks resolved lexically inside the archive; a regular file. */
export function resolveArchiveName(
  index: ReadonlyMap<string, Pick<IndexEntry, 'type' | 'linkname'>>,
  name: string,
): string {
  let rel: string;
  try {
    rel = cleanEntryName(name);
  } catch {
    throw invalid(`${name} points outside the archive`);
  }
  for (let hops = 0; hops <= 40; hops++) {
    const parts = rel.split('/');
    let moved = false;
    for (let i = 1; i <= parts.length; i++) {
      const e = index.get(parts.slice(0, i).join('/'));
      if (e?.type !== 'symlink') continue;
      const t = e.linkname ?? '';
      const next = posix.normalize(posix.join(parts.slice(0, i - 1).join('/'), t, ...parts.slice(i)));
      if (t.startsWith('/') || next === '..' || next.startsWith('../') || next === '.')
        throw invalid(`${name} points outside the archive`);
      rel = next;
      moved = true;
      break;
    }
    if (!moved) {
      const e = index.get(rel);
      if (!e || (e.type !== 'file' && e.type !== 'contiguous-file')) throw invalid(`${name} is missing`);
      return rel;
    }
  }
  throw invalid(`too many links at ${name}`);
}

function readIndexed(index: ArchiveIndex, name: string): Buffer {
  const e = index.get(resolveArchiveName(index, name))!;
  if (!e.data) throw invalid(`${name} is too large`);
  return e.data;
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch (e) {
    throw invalid(`bad ${what}: ${(e as Error).message}`);
  }
}

/** Second pass: copies the named archive files (resolved names) into files of `dir`; returns name -> path. */
async function copyOut(file: string, names: Set<string>, dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let n = 0;
  await readTar(createReadStream(file), async (h, stream) => {
    let rel = '';
    try {
      rel = cleanEntryName(h.name);
    } catch {
      rel = '';
    }
    if (rel && names.has(rel) && (h.type === 'file' || h.type === 'contiguous-file')) {
      const p = out.get(rel) ?? join(dir, `layer-${n++}`);
      out.set(rel, p);
      await pipeline(stream, createWriteStream(p, { flags: 'w', mode: 0o600 }));
    }
  });
  return out;
}

function fileCompression(path: string): Compression {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(6);
  try {
    readSync(fd, b, 0, 6, 0);
  } finally {
    closeSync(fd);
  }
  const s = sniff(b);
  if (s === 'bzip2' || s === 'xz') throw new InvalidArgument(`unsupported layer compression: ${s}`);
  return s;
}

/** Applies one layer file: stores its uncompressed tar (checked against diffId) and extracts it safely. */
async function loadLayer(
  svc: ImageService,
  file: string,
  diffId: string,
  parent: string | undefined,
  expectBlob?: string,
): Promise<void> {
  if (expectBlob) {
    const h = createHash('sha256');
    for await (const c of createReadStream(file)) h.update(c as Buffer);
    if ('sha256:' + h.digest('hex') !== expectBlob)
      throw new InvalidArgument(`invalid archive: blob ${expectBlob} does not match its digest`);
  }
  const w = svc.content.begin();
  try {
    await w.write(createReadStream(file).pipe(decompressor(fileCompression(file))));
    if (w.digest() !== diffId)
      throw new InvalidArgument(`invalid archive: layer does not match diff id ${diffId} (got ${w.digest()})`);
    await svc.snapshots.applyWith(diffId, parent, async (mounts, idMap) =>
      applyToMounts(await w.open(), mounts, idMap),
    );
    await w.commit(diffId);
  } catch (e) {
    w.abort();
    throw e;
  }
}

interface LoadItem {
  config: Buffer;
  layers: Array<{ name: string; blob?: string }>;
  tags: string[];
}

function dockerArchiveItems(index: ArchiveIndex): LoadItem[] {
  const m = parseJson<Array<{ Config?: unknown; RepoTags?: unknown; Layers?: unknown }> | null>(
    readIndexed(index, 'manifest.json'),
    'manifest.json',
  );
  // moby: null is refused, [] loads nothing
  if (m === null) throw new InvalidArgument('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(m)) throw invalid('bad manifest.json');
  return m.map((e) => {
    if (!e || typeof e.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string'))
      throw invalid('bad manifest.json entry');
    if (e.RepoTags != null && (!Array.isArray(e.RepoTags) || !e.RepoTags.every((t) => typeof t === 'string')))
      throw invalid('bad manifest.json entry');
    const config = readIndexed(index, e.Config);
    const tags = ((e.RepoTags ?? []) as string[]).map((t) => {
      try {
        return refString(withDefaultTag(parseNormalized(t)));
      } catch (err) {
        throw invalid(`bad tag ${JSON.stringify(t)}: ${(err as Error).message}`);
      }
    });
    return { config, layers: (e.Layers as string[]).map((l) => ({ name: resolveArchiveName(index, l) })), tags };
  });
}

function ociLayoutItems(index: ArchiveIndex): LoadItem[] {
  const blobName = (d: unknown) => {
    if (typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d)) throw invalid(`bad digest ${String(d)}`);
    return resolveArchiveName(index, `blobs/sha256/${hexOf(d)}`);
  };
  const readBlob = (d: string) => {
    const b = readIndexed(index, blobName(d));
    if (sha256Digest(b) !== d) throw invalid(`blob ${d} does not match its digest`);
    return b;
  };
  const items: LoadItem[] = [];
  type Desc = {
    mediaType?: string;
    digest: string;
    annotations?: Record<string, string>;
    platform?: { os?: string; architecture?: string };
  };
  const walk = (descs: Desc[], name: string | undefined, depth: number) => {
    if (depth > 4) throw invalid('OCI indexes nested too deep');
    for (const d of descs) {
      const ann = d?.annotations ?? {};
      const refName =
        ann['io.containerd.image.name'] ??
        (ann['org.opencontainers.image.ref.name']?.match(/[:/]/)
          ? ann['org.opencontainers.image.ref.name']
          : undefined) ??
        name;
      const m = parseJson<{ manifests?: Desc[]; config?: Desc; layers?: Array<Desc & { size: number }> }>(
        readBlob(d?.digest),
        `OCI manifest ${d?.digest}`,
      );
      if (Array.isArray(m.manifests)) {
        const pick = m.manifests.filter(
          (x) => !x?.platform || (x.platform.os === 'linux' && x.platform.architecture === 'amd64'),
        );
        walk(pick.slice(0, 1), refName, depth + 1);
        continue;
      }
      if (!m.config || !Array.isArray(m.layers)) throw invalid('bad OCI manifest');
      const cfgBytes = readBlob(m.config.digest);
      let tags: string[] = [];
      if (refName) {
        try {
          tags = [refString(withDefaultTag(parseNormalized(refName)))];
        } catch {
          tags = [];
        }
      }
      items.push({
        config: cfgBytes,
        layers: m.layers.map((l) => ({ name: blobName(l?.digest), blob: l.digest })),
        tags,
      });
    }
  };
  const idx = parseJson<{ manifests?: Desc[] }>(readIndexed(index, 'index.json'), 'index.json');
  if (!idx || !Array.isArray(idx.manifests ?? [])) throw invalid('bad index.json');
  walk(idx.manifests ?? [], undefined, 0);
  return items;
}

/**
 * Loads images from a docker-archive or OCI-layout tar. Emits {"stream":"Loaded image: x:tag\n"}
 * (or "Loaded image ID: sha256:...\n" for untagged images). Errors before the first message reject;
 * the whole archive is validated before anything is written into the store.
 */
export async function loadImages(svc: ImageService, src: Readable, tmpRoot: string, emit: Emit): Promise<void> {
  const dir = mkdtempSync(join(tmpRoot, 'tmp-load-')); // 0700
  const pinned: string[] = [];
  let ok = false;
  try {
    const file = join(dir, 'archive.tar');
    await spool(src, file);
    const index = await indexArchive(file);
    const items = index.has('manifest.json')
      ? dockerArchiveItems(index)
      : index.has('index.json')
        ? ociLayoutItems(index)
        : (() => {
            throw invalid('no manifest.json (docker-archive) or index.json (OCI layout)');
          })();
    const plans = items.map((it) => {
      const cfg = parseImageConfig(it.config);
      if (cfg.diffIds.length !== it.layers.length)
        throw new InvalidArgument(
          `invalid manifest, layers length mismatch: expected ${it.layers.length}, got ${cfg.diffIds.length}`,
        );
      return { it, cfg, chain: computeChainIds(cfg.diffIds) };
    });
    for (const p of plans) {
      svc.pin(p.chain);
      pinned.push(...p.chain);
    }
    const needed = new Set<string>();
    for (const p of plans)
      p.chain.forEach((c, i) => {
        if (!svc.snapshots.has(c)) needed.add(p.it.layers[i].name);
      });
    const files = needed.size ? await copyOut(file, needed, dir) : new Map<string, string>();
    rmSync(file, { force: true });
    for (const { it, cfg, chain } of plans) {
      for (let i = 0; i < chain.length; i++) {
        if (svc.snapshots.has(chain[i])) continue;
        const f = files.get(it.layers[i].name);
        if (!f) throw invalid(`${it.layers[i].name} is missing`);
        await loadLayer(svc, f, cfg.diffIds[i], i > 0 ? chain[i - 1] : undefined, it.layers[i].blob);
      }
    }
    for (const it of items) {
      const { id } = await svc.withLock(() =>
        svc.recordConfigImage(
          it.config,
          it.layers.map(() => null),
          it.tags,
        ),
      );
      svc.imageEvent('load', id, id);
      if (it.tags.length) for (const t of it.tags) emit({ stream: `Loaded image: ${familiarize(t)}\n` });
      else emit({ stream: `Loaded image ID: ${id}\n` });
    }
    ok = true;
  } finally {
    svc.unpin(pinned);
    rmSync(dir, { recursive: true, force: true });
    if (!ok) await svc.gcIfIdle().catch(() => undefined);
  }
}
