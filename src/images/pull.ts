// Pull (POST /images/create?fromImage=&tag=): resolve the manifest (list/index -> platform), fetch and
// verify the config, then fetch every missing layer concurrently; each layer's HTTP body streams at
// once through the compressed-digest hash, into the content store (kept for push/save) and through
// the decompressor and the diff-id hash into the safe extractor (src/sys/tar/extract.ts), so download,
// verification and extraction overlap. Nothing is recorded until every digest matched: blobs are
// committed after verification, layer dirs are renamed into place only after their checks, and the
// image row + tags are written last under the image lock. Concurrent pulls share in-flight layers.
import { createHash } from 'node:crypto';
import { Transform, type Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, Internal, InvalidArgument, NotFound } from '../core/errors.js';
import { sha256Digest } from '../content/store.js';
import { RegistryClient, RegistryError, MEDIA, type RegistryOptions } from '../registry/client.js';
import type { Credentials } from '../registry/auth.js';
import { applyToMounts } from '../sys/tar/extract.js';
import { chainIds as computeChainIds } from '../snapshots/chain.js';
import { compressionOf, decompressor, type Compression } from '../sys/compress.js';
import { familiarName, familiarString, parseNormalized, refString, type ParsedReference } from './reference.js';
import { parseImageConfig, type ImageService } from './service.js';
import { progressMessage, shortDigest, statusMessage, type Emit } from './progress.js';
import type { LayerBlob } from './types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  urls?: string[];
}

export interface PullOptions {
  tag?: string;
  platform?: string;
  creds?: Credentials;
  registry?: RegistryOptions;
}

const inflight = new Map<string, Promise<LayerBlob>>();
/** Blobs a download committed, by the pull that started it (removed again if that pull fails). */
type Adopted = string[];

/** The reference a pull request names: fromImage plus ?tag= (a tag or a digest), default :latest. */
export function pullReference(fromImage: string, tag?: string): ParsedReference {
  const r = parseNormalized(fromImage);
  if (tag && r.tag === undefined && r.digest === undefined) {
    if (/^sha256:/.test(tag)) return parseNormalized(`${fromImage}@${tag}`);
    return parseNormalized(`${fromImage}:${tag}`);
  }
  if (r.tag === undefined && r.digest === undefined) return { ...r, tag: 'latest' };
  return r;
}

function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const arch =
    (
      { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<
        string,
        string
      >
    )[process.arch] ?? process.arch;
  return { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : undefined };
}

export function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return hostPlatform();
  const [os, architecture, variant] = p.split('/');
  if (!os || (architecture === undefined && os !== 'linux')) throw new InvalidArgument(`invalid platform: ${p}`);
  return { os, architecture: architecture ?? hostPlatform().architecture, variant };
}

/** Picks the manifest of a list/index for a platform (variant only when asked). */
export function selectPlatform(
  manifests: Descriptor[],
  want: { os: string; architecture: string; variant?: string },
): Descriptor | undefined {
  const cands = manifests.filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
  if (want.variant)
    return cands.find((m) => m.platform?.variant === want.variant) ?? cands.find((m) => !m.platform?.variant);
  return cands[0];
}

/** Maps registry errors to dockerd's API errors for the manifest step. */
function manifestError(e: unknown, ref: ParsedReference): Error {
  if (e instanceof RegistryError) {
    const fam = familiarString(ref);
    if (e.status === 404 && (e.code === 'MANIFEST_UNKNOWN' || !e.code))
      return new NotFound(`manifest for ${fam} not found: ${e.message}`);
    if (
      e.code === 'NAME_UNKNOWN' ||
      e.code === 'DENIED' ||
      (e.status === 401 && e.code === 'UNAUTHORIZED' && !/no basic auth credentials/.test(e.message))
    ) {
      return new NotFound(
        `pull access denied for ${familiarName(ref.name)}, repository does not exist or may require 'docker login': ${e.message}`,
      );
    }
    return new Internal(e.message);
  }
  return e instanceof Error ? e : new Internal(String(e));
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    throw new Internal(`invalid ${what}: not JSON`);
  }
}

interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** Resolves a reference to {manifest digest (top level), image manifest}. */
async function resolveManifest(
  client: RegistryClient,
  ref: ParsedReference,
  platform: { os: string; architecture: string; variant?: string },
): Promise<{ digest: string; manifest: Manifest; manifestBytes: Buffer; mediaType: string }> {
  const first = await client.manifest(ref.digest ?? ref.tag ?? 'latest');
  const digest = sha256Digest(first.body);
  if (ref.digest && ref.digest !== digest) throw new Internal(`manifest verification failed for digest ${ref.digest}`);
  if (!ref.digest && first.digestHeader && /^sha256:/.test(first.digestHeader) && first.digestHeader !== digest) {
    throw new Internal(`manifest verification failed for digest ${first.digestHeader}`);
  }
  let m = parseJson<Manifest>(first.body, 'manifest');
  let mediaType = first.mediaType;
  let bytes = first.body;
  if (mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex || (Array.isArray(m.manifests) && !m.layers)) {
    const pick = selectPlatform(m.manifests ?? [], platform);
    if (!pick)
      throw new NotFound(
        `no matching manifest for ${platform.os}/${platform.architecture}${platform.variant ? '/' + platform.variant : ''} in the manifest list entries`,
      );
    const sub = await client.manifest(pick.digest);
    if (sha256Digest(sub.body) !== pick.digest)
      throw new Internal(`manifest verification failed for digest ${pick.digest}`);
    m = parseJson<Manifest>(sub.body, 'manifest');
    mediaType = sub.mediaType;
    bytes = sub.body;
  }
  if (m.schemaVersion === 1 || !m.config || !Array.isArray(m.layers))
    throw new Internal(`unsupported manifest format: ${mediaType || 'unknown media type'}`);
  return { digest, manifest: m, manifestBytes: bytes, mediaType };
}

/** Image configurations are small JSON documents; a registry may not make us buffer more. */
const MAX_CONFIG = 8 << 20;

async function readAll(s: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > limit) {
      s.destroy();
      throw new Error(`more than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Pulls an image. Nothing is emitted before the manifest and config are resolved, so errors up to
 * there reject with a typed error (the API answers with its status); later errors reject after
 * messages were emitted (the API writes them as errorDetail).
 */
export async function pullImage(
  svc: ImageService,
  fromImage: string,
  opts: PullOptions,
  emit: Emit,
): Promise<{ id: string; digest: string; ref: string }> {
  const ref = pullReference(fromImage, opts.tag);
  const platform = parsePlatform(opts.platform);
  const client = new RegistryClient(ref.domain, ref.path, opts.creds, opts.registry);
  let resolved;
  try {
    resolved = await resolveManifest(client, ref, platform);
  } catch (e) {
    throw manifestError(e, ref);
  }
  const { manifest } = resolved;
  const cfgDesc = manifest.config!;
  let configBytes: Buffer;
  if (!(cfgDesc.size > 0 && cfgDesc.size <= MAX_CONFIG))
    throw new Internal(`invalid image configuration size ${cfgDesc.size} (limit ${MAX_CONFIG} bytes)`);
  try {
    configBytes = await readAll(await client.blob(cfgDesc.digest), MAX_CONFIG);
  } catch (e) {
    throw new Internal(`error pulling image configuration: ${(e as Error).message}`);
  }
  if (sha256Digest(configBytes) !== cfgDesc.digest)
    throw new Internal(`image config verification failed for digest ${cfgDesc.digest}`);
  const cfg = parseImageConfig(configBytes);
  const layers = manifest.layers!.filter((l) => l.mediaType !== MEDIA.dockerForeign);
  if (cfg.diffIds.length !== layers.length)
    throw new Internal(
      `invalid image: ${layers.length} layers in the manifest but ${cfg.diffIds.length} diff ids in the configuration`,
    );
  for (const l of layers) {
    if (!/^sha256:[a-f0-9]{64}$/.test(l.digest)) throw new Internal(`invalid layer digest: ${l.digest}`);
    if (compressionOf(l.mediaType) === 'none' && !/tar$/.test(l.mediaType))
      throw new Internal(`unsupported layer media type: ${l.mediaType}`);
  }
  const chains = computeChainIds(cfg.diffIds);

  emit({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag });
  svc.pin(chains);
  let ok = false;
  const adopted: Adopted = [];
  try {
    const blobs: Array<LayerBlob | null> = layers.map((l) => ({
      digest: l.digest,
      mediaType: l.mediaType,
      size: l.size,
    }));
    const todo: number[] = [];
    layers.forEach((l, i) => {
      if (svc.snapshots.has(chains[i])) emit(statusMessage('Already exists', shortDigest(l.digest)));
      else {
        emit(statusMessage('Pulling fs layer', shortDigest(l.digest)));
        todo.push(i);
      }
    });
    // fetch concurrently (dockerd: 3 at a time); the first failure cancels the rest
    const limit = 4;
    let next = 0;
    let failed: unknown;
    const worker = async () => {
      while (next < todo.length && !failed) {
        const i = todo[next++];
        try {
          await fetchLayer(
            svc,
            client,
            layers[i],
            cfg.diffIds[i],
            i > 0 ? chains[i - 1] : undefined,
            chains[i],
            emit,
            adopted,
          );
        } catch (e) {
          failed = failed ?? e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, todo.length) }, worker));
    if (failed) throw failed;
    const tagRef = refString(ref.digest ? { ...ref, tag: undefined } : ref);
    const digestRef = refString({ ...ref, tag: undefined, digest: resolved.digest });
    let upToDate = false;
    const { id } = await svc.withLock(() => {
      upToDate = svc.idOfRef(tagRef) !== undefined && svc.idOfRef(tagRef) === sha256Digest(configBytes);
      return svc.recordConfigImage(configBytes, blobs, ref.digest ? [digestRef] : [tagRef, digestRef]);
    });
    svc.imageEvent('pull', familiarString(ref), familiarName(ref.name));
    emit({ status: `Digest: ${resolved.digest}` });
    const shown = familiarString(ref.digest ? { ...ref, tag: undefined } : ref);
    emit({
      status: upToDate ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}`,
    });
    ok = true;
    return { id, digest: resolved.digest, ref: tagRef };
  } finally {
    svc.unpin(chains);
    if (!ok) {
      await svc.gcIfIdle().catch(() => undefined);
      await svc
        .withLock(() => {
          const used = new Set(svc.all().flatMap((i) => (i.layerBlobs ?? []).map((b) => b?.digest)));
          for (const b of adopted) if (!used.has(b)) svc.content.delete(b);
        })
        .catch(() => undefined);
    }
  }
}

