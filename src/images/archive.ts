// Image archives: save (GET /images/get, /images/{name}/get) writes docker's legacy docker-archive
// layout (<v1id>/VERSION, <v1id>/json, <v1id>/layer.tar, <config hex>.json, manifest.json,
// repositories); load (POST /images/load) reads docker-archive tars (docker save of any version)
// and OCI image layouts (oci-layout, index.json, blobs/sha256/...).
// Loaded layers are untrusted: the archive is unpacked into a temp dir with the entry rules of
// src/snapshots/apply.ts (names only; symlinks between archive files are resolved inside the temp dir),
// every layer is checked against the config's diff ids (and, for OCI, every blob against its digest)
// and applied with the safe extractor. Nothing is recorded unless everything checked out.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, normalize as normalizePath, relative } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header } from 'tar-stream';
import { InvalidArgument, NotFound } from '../core/errors.js';
import { sha256Digest } from '../content/store.js';
import { applyLayer, cleanEntryName } from '../snapshots/apply.js';
import { chainIds as computeChainIds } from '../snapshots/chain.js';
import { compressionOf, decompressor, sniff, type Compression } from '../sys/compress.js';
import { familiarName, familiarize, parse, parseNormalized, refString, withDefaultTag } from './reference.js';
import { parseImageConfig, type ImageService } from './service.js';
import type { Emit } from './progress.js';
import type { ImageRecord } from './types.js';

function hexOf(d: string): string { return d.replace(/^sha256:/, ''); }

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
    const full = svc.refs(image.id).map((r) => parse(r)).filter((r) => r.tag !== undefined);
    const tags = p.tag !== undefined ? [refString(withDefaultTag(p))] : full.filter((r) => r.name === p.name).map((r) => refString(r));
    for (const t of tags.length ? tags : [refString(withDefaultTag(p))]) if (!entry.tags.includes(t)) entry.tags.push(t);
  }
  return [...out.values()];
}

/** An uncompressed tar of a layer: the stored diff blob, or the distributable blob decompressed into a temp file. */
async function layerTarFile(svc: ImageService, img: ImageRecord, i: number): Promise<{ path: string; temp: boolean }> {
  const diffId = img.diffIds[i];
  if (svc.content.exists(diffId)) return { path: svc.content.path(diffId), temp: false };
  const b = img.layerBlobs?.[i];
  if (!b || !svc.content.exists(b.digest)) throw new NotFound(`layer ${diffId} of ${img.id} has no stored blob`);
  const w = svc.content.begin();
  try {
    await w.write(createReadStream(svc.content.path(b.digest)).pipe(decompressor(compressionOf(b.mediaType))));
  } catch (e) { w.abort(); throw e; }
  return { path: w.tmpPath, temp: true };
}

/**
 * Streams a docker-archive of the named images. Names are resolved before anything is written
 * (NotFound -> the caller answers 404).
 */
export function saveImages(svc: ImageService, names: string[]): Readable {
  if (!names.length) throw new InvalidArgument('no images named');
  const sel = selectImages(svc, names);
  const p = pack();
  const out = new PassThrough();
  const entry = (h: Parameters<typeof p.entry>[0], data?: Buffer) => new Promise<void>((resolve, reject) => {
    p.entry(h, data ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve()));
  });
  const fileEntry = (name: string, file: string, mtime: Date) => new Promise<void>((resolve, reject) => {
    const size = statSync(file).size;
    const sink = p.entry({ name, size, mode: 0o644, mtime, type: 'file' }, (e) => (e ? reject(e) : resolve()));
    const src = createReadStream(file, { highWaterMark: 1 << 20 });
    src.on('error', reject);
    src.pipe(sink as unknown as NodeJS.WritableStream);
  });
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
        const v1 = createHash('sha256').update(`${chain[i]}\n${top ? img.id : ''}`).digest('hex');
        const v1json: Record<string, unknown> = { id: v1, created: img.created, os: img.os };
        if (parent) v1json.parent = parent;
        if (top) Object.assign(v1json, { architecture: img.architecture, config: img.config });
        await entry({ name: `${v1}/`, type: 'directory', mode: 0o755, mtime });
        await entry({ name: `${v1}/VERSION`, mode: 0o644, mtime }, Buffer.from('1.0'));
        await entry({ name: `${v1}/json`, mode: 0o644, mtime }, Buffer.from(JSON.stringify(v1json)));
        const f = await layerTarFile(svc, img, i);
        try { await fileEntry(`${v1}/layer.tar`, f.path, mtime); } finally { if (f.temp) rmSync(f.path, { force: true }); }
        layers.push(`${v1}/layer.tar`);
        parent = v1;
        if (top) for (const t of tags) {
          const r = parse(t);
          (repositories[familiarName(r.name)] ??= {})[r.tag!] = v1;
        }
      }
      await entry({ name: `${hexOf(img.id)}.json`, mode: 0o644, mtime }, svc.content.readBytes(img.id));
      manifest.push({ Config: `${hexOf(img.id)}.json`, RepoTags: tags.length ? tags.map(familiarize) : null, Layers: layers });
    }
    const epoch = new Date(0);
    await entry({ name: 'manifest.json', mode: 0o644, mtime: epoch }, Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length) await entry({ name: 'repositories', mode: 0o644, mtime: epoch }, Buffer.from(JSON.stringify(repositories) + '\n'));
    p.finalize();
  })().catch((e: Error) => { p.destroy(e); out.destroy(e); });
  p.on('error', (e: Error) => out.destroy(e));
  p.pipe(out as unknown as NodeJS.WritableStream);
  return out;
}

