// The container service: records and lifecycle (create -> start -> running -> exited -> removed),
// the state machine and restart policies, driven through conmon + runc.
//
// Contract (each method throws typed errors from core/errors.ts):
//   create(body, name)  -> record; NotFound (image), Conflict (name), InvalidArgument (config)
//   start(ref)          -> NotModified when running; InvalidArgument with runc's message when the
//                          process cannot start (exit code 127/126 recorded, like docker)
//   stop/kill/restart/remove/rename/pause/unpause, wait(ref, condition), attach, logs, top
// State lives in SQLite (one transaction per change) with an in-memory cache; conmon holds the
// containers, so the daemon can die and re-adopt them (reconcile()).
// Filesystem: each container has an active snapshot keyed by its id (src/snapshots), prepared on its
// image's top layer at create and removed with it; start mounts the snapshot's mounts on
// <data-root>/containers/<id>/rootfs. Containers made before the snapshotter have their upper and
// work dirs adopted by it where they are (see adoptLegacy()).
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  copyFileSync,
  type FSWatcher,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import os from 'node:os';
import type { Duplex, Readable } from 'node:stream';
import type { DaemonConfig } from '../core/config.js';
import type { DB } from '../store/db.js';
import type { EventBus } from '../core/events.js';
import type { ImageStore } from '../images/types.js';
import { Conflict, EngineError, Internal, InvalidArgument, NotFound, NotModified } from '../core/errors.js';
import { log } from '../core/log.js';
import { NO_TRACE, traceOp, type OpTrace } from '../core/trace.js';
import { RuncDriver } from '../runtime/runc.js';
import { createContainer, type ConmonPaths } from '../runtime/conmon.js';
import { AttachBridge, type AttachOptions } from '../runtime/attach.js';
import { buildSpec, type SpecMount } from '../runtime/spec.js';
import { containerEnv, containerUser, type ResolvedUser } from './user.js';
import { mountAll, unmount, type Mount } from '../sys/mount.js';
import type { Change, Snapshotter } from '../snapshots/snapshotter.js';
import { initialState, ZERO_TIME, type ContainerRecord } from './types.js';
import type { Health } from './healthcheck.js';
import { logDiskUsage } from './logfiles.js';
import {
  isoFromNs,
  mergeConfig,
  nowNano,
  randomName,
  restartDelay,
  signalNumber,
  validateName,
  type CreateBody,
} from './config.js';
import { hardNofile, capsOfDaemon, oomKills, swapAccounting } from '../sys/limits.js';
import { logSizeMax, storageSize, validateMemory } from './hostconfig.js';
import { planUpdate, resourceSpecInput, type UpdateBody } from './resources.js';
import { blockDevice, hostResources } from '../sys/cgroups.js';
import { applyPrivilegeDefaults, privilegeInputs } from './privileges.js';
import { describeDataRoot } from '../sys/storagefs.js';
import { alive } from '../sys/proc.js';
import { hostDevices } from '../sys/devices.js';
import { resolveInRoot } from '../sys/rootpath.js';
import { PRIVATE, privateDir, shareWithRemappedRoot, tighten } from '../sys/perms.js';
import { hostRoot } from '../core/idmap.js';
import { usesRemappedUserns } from './security.js';
import { NoNetwork, type ConnectResult, type ContainerDirectory, type NetworkHooks } from '../network/types.js';
import { hostsFile, resolvConf } from './etcfiles.js';
import { withInitLayer } from './initlayer.js';
import { normLink } from '../network/links.js';
import { hostResolvConf } from '../sys/net.js';
import type { VolumeService } from '../volumes/service.js';
import { containerMounts, fromContainer, type MountPoint, type MountRequest } from '../volumes/mounts.js';

/** Mount points the runtime creates in a container's filesystem (docker keeps them in an init layer). */
/** The kernel has IPv6 (a container with no network gets it off, as with dockerd: runtime/spec.ts hostIpv6). */
const HOST_IPV6 = existsSync('/proc/sys/net/ipv6');

const RUNTIME_PATHS = [
  '/etc/hostname',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/dev',
  '/proc',
  '/sys',
  '/dev/shm',
  '/dev/pts',
  '/dev/mqueue',
  '/dev/console',
  '/dev/init',
];

/** What the containers service needs of the snapshotter: the contract, and adoption of old layouts. */
export type ContainerSnapshots = Snapshotter & {
  adopt(key: string, parent: string | undefined, dirs: { upper: string; work: string }): void;
};

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
interface Waiter {
  condition: WaitCondition;
  resolve: (code: number) => void;
}

export interface ContainerPaths {
  data: (id: string) => string; // <data-root>/containers/<id>: rootfs (mount point), log, hosts...
  bundle: (id: string) => string; // <exec-root>/containers/<id>: config.json, conmon files
  exits: string;
  socks: string;
  runcRoot: string;
}

export class ContainerService implements ContainerDirectory {
  readonly runc: RuncDriver;
  readonly paths: ContainerPaths;
  readonly conmonPaths: ConmonPaths;
  private cache = new Map<string, ContainerRecord>();
  private waiters = new Map<string, Waiter[]>();
  private pendingAttach = new Map<string, Set<AttachBridge>>();
  private exiting = new Set<string>();
  /** Containers whose teardown() completed and that have not been started since. */
  private tornDown = new Set<string>();
  private busy = new Map<string, Promise<unknown>>();
  private timers = new Set<NodeJS.Timeout>();
  private watcher: FSWatcher | null = null;
  private id: string;
  constructor(
    private readonly config: DaemonConfig,
    private readonly db: DB,
    private readonly events: EventBus,
    private readonly images: ImageStore,
    private readonly volumes: VolumeService,
    private readonly snapshots: ContainerSnapshots,
    /** Networking hooks (src/network); without them, only --network none/host. */
    private readonly network: NetworkHooks = new NoNetwork(),
  ) {
    const ex = config.execRoot;
    this.paths = {
      data: (id) => join(config.dataRoot, 'containers', id),
      bundle: (id) => join(ex, 'containers', id),
      exits: join(ex, 'exits'),
      socks: join(ex, 's'),
      runcRoot: join(ex, 'runc'),
    };
    this.runc = new RuncDriver(config.runtimePath, this.paths.runcRoot);
    this.conmonPaths = {
      conmon: config.conmonPath,
      runtime: config.runtimePath,
      runtimeRoot: this.paths.runcRoot,
      socketDir: this.paths.socks,
    };
    // --userns-remap: the remapped root passes through containers/ to a container's rootfs (0710 root:<gid>)
    if (config.idMap) shareWithRemappedRoot(join(config.dataRoot, 'containers'), hostRoot(config.idMap).gid);
    else privateDir(join(config.dataRoot, 'containers'));
    for (const d of [join(ex, 'containers'), this.paths.exits, this.paths.socks, this.paths.runcRoot, join(ex, 't')])
      privateDir(d);
    const idFile = join(config.dataRoot, 'engine-id');
    if (!existsSync(idFile)) writeFileSync(idFile, randomBytes(16).toString('hex'), { mode: PRIVATE.file });
    this.id = readFileSync(idFile, 'utf8').trim();
    for (const row of db.prepare('SELECT record FROM containers').all() as Array<{ record: string }>) {
      const r = JSON.parse(row.record) as ContainerRecord;
      this.cache.set(r.id, r);
      // An older cocon made these 0755/0644 (its upper dir and rootfs keep their modes).
      if (!config.idMap) tighten(this.paths.data(r.id), PRIVATE.dir);
      tighten(this.logPath(r.id), PRIVATE.log);
      tighten(this.paths.bundle(r.id), PRIVATE.dir);
      tighten(join(this.paths.bundle(r.id), 'config.json'), PRIVATE.file);
    }
    this.adoptLegacy();
  }