/** One layer: shared by concurrent pulls of the same chain id. */
function fetchLayer(
  svc: ImageService,
  client: RegistryClient,
  desc: Descriptor,
  diffId: string,
  parent: string | undefined,
  chain: string,
  emit: Emit,
  adopted: Adopted,
): Promise<LayerBlob> {
  const id = shortDigest(desc.digest);
  const running = inflight.get(chain);
  if (running) {
    emit(statusMessage('Waiting', id));
    return running.then((b) => {
      emit(statusMessage('Download complete', id));
      emit(statusMessage('Pull complete', id));
      return b;
    });
  }
  // the parent layer may still be extracting (concurrent fetches): this one is committed after it
  const parentPending = parent ? inflight.get(parent) : undefined;
  const p = downloadAndApply(svc, client, desc, diffId, parent, emit, parentPending)
    .then((b) => {
      adopted.push(b.digest);
      return b;
    })
    .finally(() => inflight.delete(chain));
  inflight.set(chain, p);
  return p;
}

async function downloadAndApply(
  svc: ImageService,
  client: RegistryClient,
  desc: Descriptor,
  diffId: string,
  parent: string | undefined,
  emit: Emit,
  parentPending?: Promise<unknown>,
): Promise<LayerBlob> {
  const id = shortDigest(desc.digest);
  const total = desc.size;
  let res: Readable;
  try {
    res = await client.blob(desc.digest);
  } catch (e) {
    throw new Internal(`failed to fetch layer ${desc.digest}: ${(e as Error).message}`);
  }
  const ingest = svc.content.begin();
  const diffHash = createHash('sha256');
  let received = 0;
  let lastEmit = 0;
  const kind: Compression = compressionOf(desc.mediaType);
  // The blob is kept as it arrives (for push and save) and extracted at the same time.
  const download = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      received += chunk.length;
      const now = Date.now();
      if (now - lastEmit > 100) {
        lastEmit = now;
        emit(progressMessage('Downloading', id, received, total));
      }
      ingest.append(chunk).then(() => cb(null, chunk), cb);
    },
    flush(cb) {
      if (received !== total && total > 0)
        return cb(
          new Internal(`failed to download layer ${desc.digest}: unexpected EOF (got ${received} of ${total} bytes)`),
        );
      emit(statusMessage('Verifying Checksum', id));
      if (ingest.digest() !== desc.digest)
        return cb(new Internal(`filesystem layer verification failed for digest ${desc.digest}`));
      emit(statusMessage('Download complete', id));
      emit(progressMessage('Extracting', id, total, total));
      cb();
    },
  });
  const hashDiff = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      diffHash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await svc.snapshots.applyWith(
      diffId,
      parent,
      async (mounts, idMap) => {
        const dec = decompressor(kind);
        const done = applyToMounts(hashDiff, mounts, idMap);
        await Promise.all([pipeline(res, download, dec, hashDiff), done]).catch((e) => {
          res.destroy();
          dec.destroy();
          hashDiff.destroy();
          throw e;
        });
        const gotDiff = 'sha256:' + diffHash.digest('hex');
        if (gotDiff !== diffId)
          throw new Internal(
            `failed to register layer: layer ${desc.digest}: diff id mismatch: expected ${diffId}, got ${gotDiff}`,
          );
        // the blob is verified: keep it for push/save (content store commit before the layer row;
        // fsynced, so a crash never leaves a damaged blob under its digest)
        await ingest.commit(desc.digest, total > 0 ? total : undefined);
      },
      { parentPending },
    );
  } catch (e) {
    ingest.abort();
    if (e instanceof EngineError) throw e;
    throw new Internal(`failed to pull layer ${desc.digest}: ${(e as Error).message}`);
  }
  emit(statusMessage('Pull complete', id));
  return { digest: desc.digest, mediaType: desc.mediaType, size: desc.size };
}

export type { Writable };
