// System endpoints: /_ping, /version, /info, /events.
import os from 'node:os';
import type { Router } from './router.js';
import { API_VERSION, MIN_API_VERSION, ENGINE_VERSION, commonHeaders } from './router.js';
import type { Services } from '../daemon/services.js';
import { runSync } from '../sys/exec.js';
import type { EngineEvent } from '../core/events.js';
import { parseFilters, labelMatches } from '../core/filters.js';
import { treeSize } from '../snapshots/overlay.js';
import { cgroupFacts, type CgroupFacts } from '../sys/cgroups.js';
import { validateLogConfig } from '../containers/hostconfig.js';
import { describeDataRoot, type DataRootFs } from '../sys/storagefs.js';
import { modeAndGroup } from '../sys/perms.js';
import { hostRoot } from '../core/idmap.js';

/** cocon's addition to /info, read by `cocon check`: how the daemon guards itself. */
function securityFacts(s: Services) {
  const sock = modeAndGroup(s.config.socketPath);
  return {
    Icc: s.config.icc,
    NoNewPrivileges: !!s.config.noNewPrivileges,
    DefaultPidsLimit: s.config.defaultPidsLimit ?? 0,
    UsernsRemap: !!s.config.idMap,
    ...(s.config.idMap ? { UsernsRemapUser: s.config.remapUser ?? '', UsernsRemapRoot: hostRoot(s.config.idMap) } : {}),
    Socket: sock ? { Path: s.config.socketPath, Mode: sock.mode, Group: sock.group } : null,
    // cocon never listens on TCP (the daemon refuses -H tcp://); the field stays for `cocon check`.
    Tcp: null,
  };
}

/**
 * The data root's filesystem as docker info's DriverStatus pairs (cocon adds the storage lines), and
 * how writable layers are bounded: each --storage-opt size= is a loop ext4 image; `defaultLayerSize`
 * is the daemon's --storage-opt size= (0: none).
 */
export function storageStatus(fs: DataRootFs, defaultLayerSize = 0): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['Backing Filesystem', fs.fsType === 'ext4' ? 'extfs' : fs.fsType],
    ['Supports d_type', 'true'],
    ['Data Root Filesystem', fs.ownFilesystem ? `${fs.fsType} on ${fs.source}` : `shared with the host (${fs.source})`],
  ];
  if (fs.image) out.push(['Data Root Image', fs.image]);
  out.push(
    ['Data Root Size', String(fs.size)],
    ['Data Root Used', String(fs.used)],
    ['Project Quotas', String(fs.projectQuota)],
    ['Writable Layer Quotas', 'loop ext4 image per container (--storage-opt size=)'],
    ['Default Writable Layer Size', String(defaultLayerSize)],
  );
  return out;
}

let runtimeVersion: string | null = null;
function runcVersion(path: string): string {
  if (runtimeVersion === null) {
    const m = /version\s+(\S+)/.exec(runSync(path, ['--version']).stdout);
    runtimeVersion = m ? m[1] : 'unknown';
  }
  return runtimeVersion;
}

/** docker events --filter: type, event, container/image/volume/network (id or name), label. */
function eventMatches(e: EngineEvent, f: Map<string, string[]>): boolean {
  const attrs = e.Actor.Attributes;
  for (const [k, vals] of f) {
    if (!vals.length) continue;
    const ok = (() => {
      switch (k) {
        case 'type':
          return vals.includes(e.Type);
        case 'event':
          return vals.some((v) => e.Action === v || e.Action.startsWith(v + ':'));
        case 'container':
        case 'image':
        case 'volume':
        case 'network':
          return e.Type === k && vals.some((v) => e.Actor.ID.startsWith(v) || attrs.name === v || attrs.image === v);
        case 'label':
          return vals.every((v) => labelMatches(attrs, v)); // ANDed, as in dockerd
        default:
          return true;
      }
    })();
    if (!ok) return false;
  }
  return true;
}

/** dockerd's info warnings for what the host's cgroups lack. */
function cgroupWarnings(cg: CgroupFacts): string[] {
  const w: string[] = [];
  if (!cg.memory) w.push('WARNING: No memory limit support');
  if (!cg.swap) w.push('WARNING: No swap limit support');
  if (!cg.cpuCfs) w.push('WARNING: No cpu cfs quota support', 'WARNING: No cpu cfs period support');
  if (!cg.cpuShares) w.push('WARNING: No cpu shares support');
  if (!cg.cpuset) w.push('WARNING: No cpuset support');
  if (!cg.blkioWeight) w.push('WARNING: No blkio weight support', 'WARNING: No blkio weight_device support');
  if (!cg.blkioThrottle)
    w.push(
      'WARNING: No blkio throttle.read_bps_device support',
      'WARNING: No blkio throttle.write_bps_device support',
      'WARNING: No blkio throttle.read_iops_device support',
      'WARNING: No blkio throttle.write_iops_device support',
    );
  return w;
}

