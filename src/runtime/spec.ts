// OCI runtime spec builder: a pure function from an already-resolved container config to the
// config.json object (runtime-spec 1.0.2) that runc 1.1.5 runs. It reproduces what Docker
// (moby oci/defaults.go + daemon/oci_linux.go) generates for `docker run`: default mounts,
// masked and read-only /proc and /sys paths, the 14 default capabilities, the device cgroup
// allowlist, the default seccomp profile, and --privileged as the one loud exception.
//
// No I/O: the caller resolves the user, environment, hostname, rootfs path, netns path, the
// daemon's own nofile hard limit, and the extra bind mounts (hosts, resolv.conf, volumes).
// Throws InvalidArgument(`unknown capability: "CAP_FOO"`) for bad --cap-add/--cap-drop names and for
// bad ulimits; Internal when the caller breaks an invariant (relative rootfs, netns without a path).
//
// --userns-remap (input.userns): the container joins the daemon's user namespace by path (its
// uidMappings/gidMappings are given too: runc checks ownership against them). runc joins the user
// namespace first, then the network namespace (run and exec alike), so the daemon makes the network
// namespaces inside that user namespace (src/sys/net.ts setNetnsOwner); sysfs and net.* sysctls then
// work as they do without remapping.

import { Internal, InvalidArgument } from '../core/errors.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, normalizeCap, sortCaps, tweakCapabilities } from './caps.js';
import { defaultSeccomp, type LinuxSeccomp } from './seccomp.js';
import { ociMappings, type IdentityMapping } from '../core/idmap.js';

export type { LinuxSeccomp } from './seccomp.js';

// ---------------------------------------------------------------------------
// OCI types (the subset cocon writes; field names as in runtime-spec config.json)

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

