// Push (POST /images/{name}/push?tag=): for each layer of the image, the blob that represents it in
// registries (kept from pull, or produced once by gzipping the stored layer tar and then recorded on
// the image), checked with HEAD, mounted from another repository of the same registry that holds it
// (known from the image records' repo digests), or uploaded; then the config blob and the manifest
// (Docker schema 2, or OCI when a layer's media type is OCI-only). Progress as dockerd writes it.
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Internal, NotFound } from '../core/errors.js';
import { sha256Digest } from '../content/store.js';
import { MEDIA, RegistryClient, type RegistryOptions } from '../registry/client.js';
import type { Credentials } from '../registry/auth.js';
import { familiarName, familiarString, parse, parseNormalized, refString } from './reference.js';
import type { ImageService } from './service.js';
import type { ImageRecord, LayerBlob } from './types.js';
import { progressMessage, shortDigest, statusMessage, type Emit } from './progress.js';

export interface PushOptions {
  creds?: Credentials;
  registry?: RegistryOptions;
}

/** The distributable blob of each layer; gzips and records the ones not known yet. */
async function layerBlobs(svc: ImageService, img: ImageRecord): Promise<LayerBlob[]> {
  const blobs = [...(img.layerBlobs ?? img.diffIds.map(() => null))];
  let changed = false;
  for (let i = 0; i < img.diffIds.length; i++) {
    const b = blobs[i];
    if (b && svc.content.exists(b.digest)) continue;
    const diffId = img.diffIds[i];
    if (!svc.content.exists(diffId)) throw new Internal(`layer ${diffId} of ${img.id} has no stored blob to push`);
    const w = svc.content.begin();
    try {
      await w.write(svc.content.read(diffId).pipe(createGzip()));
    } catch (e) {
      w.abort();
      throw e;
    }
    const c = await w.commit();
    blobs[i] = { digest: c.digest, mediaType: MEDIA.dockerLayerGzip, size: c.size };
    changed = true;
  }
  if (changed) await svc.withLock(() => svc.setLayerBlobs(img.id, blobs));
  return blobs as LayerBlob[];
}

function ociLayerType(mt: string): string {
  if (mt === MEDIA.dockerLayerGzip) return MEDIA.ociLayerGzip;
  if (mt === MEDIA.dockerLayer) return MEDIA.ociLayer;
  return mt;
}

/** Builds the manifest: Docker schema 2 when every layer type has a Docker name, else OCI. */
export function buildManifest(
  config: { digest: string; size: number },
  layers: LayerBlob[],
  forceOci = false,
): { bytes: Buffer; mediaType: string } {
  const dockerTypes = new Set<string>([MEDIA.dockerLayerGzip, MEDIA.dockerLayer, MEDIA.dockerForeign]);
  const oci = forceOci || layers.some((l) => !dockerTypes.has(l.mediaType));
  const m = oci
    ? {
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
      }
    : {
        schemaVersion: 2,
        mediaType: MEDIA.dockerManifest,
        config: { mediaType: MEDIA.dockerConfig, size: config.size, digest: config.digest },
        layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
      };
  return { bytes: Buffer.from(JSON.stringify(m, null, 3)), mediaType: oci ? MEDIA.ociManifest : MEDIA.dockerManifest };
}

/** Repositories (paths) of the same registry that hold a blob, from the images' repo digests. */
function mountSources(svc: ImageService, domain: string, path: string, digest: string): string[] {
  const out = new Set<string>();
  for (const img of svc.all()) {
    if (!(img.layerBlobs ?? []).some((b) => b?.digest === digest)) continue;
    for (const r of svc.refs(img.id)) {
      const p = parse(r);
      if (p.digest && p.domain === domain && p.path !== path) out.add(p.path);
    }
  }
  return [...out];
}

/** Pushes one tag (or every tag of the repository when tag is empty). Emits from the start. */
export async function pushImage(
  svc: ImageService,
  name: string,
  tag: string | undefined,
  opts: PushOptions,
  emit: Emit,
): Promise<void> {
  const ref = parseNormalized(name);
  const repo = ref.name;
  emit({ status: `The push refers to repository [${familiarName(repo)}]` });
  let tags: string[];
  if (tag || ref.tag) tags = [tag || ref.tag!];
  else {
    tags = svc
      .all()
      .flatMap((i) => svc.refs(i.id))
      .map((r) => parse(r))
      .filter((p) => p.name === repo && p.tag !== undefined)
      .map((p) => p.tag!)
      .sort();
  }
  const targets: Array<{ tag: string; img: ImageRecord }> = [];
  for (const t of tags) {
    const id = svc.idOfRef(refString({ ...ref, tag: t, digest: undefined }));
    const img = id ? svc.byId(id) : undefined;
    if (img) targets.push({ tag: t, img });
  }
  if (!targets.length || targets.length < tags.length)
    throw new NotFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
  const client = new RegistryClient(ref.domain, ref.path, opts.creds, opts.registry);
  for (const { tag: t, img } of targets) {
    const blobs = await layerBlobs(svc, img);
    const ids = img.diffIds.map((d) => shortDigest(d));
    for (const id of [...ids].reverse()) emit(statusMessage('Preparing', id));
    await Promise.all(
      blobs.map(async (b, i) => {
        const id = ids[i];
        if (await client.blobExists(b.digest)) {
          emit(statusMessage('Layer already exists', id));
          return;
        }
        for (const from of mountSources(svc, ref.domain, ref.path, b.digest)) {
          if (await client.mount(b.digest, from).catch(() => false)) {
            emit(statusMessage('Mounted from ' + from, id));
            return;
          }
        }
        let sent = 0;
        let last = 0;
        await client.upload(b.digest, b.size, () =>
          svc.content.read(b.digest, { highWaterMark: 1 << 20 }).pipe(
            new Transform({
              transform(chunk: Buffer, _e, cb) {
                sent += chunk.length;
                const now = Date.now();
                if (now - last > 100 || sent === b.size) {
                  last = now;
                  emit(progressMessage('Pushing', id, sent, b.size));
                }
                cb(null, chunk);
              },
            }),
          ),
        );
        emit(statusMessage('Pushed', id));
      }),
    );
    const configBytes = svc.content.readBytes(img.id);
    if (!(await client.blobExists(img.id)))
      await client.upload(img.id, configBytes.length, () => svc.content.read(img.id));
    const m = buildManifest({ digest: img.id, size: configBytes.length }, blobs);
    await client.putManifest(t, m.bytes, m.mediaType);
    const digest = sha256Digest(m.bytes);
    await svc.withLock(() => {
      const dref = refString({ ...ref, tag: undefined, digest });
      if (svc.idOfRef(dref) !== img.id) svc.addRef(dref, img.id);
    });
    svc.imageEvent('push', familiarString({ ...ref, tag: t, digest: undefined }), familiarName(repo));
    emit({ status: `${t}: digest: ${digest} size: ${m.bytes.length}` });
    emit({ progressDetail: {}, aux: { Tag: t, Digest: digest, Size: m.bytes.length } });
  }
}
