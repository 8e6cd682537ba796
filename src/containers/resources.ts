// Resource limits of a container (docker's HostConfig.Resources): the rules of create and of
// `docker update`, what goes into the OCI spec, and what `runc update` gets for a running
// container. A limit the host's cgroups cannot enforce is refused with InvalidArgument, never
// stored and dropped (dockerd only warns and discards). Docker's own messages where it has them.
// Pure: the host's facts (cgroup controllers, CPUs, block devices) come as an argument.
import { Conflict, InvalidArgument } from '../core/errors.js';
import type { OciResources, SpecInput } from '../runtime/spec.js';
import type { HostConfig } from './types.js';
import type { CgroupFacts } from '../sys/cgroups.js';

/** What the host can enforce (src/sys/cgroups.ts finds it) and how to look a block device up. */
export interface ResourceFacts extends CgroupFacts {
  ncpu: number;
  blockDevice: (path: string) => { major: number; minor: number } | null;
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}
export interface WeightDevice {
  Path: string;
  Weight: number;
}

/** docker's default /dev/shm: 64 MiB */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const MIN_MEMORY = 6 * 1024 * 1024;
const THROTTLES = [
  ['BlkioDeviceReadBps', '--device-read-bps', 'BPS Block I/O read limit'],
  ['BlkioDeviceWriteBps', '--device-write-bps', 'BPS Block I/O write limit'],
  ['BlkioDeviceReadIOps', '--device-read-iops', 'IOPS Block read limit'],
  ['BlkioDeviceWriteIOps', '--device-write-iops', 'IOPS Block write limit'],
] as const;

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

function unsupported(what: string, flag: string): never {
  throw new InvalidArgument(
    `${flag} cannot be honoured on this host: the kernel does not support ${what} or the cgroup is not mounted`,
  );
}