export interface OciDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciDevice {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciResources {
  devices?: OciDeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: { major: number; minor: number; weight: number }[];
    throttleReadBpsDevice?: OciThrottleDevice[];
    throttleWriteBpsDevice?: OciThrottleDevice[];
    throttleReadIOPSDevice?: OciThrottleDevice[];
    throttleWriteIOPSDevice?: OciThrottleDevice[];
  };
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciLinux {
  uidMappings?: { containerID: number; hostID: number; size: number }[];
  gidMappings?: { containerID: number; hostID: number; size: number }[];
  sysctl?: Record<string, string>;
  resources?: OciResources;
  cgroupsPath?: string;
  namespaces: OciNamespace[];
  devices?: OciDevice[];
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

// ---------------------------------------------------------------------------
// Input

export interface SpecMount {
  destination: string;
  source: string;
  type: string;
  options: string[];
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface SpecInput {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  terminal: boolean;
  hostname: string;
  /** absolute path of the container's root filesystem */
  rootfsPath: string;
  readonlyRootfs: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  networkMode: 'none' | 'host' | 'netns';
  /** required when networkMode is 'netns': the namespace to join (e.g. /run/netns/cocon-<id>) */
  netnsPath?: string;
  /**
   * The host has IPv6: a private namespace runc makes (networkMode 'none') gets it off, as dockerd
   * 20.10 leaves it (net.ipv6.conf.all.disable_ipv6=1), unless the user set a net.ipv6.conf.* sysctl.
   */
  hostIpv6?: boolean;
  /** host path of the init binary (docker-init / tini); when set, runs /dev/init -- args */
  initPath?: string;
  /** extra mounts appended after the defaults; a default with the same destination is dropped */
  mounts: SpecMount[];
  /** cgroupfs form, "/cocon/<id>" */
  cgroupsPath: string;
  /** the daemon's own RLIMIT_NOFILE hard limit: the spec never asks for more */
  rlimitNofileHard: number;
  /**
   * the daemon's own hard limits for other rlimits, keyed by docker ulimit name ("nproc",
   * "core", ...); used to clamp --ulimit values. Absent names are not clamped.
   */
  rlimitHard?: Record<string, number>;
  /** docker --ulimit (Name: "nofile", "nproc", ...) */
  ulimits?: Ulimit[];
  /** bytes */
  memory?: number;
  /** bytes, memory+swap (docker's MemorySwap); -1 for unlimited swap. Left out when absent. */
  memorySwap?: number;
  /** bytes, soft limit (docker --memory-reservation) */
  memoryReservation?: number;
  /** docker --oom-kill-disable */
  oomKillDisable?: boolean;
  /** docker --memory-swappiness (0-100; absent: the kernel's) */
  memorySwappiness?: number;
  /** docker --blkio-weight, --blkio-weight-device, --device-{read,write}-{bps,iops}, devices resolved */
  blockIO?: OciResources['blockIO'];
  /** CPUs × 1e9 (docker --cpus); takes precedence over cpuQuota/cpuPeriod */
  nanoCpus?: number;
  /** microseconds (docker --cpu-quota / --cpu-period) */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** docker --cpuset-cpus / --cpuset-mems ("0-1", "0,2") */
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  cpuShares?: number;
  /** bytes of the /dev/shm tmpfs (docker --shm-size); default 64 MiB */
  shmSize?: number;
  /** tty size (docker's ConsoleSize [height, width]) for terminal containers */
  consoleSize?: { height: number; width: number };
  sysctls?: Record<string, string>;
  noNewPrivileges: boolean;
  /** docker --oom-score-adj (-1000..1000; 0 leaves the runtime's default) */
  oomScoreAdj?: number;
  /** false when privileged or --security-opt seccomp=unconfined */
  seccomp: boolean;
  /**
   * Capabilities the daemon itself holds (its CapBnd, e.g. from caps.capsFromMask). When set,
   * --privileged gets only these (runc cannot grant what its caller lacks: this host has no
   * CAP_SYS_RESOURCE). Absent: privileged gets ALL_CAPABILITIES.
   */
  availableCaps?: string[];
  /**
   * --privileged only: the host's device nodes to create in the container (docker gives a
   * privileged container every host device). The caller lists /dev; absent: runc's defaults.
   */
  hostDevices?: OciDevice[];
  /** --security-opt seccomp=<profile>: replaces the default profile (unless privileged). */
  seccompProfile?: LinuxSeccomp;
  /** --device nodes (created in the container) and their cgroup rules, then --device-cgroup-rule. */
  devices?: OciDevice[];
  deviceRules?: OciDeviceCgroup[];
  /** --userns-remap (and not --userns=host): the daemon's user namespace (a bound file) and its maps. */
  userns?: { path: string; idMap: IdentityMapping };
}

// ---------------------------------------------------------------------------
// Docker defaults

export const OCI_VERSION = '1.0.2';

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** docker asks for this nofile limit (soft = hard); clamped to the daemon's hard limit. */
export const DOCKER_NOFILE = 1048576;

/** docker's default /dev/shm size (64 MiB) */
export const DEFAULT_SHM_SIZE = '65536k';

function defaultMounts(privileged: boolean, shmSize: number | undefined): OciMount[] {
  const shm = shmSize && shmSize > 0 ? `size=${Math.ceil(shmSize / 1024)}k` : `size=${DEFAULT_SHM_SIZE}`;
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', `size=${DEFAULT_SHM_SIZE}`],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    // privileged: docker clears "ro" on /sys and on the cgroup mount
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: [privileged ? 'rw' : 'ro', 'nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: [privileged ? 'rw' : 'ro', 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', shm] },
  ];
}

/** Docker's device cgroup rules for an unprivileged container (runc adds its own allowlist too). */
function defaultDeviceRules(): OciDeviceCgroup[] {
  const c = (major: number, minor: number | undefined, allow = true): OciDeviceCgroup => {
    const r: OciDeviceCgroup = { allow, type: 'c', major };
    if (minor !== undefined) r.minor = minor;
    r.access = 'rwm';
    return r;
  };
  return [
    { allow: false, access: 'rwm' }, // deny everything first
    c(1, 5), // /dev/zero
    c(1, 3), // /dev/null
    c(1, 9), // /dev/urandom
    c(1, 8), // /dev/random
    c(5, 0), // /dev/tty
    c(5, 1), // /dev/console
    c(1, 7), // /dev/full
    c(5, 2), // /dev/ptmx
    c(136, undefined), // /dev/pts/*
    c(10, 200), // /dev/net/tun (docker/runc allowlist)
    c(10, 229, false), // /dev/fuse: denied explicitly, as docker does
  ];
}

// ---------------------------------------------------------------------------

function clampRlimit(v: number, hard: number | undefined): number {
  if (hard === undefined || hard < 0) return v;
  // -1 in docker's --ulimit means unlimited: the most a finite hard limit allows
  if (v < 0) return hard;
  return Math.min(v, hard);
}

/** docker's --ulimit names (go-units) */
export const ULIMIT_NAMES: readonly string[] = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

function buildRlimits(input: SpecInput): OciRlimit[] {
  const nofile = Math.min(DOCKER_NOFILE, input.rlimitNofileHard);
  const byType = new Map<string, OciRlimit>();
  byType.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile });
  for (const u of input.ulimits ?? []) {
    const name = u.Name.toLowerCase();
    if (!ULIMIT_NAMES.includes(name)) throw new InvalidArgument(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard && u.Hard >= 0)
      throw new InvalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const type = 'RLIMIT_' + name.toUpperCase();
    const limit = name === 'nofile' ? input.rlimitNofileHard : input.rlimitHard?.[name];
    if ((u.Hard < 0 || u.Soft < 0) && (limit === undefined || limit < 0)) {
      // "unlimited" (-1) is RLIM_INFINITY = 2^64-1, which a JS number cannot carry into JSON;
      // with no finite daemon limit to clamp to, leave the limit inherited from the daemon
      byType.delete(type);
      continue;
    }
    const hard = clampRlimit(u.Hard, limit);
    const soft = Math.min(clampRlimit(u.Soft, limit), hard);
    byType.set(type, { type, hard, soft });
  }
  return [...byType.values()];
}

