// The builder's backend on the real engine: images from the image service, RUN/COPY containers from
// the containers service (the same create/attach/start/wait/remove path as `docker run`), layers from
// the container's snapshot diff. Also `docker commit` (POST /commit), which is the same
// "container changes -> new image" step with the container's config, --change lines, message and author.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { mountAll, unmount } from '../sys/mount.js';
import { privateDir } from '../sys/perms.js';
import { Conflict, InvalidArgument } from '../core/errors.js';
import type { Emit } from '../images/progress.js';
import type { ImageService } from '../images/service.js';
import type { ImageConfig, ImageRecord } from '../images/types.js';
import { applyChanges } from '../images/changes.js';
import { refString, targetReference } from '../images/reference.js';
import type { ContainerService } from '../containers/service.js';
import type { BuildBackend } from './builder.js';
import { sinkDuplex } from './builder.js';

/** How the engine pulls a FROM / --from image that is not here (the API passes its registry settings). */
export type Puller = (ref: string, emit: Emit) => Promise<ImageRecord>;

/** `tmpRoot`: context and download dirs (data root); `mountRoot`: where image views are mounted (exec root). */
export function engineBackend(
  images: ImageService,
  containers: ContainerService,
  tmpRoot: string,
  mountRoot: string,
  pull: Puller,
): BuildBackend {
  return {
    tmpRoot,
    idMap: images.snapshots.idMap,
    image: (ref) => images.get(ref),
    pull,
    cached: (parentId, key) => images.buildCache(parentId, key),
    commit: (o) => images.commitImage(o),
    tag: (id, name) => images.tagImage(id, name),
    createContainer: async (body) => (await containers.create(body, null)).id,
    async runContainer(id, out, cancel) {
      const bridge = await containers.attach(id, sinkDuplex(out), { stdin: false, stdout: true, stderr: true });
      const w = containers.wait(id, 'next-exit');
      const kill = () => {
        void containers.kill(id, 'KILL').catch(() => undefined);
      };
      try {
        await containers.start(id);
      } catch (e) {
        w.cancel();
        bridge.close();
        throw e;
      }
      // a cancel that came while the container was starting found nothing to kill yet
      if (cancel.aborted) kill();
      else cancel.addEventListener('abort', kill, { once: true });
      const code = await w.promise.finally(() => cancel.removeEventListener('abort', kill));
      // the output still in flight arrives before the attach socket closes
      await Promise.race([bridge.done, new Promise((r) => setTimeout(r, 2000))]);
      return code;
    },
    async killContainer(id) {
      await containers.kill(id, 'KILL');
    },
    async removeContainer(id) {
      await containers.remove(id, true, true);
    },
    mountContainer: (id, writable) => containers.exportRoot(id, writable),
    async mountImage(img) {
      // a read-only view of the image's layers (COPY --from): no container needed
      const key = 'build-view-' + randomBytes(8).toString('hex');
      const dir = privateDir(join(mountRoot, 'v' + randomBytes(6).toString('hex')));
      try {
        await mountAll(await images.snapshots.view(key, img.chainIds[img.chainIds.length - 1]), dir);
      } catch (e) {
        await images.snapshots.remove(key).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      return {
        dir,
        release: async () => {
          await unmount(dir);
          await images.snapshots.remove(key);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    containerLayer: (id) => containers.layer(id),
  };
}

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  changes: string[];
  /** The request body's container config (docker commit's API takes one), merged over the container's. */
  config?: Partial<ImageConfig>;
}

/**
 * The image-config fields of a container config (Env, Cmd, ...), without empty values: the commit's
 * starting point is the container's own config; a request body's config (the CLI sends every field,
 * mostly empty) is taken the same way with empty arrays dropped too, so it only overrides what it sets.
 */
export function pickImageConfig(c: Record<string, unknown>, o: { dropEmptyArrays?: boolean } = {}): ImageConfig {
  const out: ImageConfig = {};
  const keys = [
    'Env',
    'Cmd',
    'Entrypoint',
    'WorkingDir',
    'User',
    'ExposedPorts',
    'Volumes',
    'Labels',
    'StopSignal',
    'OnBuild',
    'Healthcheck',
  ] as const;
  for (const k of keys) {
    const v = c[k];
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && v.length === 0 && o.dropEmptyArrays) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** POST /commit: a new image from a container's changes. Returns the image id. */
export async function commitContainer(
  images: ImageService,
  containers: ContainerService,
  o: CommitOptions,
): Promise<string> {
  const r = containers.lookup(o.container);
  if (!o.repo && o.tag) throw new InvalidArgument('tag is specified without a repository');
  const target = o.repo ? targetReference(o.repo, o.tag) : undefined;
  const parent = images.byId(r.imageId);
  if (!parent)
    throw new Conflict(`the image of container ${r.id.slice(0, 12)} was deleted: cannot commit on top of it`);
  const base = { ...pickImageConfig(r.config as unknown as Record<string, unknown>), ...(o.config ?? {}) };
  const config = applyChanges(base, o.changes);
  const createdBy = [r.path, ...r.args].join(' ');
  const pause = o.pause && r.state.Running && !r.state.Paused;
  if (pause) await containers.pause(r.id);
  let id: string;
  try {
    const layer: Readable = await containers.layer(r.id);
    id = await images.commitImage({
      parent,
      layer,
      config,
      createdBy,
      comment: o.comment || undefined,
      author: o.author || undefined,
    });
  } finally {
    if (pause) await containers.unpause(r.id).catch(() => undefined);
  }
  if (target) await images.tagImage(id, refString(target));
  return id;
}