/** Parses a cpuset list ("0-2,4"); null when it is not one. */
export function parseCpuset(s: string): Set<number> | null {
  const out = new Set<number>();
  if (!s.trim()) return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 4096) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function checkCpuset(requested: string, available: string, kind: 'cpus' | 'mems'): void {
  if (!requested) return;
  const want = parseCpuset(requested);
  if (!want) throw new InvalidArgument(`Invalid value ${requested} for cpuset ${kind}`);
  const have = parseCpuset(available) ?? new Set<number>();
  for (const c of want) {
    if (!have.has(c)) {
      throw new InvalidArgument(
        kind === 'cpus'
          ? `Requested CPUs are not available - requested ${requested}, available: ${available}`
          : `Requested memory nodes are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

/** Fields cocon normalises as docker stores them. */
export interface CheckedResources {
  ShmSize: number;
  PidsLimit: number | null;
  MemorySwappiness: number | null;
  OomKillDisable: boolean;
}

/**
 * docker's checks of HostConfig.Resources (create, and the merged result of an update) and the
 * host's ability to enforce each one. Memory/MemorySwap are checked in hostconfig.ts.
 */
export function validateResources(hc: Partial<HostConfig>, f: ResourceFacts): CheckedResources {
  const memory = n(hc.Memory);
  if (memory > 0 && !f.memory) unsupported('memory limit capabilities', '--memory');
  const reservation = n(hc.MemoryReservation);
  if (reservation < 0) throw new InvalidArgument('invalid memory reservation: it cannot be negative');
  if (reservation > 0 && !f.memoryReservation) unsupported('memory soft limit capabilities', '--memory-reservation');
  if (reservation > 0 && reservation < MIN_MEMORY)
    throw new InvalidArgument('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation)
    throw new InvalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  const swappiness =
    hc.MemorySwappiness === undefined || hc.MemorySwappiness === null || hc.MemorySwappiness === -1
      ? null
      : n(hc.MemorySwappiness);
  if (swappiness !== null && (swappiness < 0 || swappiness > 100))
    throw new InvalidArgument(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  if (swappiness !== null && !f.swappiness) unsupported('memory swappiness capabilities', '--memory-swappiness');
  const oomKillDisable = hc.OomKillDisable === true;
  if (oomKillDisable && !f.oomKillDisable)
    throw new InvalidArgument(
      `--oom-kill-disable cannot be honoured on this host: the kernel does not support OomKillDisable${f.version === 2 ? ' (cgroup v2 cannot disable the OOM killer)' : ''}`,
    );
  const adj = n(hc.OomScoreAdj);
  if (adj < -1000 || adj > 1000)
    throw new InvalidArgument(`Invalid value ${adj}, range for oom score adj is [-1000, 1000]`);
  if (hc.CgroupParent)
    throw new InvalidArgument(`--cgroup-parent is not supported by cocon: every container's cgroup is /cocon/<id>`);
  if (n(hc.KernelMemory) || n(hc.KernelMemoryTCP))
    throw new InvalidArgument(
      '--kernel-memory is not supported by cocon (kernel memory limits are deprecated in the kernel and in docker)',
    );

  // 0/unset: the daemon's default applies (containers/privileges.ts); negative: unlimited, kept as -1 like docker
  const pids =
    hc.PidsLimit === undefined || hc.PidsLimit === null || n(hc.PidsLimit) === 0
      ? null
      : n(hc.PidsLimit) < 0
        ? -1
        : n(hc.PidsLimit);
  if (pids !== null && pids > 0 && !f.pids) unsupported('PIDs limit capabilities', '--pids-limit');

  const nano = n(hc.NanoCpus);
  const period = n(hc.CpuPeriod);
  const quota = n(hc.CpuQuota);
  if (nano > 0 && period > 0)
    throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0)
    throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano > 0 && !f.cpuCfs)
    throw new InvalidArgument(
      'NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted',
    );
  if (nano < 0 || nano > f.ncpu * 1e9)
    throw new InvalidArgument(`Range of CPUs is from 0.01 to ${f.ncpu}.00, as there are only ${f.ncpu} CPUs available`);
  if (n(hc.CpuShares) < 0)
    throw new InvalidArgument(`invalid CPU shares (${n(hc.CpuShares)}): value must be a positive integer`);
  if (n(hc.CpuShares) > 0 && !f.cpuShares) unsupported('CPU shares', '--cpu-shares');
  if ((period || quota) && !f.cpuCfs) unsupported('CPU CFS scheduler', '--cpu-period/--cpu-quota');
  if (period !== 0 && (period < 1000 || period > 1000000))
    throw new InvalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw new InvalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (n(hc.CpuRealtimePeriod) || n(hc.CpuRealtimeRuntime))
    throw new InvalidArgument(
      '--cpu-rt-period/--cpu-rt-runtime are not supported by cocon (the daemon runs no realtime scheduler group)',
    );
  if (n(hc.CpuCount) || n(hc.CpuPercent))
    throw new InvalidArgument('linux does not support CPU count or CPU percent (Windows options)');
  const cpus = typeof hc.CpusetCpus === 'string' ? hc.CpusetCpus : '';
  const mems = typeof hc.CpusetMems === 'string' ? hc.CpusetMems : '';
  if ((cpus || mems) && !f.cpuset) unsupported('cpuset', '--cpuset-cpus/--cpuset-mems');
  checkCpuset(cpus, f.cpus, 'cpus');
  checkCpuset(mems, f.mems, 'mems');

  const weight = n(hc.BlkioWeight);
  if (weight > 0 && !f.blkioWeight)
    unsupported('Block I/O weight (no blkio.weight nor blkio.bfq.weight: no CFQ/BFQ disk scheduler)', '--blkio-weight');
  if (weight !== 0 && (weight < 10 || weight > 1000))
    throw new InvalidArgument('Range of blkio weight is from 10 to 1000');
  if (n(hc.IOMaximumBandwidth) || n(hc.IOMaximumIOps))
    throw new InvalidArgument('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  const wdev = list<WeightDevice>(hc.BlkioWeightDevice);
  if (wdev.length && !f.blkioWeight) unsupported('Block I/O weight_device', '--blkio-weight-device');
  for (const d of wdev) {
    if (n(d.Weight) < 10 || n(d.Weight) > 1000)
      throw new InvalidArgument(`invalid weight for device: ${d.Weight}: the weight is from 10 to 1000`);
    if (!f.blockDevice(String(d.Path)))
      throw new InvalidArgument(`--blkio-weight-device: ${d.Path} is not a block device on this host`);
  }
  for (const [field, flag, what] of THROTTLES) {
    const devs = list<ThrottleDevice>(hc[field]);
    if (devs.length && !f.blkioThrottle) unsupported(what, flag);
    for (const d of devs) {
      if (typeof d?.Path !== 'string' || !Number.isSafeInteger(d.Rate) || d.Rate < 0)
        throw new InvalidArgument(`${flag}: a device path and a positive rate are expected`);
      if (!f.blockDevice(d.Path)) throw new InvalidArgument(`${flag}: ${d.Path} is not a block device on this host`);
    }
  }

  const shm = n(hc.ShmSize);
  if (shm < 0) throw new InvalidArgument('SHM size can not be less than 0');
  return {
    ShmSize: shm || DEFAULT_SHM_SIZE,
    PidsLimit: pids,
    MemorySwappiness: swappiness,
    OomKillDisable: oomKillDisable,
  };
}

type ResourceInput = Pick<
  SpecInput,
  | 'oomScoreAdj'
  | 'memory'
  | 'memorySwap'
  | 'memoryReservation'
  | 'memorySwappiness'
  | 'oomKillDisable'
  | 'nanoCpus'
  | 'cpuQuota'
  | 'cpuPeriod'
  | 'cpusetCpus'
  | 'cpusetMems'
  | 'cpuShares'
  | 'pidsLimit'
  | 'shmSize'
  | 'blockIO'
>;

function blockIO(hc: Partial<HostConfig>, dev: ResourceFacts['blockDevice']): OciResources['blockIO'] {
  const out: NonNullable<OciResources['blockIO']> = {};
  if (n(hc.BlkioWeight) > 0) out.weight = n(hc.BlkioWeight);
  const wd = list<WeightDevice>(hc.BlkioWeightDevice).flatMap((d) => {
    const m = dev(d.Path);
    return m ? [{ ...m, weight: d.Weight }] : [];
  });
  if (wd.length) out.weightDevice = wd;
  const key = {
    BlkioDeviceReadBps: 'throttleReadBpsDevice',
    BlkioDeviceWriteBps: 'throttleWriteBpsDevice',
    BlkioDeviceReadIOps: 'throttleReadIOPSDevice',
    BlkioDeviceWriteIOps: 'throttleWriteIOPSDevice',
  } as const;
  for (const [field] of THROTTLES) {
    const t = list<ThrottleDevice>(hc[field]).flatMap((d) => {
      const m = dev(d.Path);
      return m ? [{ ...m, rate: d.Rate }] : [];
    });
    if (t.length) out[key[field]] = t;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The spec builder's resource inputs for a stored HostConfig (block devices looked up now, as dockerd does at start). */
export function resourceSpecInput(hc: Partial<HostConfig>, dev: ResourceFacts['blockDevice']): ResourceInput {
  const memory = n(hc.Memory);
  return {
    oomScoreAdj: n(hc.OomScoreAdj) || undefined,
    memory: memory || undefined,
    memorySwap: memory && hc.MemorySwap ? n(hc.MemorySwap) : undefined,
    memoryReservation: n(hc.MemoryReservation) || undefined,
    memorySwappiness:
      typeof hc.MemorySwappiness === 'number' && hc.MemorySwappiness >= 0 ? hc.MemorySwappiness : undefined,
    oomKillDisable: hc.OomKillDisable === true || undefined,
    nanoCpus: n(hc.NanoCpus) || undefined,
    cpuQuota: n(hc.CpuQuota) || undefined,
    cpuPeriod: n(hc.CpuPeriod) || undefined,
    cpusetCpus: (hc.CpusetCpus as string | undefined) || undefined,
    cpusetMems: (hc.CpusetMems as string | undefined) || undefined,
    cpuShares: n(hc.CpuShares) || undefined,
    pidsLimit: n(hc.PidsLimit) > 0 ? n(hc.PidsLimit) : undefined,
    shmSize: n(hc.ShmSize) || undefined,
    blockIO: blockIO(hc, dev),
  };
}

/** The body of POST /containers/{id}/update (docker's UpdateConfig: Resources + RestartPolicy). */
export interface UpdateBody {
  BlkioWeight?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  NanoCpus?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  KernelMemory?: number;
  PidsLimit?: number | null;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
  [k: string]: unknown;
}

/** Fields an update body may carry (docker's Resources) that docker's update does not change: refused when set. */
const NOT_UPDATABLE = [
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'Devices',
  'DeviceCgroupRules',
  'DeviceRequests',
  'Ulimits',
  'CgroupParent',
  'OomKillDisable',
  'MemorySwappiness',
];

function isSet(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === 0 || v === false) return false;
  if (Array.isArray(v)) return v.length > 0;
  return !(typeof v === 'object' && Object.keys(v as object).length === 0);
}

export interface UpdatePlan {
  /** the HostConfig to store */
  hostConfig: HostConfig;
  /** what `runc update` gets for a running container (only the groups the update touches); null: nothing to apply */
  runc: OciResources | null;
}

/**
 * docker's update rules: a zero field is "unchanged"; NanoCpus and CPU period/quota exclude each
 * other across the old and new settings; a memory limit above the current memory+swap limit needs
 * a new --memory-swap; a restart policy cannot be set with AutoRemove. The merged result is then
 * checked like a create (validateResources and `checkMemory`). Throws InvalidArgument or Conflict.
 */
export function planUpdate(
  cur: HostConfig,
  body: UpdateBody,
  f: ResourceFacts,
  id: string,
  checkMemory: (hc: Partial<HostConfig>) => { Memory: number; MemorySwap: number },
): UpdatePlan {
  for (const k of NOT_UPDATABLE)
    if (isSet(body[k])) throw new InvalidArgument(`${k} cannot be changed by update: recreate the container`);
  const conflict = (m: string) => new Conflict(`Cannot update container ${id}: ${m}`);
  const nano = n(body.NanoCpus);
  const period = n(body.CpuPeriod);
  const quota = n(body.CpuQuota);
  if (nano > 0 && period > 0)
    throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0)
    throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano > 0 && n(cur.CpuPeriod) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (nano > 0 && n(cur.CpuQuota) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (period > 0 && n(cur.NanoCpus) > 0)
    throw conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (quota > 0 && n(cur.NanoCpus) > 0)
    throw conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');

  const next: HostConfig = { ...cur };
  const copy = (k: keyof UpdateBody & string) => {
    if (isSet(body[k])) next[k] = body[k];
  };
  for (const k of [
    'BlkioWeight',
    'CpuShares',
    'NanoCpus',
    'CpuPeriod',
    'CpuQuota',
    'CpusetCpus',
    'CpusetMems',
    'MemoryReservation',
    'KernelMemory',
    'CpuRealtimePeriod',
    'CpuRealtimeRuntime',
  ])
    copy(k);
  const memory = n(body.Memory);
  const swap = n(body.MemorySwap);
  if (memory) {
    const curSwap = n(cur.MemorySwap);
    if (curSwap > 0 && memory > curSwap && !swap)
      throw conflict(
        'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
      );
    next.Memory = memory;
  }
  if (swap) {
    if (!n(next.Memory))
      throw new InvalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
    next.MemorySwap = swap;
  }
  if (body.PidsLimit !== undefined && body.PidsLimit !== null)
    next.PidsLimit = body.PidsLimit > 0 ? body.PidsLimit : null;
  const rp = body.RestartPolicy;
  if (rp?.Name) {
    if (cur.AutoRemove && rp.Name !== 'no')
      throw conflict('Restart policy cannot be updated because AutoRemove is enabled for the container');
    next.RestartPolicy = {
      Name: rp.Name as HostConfig['RestartPolicy']['Name'],
      MaximumRetryCount: n(rp.MaximumRetryCount),
    };
  }
  // The whole result must be a valid create: the same checks, with this host's facts.
  // An update keeps the stored memory+swap limit unless it gives one (docker's default of twice
  // --memory is a create-time rule): 0 stays "no swap limit", in the record and in the cgroup.
  checkMemory(next);
  const checked = validateResources(next, f);
  next.PidsLimit = checked.PidsLimit;

  const r: OciResources = {};
  if (memory || swap || isSet(body.MemoryReservation)) {
    r.memory = {};
    if (n(next.Memory)) r.memory.limit = n(next.Memory);
    if (n(next.MemorySwap)) r.memory.swap = n(next.MemorySwap);
    if (n(next.MemoryReservation)) r.memory.reservation = n(next.MemoryReservation);
  }
  if (nano || period || quota || isSet(body.CpuShares) || isSet(body.CpusetCpus) || isSet(body.CpusetMems)) {
    r.cpu = {};
    if (n(next.CpuShares)) r.cpu.shares = n(next.CpuShares);
    if (n(next.NanoCpus)) {
      r.cpu.period = 100000;
      r.cpu.quota = Math.round((n(next.NanoCpus) * 100000) / 1e9);
    } else {
      if (n(next.CpuPeriod)) r.cpu.period = n(next.CpuPeriod);
      if (n(next.CpuQuota)) r.cpu.quota = n(next.CpuQuota);
    }
    if (next.CpusetCpus) r.cpu.cpus = String(next.CpusetCpus);
    if (next.CpusetMems) r.cpu.mems = String(next.CpusetMems);
  }
  if (body.PidsLimit !== undefined && body.PidsLimit !== null)
    r.pids = { limit: n(next.PidsLimit) > 0 ? n(next.PidsLimit) : -1 };
  if (isSet(body.BlkioWeight)) r.blockIO = { weight: n(next.BlkioWeight) };
  return { hostConfig: next, runc: Object.keys(r).length ? r : null };
}