function buildNamespaces(input: SpecInput): OciNamespace[] {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (input.networkMode === 'netns') {
    if (!input.netnsPath) throw new Internal('networkMode netns requires netnsPath');
    ns.push({ type: 'network', path: input.netnsPath });
  } else if (input.networkMode === 'none') {
    ns.push({ type: 'network' });
  } // host: share the daemon's network namespace
  ns.push({ type: 'uts' }, { type: 'pid' }, { type: 'ipc' });
  if (input.userns) ns.push({ type: 'user', path: input.userns.path });
  return ns;
}

/** The highest container id the maps give. */
function lastContainerId(maps: readonly { containerID: number; size: number }[]): number {
  return Math.max(0, ...maps.map((m) => m.containerID + m.size - 1));
}

function buildMounts(input: SpecInput): OciMount[] {
  const user = new Set(input.mounts.map((m) => m.destination));
  // docker: a user mount replaces the default at the same destination; a user /dev replaces
  // every default under /dev as well
  const defaults = defaultMounts(input.privileged, input.shmSize).filter(
    (m) => !user.has(m.destination) && !(m.destination.startsWith('/dev/') && user.has('/dev')),
  );
  const mounts: OciMount[] = [...defaults];
  if (input.initPath) {
    mounts.push({ destination: '/dev/init', type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  }
  for (const m of input.mounts) {
    mounts.push({ destination: m.destination, type: m.type, source: m.source, options: [...m.options] });
  }
  return mounts;
}

function buildResources(input: SpecInput): OciResources {
  const res: OciResources = {
    devices: input.privileged
      ? [{ allow: true, access: 'rwm' }]
      : [...defaultDeviceRules(), ...(input.deviceRules ?? []).map((r) => ({ ...r }))],
  };
  const memory: NonNullable<OciResources['memory']> = {};
  if (input.memory !== undefined && input.memory > 0) {
    memory.limit = input.memory;
    if (input.memorySwap !== undefined && input.memorySwap !== 0) memory.swap = input.memorySwap;
  }
  if (input.memoryReservation !== undefined && input.memoryReservation > 0)
    memory.reservation = input.memoryReservation;
  if (input.oomKillDisable) memory.disableOOMKiller = true;
  if (input.memorySwappiness !== undefined && input.memorySwappiness >= 0) memory.swappiness = input.memorySwappiness;
  if (Object.keys(memory).length) res.memory = memory;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (input.cpuShares !== undefined && input.cpuShares > 0) cpu.shares = input.cpuShares;
  if (input.nanoCpus !== undefined && input.nanoCpus > 0) {
    // docker: period 100ms, quota = nanoCpus * period / 1e9
    cpu.period = 100000;
    cpu.quota = Math.round((input.nanoCpus * 100000) / 1e9);
  } else {
    if (input.cpuPeriod !== undefined && input.cpuPeriod > 0) cpu.period = input.cpuPeriod;
    if (input.cpuQuota !== undefined && input.cpuQuota !== 0) cpu.quota = input.cpuQuota;
  }
  if (input.cpusetCpus) cpu.cpus = input.cpusetCpus;
  if (input.cpusetMems) cpu.mems = input.cpusetMems;
  if (Object.keys(cpu).length) res.cpu = cpu;
  if (input.pidsLimit !== undefined && input.pidsLimit > 0) res.pids = { limit: input.pidsLimit };
  if (input.blockIO && Object.keys(input.blockIO).length) res.blockIO = structuredClone(input.blockIO);
  return res;
}

/** The capability set the container's process gets (bounding = effective = permitted). */
export function containerCaps(input: Pick<SpecInput, 'privileged' | 'capAdd' | 'capDrop' | 'availableCaps'>): string[] {
  const all = input.privileged
    ? [...ALL_CAPABILITIES]
    : tweakCapabilities(DEFAULT_CAPABILITIES, input.capAdd, input.capDrop);
  if (!input.availableCaps) return all;
  // runc cannot grant a capability its caller lacks ("unable to apply caps: operation not
  // permitted"): "everything" (privileged, --cap-add ALL) means everything the daemon has.
  // Capabilities named one by one stay, so that the runtime reports them.
  const avail = new Set(input.availableCaps.map(normalizeCap));
  const named = new Set(input.privileged ? [] : input.capAdd.map(normalizeCap).filter((c) => c !== 'ALL'));
  return sortCaps(all.filter((c) => avail.has(c) || named.has(c)));
}

export function buildSpec(input: SpecInput): OciSpec {
  if (!input.rootfsPath.startsWith('/')) throw new Internal(`rootfs path must be absolute: ${input.rootfsPath}`);
  const caps = containerCaps(input);
  const args = input.initPath ? ['/dev/init', '--', ...input.args] : [...input.args];

  const user: OciUser = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.additionalGids.length) user.additionalGids = [...input.user.additionalGids];

  const process: OciProcess = {
    terminal: input.terminal,
    ...(input.terminal && input.consoleSize ? { consoleSize: { ...input.consoleSize } } : {}),
    user,
    args,
    env: [...input.env],
    cwd: input.cwd || '/',
    capabilities: {
      bounding: [...caps],
      effective: [...caps],
      permitted: [...caps],
    },
    rlimits: buildRlimits(input),
    noNewPrivileges: input.noNewPrivileges,
    ...(input.oomScoreAdj ? { oomScoreAdj: input.oomScoreAdj } : {}),
  };

  const sysctl: Record<string, string> = {};
  if (input.networkMode !== 'host') {
    // docker (20.10+): unprivileged ports and ICMP sockets inside a private network namespace
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
    // (in a user namespace both bounds must be mapped gids: all of the container's gids then)
    sysctl['net.ipv4.ping_group_range'] = input.userns
      ? `0 ${lastContainerId(input.userns.idMap.gids)}`
      : '0 2147483647';
  }
  if (
    input.networkMode === 'none' &&
    input.hostIpv6 &&
    !Object.keys(input.sysctls ?? {}).some((k) => k.startsWith('net.ipv6.conf.'))
  )
    sysctl['net.ipv6.conf.all.disable_ipv6'] = '1';
  Object.assign(sysctl, input.sysctls ?? {});

  const linux: OciLinux = {
    resources: buildResources(input),
    cgroupsPath: input.cgroupsPath,
    namespaces: buildNamespaces(input),
    ...(input.userns ? ociMappings(input.userns.idMap) : {}),
  };
  if (input.privileged && input.hostDevices?.length) linux.devices = input.hostDevices.map((d) => ({ ...d }));
  else if (input.devices?.length) linux.devices = input.devices.map((d) => ({ ...d }));
  if (Object.keys(sysctl).length) linux.sysctl = sysctl;
  if (input.seccomp && !input.privileged) linux.seccomp = input.seccompProfile ?? defaultSeccomp(caps);
  if (!input.privileged) {
    linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  }

  return {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfsPath, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts: buildMounts(input),
    linux,
  };
}
