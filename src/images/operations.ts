// The images room as the API calls it: one method per image endpoint, so that a route handler only
// decodes the request, calls one of these and encodes the answer. List, inspect, history, tag, rmi,
// prune and import go to ImageService; pull, push, save and load (with the registry client and the
// tar code) are loaded on first use, so an idle daemon does not keep them in memory. Registry
// credentials come from the request's X-Registry-Auth, else the daemon user's config.json.
//
// Errors are the engine's typed errors (NotFound, InvalidArgument, Conflict, Unauthorized, ...);
// the API maps their kinds to status codes. Streaming methods report progress through `emit`
// (docker's JSON messages); an error before the first message is an ordinary error.
import type { Readable } from 'node:stream';
import type { DaemonConfig } from '../core/config.js';
import { InvalidArgument } from '../core/errors.js';
import { type Credentials, credentialsFor, decodeRegistryAuth } from '../registry/auth.js';
import type { Emit } from './progress.js';
import { familiarName, parseNormalized } from './reference.js';
import type { DeleteItem, ImageService, ImportOptions } from './service.js';

const pullModule = () => import('./pull.js');
const pushModule = () => import('./push.js');
const archiveModule = () => import('./archive.js');

export class ImageOperations {
  constructor(
    private readonly images: ImageService,
    private readonly config: Pick<DaemonConfig, 'insecureRegistries' | 'dataRoot'>,
  ) {}

  private registry() {
    return { insecure: this.config.insecureRegistries ?? [] };
  }

  list(o: { all: boolean; filters: Record<string, string[]> }): unknown[] {
    return this.images.list(o);
  }
  inspect(name: string): unknown {
    return this.images.inspect(name);
  }
  history(name: string): unknown {
    return this.images.history(name);
  }
  tag(name: string, repo: string, tag?: string): Promise<void> {
    return this.images.tag(name, repo, tag);
  }
  remove(name: string, force: boolean, noprune: boolean): Promise<DeleteItem[]> {
    return this.images.remove(name, force, noprune);
  }
  prune(filters: Record<string, string[]>): Promise<unknown> {
    return this.images.prune(filters);
  }

  /** docker import: the tar is `body` when fromSrc is '-', else downloaded from the URL fromSrc. */
  import(body: Readable, opts: ImportOptions & { fromSrc: string }): Promise<string> {
    return opts.fromSrc === '-' ? this.images.import(body, opts) : this.images.importUrl(opts.fromSrc, opts);
  }

  /** cocon's own: an image from the host's busybox-static. */
  bootstrap(image: string): Promise<string> {
    const ref = parseNormalized(image);
    if (familiarName(ref.name) !== 'busybox')
      throw new InvalidArgument(`cannot bootstrap ${image}: only busybox can be built from the host`);
    return this.images.bootstrapBusybox(image);
  }

  async pull(
    fromImage: string,
    o: { tag?: string; platform?: string; registryAuth?: string | string[] },
    emit: Emit,
  ): Promise<void> {
    const { pullImage, pullReference } = await pullModule();
    const ref = pullReference(fromImage, o.tag); // InvalidArgument on a bad reference, before any message
    const creds = decodeRegistryAuth(o.registryAuth) ?? credentialsFor(ref.domain);
    await pullImage(
      this.images,
      fromImage,
      { tag: o.tag, platform: o.platform, creds, registry: this.registry() },
      emit,
    );
  }

  /** A pull with credentials already chosen (build's FROM); the pulled image's id. */
  async pullWith(ref: string, creds: Credentials | undefined, emit: Emit): Promise<{ id: string }> {
    const { pullImage } = await pullModule();
    return pullImage(this.images, ref, { creds, registry: this.registry() }, emit);
  }

  async push(name: string, o: { tag?: string; registryAuth?: string | string[] }, emit: Emit): Promise<void> {
    const ref = parseNormalized(name);
    const { pushImage } = await pushModule();
    const creds = decodeRegistryAuth(o.registryAuth) ?? credentialsFor(ref.domain);
    await pushImage(this.images, name, o.tag, { creds, registry: this.registry() }, emit);
  }

  /** docker save: a docker-archive of the named images; NotFound before any byte. */
  async save(names: string[]): Promise<Readable> {
    const { saveImages } = await archiveModule();
    return saveImages(this.images, names);
  }

  /** docker load: a docker-archive or OCI layout from `body`. */
  async load(body: Readable, emit: Emit): Promise<void> {
    const { loadImages } = await archiveModule();
    await loadImages(this.images, body, this.config.dataRoot, emit);
  }
}
