// The containers room as the API calls it: one method per container endpoint, so that a route
// handler only decodes the request, calls one of these and encodes the answer. Docker's list
// filters, the ps summary and inspect shapes, logs (with follow), attach with the log replay, prune
// and export are engine work and live here; lifecycle calls go straight to ContainerService. What
// the views need from other rooms (image lookups, network settings, volume paths, exec ids, the
// export tar) comes through small interfaces given to the constructor.
//
// Errors are the engine's typed errors (NotFound, InvalidArgument, Conflict, NotModified,
// NotImplemented); the API maps their kinds to status codes.
import { readFileSync } from 'node:fs';
import type { Duplex, Readable } from 'node:stream';
import { InvalidArgument, NotImplemented, NotModified } from '../core/errors.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../runtime/spec.js';
import { boolFilter, labelsMatch, portFilterKeys, pruneFilter, prunes } from '../core/filters.js';
import { normLink } from '../network/links.js';
import type { NetworkHooks } from '../network/types.js';
import { ALL_CAPABILITIES } from '../runtime/caps.js';
import { K8sFileParser, encodeEntry, parseTail } from '../runtime/logformat.js';
import type { Change } from '../snapshots/snapshotter.js';
import { type CreateBody, statusLine } from './config.js';
import { checkHealthFilter, healthFilterValue } from './healthcheck.js';
import { openLogStream } from './logstream.js';
import { privilegedWarning } from './security.js';
import type { ContainerService, WaitCondition } from './service.js';
import type { ContainerRecord } from './types.js';

/** What the container views need from the other rooms. */
export interface ContainerViewDeps {
  images: { get(ref: string): { id: string } };
  networks: Pick<NetworkHooks, 'settings'>;
  volumes: { mountpoint(name: string): string };
  execs: { idsOf(containerId: string): string[] | null };
  archive: { export(ref: string): Promise<Readable> };
}

export interface ListOptions {
  all: boolean;
  /** >0: the newest `limit` containers, stopped ones included (docker's `limit` and `latest`). */
  limit: number;
  filters: Map<string, string[]>;
}

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  tail: string | null;
  since?: string;
  until?: string;
}

export interface AttachRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: number[];
  /** Replay what the container wrote so far first (attach?logs=1). */
  logs: boolean;
  /** Stay attached (attach?stream=1); without it the connection ends after the replay. */
  stream: boolean;
}

