// The build room as the API calls it: one method per endpoint (POST /build, POST /commit,
// POST /build/prune), so the route handlers only decode the request, call one of these and encode
// the answer. The builder, its engine backend and pull are loaded on first use: an idle daemon does
// not hold them. FROM pulls take the request's X-Registry-Config credentials for the image's
// registry, else the daemon user's config.json (as ImageOperations' pull does).
//
// Errors are the engine's typed errors; a failed RUN (StepFailed, with its exit code) and a build
// cancelled by its client (BuildCancelled) are told apart by failure().
import type { Readable } from 'node:stream';
import type { DaemonConfig } from '../core/config.js';
import type { ContainerService } from '../containers/service.js';
import type { ImageOperations } from '../images/operations.js';
import type { JsonMessage } from '../images/progress.js';
import { parseNormalized } from '../images/reference.js';
import type { ImageService } from '../images/service.js';
import { type Credentials, credentialsFor } from '../registry/auth.js';
import type { BuildOptions } from './builder.js';
import type { CommitOptions } from './engine.js';

const builderModule = () => import('./builder.js');
const engineModule = () => import('./engine.js');

/** What POST /commit takes: the query's options and the body's container config (any shape). */
export type CommitRequest = Omit<CommitOptions, 'config'> & { body: Record<string, unknown> };

export class BuildOperations {
  constructor(
    private readonly images: ImageService,
    private readonly imageOps: ImageOperations,
    private readonly containers: ContainerService,
    private readonly config: Pick<DaemonConfig, 'dataRoot' | 'execRoot'>,
  ) {}

  /**
   * Builds the context tar `context` with `opts`, reporting through `emit`; resolves when the build
   * ended. `cancel` aborted (the client went away) cancels it: its RUN container is killed and removed,
   * and the promise rejects with BuildCancelled.
   */
  async build(
    context: Readable,
    opts: BuildOptions,
    creds: Record<string, Credentials>,
    emit: (m: JsonMessage) => void,
    cancel: AbortSignal,
  ): Promise<void> {
    const [{ Builder }, { engineBackend }] = await Promise.all([builderModule(), engineModule()]);
    const backend = engineBackend(
      this.images,
      this.containers,
      this.config.dataRoot,
      `${this.config.execRoot}/t`,
      async (ref, e) => {
        const { id } = await this.imageOps.pullWith(ref, registryCredentials(creds, ref), e);
        return this.images.get(id);
      },
    );
    const builder = new Builder(backend, opts, emit);
    const onAbort = () => void builder.cancel();
    cancel.addEventListener('abort', onAbort);
    try {
      if (cancel.aborted) onAbort();
      await builder.run(context);
    } finally {
      cancel.removeEventListener('abort', onAbort);
    }
  }

  /** docker commit: a new image from a container's changes; the body's non-empty config fields override. */
  async commit(o: CommitRequest): Promise<string> {
    const { commitContainer, pickImageConfig } = await engineModule();
    const { body, ...rest } = o;
    return commitContainer(this.images, this.containers, {
      ...rest,
      config: pickImageConfig(body, { dropEmptyArrays: true }),
    });
  }

  /** How a build() rejection reads: cancelled by its client, or failed (with a RUN's exit code). */
  async failure(e: unknown): Promise<{ cancelled: boolean; code?: number }> {
    const { StepFailed, BuildCancelled } = await builderModule();
    return { cancelled: e instanceof BuildCancelled, code: e instanceof StepFailed ? e.code : undefined };
  }

  /** The build cache: intermediate images no tag needs. */
  async prune(): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const out = await this.images.prune({ dangling: ['true'] });
    return {
      CachesDeleted: (out.ImagesDeleted ?? []).map((d) => ('Deleted' in d ? d.Deleted : d.Untagged)),
      SpaceReclaimed: out.SpaceReclaimed,
    };
  }
}

/** X-Registry-Config's entry for the image's registry (docker.io also under its legacy key), else config.json. */
export function registryCredentials(creds: Record<string, Credentials>, ref: string): Credentials | undefined {
  const domain = parseNormalized(ref).domain;
  return (
    creds[domain] ??
    (domain === 'docker.io' ? creds['https://index.docker.io/v1/'] : undefined) ??
    credentialsFor(domain)
  );
}
