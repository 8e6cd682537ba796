// The image service's contract, as the rest of the engine sees it. Implementation: ./service.ts.
// Lifecycle: an image is created (bootstrap, import, later pull/load) from layers that are ingested
// into the content store and applied as snapshot directories; it is named by tags; it is removed
// (rmi) when no container uses it, or with force.

/** docker's image/container Healthcheck (durations in nanoseconds; 0 = inherit / default). */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` part of an OCI/Docker image configuration (what `docker inspect` shows as Config). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  OnBuild?: string[];
  Healthcheck?: HealthConfig;
}

/** One entry of the image configuration's history (OCI image-spec). */
export interface ImageHistory {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageRecord {
  id: string; // "sha256:<hex>": the digest of the image configuration blob
  created: string; // RFC3339
  architecture: string; // "amd64"
  os: string; // "linux"
  config: ImageConfig;
  diffIds: string[]; // uncompressed layer digests, bottom layer first
  chainIds: string[]; // chain ids, bottom layer first (snapshot keys)
  size: number; // bytes of all layers, unpacked
  comment?: string;
  author?: string;
  parent?: string; // "sha256:<hex>" of the parent image (builds); absent for imports
  history?: ImageHistory[];
  lastTagTime?: string; // RFC3339, when a tag last pointed here (inspect's Metadata.LastTagTime)
  layerSizes?: number[]; // unpacked size of each layer, bottom first (history sizes)
  /** The distributable blob of each layer, bottom first (compressed as pulled or as first pushed); null = not known yet. */
  layerBlobs?: Array<LayerBlob | null>;
  /** Built images: the step's layer cache key (src/build/instructions.ts cacheKey), looked up under `parent`. */
  buildCacheKey?: string;
}

/** A layer as a registry blob: digest and size of the (compressed) bytes and their media type. */
export interface LayerBlob {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ImageStore {
  /** Resolves a reference (name[:tag], name@digest, full or short image id). Throws NotFound("No such image: <ref>"). */
  get(ref: string): ImageRecord;
  /**
   * The chain id of an image's top layer (what a container's snapshot is prepared on): of the image
   * record, or of the hold a force-deleted image in use left; null: no layers; undefined: unknown.
   */
  topLayer(imageId: string): string | null | undefined;
  /** Tags pointing at an image, as "repo:tag" in docker's familiar form (busybox:latest). */
  repoTags(imageId: string): string[];
  /** The image with this exact id, if it is still recorded. */
  byId(id: string): ImageRecord | undefined;
  /** Removes layers no image (nor a container of a deleted image) needs any more. */
  gcLayers(): Promise<string[]>;
}