  /**
   * Containers created before the snapshotter kept their writable layer in <data>/upper and
   * <data>/work: the snapshotter adopts those dirs where they are (nothing is copied or moved, so a
   * container still running from before keeps its mount). Their parent is the image's top layer, or
   * the layer a force-deleted image's hold kept.
   */
  private adoptLegacy(): void {
    for (const r of this.cache.values()) {
      const upper = join(this.paths.data(r.id), 'upper');
      try {
        this.snapshots.stat(r.id);
        continue;
      } catch (e) {
        if (!(e instanceof NotFound)) throw e;
      }
      if (!existsSync(upper)) continue;
      const parent = this.images.topLayer(r.imageId);
      if (parent === undefined) {
        log.warn('container layer not adopted: its image layers are unknown', { id: r.id, image: r.imageId });
        continue;
      }
      try {
        this.snapshots.adopt(r.id, parent ?? undefined, { upper, work: join(this.paths.data(r.id), 'work') });
        log.info('container layer adopted by the snapshotter', { id: r.id });
      } catch (e) {
        log.warn('container layer not adopted', { id: r.id, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  daemonId(): string {
    return this.id;
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    let running = 0,
      paused = 0;
    for (const r of this.cache.values()) {
      if (r.state.Status === 'paused') paused++;
      else if (r.state.Running) running++;
    }
    return { total: this.cache.size, running, paused, stopped: this.cache.size - running - paused };
  }

  usingImage(imageId: string): Array<{ id: string; running: boolean }> {
    return [...this.cache.values()]
      .filter((r) => r.imageId === imageId)
      .map((r) => ({ id: r.id, running: r.state.Running }));
  }

  all(): ContainerRecord[] {
    return [...this.cache.values()].sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** Finds a container by full id, name, or unique id prefix. */
  lookup(ref: string): ContainerRecord {
    const r = this.tryLookup(ref);
    if (!r) throw new NotFound(`No such container: ${ref}`);
    return r;
  }

  tryLookup(ref: string): ContainerRecord | null {
    const byId = this.cache.get(ref);
    if (byId) return byId;
    const name = ref.replace(/^\//, '');
    for (const r of this.cache.values()) if (r.name === name) return r;
    if (/^[0-9a-f]+$/.test(ref)) {
      const hits = [...this.cache.values()].filter((r) => r.id.startsWith(ref));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw new InvalidArgument(`Multiple IDs found with provided prefix: ${ref}`);
    }
    return null;
  }

  private save(r: ContainerRecord): void {
    this.db.prepare('UPDATE containers SET name = ?, record = ? WHERE id = ?').run(r.name, JSON.stringify(r), r.id);
    this.cache.set(r.id, r);
  }

  /** A container event with docker's attributes: its labels, image and name. */
  private publish(r: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('container', action, r.id, {
      ...r.config.Labels,
      image: r.config.Image,
      name: r.name,
      ...(r.hostConfig.Privileged ? { privileged: 'true' } : {}),
      ...extra,
    });
  }

  /** Serialises lifecycle operations on one container. */
  private async serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.busy.set(id, next);
    try {
      return await next;
    } finally {
      if (this.busy.get(id) === next) this.busy.delete(id);
    }
  }

  // ---- create ---------------------------------------------------------------------------------

  async create(body: CreateBody, requestedName: string | null): Promise<ContainerRecord> {
    const name = requestedName ? validateName(requestedName) : null;
    if (!body.Image) throw new InvalidArgument('Config cannot be empty in order to create a container');
    const image = this.images.get(body.Image);
    const id = randomBytes(32).toString('hex');
    const trace = traceOp('create', id);
    const wantsStorageOpt =
      Object.keys((body.HostConfig?.StorageOpt as Record<string, string> | null | undefined) ?? {}).length > 0;
    const merged = trace.phase('config', () =>
      mergeConfig(body, image, id, {
        swapLimit: swapAccounting(),
        resources: hostResources(),
        logDefaults: { Type: this.config.logDriver, Config: this.config.logOpts },
        ...(wantsStorageOpt ? { dataRootSize: describeDataRoot(this.config.dataRoot).size } : {}),
      }),
    );
    // Reject unknown capabilities and other spec errors now rather than at start.
    const draft: ContainerRecord = trace.phase('validate', () => {
      applyPrivilegeDefaults(merged.hostConfig, this.config);
      const d: ContainerRecord = { ...initialRecordFields(id, name ?? 'x', image.id, merged), state: initialState() };
      this.network.validate(d, body.NetworkingConfig);
      d.mounts = this.planMounts(d);
      this.specFor(d, { uid: 0, gid: 0, additionalGids: [] }, {});
      return d;
    });
    const insert = this.db.prepare(
      'INSERT INTO containers (id, name, image_id, created, record) VALUES (?, ?, ?, ?, ?)',
    );
    let rec: ContainerRecord | null = null;
    const tInsert = performance.now();
    for (let attempt = 0; !rec; attempt++) {
      const candidate: ContainerRecord = { ...draft, name: name ?? randomName(attempt) };
      try {
        insert.run(candidate.id, candidate.name, candidate.imageId, candidate.created, JSON.stringify(candidate));
        rec = candidate;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw e;
        if (name) {
          const holder = this.tryLookup(name);
          throw new Conflict(
            `Conflict. The container name "/${name}" is already in use by container "${holder?.id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        if (attempt > 20) throw e;
      }
    }
    trace.add('db', performance.now() - tInsert);
    const made: string[] = [];
    let prepared = false;
    try {
      const r = rec;
      trace.phase('files', () => this.prepareFiles(r));
      // The writable layer's quota: the container's --storage-opt size= (0: none), else the daemon's default.
      const opt = r.hostConfig.StorageOpt as Record<string, string> | null | undefined;
      const own = Object.keys(opt ?? {}).some((k) => k.toLowerCase() === 'size');
      const size = own ? storageSize(opt) : (this.config.defaultStorageSize ?? 0);
      await trace.phase('snapshot', () =>
        this.snapshots.prepare(r.id, image.chainIds[image.chainIds.length - 1], { size }),
      );
      prepared = true;
      if (r.mounts?.some((m) => m.Type === 'volume')) {
        await trace.phase('volumes', () => this.createVolumes(r, made));
        trace.phase('db', () =>
          this.db.prepare('UPDATE containers SET record = ? WHERE id = ?').run(JSON.stringify(r), r.id),
        );
      }
    } catch (e) {
      this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
      rmSync(this.paths.data(id), { recursive: true, force: true });
      if (prepared)
        await this.snapshots
          .remove(id)
          .catch((err: Error) => log.warn('snapshot remove failed', { id, error: err.message }));
      for (const v of made) await this.volumes.remove(v, true).catch(() => undefined);
      throw e;
    }
    this.cache.set(rec.id, rec);
    this.publish(rec, 'create');
    trace.end();
    return rec;
  }

  /** The container's mounts from -v, --mount, --tmpfs, --volumes-from and the image's VOLUMEs. */
  private planMounts(r: ContainerRecord): MountPoint[] {
    const from: MountPoint[] = [];
    for (const spec of (r.hostConfig.VolumesFrom as string[] | null | undefined) ?? []) {
      const other = this.lookup(spec.split(':')[0]);
      from.push(...fromContainer(spec, other.mounts ?? []));
    }
    const mounts = containerMounts({
      binds: r.hostConfig.Binds,
      mounts: r.hostConfig.Mounts as MountRequest[] | null | undefined,
      tmpfs: r.hostConfig.Tmpfs as Record<string, string> | null | undefined,
      imageVolumes: r.config.Volumes,
      volumesFrom: from,
    });
    for (const m of mounts) {
      if (m.Type === 'bind' && !m.createHostPath && !existsSync(m.Source))
        throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
    }
    return mounts;
  }

  /** Creates the named volumes that do not exist yet and the anonymous ones (names into `made`). */
  private async createVolumes(r: ContainerRecord, made: string[]): Promise<void> {
    for (const m of r.mounts ?? []) {
      if (m.Type !== 'volume') continue;
      if (m.Name && this.volumes.tryGet(m.Name)) continue;
      const v = await this.volumes.create(
        { Name: m.Name || undefined, Driver: m.Driver, DriverOpts: m.volumeOptions, Labels: m.volumeLabels },
        !m.Name,
      );
      made.push(v.name);
      m.Name = v.name;
    }
  }

  /** Users of a volume (for `volume rm` and prune). */
  usingVolume(name: string): Array<{ id: string; running: boolean }> {
    return [...this.cache.values()]
      .filter((r) => r.mounts?.some((m) => m.Type === 'volume' && m.Name === name))
      .map((r) => ({ id: r.id, running: r.state.Running }));
  }

  /** Makes every mount's source ready (volumes acquired and copied up, bind dirs created): OCI mounts. */
  private async prepareMounts(r: ContainerRecord, rootfs: string): Promise<SpecMount[]> {
    const out: SpecMount[] = [];
    const sorted = [...(r.mounts ?? [])].sort(
      (a, b) => a.Destination.split('/').length - b.Destination.split('/').length,
    );
    for (const m of sorted) {
      if (m.Type === 'tmpfs') {
        out.push({
          destination: m.Destination,
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'nodev', 'noexec', m.RW ? 'rw' : 'ro', ...(m.tmpfsOptions ?? [])],
        });
        continue;
      }
      let source = m.Source;
      if (m.Type === 'volume') {
        source = await this.volumes.acquire(m.Name!);
        // Resolved inside the container root: an image symlink must not copy host files in.
        if (m.copy) await this.volumes.copyUp(m.Name!, resolveInRoot(rootfs, m.Destination));
      } else if (!existsSync(source)) {
        if (!m.createHostPath)
          throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
        this.mkdirOwned(source, this.remappedRoot(r)); // dockerd: MkdirAllAndChownNew(source, 0755, root pair)
      }
      out.push({
        destination: m.Destination,
        type: 'bind',
        source,
        options: ['rbind', m.Propagation || 'rprivate', m.RW ? 'rw' : 'ro'],
      });
    }
    return out;
  }

  /** --userns-remap: the host uid and gid of the container's root when it runs in the remapped user namespace. */
  private remappedRoot(r: ContainerRecord): { uid: number; gid: number } | undefined {
    const idMap = this.config.idMap;
    return idMap && usesRemappedUserns(r.hostConfig.UsernsMode as string | undefined, true)
      ? hostRoot(idMap)
      : undefined;
  }

  /** mkdir -p inside a container's mounted rootfs (or a bind source); what it makes belongs to the container's root. */
  private mkdirOwned(path: string, owner: { uid: number; gid: number } | undefined): void {
    const made = mkdirSync(path, { recursive: true });
    if (!made || !owner) return;
    for (let p = path; p.length >= made.length; p = dirname(p)) chownSync(p, owner.uid, owner.gid);
  }

  private prepareFiles(r: ContainerRecord): void {
    const dir = this.paths.data(r.id);
    // --userns-remap: the remapped root passes through it to the rootfs mount point (dockerd: 0710 root:<gid>)
    if (this.config.idMap) shareWithRemappedRoot(dir, hostRoot(this.config.idMap).gid);
    else privateDir(dir);
    mkdirSync(join(dir, 'rootfs'), { recursive: true, mode: 0o700 });
    const host = r.hostConfig.NetworkMode === 'host';
    writeFileSync(join(dir, 'hostname'), (host ? os.hostname() : r.config.Hostname) + '\n');
    let hosts =
      host && existsSync('/etc/hosts')
        ? readFileSync('/etc/hosts', 'utf8')
        : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`;
    for (const e of r.hostConfig.ExtraHosts ?? []) {
      const [h, ip] = e.split(':');
      hosts += `${ip === 'host-gateway' ? '127.0.0.1' : e.slice(h.length + 1)}\t${h}\n`;
    }
    writeFileSync(join(dir, 'hosts'), hosts);
    if (existsSync('/etc/resolv.conf')) copyFileSync('/etc/resolv.conf', join(dir, 'resolv.conf'));
    else writeFileSync(join(dir, 'resolv.conf'), '');
    // hostname, hosts and resolv.conf stay 0644: they are bound into the container for its users.
    // Under --userns-remap they belong to the container's root, as docker's do.
    const owner = this.remappedRoot(r);
    if (owner) for (const f of ['hostname', 'hosts', 'resolv.conf']) chownSync(join(dir, f), owner.uid, owner.gid);
    if (r.hostConfig.LogConfig?.Type !== 'none') writeFileSync(join(dir, 'ctr.log'), '', { mode: PRIVATE.log });
  }

  // ---- start ----------------------------------------------------------------------------------

  start(ref: string): Promise<void> {
    const r0 = this.lookup(ref);
    return this.serial(r0.id, () => this.startLocked(r0.id));
  }

  private async startLocked(id: string): Promise<void> {
    const r = this.cache.get(id);
    if (!r) throw new NotFound(`No such container: ${id}`);
    if (r.state.Status === 'paused') throw new Conflict(`cannot start a paused container, try unpause instead`);
    if (r.state.Running) throw new NotModified();
    if (r.state.Status === 'removing' || r.state.Dead)
      throw new Conflict(`container is marked for removal and cannot be started`);
    const trace = traceOp('start', id);
    this.tornDown.delete(id);
    const dir = this.paths.data(id);
    const bundle = this.paths.bundle(id);
    const rootfs = join(dir, 'rootfs');
    try {
      trace.phase('bundle', () => {
        rmSync(bundle, { recursive: true, force: true });
        privateDir(bundle);
        privateDir(this.tmpDir(id));
        rmSync(join(this.paths.exits, id), { force: true });
      });
      // The root filesystem (then what needs it: the user, the working dir, volume copy-up) and the
      // network namespace do not depend on each other: they are made at the same time. Both settle
      // before a failure is handled, so failStart's teardown never races a half-made one.
      const [fs, network] = await Promise.allSettled([
        (async () => {
          await trace.phase('mount', async () => {
            await unmount(rootfs);
            await mountAll(
              withInitLayer(await this.snapshots.mounts(id), join(dir, 'init'), this.remappedRoot(r)),
              rootfs,
            );
          });
          const user = trace.phase('user', () => this.userIn(id, r.config.User));
          this.mkdirOwned(join(rootfs, r.config.WorkingDir || '/'), this.remappedRoot(r));
          const extraMounts = await trace.phase('volumes', () => this.prepareMounts(r, rootfs));
          return { user, extraMounts };
        })(),
        trace.phase('network', () => this.network.connect(r)),
      ]);
      if (fs.status === 'rejected') throw fs.reason;
      if (network.status === 'rejected') throw network.reason;
      const { user, extraMounts } = fs.value;
      const net = network.value;
      trace.phase('spec', () => {
        if (net.files) {
          const files = net.files;
          writeFileSync(join(dir, 'hosts'), hostsFile(r, files));
          writeFileSync(join(dir, 'resolv.conf'), resolvConf(r, files.dnsServer, hostResolvConf()));
        }
        const spec = this.specFor(r, user, net, extraMounts);
        const [rows, cols] = r.hostConfig.ConsoleSize ?? [0, 0];
        if (r.config.Tty && rows > 0 && cols > 0) spec.process.consoleSize = { height: rows, width: cols };
        writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec), { mode: PRIVATE.file });
      });
    } catch (e) {
      // Recorded like a runtime failure (exit code, error; --rm removes it): the docker CLI's
      // `run --rm` waits for that removal after a failed start.
      await this.failStart(r, e instanceof Error ? e.message : String(e));
      throw e instanceof EngineError ? e : new Internal(e instanceof Error ? e.message : String(e));
    }
    let pid: number;
    try {
      ({ pid } = await trace.phase('conmon-create', () =>
        createContainer(this.conmonPaths, {
          id,
          uuid: id.slice(0, 32),
          name: r.name,
          bundle,
          logPath: join(dir, 'ctr.log'),
          exitDir: this.paths.exits,
          tty: r.config.Tty,
          stdin: r.config.OpenStdin,
          leaveStdinOpen: r.config.OpenStdin && (r.config.Tty || !r.config.StdinOnce), // docker never closes a tty's stdin on detach
          tmpDir: this.tmpDir(id),
          noLog: r.hostConfig.LogConfig?.Type === 'none',
          logSizeMax: logSizeMax(r.hostConfig) || undefined,
        }),
      ));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      await this.failStart(r, msg);
      throw new InvalidArgument(msg);
    }
    const attachPath = this.attachPath(id);
    await trace.phase('attach', async () => {
      for (const b of this.pendingAttach.get(id) ?? [])
        await b.connect(attachPath).catch((err: Error) => log.warn('attach failed', { id, error: err.message }));
    });
    this.pendingAttach.delete(id);
    const startedAt = nowNano();
    try {
      await trace.phase('runc-start', () => this.runc.start(id, pid));
    } catch (e) {
      await this.runc.kill(id, 'KILL').catch(() => undefined);
      const msg = e instanceof Error ? e.message : String(e);
      await this.failStart(r, msg);
      throw new InvalidArgument(msg);
    }
    r.state = {
      ...r.state,
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: startedAt,
      FinishedAt: r.state.FinishedAt,
      OOMKilled: false,
      Dead: false,
    };
    r.conmonPid = Number(readIfExists(join(bundle, 'conmon.pid')) ?? 0);
    r.manuallyStopped = false;
    trace.phase('db', () => this.save(r));
    this.publish(r, 'start');
    trace.end();
    // The process may have exited before the exit file watcher saw the container as running.
    if (existsSync(join(this.paths.exits, id))) void this.handleExit(id);
  }

  /** conmon's console socket dir: short, because unix socket paths are limited to 108 bytes. */
  private tmpDir(id: string): string {
    return join(this.config.execRoot, 't', id.slice(0, 16));
  }

  private specFor(
    r: ContainerRecord,
    user: { uid: number; gid: number; additionalGids: number[] },
    net: ConnectResult,
    extraMounts: SpecMount[] = [],
  ) {
    const dir = this.paths.data(r.id);
    const hc = r.hostConfig;
    // Volumes first: the container's own /etc files go on top of a volume mounted over /etc.
    const mounts: SpecMount[] = [
      ...extraMounts,
      {
        destination: '/etc/resolv.conf',
        source: join(dir, 'resolv.conf'),
        type: 'bind',
        options: ['rbind', 'rprivate'],
      },
      { destination: '/etc/hostname', source: join(dir, 'hostname'), type: 'bind', options: ['rbind', 'rprivate'] },
      { destination: '/etc/hosts', source: join(dir, 'hosts'), type: 'bind', options: ['rbind', 'rprivate'] },
    ];
    const hostname = r.hostConfig.NetworkMode === 'host' ? os.hostname() : r.config.Hostname;
    const remapped = this.remappedRoot(r) && this.config.idMap && this.config.usernsPath;
    const env = containerEnv({
      imageEnv: [],
      userEnv: [...(net.env ?? []), ...r.config.Env],
      hostname,
      tty: r.config.Tty,
    });
    return buildSpec({
      args: [r.path, ...r.args],
      env,
      cwd: r.config.WorkingDir || '/',
      user,
      terminal: r.config.Tty,
      hostname,
      rootfsPath: join(dir, 'rootfs'),
      readonlyRootfs: hc.ReadonlyRootfs,
      privileged: hc.Privileged,
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      networkMode: hc.NetworkMode === 'host' ? 'host' : net.netnsPath ? 'netns' : 'none',
      netnsPath: net.netnsPath,
      hostIpv6: HOST_IPV6,
      ...(remapped ? { userns: { path: this.config.usernsPath!, idMap: this.config.idMap! } } : {}),
      initPath: hc.Init ? initBinary() : undefined,
      mounts,
      cgroupsPath: `/cocon/${r.id}`,
      rlimitNofileHard: hardNofile(),
      ulimits: hc.Ulimits ?? undefined,
      sysctls: hc.Sysctls ?? undefined,
      ...resourceSpecInput(hc, blockDevice),
      ...privilegeInputs(hc, capsOfDaemon()),
      availableCaps: capsOfDaemon(),
      hostDevices: hc.Privileged ? hostDevices() : undefined,
    });
  }

  /** Records a start failure as docker does: exit code 127 (not found), 126 (not executable) or 128. */
  private async failStart(r: ContainerRecord, msg: string): Promise<void> {
    await this.teardown(r.id);
    const code = /executable file not found|no such file or directory/i.test(msg)
      ? 127
      : /permission denied|is a directory/i.test(msg)
        ? 126
        : 128;
    r.state = {
      ...r.state,
      Status: r.state.StartedAt === ZERO_TIME ? 'created' : 'exited',
      Running: false,
      Pid: 0,
      ExitCode: code,
      Error: msg,
      FinishedAt: nowNano(),
    };
    if (r.state.StartedAt !== ZERO_TIME || r.hostConfig.AutoRemove) r.state.Status = 'exited';
    this.save(r);
    for (const b of this.pendingAttach.get(r.id) ?? []) b.endClient();
    this.pendingAttach.delete(r.id);
    this.notify(r.id, ['next-exit', 'not-running'], code);
    if (r.hostConfig.AutoRemove) await this.destroy(r.id);
  }

  /**
   * Releases everything a (re)start set up: runc state, rootfs mount, bundle and socket link. When
   * all of it went, the container is marked torn down until its next start, so that removing it
   * right after its exit (--rm) does not run the runtime and umount a second time.
   */
  private async teardown(id: string, trace: OpTrace = NO_TRACE): Promise<void> {
    if (this.tornDown.has(id)) return;
    const r = this.cache.get(id);
    let clean = true;
    const failed =
      (what: string, extra: Record<string, unknown> = {}) =>
      (e: Error) => {
        clean = false;
        log.warn(`${what} failed`, { id, ...extra, error: e.message });
      };
    await Promise.all([
      r
        ? trace.phase('net-disconnect', () => this.network.disconnect(r).catch(failed('network disconnect')))
        : undefined,
      trace.phase('runc-delete', () => this.runc.deleteExited(id).catch(failed('runc delete'))),
      trace.phase('unmount', () => unmount(join(this.paths.data(id), 'rootfs')).catch(failed('unmount'))),
    ]);
    for (const m of r?.mounts ?? []) {
      if (m.Type === 'volume' && m.Name)
        await this.volumes.release(m.Name, id).catch(failed('volume release', { volume: m.Name }));
    }
    rmSync(this.paths.bundle(id), { recursive: true, force: true });
    rmSync(this.tmpDir(id), { recursive: true, force: true });
    rmSync(join(this.paths.socks, id.slice(0, 32)), { force: true });
    rmSync(join(this.paths.exits, id), { force: true });
    if (clean) this.tornDown.add(id);
  }

  // ---- exit -----------------------------------------------------------------------------------

  private watchExits(): void {
    this.watcher = watch(this.paths.exits, (_ev, file) => {
      if (file && this.cache.has(file.toString())) void this.handleExit(file.toString());
    });
    this.watcher.on('error', (e) => log.error('exit watcher failed', { error: e.message }));
    // Safety net: conmon killed (no exit file ever) or a missed notification.
    const t = setInterval(() => {
      for (const r of this.cache.values()) {
        if (!r.state.Running || this.exiting.has(r.id) || this.busy.has(r.id)) continue;
        if (existsSync(join(this.paths.exits, r.id))) void this.handleExit(r.id);
        else if (r.conmonPid && !alive(r.conmonPid)) void this.handleExit(r.id);
      }
    }, 2000);
    t.unref();
    this.timers.add(t);
  }

  /** Records the exit of a container whose exit file appeared (or whose conmon vanished). */
  private async handleExit(id: string): Promise<void> {
    if (this.exiting.has(id)) return;
    const r = this.cache.get(id);
    if (!r?.state.Running) return;
    const exitFile = join(this.paths.exits, id);
    const text = readIfExists(exitFile);
    // File times are jiffy-coarse: never report an end before the start.
    let finishedAt = text !== null ? exitTime(exitFile) : nowNano();
    if (Date.parse(finishedAt) < Date.parse(r.state.StartedAt)) finishedAt = r.state.StartedAt;
    if (text === null && r.conmonPid && alive(r.conmonPid)) return;
    this.exiting.add(id);
    const trace = traceOp('exit', id);
    // How long after conmon wrote the exit file the daemon got to it (watcher latency).
    if (text !== null) trace.add('notice', Math.max(0, Date.now() - Date.parse(finishedAt)));
    try {
      let code: number;
      if (text !== null && text.trim() !== '') code = Number(text.trim());
      else {
        // conmon is gone and left no exit file: the container is unmonitored; stop it.
        log.warn('conmon exited without an exit file; killing the container', { id });
        await this.runc.kill(id, 'KILL').catch(() => undefined);
        code = 137;
      }
      // The kernel counts OOM kills in the memory cgroup, which runc deletes in teardown.
      const oom = trace.phase('oom', () => oomKills(`/cocon/${id}`) > 0);
      await trace.phase('teardown', () => this.teardown(id, trace));
      if (oom) this.publish(r, 'oom');
      r.state = {
        ...r.state,
        Status: 'exited',
        Running: false,
        Paused: false,
        Restarting: false,
        Pid: 0,
        ExitCode: code,
        OOMKilled: oom,
        FinishedAt: finishedAt,
      };
      r.conmonPid = 0;
      trace.phase('db', () => this.save(r));
      this.publish(r, 'die', { exitCode: String(code) });
      this.notify(id, ['next-exit', 'not-running'], code);
      trace.end();
      if (r.hostConfig.AutoRemove) {
        await this.destroy(id);
        return;
      }
      const delay = restartDelay(r.hostConfig.RestartPolicy, code, r.restartCount, r.manuallyStopped);
      if (delay !== null) this.scheduleRestart(r, delay);
    } finally {
      this.exiting.delete(id);
    }
  }

  private scheduleRestart(r: ContainerRecord, delay: number): void {
    r.state = { ...r.state, Status: 'restarting', Restarting: true };
    this.save(r);
    const t = setTimeout(() => {
      this.timers.delete(t);
      // Serialised with stop/rm: a stop that came while waiting wins, and is seen here.
      this.serial(r.id, async () => {
        const cur = this.cache.get(r.id);
        if (cur?.state.Status !== 'restarting' || cur.manuallyStopped) return;
        cur.restartCount++;
        this.save(cur);
        this.publish(cur, 'restart');
        await this.startLocked(cur.id);
      }).catch((e: Error) => {
        log.warn('restart failed', { id: r.id, error: e.message });
        const again = this.cache.get(r.id);
        if (!again || again.manuallyStopped) return;
        const d = restartDelay(
          again.hostConfig.RestartPolicy,
          again.state.ExitCode || 1,
          again.restartCount,
          again.manuallyStopped,
        );
        if (d !== null) this.scheduleRestart(again, d);
      });
    }, delay);
    this.timers.add(t);
  }

  private notify(id: string, conditions: WaitCondition[], code: number): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep = list.filter((w) => {
      if (conditions.includes(w.condition)) {
        w.resolve(code);
        return false;
      }
      return true;
    });
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  /** Resolves with the exit code when the condition holds (docker's /wait). */
  wait(ref: string, condition: WaitCondition): { promise: Promise<number>; cancel: () => void } {
    const r = this.lookup(ref);
    if (condition === 'not-running' && !r.state.Running && r.state.Status !== 'restarting')
      return { promise: Promise.resolve(r.state.ExitCode), cancel: () => {} };
    let w!: Waiter;
    const promise = new Promise<number>((resolve) => {
      w = { condition, resolve };
    });
    this.addWaiter(r.id, w);
    return { promise, cancel: () => this.dropWaiter(r.id, w) };
  }

  private addWaiter(id: string, w: Waiter): void {
    const list = this.waiters.get(id) ?? [];
    list.push(w);
    this.waiters.set(id, list);
  }

  private dropWaiter(id: string, w: Waiter): void {
    const l = this.waiters.get(id);
    const i = l ? l.indexOf(w) : -1;
    if (i >= 0) l!.splice(i, 1);
  }

  // ---- stop / kill / restart / remove ------------------------------------------------------------

  private waitExit(id: string, ms: number): Promise<boolean> {
    const r = this.cache.get(id);
    if (!r?.state.Running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = {
        condition: 'next-exit',
        resolve: () => {
          clearTimeout(t);
          resolve(true);
        },
      };
      const t = setTimeout(
        () => {
          this.dropWaiter(id, w);
          resolve(false);
        },
        ms < 0 ? 2 ** 31 - 1 : ms,
      );
      this.addWaiter(id, w);
    });
  }

  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    const r = this.lookup(ref);
    if (r.state.Status === 'restarting') {
      // Waiting to restart: cancel it (after any start already under way, which then gets stopped).
      r.manuallyStopped = true;
      const cancelled = await this.serial(r.id, async () => {
        if (r.state.Status !== 'restarting') return false;
        r.state = { ...r.state, Status: 'exited', Restarting: false };
        this.save(r);
        return true;
      });
      if (cancelled) return;
    }
    if (!r.state.Running) throw new NotModified();
    r.manuallyStopped = true;
    this.save(r);
    const sig = signal ?? r.config.StopSignal ?? 'SIGTERM';
    const signo = signalNumber(sig);
    const t = timeoutSec ?? r.config.StopTimeout ?? 10;
    if (r.state.Paused) await this.runc.resume(r.id).catch(() => undefined);
    await this.runc.kill(r.id, String(signo)).catch(() => undefined);
    if (await this.waitExit(r.id, t * 1000)) return;
    log.info('container did not stop in time; killing it', { id: r.id, timeout: t });
    await this.runc.kill(r.id, 'KILL').catch(() => undefined);
    if (!(await this.waitExit(r.id, 30_000)))
      throw new Internal(`cannot stop container ${ref}: it did not exit after SIGKILL`);
  }

  async kill(ref: string, signal = 'KILL'): Promise<void> {
    const r = this.lookup(ref);
    const sig = signalNumber(signal);
    if (!r.state.Running) throw new Conflict(`Cannot kill container: ${ref}: Container ${r.id} is not running`);
    if (sig === 9 || sig === signalNumber(r.config.StopSignal ?? 'SIGTERM')) {
      r.manuallyStopped = true;
      this.save(r);
    }
    if (r.state.Paused && sig === 9) await this.runc.resume(r.id).catch(() => undefined);
    await this.runc.kill(r.id, String(sig)).catch((e: Error) => {
      throw new Internal(`Cannot kill container: ${ref}: ${e.message}`);
    });
    if (sig === 9) await this.waitExit(r.id, 10_000);
  }

  async restart(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    const r = this.lookup(ref);
    if (r.state.Running)
      await this.stop(ref, timeoutSec, signal).catch((e) => {
        if (!(e instanceof NotModified)) throw e;
      });
    await this.start(r.id).catch((e) => {
      if (!(e instanceof NotModified)) throw e;
    });
  }

  async pause(ref: string): Promise<void> {
    const r = this.lookup(ref);
    if (!r.state.Running) throw new Conflict(`Container ${r.id} is not running`);
    if (r.state.Paused) throw new Conflict(`Container ${r.id} is already paused`);
    await this.runc.pause(r.id);
    r.state = { ...r.state, Status: 'paused', Paused: true };
    this.save(r);
    this.publish(r, 'pause');
  }

  async unpause(ref: string): Promise<void> {
    const r = this.lookup(ref);
    if (!r.state.Paused) throw new Conflict(`Container ${r.id} is not paused`);
    await this.runc.resume(r.id);
    r.state = { ...r.state, Status: 'running', Paused: false };
    this.save(r);
    this.publish(r, 'unpause');
  }

  async remove(ref: string, force: boolean, removeVolumes = false): Promise<void> {
    const r = this.lookup(ref);
    if (r.state.Running || r.state.Status === 'restarting') {
      if (!force)
        throw new Conflict(
          `You cannot remove a running container ${r.id}. Stop the container before attempting removal or force remove`,
        );
      r.manuallyStopped = true;
      this.save(r);
      if (r.state.Running) {
        if (r.state.Paused) await this.runc.resume(r.id).catch(() => undefined);
        await this.runc.kill(r.id, 'KILL').catch(() => undefined);
        if (!(await this.waitExit(r.id, 15_000))) await this.handleExit(r.id);
      }
    }
    if (!this.cache.has(r.id)) return; // AutoRemove got there first
    await this.serial(r.id, () => this.destroy(r.id, removeVolumes));
  }

  private async destroy(id: string, removeVolumes = false): Promise<void> {
    const r = this.cache.get(id);
    if (!r) return;
    const trace = traceOp('remove', id);
    r.state = { ...r.state, Status: 'removing' };
    await trace.phase('teardown', () => this.teardown(id));
    // Independent once the container is torn down: its endpoints, its layer, its files.
    await Promise.all([
      trace.phase('network', () =>
        this.network.remove(r).catch((e: Error) => log.warn('network remove failed', { id, error: e.message })),
      ),
      trace.phase('files', () => rm(this.paths.data(id), { recursive: true, force: true })),
      trace.phase('snapshot', () =>
        this.snapshots.remove(id).catch((e: Error) => {
          if (!(e instanceof NotFound)) log.warn('snapshot remove failed', { id, error: e.message });
        }),
      ),
    ]);
    trace.phase('db', () => this.db.prepare('DELETE FROM containers WHERE id = ?').run(id));
    this.cache.delete(id);
    this.tornDown.delete(id);
    // rm -v and --rm remove the container's anonymous volumes (not named ones), unless shared.
    if (removeVolumes || r.hostConfig.AutoRemove) {
      for (const m of r.mounts ?? []) {
        if (m.Type !== 'volume' || !m.anonymous || !m.Name) continue;
        await this.volumes
          .remove(m.Name, false)
          .catch((e: Error) => log.info('anonymous volume kept', { volume: m.Name, reason: e.message }));
      }
    }
    this.publish(r, 'destroy');
    trace.end();
    // Layers of an image deleted (rmi -f) while this container used it can go now.
    if (!this.images.byId(r.imageId))
      void this.images.gcLayers().catch((e: Error) => log.warn('layer gc failed', { error: e.message }));
    this.notify(id, ['next-exit', 'not-running', 'removed'], r.state.ExitCode);
  }

  /**
   * docker update: resource limits and the restart policy. A running container's cgroup is changed
   * first (runc update), then the record; a refused or failed change leaves both as they were.
   */
  async update(ref: string, body: UpdateBody): Promise<string[]> {
    const r0 = this.lookup(ref);
    return this.serial(r0.id, async () => {
      const r = this.cache.get(r0.id);
      if (!r) throw new NotFound(`No such container: ${ref}`);
      const plan = planUpdate(r.hostConfig, body, hostResources(), r.id, (hc) =>
        validateMemory(hc, { swapLimit: swapAccounting() }),
      );
      if (plan.runc && (r.state.Running || r.state.Paused)) {
        await this.runc.update(r.id, plan.runc).catch((e: Error) => {
          throw new Internal(`Cannot update container ${r.id}: ${e.message}`);
        });
      }
      r.hostConfig = plan.hostConfig;
      this.save(r);
      this.publish(r, 'update');
      return [];
    });
  }

  rename(ref: string, newName: string): void {
    const r = this.lookup(ref);
    const name = validateName(newName);
    if (name === r.name) throw new InvalidArgument(`Renaming a container with the same name as its current name`);
    const holder = this.tryLookup(name);
    if (holder && holder.name === name)
      throw new Conflict(
        `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    const old = r.name;
    r.name = name;
    this.save(r);
    this.publish(r, 'rename', { oldName: '/' + old });
  }

  /** docker rm --link PARENT/ALIAS: container PARENT loses its legacy link ALIAS (NotFound when it has none). */
  async removeLink(ref: string): Promise<void> {
    const name = ref.replace(/^\/+/, '');
    const i = name.lastIndexOf('/');
    if (i < 0) throw new Conflict('Conflict, cannot remove the default link name of the container');
    const parent = this.tryLookup(name.slice(0, i));
    if (!parent) throw new NotFound(`No such container: ${name}`);
    const alias = name.slice(i + 1);
    const links = (parent.hostConfig.Links as string[] | null | undefined) ?? [];
    const keep = links.filter((l) => normLink(l).split(':')[1] !== alias);
    if (keep.length === links.length) throw new NotFound(`No such container: ${name}`);
    parent.hostConfig.Links = keep.length ? keep : null;
    this.save(parent);
    await this.network.unlink(parent, alias);
  }

  /** A running container joined one more network (POST /networks/{id}/connect): best effort on its hosts and resolv.conf. */
  joinedNetwork(id: string, change: { address: string; dnsServer?: string }): void {
    const r = this.cache.get(id);
    if (!r) return;
    const dir = this.paths.data(id);
    try {
      if (existsSync(join(dir, 'hosts')))
        appendFileSync(join(dir, 'hosts'), `${change.address}\t${r.config.Hostname}\n`);
      if (change.dnsServer && existsSync(join(dir, 'resolv.conf')))
        writeFileSync(join(dir, 'resolv.conf'), resolvConf(r, change.dnsServer, hostResolvConf()));
    } catch (e) {
      log.warn('container files not updated for a new network', { id, error: (e as Error).message });
    }
  }

  // ---- streams ------------------------------------------------------------------------------------

  /** `-u` resolved against the container's own /etc/passwd and /etc/group (rootfs mounted). */
  userIn(id: string, spec: string): ResolvedUser {
    const rootfs = join(this.paths.data(id), 'rootfs');
    return containerUser(
      spec,
      readIfExists(join(rootfs, 'etc/passwd')),
      readIfExists(join(rootfs, 'etc/group')),
      (this.cache.get(id)?.hostConfig.GroupAdd as string[] | null | undefined) ?? [],
    );
  }

  attachPath(id: string): string {
    return join(this.paths.socks, id.slice(0, 32), 'attach');
  }

  /** Attaches a hijacked client connection; connects now if running, else at the next start. */
  /** `detachKeys` (detachKeysFor) are watched for on a tty container's stdin, as dockerd does. */
  async attach(ref: string, client: Duplex, opts: Omit<AttachOptions, 'tty'>): Promise<AttachBridge> {
    const r = this.lookup(ref);
    const bridge = new AttachBridge(client, {
      ...opts,
      tty: r.config.Tty,
      stdin: opts.stdin && r.config.OpenStdin,
      detachKeys: r.config.Tty ? opts.detachKeys : undefined,
    });
    if (r.state.Running && !this.busy.has(r.id)) {
      await bridge.connect(this.attachPath(r.id)).catch(() => bridge.endClient());
    } else {
      const set = this.pendingAttach.get(r.id) ?? new Set();
      set.add(bridge);
      this.pendingAttach.set(r.id, set);
      void bridge.done.then(() => set.delete(bridge));
    }
    return bridge;
  }

  resize(ref: string, h: number, w: number): void {
    const r = this.lookup(ref);
    if (!r.state.Running) throw new Conflict(`Container ${r.id} is not running`);
    if (!r.config.Tty) return;
    writeFileSync(join(this.paths.bundle(r.id), 'ctl'), `1 ${h} ${w}\n`);
  }

  /** The health monitor's result (containers/health.ts): stored; a new Status is docker's health_status event. */
  setHealth(id: string, health: Health, changed: boolean): void {
    const r = this.cache.get(id);
    if (!r?.state.Running) return;
    const before = r.state.Health;
    r.state = { ...r.state, Health: health };
    // Written to the store when Status or FailingStreak moves; the probe log alone stays in the
    // cache (inspect reads it) until then: a probe a second must not be a write a second.
    if (!before || changed || before.FailingStreak !== health.FailingStreak) this.save(r);
    if (changed) this.publish(r, `health_status: ${health.Status}`);
  }

  /** Bytes the container holds on disk: its writable layer and its log files (prune's SpaceReclaimed). */
  async diskUsage(id: string): Promise<number> {
    return (await this.sizeRw(id)) + logDiskUsage(this.paths.data(id));
  }

  logPath(id: string): string {
    return join(this.paths.data(id), 'ctr.log');
  }
  /** Whether --memory-swap can be enforced on this host (docker info's SwapLimit). */
  swapLimit(): boolean {
    return swapAccounting();
  }

  /**
   * The container's filesystem for `export`: its mounted rootfs when running, else a read-only
   * overlay of its upper dir on the image layers, mounted for the caller; call release() after.
   */
  async exportRoot(ref: string, writable = false): Promise<{ dir: string; release: () => Promise<void> }> {
    const r = this.lookup(ref);
    const rootfs = join(this.paths.data(r.id), 'rootfs');
    if (r.state.Running) return { dir: rootfs, release: async () => undefined };
    const dir = join(this.config.execRoot, 't', 'x' + randomBytes(6).toString('hex'));
    privateDir(dir);
    try {
      // docker cp into a stopped container writes to its snapshot, as a start would.
      if (writable) await this.serial(r.id, async () => mountAll(await this.snapshots.mounts(r.id), dir));
      else await mountAll(await this.snapshots.mounts(r.id, { readonly: true }), dir);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      dir,
      release: async () => {
        await unmount(dir);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** The container's changes as an uncompressed layer tar (commit, build), without the runtime's mount points. */
  async layer(ref: string): Promise<Readable> {
    const r = this.lookup(ref);
    return this.snapshots.diff(r.id, { hide: [...RUNTIME_PATHS, ...(r.mounts ?? []).map((m) => m.Destination)] });
  }

  /** docker diff: what the container changed, without the mount points the runtime and its mounts add. */
  async changes(ref: string): Promise<Change[]> {
    const r = this.lookup(ref);
    return this.snapshots.changes(r.id, { hide: [...RUNTIME_PATHS, ...(r.mounts ?? []).map((m) => m.Destination)] });
  }

  /** Bytes the container wrote (docker's SizeRw). */
  async sizeRw(id: string): Promise<number> {
    return (await this.snapshots.usage(id).catch(() => ({ size: 0 }))).size;
  }

  /** inspect's GraphDriver.Data, read from the snapshot's mounts (overlay2's field names). */
  async graphDriver(id: string): Promise<Record<string, string>> {
    let mounts: Mount[] = [];
    try {
      mounts = await this.snapshots.mounts(id);
    } catch {
      /* no snapshot (a broken record) */
    }
    const data: Record<string, string> = { MergedDir: join(this.paths.data(id), 'rootfs') };
    for (const m of mounts) {
      if (m.type === 'bind') data.UpperDir = m.source;
      for (const o of m.options) {
        const [k, v] = [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)];
        if (k === 'lowerdir') data.LowerDir = v;
        else if (k === 'upperdir') data.UpperDir = v;
        else if (k === 'workdir') data.WorkDir = v;
      }
    }
    return data;
  }

  async top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const r = this.lookup(ref);
    if (!r.state.Running) throw new Conflict(`Container ${r.id} is not running`);
    const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
    const out = await this.runc.ps(r.id, args).catch((e: Error) => {
      throw new Internal(e.message);
    });
    const lines = out.split('\n').filter((l) => l.trim());
    if (!lines.length) return { Titles: [], Processes: [] };
    const titles = lines[0].trim().split(/\s+/);
    const processes = lines.slice(1).map((l) => {
      const parts = l.trim().split(/\s+/);
      return [...parts.slice(0, titles.length - 1), parts.slice(titles.length - 1).join(' ')];
    });
    return { Titles: titles, Processes: processes };
  }

  // ---- daemon lifecycle ------------------------------------------------------------------------------

  /** Brings records in line with what really runs: re-adopts live containers, records exits. */
  async reconcile(): Promise<void> {
    this.watchExits();
    for (const r of [...this.cache.values()]) {
      if (r.state.Status === 'removing') {
        await this.destroy(r.id);
        continue;
      }
      if (r.state.Running) {
        const exitFile = join(this.paths.exits, r.id);
        if (existsSync(exitFile) || !r.conmonPid || !alive(r.conmonPid)) await this.handleExit(r.id);
        else log.info('re-adopted running container', { id: r.id, pid: r.state.Pid });
        continue;
      }
      if (r.state.Status === 'restarting') this.scheduleRestart(r, 0);
    }
  }

  async shutdown(): Promise<void> {
    this.watcher?.close();
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    for (const set of this.pendingAttach.values()) for (const b of set) b.endClient();
    await Promise.allSettled([...this.busy.values()]);
  }
}

function initialRecordFields(
  id: string,
  name: string,
  imageId: string,
  m: ReturnType<typeof mergeConfig>,
): Omit<ContainerRecord, 'state'> {
  return {
    id,
    name,
    created: nowNano(),
    imageId,
    path: m.path,
    args: m.args,
    config: m.config,
    hostConfig: m.hostConfig,
    restartCount: 0,
    manuallyStopped: false,
    conmonPid: 0,
  };
}

function readIfExists(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

/** When conmon wrote the exit file: the real end of the container, even if the daemon was down. */
function exitTime(path: string): string {
  try {
    return isoFromNs(statSync(path, { bigint: true }).mtimeNs);
  } catch {
    return nowNano();
  }
}

function initBinary(): string | undefined {
  for (const p of ['/usr/libexec/docker/docker-init', '/usr/bin/tini-static', '/usr/bin/tini', '/sbin/tini'])
    if (existsSync(p)) return p;
  throw new InvalidArgument('--init needs an init binary on the host: apt-get install tini');
}