export function registerSystemRoutes(r: Router, s: Services): void {
  const ping = (ctx: Parameters<Parameters<Router['get']>[1]>[0]) => {
    const body = ctx.req.method === 'HEAD' ? '' : 'OK';
    ctx.res.writeHead(200, {
      ...commonHeaders(),
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(body.length),
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
    });
    ctx.res.end(body);
  };
  r.get('/_ping', ping);
  r.head('/_ping', ping);

  r.get('/version', (ctx) => {
    const kernel = os.release();
    ctx.send(200, {
      Platform: { Name: 'cocon' },
      Components: [
        {
          Name: 'Engine',
          Version: ENGINE_VERSION,
          Details: {
            ApiVersion: API_VERSION,
            Arch: 'amd64',
            Experimental: 'false',
            KernelVersion: kernel,
            MinAPIVersion: MIN_API_VERSION,
            Os: 'linux',
          },
        },
        { Name: s.config.runtime, Version: runcVersion(s.config.runtimePath), Details: { GitCommit: '' } },
      ],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: kernel,
      BuildTime: s.startedAt.toISOString(),
    });
  });

  r.get('/info', (ctx) => {
    const counts = s.containers.counts();
    const cg = cgroupFacts();
    ctx.send(200, {
      ID: s.containers.daemonId(),
      Containers: counts.total,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: s.images.count(),
      Driver: 'overlay2',
      DriverStatus: storageStatus(describeDataRoot(s.config.dataRoot), s.config.defaultStorageSize ?? 0),
      Plugins: {
        Volume: ['local'],
        Network: ['host', 'null'],
        Authorization: null,
        Log: ['json-file', 'local', 'k8s-file', 'none'],
      },
      MemoryLimit: cg.memory,
      SwapLimit: s.containers.swapLimit(),
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: cg.cpuCfs,
      CpuCfsQuota: cg.cpuCfs,
      CPUShares: cg.cpuShares,
      CPUSet: cg.cpuset,
      PidsLimit: cg.pids,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: s.config.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: cg.oomKillDisable,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: s.config.logDriver,
      // cocon's own field: the bounds every container's log gets unless it says otherwise (docker's are unbounded).
      LoggingDriverOptions: validateLogConfig(undefined, { Type: s.config.logDriver, Config: s.config.logOpts }).config
        .Config,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(cg.version),
      NEventsListener: s.events.listenerCount('event'),
      KernelVersion: os.release(),
      OperatingSystem: 'cocon on ' + os.type(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: s.config.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { [s.config.runtime]: { path: s.config.runtimePath } },
      DefaultRuntime: s.config.runtime,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=default', ...(s.config.idMap ? ['name=userns'] : [])],
      CoconSecurity: securityFacts(s),
      Warnings: cgroupWarnings(cg),
    });
  });

  // docker system df: images (shared layers counted once), containers' writable layers, volumes.
  r.get('/system/df', async (ctx) => {
    const all = s.images.all();
    const layerUse = new Map<string, { size: number; n: number }>();
    for (const img of all)
      img.chainIds.forEach((c, i) => {
        const u = layerUse.get(c) ?? { size: img.layerSizes?.[i] ?? 0, n: 0 };
        u.n++;
        layerUse.set(c, u);
      });
    const images = s.images.list({ all: true }).map((im) => {
      const rec = all.find((x) => x.id === im.Id);
      const shared = (rec?.chainIds ?? []).reduce((t, c) => {
        const u = layerUse.get(c);
        return t + (u && u.n > 1 ? u.size : 0);
      }, 0);
      return { ...im, Containers: s.containers.usingImage(im.Id).length, SharedSize: shared };
    });
    const size = (dir: string) => {
      try {
        return treeSize(dir);
      } catch {
        return 0;
      }
    };
    const containers = await Promise.all(
      s.containers
        .all()
        .map(async (r) => ({ ...s.containerOps.summary(r), SizeRw: await s.containers.sizeRw(r.id), SizeRootFs: 0 })),
    );
    const volumes = s.volumes.all().map((v) => ({
      ...s.volumes.inspect(v),
      UsageData: { Size: size(s.volumes.mountpoint(v.name)), RefCount: s.containers.usingVolume(v.name).length },
    }));
    const fs = describeDataRoot(s.config.dataRoot);
    const DataRoot = {
      Filesystem: fs.fsType,
      Source: fs.source,
      ...(fs.image ? { Image: fs.image } : {}),
      OwnFilesystem: fs.ownFilesystem,
      ProjectQuota: fs.projectQuota,
      Size: fs.size,
      Used: fs.used,
      Available: fs.available,
    };
    ctx.send(200, {
      DataRoot,
      LayersSize: [...layerUse.values()].reduce((t, u) => t + u.size, 0),
      Images: images,
      Containers: containers,
      Volumes: volumes,
      BuildCache: [],
    });
  });

  r.get('/events', (ctx) => {
    const since = Number(ctx.query.get('since') ?? NaN);
    const until = Number(ctx.query.get('until') ?? NaN);
    const f = parseFilters(ctx.query.get('filters'));
    const res = ctx.stream(200);
    const write = (e: EngineEvent) => {
      if (eventMatches(e, f)) res.write(JSON.stringify(e) + '\n');
    };
    if (!Number.isNaN(since))
      for (const e of s.events.since(since)) if (Number.isNaN(until) || e.time <= until) write(e);
    if (!Number.isNaN(until) && until * 1000 <= Date.now()) {
      res.end();
      return;
    }
    s.events.on('event', write);
    const stop = () => {
      s.events.off('event', write);
      res.end();
    };
    ctx.req.socket.on('close', stop);
    if (!Number.isNaN(until)) setTimeout(stop, until * 1000 - Date.now());
  });
}
