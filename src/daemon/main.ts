// `cocon daemon`: parses dockerd-like flags, opens the store, builds the services, reconciles
// containers with what really runs, serves the API, and shuts down cleanly on SIGTERM/SIGINT.
// Containers outlive the daemon: shutdown leaves them running under conmon.
import { writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { configFileFlags, resolveConfig } from './config.js';
import { openDb } from '../store/db.js';
import { EventBus } from '../core/events.js';
import { setLogLevel, log } from '../core/log.js';
import { listen, serverLimits } from '../api/server.js';
import { ImageService } from '../images/service.js';
import { ContainerService } from '../containers/service.js';
import { OverlaySnapshotter } from '../snapshots/overlay.js';
import { ExecService } from '../containers/exec.js';
import { StatsService } from '../containers/stats.js';
import { HealthMonitor } from '../containers/health.js';
import { LogRotator } from '../containers/logfiles.js';
import { validateLogConfig } from '../containers/hostconfig.js';
import { VolumeService } from '../volumes/service.js';
import type { Services } from './services.js';
import { ContainerArchive } from '../containers/archive.js';
import { ContainerOperations } from '../containers/operations.js';
import { ImageOperations } from '../images/operations.js';
import { BuildOperations } from '../build/operations.js';
import { NetworkService } from '../network/service.js';
import { PRIVATE, privateDir, setDaemonUmask, shareWithRemappedRoot, tighten } from '../sys/perms.js';
import { hostRoot, type IdentityMapping } from '../core/idmap.js';
import { NetworkStore } from '../network/store.js';
import type { ContainerDirectory } from '../network/types.js';
import { ChrootManager } from '../chroot/chroot.js';
import { ChrootGate } from '../chroot/gate.js';
import { describeDataRoot, mountDataRoot, unmountDataRoot } from '../sys/storagefs.js';
import { applyRemap } from './userns.js';
import { persistUserns } from '../sys/userns.js';
import { setNetnsOwner } from '../sys/net.js';

const USAGE = `Usage: cocon daemon [OPTIONS]

Options:
      --data-root string         Root directory of persistent state (default "/var/lib/cocon")
      --exec-root string         Root directory for execution state (default "/run/cocon")
  -H, --host string              Daemon socket to listen on, unix:///path only: tcp:// is refused (default "unix:///run/cocon/cocon.sock")
  -p, --pidfile string           Path to use for daemon PID file (default "<exec-root>/cocon.pid")
      --default-runtime string   Default OCI runtime for containers (default "runc")
      --runtime string           Same as --default-runtime
  -l, --log-level string         Set the logging level ("debug"|"info"|"warn"|"error") (default "info")
      --insecure-registry list   Enable insecure registry communication (host[:port] or CIDR; repeatable)
      --bridge string            Device of the default bridge network (default "cocon0")
      --bip string               Gateway address and subnet of the default bridge (e.g. 10.99.0.1/24)
      --icc                      Enable inter-container communication on the default bridge (default true)
      --ipv6                     Enable IPv6 on the default bridge (needs --fixed-cidr-v6)
      --fixed-cidr-v6 string     IPv6 subnet of the default bridge (e.g. fd00:1::/64)
      --default-address-pool     Pool for user networks: base=CIDR,size=N (default base=10.208.0.0/12,size=24)
      --iptables                 Enable NAT and port publishing rules (nftables) (default true)
      --log-driver string        Default driver for container logs: json-file, local, none (default "json-file")
      --log-opt map              Default log driver options (repeatable; default max-size=10m,max-file=3)
      --chroot-socket string     Socket through which users listed in a chroot run commands in it ("" = none) (default "<exec-root>-chroot.sock", /run/cocon-chroot.sock)
      --storage-size string      Keep the data root on an image file of this size (xfs, project quotas), e.g. 20G
      --storage-device string    Keep the data root on this block device or LVM volume (formatted xfs when empty)
      --storage-opt list         Storage driver options: size=SIZE, the default writable-layer quota per container
      --no-new-privileges        Set no-new-privileges on every new container (default false)
      --default-pids-limit int   Default pids limit of a container; 0 or -1 for none (default 2048)
      --userns-remap string      User/Group setting for user namespaces: default (dockremap), USER[:GROUP] or UID[:GID]
      --config-file string       Daemon configuration file (JSON, dockerd's keys; none is read unless given)
`;

export function parseDaemonFlags(argv: string[]): Record<string, string> {
  const names: Record<string, string> = {
    '--data-root': 'dataRoot',
    '--exec-root': 'execRoot',
    '-H': 'host',
    '--host': 'host',
    '-p': 'pidFile',
    '--pidfile': 'pidFile',
    '--default-runtime': 'runtime',
    '--runtime': 'runtime',
    '-l': 'logLevel',
    '--log-level': 'logLevel',
    '--insecure-registry': 'insecureRegistry',
    '--bridge': 'bridge',
    '-b': 'bridge',
    '--bip': 'bip',
    '--icc': 'icc',
    '--ipv6': 'ipv6',
    '--fixed-cidr-v6': 'fixedCidrV6',
    '--default-address-pool': 'defaultAddressPool',
    '--iptables': 'iptables',
    '--log-driver': 'logDriver',
    '--log-opt': 'logOpt',
    '--chroot-socket': 'chrootSocket',
    '--storage-size': 'storageSize',
    '--storage-device': 'storageDevice',
    '--storage-opt': 'storageOpt',
    '--no-new-privileges': 'noNewPrivileges',
    '--default-pids-limit': 'defaultPidsLimit',
    '--userns-remap': 'usernsRemap',
    '--config-file': 'configFile',
    '--tlsverify': 'tlsverify',
    '--tlscacert': 'tlscacert',
    '--tlscert': 'tlscert',
    '--tlskey': 'tlskey',
  };
  const bools = new Set(['--icc', '--ipv6', '--iptables', '--no-new-privileges', '--tlsverify']);
  const lists = new Set(['insecureRegistry', 'storageOpt', 'host']);
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v: string | undefined;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const key = names[a];
    if (!key) throw new Error(`unknown flag: ${a}\nSee 'cocon daemon --help'.`);
    if (v === undefined && bools.has(a) && (argv[i + 1] === undefined || !/^(true|false|1|0)$/.test(argv[i + 1])))
      v = 'true';
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${a}`);
    }
    out[key] = key === 'logOpt' && out[key] ? `${out[key]}\n${v}` : lists.has(key) && out[key] ? `${out[key]},${v}` : v;
  }
  return out;
}

/** --config-file: the file's keys (dockerd's daemon.json names) merged under the flags. */
function withConfigFile(flags: Record<string, string>): Record<string, string> {
  const file = flags.configFile;
  delete flags.configFile;
  if (!file) return flags;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`unable to configure the daemon with file ${file}: ${(e as Error).message}`);
  }
  return configFileFlags(json, flags);
}

/**
 * Creates the data root and exec root with dockerd's modes, and tightens what an older cocon left
 * readable (0711/0755 directories, 0644 database): the top-level directories and state files
 * only; layer, rootfs and volume contents keep their own modes.
 */
function closeRoots(dataRoot: string, execRoot: string, idMap?: IdentityMapping): void {
  if (idMap) shareWithRemappedRoot(dataRoot, hostRoot(idMap).gid);
  else privateDir(dataRoot, PRIVATE.root);
  privateDir(execRoot, PRIVATE.root);
  for (const d of ['volumes', 'overlay', 'content', 'chroots']) tighten(join(dataRoot, d), PRIVATE.dir);
  // under --userns-remap the remapped root passes through containers/ to reach a container's rootfs
  if (idMap) shareWithRemappedRoot(join(dataRoot, 'containers'), hostRoot(idMap).gid);
  else tighten(join(dataRoot, 'containers'), PRIVATE.dir);
  for (const f of ['cocon.db', 'cocon.db-wal', 'cocon.db-shm', 'engine-id']) tighten(join(dataRoot, f), PRIVATE.file);
  for (const d of ['containers', 'exec', 'exits', 's', 't', 'runc', 'netns']) tighten(join(execRoot, d), PRIVATE.dir);
}

export async function runDaemon(argv: string[]): Promise<void> {
  // V8's young generation stays at its initial semi-spaces (1 MiB) instead of growing to 16 MiB
  // after a burst of requests (50 container starts) and keeping them: bench/mem-bench.ts measures
  // the difference. Set here, not as a node option, so that it holds however the daemon is launched.
  setFlagsFromString('--semi-space-growth-factor=1');
  const flags = withConfigFile(parseDaemonFlags(argv));
  const gateFlag = flags.chrootSocket;
  delete flags.chrootSocket;
  const config = resolveConfig(flags);
  // A bad --log-driver/--log-opt stops the daemon here rather than failing every create.
  validateLogConfig({ Type: config.logDriver, Config: config.logOpts }, { Type: config.logDriver, Config: {} });
  // beside the exec root (which is 0710 root): /run/cocon -> /run/cocon-chroot.sock
  const chrootSocket = gateFlag ?? `${config.execRoot.replace(/\/+$/, '')}-chroot.sock`;
  setLogLevel(config.logLevel);
  setDaemonUmask();
  // Point 1 of the brief: the data root on a filesystem of its own, before anything is written there.
  const ownFs =
    config.storageSize || config.storageDevice
      ? await mountDataRoot(config.dataRoot, { size: config.storageSize, device: config.storageDevice })
      : null;
  if (ownFs)
    log.info('data root on its own filesystem', {
      source: ownFs.source,
      image: ownFs.image,
      fs: ownFs.fsType,
      size: ownFs.size,
      projectQuota: ownFs.projectQuota,
    });
  // --userns-remap: the state moves to <data-root>/<uid>.<gid> (dockerd's layout); a user without
  // subordinate ranges stops the daemon here, before anything is written there.
  try {
    await applyRemap(config);
  } catch (e) {
    if (ownFs) await unmountDataRoot(config.dataRoot).catch(() => undefined);
    throw e;
  }
  closeRoots(config.dataRoot, config.execRoot, config.idMap);
  if (config.idMap) {
    // one user namespace for every remapped container, and their network namespaces made inside it
    config.usernsPath = join(config.execRoot, 'userns');
    await persistUserns(config.usernsPath, config.idMap);
    setNetnsOwner(config.usernsPath);
  }
  // The default writable-layer quota (--storage-opt size=) must fit in the data root.
  if (config.defaultStorageSize) {
    const fs = describeDataRoot(config.dataRoot);
    if (config.defaultStorageSize > fs.size) {
      if (ownFs) await unmountDataRoot(config.baseDataRoot ?? config.dataRoot).catch(() => undefined);
      throw new Error(
        `--storage-opt size=${config.defaultStorageSize} is larger than the data root's filesystem (${fs.size} bytes)`,
      );
    }
    log.info('writable layers limited by default', { size: config.defaultStorageSize, mechanism: 'loop ext4' });
  }
  try {
    const other = Number(readFileSync(config.pidFile, 'utf8'));
    if (other && other !== process.pid) {
      process.kill(other, 0);
      throw new Error(`pid file found, ensure cocon is not running or delete ${config.pidFile}`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  writeFileSync(config.pidFile, String(process.pid));
  const db = openDb(join(config.dataRoot, 'cocon.db'));
  const events = new EventBus();
  const snapshots = new OverlaySnapshotter(join(config.dataRoot, 'overlay'), db, config.idMap);
  // The containers service and the services it uses ask each other: images and volumes ask who uses
  // them, networks look containers up. Each gets a small interface through its constructor whose
  // calls reach `containers` once it exists (nothing calls them before the API serves).
  const images: ImageService = new ImageService(config, db, events, snapshots, (imageId: string) =>
    containers.usingImage(imageId),
  );
  const volumes: VolumeService = new VolumeService(config, db, events, (name: string) => containers.usingVolume(name));
  const directory: ContainerDirectory = {
    tryLookup: (ref: string) => containers.tryLookup(ref),
    all: () => containers.all(),
    joinedNetwork: (id: string, change: { address: string; dnsServer?: string }) =>
      containers.joinedNetwork(id, change),
  };
  const networks = new NetworkService(config, new NetworkStore(db), directory, events);
  const containers = new ContainerService(config, db, events, images, volumes, snapshots, networks);
  const execs = new ExecService(containers, config.execRoot);
  await networks.init();
  const archive = new ContainerArchive(containers, volumes, config.idMap);
  const imageOps = new ImageOperations(images, config);
  const s: Services = {
    config,
    db,
    events,
    images,
    imageOps,
    containers,
    containerOps: new ContainerOperations(containers, { images, networks, volumes, execs, archive }),
    execs,
    volumes,
    networks,
    stats: new StatsService(containers),
    archive,
    builds: new BuildOperations(images, imageOps, containers, config),
    startedAt: new Date(),
  };
  await containers.reconcile();
  const health = new HealthMonitor(containers, execs, events);
  health.resume();
  const logs = new LogRotator(containers, events);
  logs.resume();
  const server = await listen(s, serverLimits(process.env.COCON_API_TIMEOUTS));
  const gate = chrootSocket
    ? new ChrootGate(new ChrootManager(config.baseDataRoot ?? config.dataRoot), chrootSocket)
    : undefined;
  await gate?.listen();
  log.info('daemon ready', {
    socket: config.socketPath,
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    pid: process.pid,
  });
  let stopping = false;
  const shutdown = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal: sig });
    server.close();
    health.shutdown();
    logs.shutdown();
    gate?.close();
    await containers.shutdown();
    await networks.shutdown();
    // Running containers keep their rootfs on it: then it stays mounted and the next start re-uses it.
    const idle = containers.counts().running + containers.counts().paused === 0;
    if (ownFs && idle) {
      // the stopped containers' quota layers are loop images on it: unmounted, mounted again on use
      try {
        snapshots.unmountImages();
      } catch (e) {
        log.warn('writable layer unmount failed', { error: (e as Error).message });
      }
    }
    db.close();
    if (ownFs) {
      if (!idle) log.info('data root stays mounted: containers are running on it', { dataRoot: config.dataRoot });
      // the filesystem is mounted on the data root given, not on the remapped root inside it
      else
        await unmountDataRoot(config.baseDataRoot ?? config.dataRoot).catch((e: Error) =>
          log.warn('data root unmount failed', { error: e.message }),
        );
    }
    rmSync(config.socketPath, { force: true });
    rmSync(config.pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGPIPE', () => {});
  process.on('uncaughtException', (e) => log.error('uncaught exception', { error: e.stack ?? String(e) }));
  process.on('unhandledRejection', (e) =>
    log.error('unhandled rejection', { error: e instanceof Error ? e.stack : String(e) }),
  );
  process.on('SIGHUP', () => {});
}
