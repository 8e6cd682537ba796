// The engine's services, built once at daemon start and handed to every API room.
import type { DaemonConfig } from '../core/config.js';
import type { DB } from '../store/db.js';
import type { EventBus } from '../core/events.js';
import type { ImageService } from '../images/service.js';
import type { ImageOperations } from '../images/operations.js';
import type { ContainerService } from '../containers/service.js';
import type { ContainerOperations } from '../containers/operations.js';
import type { ExecService } from '../containers/exec.js';
import type { NetworkService } from '../network/service.js';
import type { VolumeService } from '../volumes/service.js';
import type { StatsService } from '../containers/stats.js';
import type { ArchiveBackend } from '../containers/archive.js';
import type { BuildOperations } from '../build/operations.js';

export interface Services {
  config: DaemonConfig;
  db: DB;
  events: EventBus;
  images: ImageService;
  /** The images room as the image routes call it. */
  imageOps: ImageOperations;
  containers: ContainerService;
  /** The containers room as the container routes call it. */
  containerOps: ContainerOperations;
  execs: ExecService;
  networks: NetworkService;
  volumes: VolumeService;
  stats: StatsService;
  archive: ArchiveBackend;
  /** The build room as the build and commit routes call it. */
  builds: BuildOperations;
  startedAt: Date;
}