// ---------------------------------------------------------------- load

/** Unpacks an archive into dir: regular files, directories and symlinks (kept as links inside dir); nothing escapes. */
async function unpackArchive(src: Readable, dir: string): Promise<void> {
  const ex = extract();
  ex.on('entry', (h: Header, stream, next) => {
    const go = async () => {
      const rel = cleanEntryName(h.name);
      const p = join(dir, rel);
      if (rel && (h.type === 'directory')) mkdirSync(p, { recursive: true });
      else if (rel && (h.type === 'file' || h.type === 'contiguous-file')) {
        mkdirSync(dirname(p), { recursive: true });
        await pipeline(stream as unknown as Readable, createWriteStream(p, { flags: 'wx', mode: 0o600 }));
        return;
      } else if (rel && h.type === 'symlink' && h.linkname) {
        // only links that stay inside the archive (docker dedups layers with ../<id>/layer.tar)
        const target = normalizePath(join(dirname(rel), h.linkname));
        if (!target.startsWith('..') && !h.linkname.startsWith('/')) { mkdirSync(dirname(p), { recursive: true }); symlinkSync(relative(dirname(p), join(dir, target)), p); }
      }
      for await (const _ of stream as unknown as AsyncIterable<Buffer>) { /* skip */ }
    };
    go().then(() => next(), (e: Error) => next(e));
  });
  await pipeline(src, ex);
}

/** Opens a file of the unpacked archive by its archive path; symlinks resolve inside dir only. */
function archivePath(dir: string, name: string): string {
  let rel = cleanEntryName(name);
  for (let hops = 0; hops < 10; hops++) {
    const p = join(dir, rel);
    if (!existsSync(p) && !(() => { try { lstatSync(p); return true; } catch { return false; } })()) throw new InvalidArgument(`invalid archive: ${name} is missing`);
    const st = lstatSync(p);
    if (!st.isSymbolicLink()) return p;
    const t = readlinkSync(p);
    const next = normalizePath(join(dirname(rel), t));
    if (next.startsWith('..') || t.startsWith('/')) throw new InvalidArgument(`invalid archive: ${name} points outside the archive`);
    rel = next;
  }
  throw new InvalidArgument(`invalid archive: too many links at ${name}`);
}

function fileCompression(path: string): Compression {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(6);
  try { readSync(fd, b, 0, 6, 0); } finally { closeSync(fd); }
  const s = sniff(b);
  if (s === 'bzip2' || s === 'xz') throw new InvalidArgument(`unsupported layer compression: ${s}`);
  return s;
}

/** Applies one layer file: stores its uncompressed tar (checked against diffId) and extracts it safely. */
async function loadLayer(svc: ImageService, file: string, diffId: string, parent: string | undefined, expectBlob?: string): Promise<void> {
  if (expectBlob) {
    const h = createHash('sha256');
    for await (const c of createReadStream(file)) h.update(c as Buffer);
    if ('sha256:' + h.digest('hex') !== expectBlob) throw new InvalidArgument(`invalid archive: blob ${expectBlob} does not match its digest`);
  }
  const w = svc.content.begin();
  try {
    await w.write(createReadStream(file).pipe(decompressor(fileCompression(file))));
    if (w.digest() !== diffId) throw new InvalidArgument(`invalid archive: layer does not match diff id ${diffId} (got ${w.digest()})`);
    await svc.snapshots.applyWith(diffId, parent, (dir) => applyLayer(createReadStream(w.tmpPath), dir));
    w.commit(diffId);
  } catch (e) { w.abort(); throw e; }
}

interface LoadItem { config: Buffer; layers: Array<{ file: string; blob?: string }>; tags: string[] }

