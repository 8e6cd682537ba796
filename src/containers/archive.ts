// Container file copy (docker cp) as an engine service: stat, read (a tar of a path) and write (a
// tar extracted into a directory) of a path in a container, running or stopped; and docker export
// (the whole filesystem as a tar). Paths resolve
// inside the container's root (symlinks the way the container sees them, never leading out), or
// inside the host directory of the volume or bind the path lies in (src/containers/copytarget.ts).
// A running container may rename or swap entries while we copy (CVE-2018-15664): both directions
// go through directory fds opened one component at a time with O_NOFOLLOW (src/sys/saferoot.ts),
// so no step resolves a path the container can redirect; the container is not paused.
//
// Contract: every method takes a container reference and a cp path ('/a/b', 'a/b/' for "the
// directory", 'a/b/.' for "its content"). Errors: NotFound (container or path missing),
// InvalidArgument (PUT target not a directory, a refused or malformed tar entry), Forbidden (a
// read-only rootfs or volume), NotImplemented (a path on a tmpfs mount).
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { Forbidden, InvalidArgument, NotFound } from '../core/errors.js';
import { log } from '../core/log.js';
import { RootPathError } from '../sys/saferoot.js';
import { extractTarStream } from '../sys/tar/extract.js';
import {
  checkLocatedDir,
  locate,
  packLocated,
  packTree,
  statLocated,
  type Located,
  type RootStat,
} from '../sys/tar/pack.js';
import { COPY, LayerError } from '../sys/tar/rules.js';
import { ownerToContainer, type IdentityMapping } from '../core/idmap.js';
import type { VolumeService } from '../volumes/service.js';
import { copyTarget, type CopyTarget } from './copytarget.js';
import type { ContainerService } from './service.js';

/** What a cp path is: docker's X-Docker-Container-Path-Stat fields before encoding. */
export interface PathStat extends RootStat {}

/** A tar of a container path and the stat of that path (GET /containers/{id}/archive). */
export interface PathArchive {
  stat: PathStat;
  /** The tar; destroying it stops the walk and releases the container's root. */
  tar: Readable;
}

/** The copy operations the API's archive routes call. */
export interface ArchiveBackend {
  stat(ref: string, path: string): Promise<PathStat>;
  get(ref: string, path: string): Promise<PathArchive>;
  put(ref: string, path: string, tar: Readable): Promise<void>;
  /** docker export: the container's whole filesystem as a tar; destroying it releases the root. */
  export(ref: string): Promise<Readable>;
}

/** The top entry name of the tar GET writes for `path` (located final name `name`). Pure. */
export function archiveName(path: string, name: string): string {
  if (path.endsWith('/.')) return posix.basename(path.slice(0, -2)) || '.';
  return name || posix.basename(posix.normalize('/' + path)) || '.';
}

export class ContainerArchive implements ArchiveBackend {
  constructor(
    private readonly containers: ContainerService,
    private readonly volumes: VolumeService,
    /** --userns-remap: the daemon's id maps (files are stored shifted; tars carry the container's ids). */
    private readonly idMap?: IdentityMapping,
  ) {}

  async stat(ref: string, path: string): Promise<PathStat> {
    const { l, done } = await this.open(ref, path, path.endsWith('/'));
    try {
      return statOf(l, ref, path);
    } finally {
      await done();
    }
  }

  async get(ref: string, path: string): Promise<PathArchive> {
    const { l, done } = await this.open(ref, path, path.endsWith('/'));
    let tar: Readable;
    let stat: PathStat;
    try {
      stat = statOf(l, ref, path);
      const idMap = this.idMap;
      tar = packLocated(l, archiveName(path, l.name), { owner: idMap && ((u, g) => ownerToContainer(u, g, idMap)) });
    } catch (e) {
      await done();
      throw e;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      done().catch((e: Error) =>
        log.warn('cp: releasing the container root failed', { container: ref, error: e.message }),
      );
    };
    tar.once('end', release);
    tar.once('close', release);
    tar.once('error', release);
    return { stat, tar };
  }

  async put(ref: string, path: string, src: Readable): Promise<void> {
    const { l, t, done } = await this.open(ref, path, true);
    try {
      try {
        checkLocatedDir(l);
      } catch (e) {
        if (e instanceof RootPathError && e.code === 'ENOENT') throw notFound(ref, path);
        throw new InvalidArgument(`extraction point is not a directory`);
      }
      if (t.mount ? !t.mount.RW : this.containers.lookup(ref).hostConfig.ReadonlyRootfs)
        throw new Forbidden(t.mount ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
      try {
        await extractTarStream(src, t.dir, COPY, t.path, { idMap: this.idMap });
      } catch (e) {
        if (e instanceof LayerError) throw new InvalidArgument(e.message);
        throw e;
      }
    } finally {
      await done();
    }
  }

  async export(ref: string): Promise<Readable> {
    const root = await this.containers.exportRoot(ref);
    let tar: Readable;
    try {
      const idMap = this.idMap;
      tar = packTree(root.dir, { xattrs: true, owner: idMap && ((u, g) => ownerToContainer(u, g, idMap)) });
    } catch (e) {
      await root.release();
      throw e;
    }
    tar.once('close', () => {
      root
        .release()
        .catch((e: Error) =>
          log.warn('export: releasing the container root failed', { container: ref, error: e.message }),
        );
    });
    return tar;
  }

  /** The located path and its copy target; `done` closes the one and releases the other. */
  private async open(
    ref: string,
    path: string,
    followLast: boolean,
  ): Promise<{ l: Located; t: CopyTarget; done: () => Promise<void> }> {
    if (!path) throw new InvalidArgument('path is required');
    // a stopped container's root is mounted writable for reads too: one mount serves both directions
    const t = await copyTarget(this.containers, this.volumes, ref, path, true);
    let l: Located;
    try {
      l = locate(t.dir, t.path, followLast);
    } catch (e) {
      await t.release();
      if (e instanceof RootPathError) throw notFound(ref, path);
      throw e;
    }
    return {
      l,
      t,
      done: async () => {
        l.close();
        await t.release();
      },
    };
  }
}

function notFound(ref: string, path: string): NotFound {
  return new NotFound(`Could not find the file ${path} in container ${ref}`);
}

function statOf(l: Located, ref: string, path: string): PathStat {
  try {
    return statLocated(l);
  } catch {
    throw notFound(ref, path);
  }
}