export interface PruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** ps's Command: not shell quoting, docker's display rule (an argument holding a space goes in '...'). */
function commandOf(r: ContainerRecord): string {
  return [r.path, ...r.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** attach?logs=1: what the container wrote so far, framed as the attach stream is. */
function attachLogs(path: string, o: { stdout: boolean; stderr: boolean }, tty: boolean): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
  const p = new K8sFileParser();
  const entries = [...p.push(raw), ...p.end()].filter((e) => (e.stream === 'stdout' ? o.stdout : o.stderr));
  return Buffer.concat(entries.map((e) => encodeEntry(e, { timestamps: false, tty })));
}

export class ContainerOperations {
  constructor(
    private readonly c: ContainerService,
    private readonly d: ContainerViewDeps,
  ) {}

  async create(body: CreateBody, name: string | null): Promise<{ Id: string; Warnings: string[] }> {
    const rec = await this.c.create(body, name);
    return { Id: rec.id, Warnings: rec.hostConfig.Privileged ? [privilegedWarning(ALL_CAPABILITIES)] : [] };
  }

  /** GET /containers/json: running ones unless `all`, `limit` or a status filter says otherwise; newest first. */
  list(o: ListOptions): Array<Record<string, unknown>> {
    const everyone = o.all || o.limit > 0 || o.filters.has('status') || o.filters.has('exited');
    let list = this.c
      .all()
      .filter((x) => everyone || x.state.Running || x.state.Status === 'restarting')
      .filter((x) => this.matches(x, o.filters));
    if (o.limit > 0) list = list.slice(0, o.limit);
    return list.map((x) => this.summary(x));
  }

  private matches(r: ContainerRecord, f: Map<string, string[]>): boolean {
    for (const [key, values] of f) {
      if (!values.length) continue;
      const any = (pred: (v: string) => boolean) => values.some(pred);
      switch (key) {
        case 'name':
          if (!any((v) => new RegExp(v.replace(/^\//, '')).test(r.name))) return false;
          break;
        case 'id':
          if (!any((v) => r.id.startsWith(v))) return false;
          break;
        case 'status':
          for (const v of values) if (!STATUSES.includes(v)) throw new InvalidArgument(`invalid filter 'status=${v}'`);
          if (!any((v) => r.state.Status === v)) return false;
          break;
        case 'label':
          if (!labelsMatch(r.config.Labels, f)) return false;
          break; // all labels must hold
        case 'ancestor':
          if (
            !any((v) => {
              if (r.config.Image === v) return true;
              try {
                return this.d.images.get(v).id === r.imageId;
              } catch {
                return false;
              }
            })
          )
            return false;
          break;
        case 'exited':
          if (r.state.Status !== 'exited' || !any((v) => Number(v) === r.state.ExitCode)) return false;
          break;
        case 'before':
        case 'since': {
          const ref = this.c.tryLookup(values[0]);
          if (!ref) throw new InvalidArgument(`No such container: ${values[0]}`);
          if (key === 'before' ? r.created >= ref.created : r.created <= ref.created) return false;
          break;
        }
        case 'network': {
          // a network's name or id
          const nets = (this.d.networks.settings(r).networkSettings.Networks ?? {}) as Record<
            string,
            { NetworkID?: string }
          >;
          if (!any((v) => Object.entries(nets).some(([n, e]) => n === v || (!!e.NetworkID && e.NetworkID === v))))
            return false;
          break;
        }
        case 'volume':
          if (!any((v) => (r.mounts ?? []).some((m) => m.Name === v || m.Destination === v))) return false;
          break;
        case 'publish':
        case 'expose': {
          const keys = portFilterKeys(key, values);
          const have = Object.keys((key === 'publish' ? r.hostConfig.PortBindings : r.config.ExposedPorts) ?? {});
          if (!have.some((k) => keys.has(k.includes('/') ? k : `${k}/tcp`))) return false;
          break;
        }
        case 'is-task':
          if (boolFilter(key, values) === true) return false;
          break; // no swarm tasks here
        case 'health':
          values.forEach(checkHealthFilter);
          if (!any((v) => healthFilterValue(r.state.Health) === v)) return false;
          break;
        case 'isolation':
          break;
        default:
          throw new InvalidArgument(`invalid filter '${key}'`);
      }
    }
    return true;
  }

  /** Mounts as docker's inspect shows them. */
  private mountsOf(r: ContainerRecord): Array<Record<string, unknown>> {
    return (r.mounts ?? []).map((m) =>
      m.Type === 'volume'
        ? {
            Type: 'volume',
            Name: m.Name,
            Source: this.d.volumes.mountpoint(m.Name ?? ''),
            Destination: m.Destination,
            Driver: m.Driver ?? 'local',
            Mode: m.Mode,
            RW: m.RW,
            Propagation: '',
          }
        : {
            Type: m.Type,
            Source: m.Source,
            Destination: m.Destination,
            Mode: m.Mode,
            RW: m.RW,
            Propagation: m.Type === 'bind' ? m.Propagation : '',
          },
    );
  }

  /** A container as `docker ps` (GET /containers/json) shows it. */
  summary(r: ContainerRecord): Record<string, unknown> {
    const net = this.d.networks.settings(r);
    return {
      Id: r.id,
      Names: ['/' + r.name],
      Image: r.config.Image,
      ImageID: r.imageId,
      Command: commandOf(r),
      Created: Math.floor(Date.parse(r.created) / 1000),
      Ports: net.ports,
      Labels: r.config.Labels ?? {},
      State: r.state.Status,
      Status: statusLine(r.state),
      HostConfig: { NetworkMode: r.hostConfig.NetworkMode },
      NetworkSettings: { Networks: net.networkSettings.Networks },
      Mounts: this.mountsOf(r),
    };
  }

  /** GET /containers/{id}/json. */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    const r = this.c.lookup(ref);
    const data = this.c.paths.data(r.id);
    const graph = await this.c.graphDriver(r.id);
    return {
      Id: r.id,
      Created: r.created,
      Path: r.path,
      Args: r.args,
      State: r.state,
      Image: r.imageId,
      ResolvConfPath: `${data}/resolv.conf`,
      HostnamePath: `${data}/hostname`,
      HostsPath: `${data}/hosts`,
      LogPath: r.hostConfig.LogConfig?.Type === 'none' ? '' : `${data}/ctr.log`,
      Name: '/' + r.name,
      RestartCount: r.restartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: this.d.execs.idsOf(r.id),
      HostConfig: {
        Binds: null,
        ContainerIDFile: '',
        LogConfig: { Type: 'json-file', Config: {} },
        PortBindings: {},
        VolumeDriver: '',
        VolumesFrom: null,
        CapAdd: null,
        CapDrop: null,
        CgroupnsMode: 'host',
        Dns: [],
        DnsOptions: [],
        DnsSearch: [],
        ExtraHosts: null,
        GroupAdd: null,
        IpcMode: 'private',
        Cgroup: '',
        OomScoreAdj: 0,
        PidMode: '',
        PublishAllPorts: false,
        SecurityOpt: null,
        UTSMode: '',
        UsernsMode: '',
        ShmSize: 67108864,
        ConsoleSize: [0, 0],
        Isolation: '',
        CpuShares: 0,
        Memory: 0,
        NanoCpus: 0,
        CgroupParent: '',
        PidsLimit: null,
        Ulimits: [],
        Init: null,
        Devices: [],
        ...r.hostConfig,
        // docker shows legacy links as "/target:/self/alias" (the record keeps "target:alias")
        Links: Array.isArray(r.hostConfig.Links)
          ? (r.hostConfig.Links as string[]).map((l) => {
              const [target, alias] = normLink(l).split(':');
              return `/${target}:/${r.name}/${alias}`;
            })
          : (r.hostConfig.Links ?? null),
        MaskedPaths: r.hostConfig.Privileged ? [] : DEFAULT_MASKED_PATHS,
        ReadonlyPaths: r.hostConfig.Privileged ? [] : DEFAULT_READONLY_PATHS,
      },
      GraphDriver: {
        Name: 'overlay2',
        Data: {
          LowerDir: graph.LowerDir ?? '',
          UpperDir: graph.UpperDir ?? '',
          WorkDir: graph.WorkDir ?? '',
          MergedDir: graph.MergedDir,
        },
      },
      Mounts: this.mountsOf(r),
      Config: { ...r.config, OnBuild: null },
      NetworkSettings: this.d.networks.settings(r).networkSettings,
    };
  }

  start(ref: string): Promise<void> {
    return this.c.start(ref);
  }
  stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    return this.c.stop(ref, timeoutSec, signal);
  }
  restart(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    return this.c.restart(ref, timeoutSec, signal);
  }
  kill(ref: string, signal: string): Promise<void> {
    return this.c.kill(ref, signal);
  }
  pause(ref: string): Promise<void> {
    return this.c.pause(ref);
  }
  unpause(ref: string): Promise<void> {
    return this.c.unpause(ref);
  }
  remove(ref: string, force: boolean, removeVolumes: boolean): Promise<void> {
    return this.c.remove(ref, force, removeVolumes);
  }
  /** docker rm --link PARENT/ALIAS. */
  removeLink(ref: string): Promise<void> {
    return this.c.removeLink(ref);
  }
  rename(ref: string, name: string): void {
    if (!name) throw new InvalidArgument('Neither old nor new names may be empty');
    this.c.rename(ref, name);
  }
  wait(ref: string, condition: string): { promise: Promise<number>; cancel: () => void } {
    if (!['not-running', 'next-exit', 'removed'].includes(condition))
      throw new InvalidArgument(`invalid condition: "${condition}"`);
    return this.c.wait(ref, condition as WaitCondition);
  }
  resize(ref: string, h: number, w: number): void {
    this.c.resize(ref, h, w);
  }
  top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return this.c.top(ref, psArgs);
  }
  changes(ref: string): Promise<Change[]> {
    return this.c.changes(ref);
  }
  export(ref: string): Promise<Readable> {
    return this.d.archive.export(ref);
  }

  /**
   * Attaches the connection `hijack` returns (called once the container's TTY mode is known: the
   * stream is raw with a TTY, multiplexed without); resolves when the attach ends.
   */
  async attach(ref: string, o: AttachRequest, hijack: (tty: boolean) => Duplex): Promise<void> {
    const rec = this.c.lookup(ref);
    const sock = hijack(rec.config.Tty);
    if (o.logs && rec.hostConfig.LogConfig?.Type !== 'none')
      sock.write(attachLogs(this.c.logPath(rec.id), o, rec.config.Tty));
    if (!o.stream) {
      sock.end();
      return;
    }
    await this.c.attach(rec.id, sock, { stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, detachKeys: o.detachKeys });
  }

  /** GET /containers/{id}/logs: errors (no such container, driver none, bad tail) come before any byte. */
  async logs(ref: string, o: LogOptions): Promise<Readable> {
    const rec = this.c.lookup(ref);
    if (rec.hostConfig.LogConfig?.Type === 'none')
      throw new NotImplemented('configured logging driver does not support reading');
    if (!o.stdout && !o.stderr) throw new InvalidArgument('Bad parameters: you must choose at least one stream');
    let tail: number | 'all';
    try {
      tail = parseTail(o.tail);
    } catch (e) {
      throw new InvalidArgument((e as Error).message);
    }
    return openLogStream(
      {
        logPath: this.c.logPath(rec.id),
        dataDir: this.c.paths.data(rec.id),
        tty: rec.config.Tty,
        running: () => {
          const cur = this.c.tryLookup(rec.id);
          return !!cur && (cur.state.Running || cur.state.Status === 'restarting');
        },
      },
      { tail, since: o.since, until: o.until, stdout: o.stdout, stderr: o.stderr },
      { follow: o.follow, timestamps: o.timestamps },
    );
  }

  /** POST /containers/prune: stopped containers the filters (until, label, label!) select. */
  async prune(filters: Map<string, string[]>): Promise<PruneReport> {
    const pf = pruneFilter(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const rec of this.c.all()) {
      if (rec.state.Running || rec.state.Status === 'restarting' || rec.state.Paused) continue;
      if (!prunes(pf, Date.parse(rec.created), rec.config.Labels)) continue;
      const size = await this.c.diskUsage(rec.id);
      try {
        await this.c.remove(rec.id, false);
      } catch (e) {
        if (!(e instanceof NotModified)) throw e;
      }
      deleted.push(rec.id);
      reclaimed += size;
    }
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }
}