function dockerArchiveItems(dir: string): LoadItem[] {
  let m: Array<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }>;
  try { m = JSON.parse(readFileSync(archivePath(dir, 'manifest.json'), 'utf8')); } catch (e) { throw e instanceof InvalidArgument ? e : new InvalidArgument('invalid archive: bad manifest.json'); }
  if (!Array.isArray(m)) throw new InvalidArgument('invalid archive: bad manifest.json');
  return m.map((e) => {
    if (!e.Config || !Array.isArray(e.Layers)) throw new InvalidArgument('invalid archive: bad manifest.json entry');
    const config = readFileSync(archivePath(dir, e.Config));
    return { config, layers: e.Layers.map((l) => ({ file: archivePath(dir, l) })), tags: (e.RepoTags ?? []).map((t) => refString(withDefaultTag(parseNormalized(t)))) };
  });
}

function ociLayoutItems(dir: string): LoadItem[] {
  const blob = (d: string) => {
    if (!/^sha256:[a-f0-9]{64}$/.test(d)) throw new InvalidArgument(`invalid archive: bad digest ${d}`);
    return archivePath(dir, `blobs/sha256/${hexOf(d)}`);
  };
  const readBlob = (d: string) => {
    const b = readFileSync(blob(d));
    if (sha256Digest(b) !== d) throw new InvalidArgument(`invalid archive: blob ${d} does not match its digest`);
    return JSON.parse(b.toString('utf8')) as Record<string, unknown>;
  };
  const items: LoadItem[] = [];
  type Desc = { mediaType?: string; digest: string; annotations?: Record<string, string>; platform?: { os?: string; architecture?: string } };
  const walk = (descs: Desc[], name?: string) => {
    for (const d of descs) {
      const ann = d.annotations ?? {};
      const refName = ann['io.containerd.image.name'] ?? (ann['org.opencontainers.image.ref.name']?.match(/[:/]/) ? ann['org.opencontainers.image.ref.name'] : undefined) ?? name;
      const m = readBlob(d.digest) as { manifests?: Desc[]; config?: Desc; layers?: Array<Desc & { size: number }> };
      if (Array.isArray(m.manifests)) {
        const pick = m.manifests.filter((x) => !x.platform || (x.platform.os === 'linux' && x.platform.architecture === 'amd64'));
        walk(pick.slice(0, 1), refName);
        continue;
      }
      if (!m.config || !Array.isArray(m.layers)) throw new InvalidArgument('invalid archive: bad OCI manifest');
      const cfgBytes = readFileSync(blob(m.config.digest));
      if (sha256Digest(cfgBytes) !== m.config.digest) throw new InvalidArgument(`invalid archive: config ${m.config.digest} does not match its digest`);
      let tags: string[] = [];
      if (refName) { try { tags = [refString(withDefaultTag(parseNormalized(refName)))]; } catch { tags = []; } }
      items.push({ config: cfgBytes, layers: m.layers.map((l) => ({ file: blob(l.digest), blob: l.digest })), tags });
    }
  };
  let index: { manifests?: Desc[] };
  try { index = JSON.parse(readFileSync(archivePath(dir, 'index.json'), 'utf8')); } catch { throw new InvalidArgument('invalid archive: bad index.json'); }
  walk(index.manifests ?? []);
  return items;
}

/**
 * Loads images from a docker-archive or OCI-layout tar. Emits {"stream":"Loaded image: x:tag\n"}
 * (or "Loaded image ID: sha256:...\n" for untagged images). Errors before the first message reject.
 */
export async function loadImages(svc: ImageService, src: Readable, tmpRoot: string, emit: Emit): Promise<void> {
  const dir = mkdtempSync(join(tmpRoot, 'tmp-load-'));
  const pinned: string[] = [];
  let ok = false;
  try {
    try { await unpackArchive(src, dir); } catch (e) { throw e instanceof InvalidArgument ? e : new InvalidArgument(`invalid archive: ${(e as Error).message}`); }
    const items = existsSync(join(dir, 'manifest.json')) ? dockerArchiveItems(dir)
      : existsSync(join(dir, 'index.json')) ? ociLayoutItems(dir)
      : (() => { throw new InvalidArgument('invalid archive: no manifest.json (docker-archive) or index.json (OCI layout)'); })();
    for (const it of items) {
      const cfg = parseImageConfig(it.config);
      if (cfg.diffIds.length !== it.layers.length) throw new InvalidArgument(`invalid archive: ${it.layers.length} layers for ${cfg.diffIds.length} diff ids`);
      const chain = computeChainIds(cfg.diffIds);
      svc.pin(chain); pinned.push(...chain);
      for (let i = 0; i < chain.length; i++) {
        if (svc.snapshots.has(chain[i])) continue;
        await loadLayer(svc, it.layers[i].file, cfg.diffIds[i], i > 0 ? chain[i - 1] : undefined, it.layers[i].blob);
      }
    }
    for (const it of items) {
      const { id } = await svc.withLock(() => svc.recordConfigImage(it.config, it.layers.map(() => null), it.tags));
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
