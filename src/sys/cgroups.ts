// The host's cgroups as the engine needs them: which version is mounted at /sys/fs/cgroup (v1,
// including the hybrid layout of this machine kind, or the unified v2 hierarchy), what resource
// controls the kernel offers (so a flag it cannot honour is refused, not dropped), and the raw
// text of a container's cgroup files for stats, read by a v1 or a v2 reader. The runtime (runc)
// creates and writes the cgroups; this module only reads. cgroupfs paths only (no systemd).
// Parsing the files into docker's stats JSON is pure and lives in src/runtime/stats.ts.
import { existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

export type CgroupVersion = 1 | 2;

let version: CgroupVersion | null = null;
/** 2 when /sys/fs/cgroup is the unified hierarchy; 1 for v1 and hybrid (v1 controllers + a cgroup2 mount). */
export function cgroupVersion(): CgroupVersion {
  if (version === null) {
    try {
      version = statfsSync(CGROUP_ROOT).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
    } catch {
      version = 1;
    }
  }
  return version;
}

/** What the kernel's cgroups let the engine enforce (docker's sysinfo). */
export interface CgroupFacts {
  version: CgroupVersion;
  memory: boolean;
  /** memory + swap limit (v1 memory.memsw.*, v2 memory.swap.max) */
  swap: boolean;
  /** soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low) */
  memoryReservation: boolean;
  /** v1 memory.oom_control; v2 has no way to disable the OOM killer */
  oomKillDisable: boolean;
  /** v1 memory.swappiness; not in v2 */
  swappiness: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuset: boolean;
  pids: boolean;
  /** v1 blkio.weight or blkio.bfq.weight (CFQ/BFQ schedulers); v2 io controller */
  blkioWeight: boolean;
  /** v1 blkio.throttle.*, v2 io.max */
  blkioThrottle: boolean;
  /** CPUs and memory nodes a container may be pinned to ("0-1") */
  cpus: string;
  mems: string;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

let facts: CgroupFacts | null = null;
/** The host's facts, found once. */
export function cgroupFacts(): CgroupFacts {
  if (facts) return facts;
  const R = CGROUP_ROOT;
  if (cgroupVersion() === 2) {
    const ctl = (readText(join(R, 'cgroup.subtree_control')) ?? readText(join(R, 'cgroup.controllers')) ?? '')
      .trim()
      .split(/\s+/);
    const has = (c: string) => ctl.includes(c);
    facts = {
      version: 2,
      memory: has('memory'),
      swap: has('memory'),
      memoryReservation: has('memory'),
      oomKillDisable: false,
      swappiness: false,
      cpuShares: has('cpu'),
      cpuCfs: has('cpu'),
      cpuset: has('cpuset'),
      pids: has('pids'),
      blkioWeight: has('io'),
      blkioThrottle: has('io'),
      cpus: (readText(join(R, 'cpuset.cpus.effective')) ?? '').trim() || `0-${os.cpus().length - 1}`,
      mems: (readText(join(R, 'cpuset.mems.effective')) ?? '').trim() || '0',
    };
  } else {
    const f = (ctl: string, file: string) => existsSync(join(R, ctl, file));
    facts = {
      version: 1,
      memory: f('memory', 'memory.limit_in_bytes'),
      swap: f('memory', 'memory.memsw.limit_in_bytes'),
      memoryReservation: f('memory', 'memory.soft_limit_in_bytes'),
      oomKillDisable: f('memory', 'memory.oom_control'),
      swappiness: f('memory', 'memory.swappiness'),
      cpuShares: f('cpu', 'cpu.shares'),
      cpuCfs: f('cpu', 'cpu.cfs_quota_us'),
      cpuset: f('cpuset', 'cpuset.cpus'),
      pids: existsSync(join(R, 'pids')),
      blkioWeight: f('blkio', 'blkio.weight') || f('blkio', 'blkio.bfq.weight'),
      blkioThrottle: f('blkio', 'blkio.throttle.read_bps_device'),
      cpus:
        (
          readText(join(R, 'cpuset', 'cpuset.effective_cpus')) ??
          readText(join(R, 'cpuset', 'cpuset.cpus')) ??
          ''
        ).trim() || `0-${os.cpus().length - 1}`,
      mems:
        (
          readText(join(R, 'cpuset', 'cpuset.effective_mems')) ??
          readText(join(R, 'cpuset', 'cpuset.mems')) ??
          ''
        ).trim() || '0',
    };
  }
  return facts;
}

/** The files each reader takes, relative to the hierarchy root (v1: "<controller>/<file>"). */
export const V1_FILES = [
  'memory/memory.usage_in_bytes',
  'memory/memory.max_usage_in_bytes',
  'memory/memory.failcnt',
  'memory/memory.limit_in_bytes',
  'memory/memory.stat',
  'cpuacct/cpuacct.usage',
  'cpuacct/cpuacct.usage_percpu',
  'cpuacct/cpuacct.stat',
  'cpu/cpu.stat',
  'pids/pids.current',
  'pids/pids.max',
  'blkio/blkio.throttle.io_service_bytes_recursive',
  'blkio/blkio.throttle.io_serviced_recursive',
] as const;
export const V2_FILES = [
  'memory.current',
  'memory.max',
  'memory.stat',
  'cpu.stat',
  'pids.current',
  'pids.max',
  'io.stat',
] as const;

/** A container cgroup's raw file texts (a file the kernel lacks is absent). */
export interface CgroupFiles {
  version: CgroupVersion;
  files: Record<string, string>;
}

/**
 * Reads a container's cgroup (cgroupfs path like "/cocon/<id>", as given to runc). Null when the
 * cgroup does not exist (the container is not running).
 */
export function readCgroup(cgroupsPath: string): CgroupFiles | null {
  const v = cgroupVersion();
  const files: Record<string, string> = {};
  if (v === 2) {
    const dir = join(CGROUP_ROOT, cgroupsPath);
    for (const f of V2_FILES) {
      const t = readText(join(dir, f));
      if (t !== undefined) files[f] = t;
    }
    if (files['cpu.stat'] === undefined && files['memory.current'] === undefined) return null;
  } else {
    // v1: each controller has its own hierarchy: /sys/fs/cgroup/<controller>/<path>/<file>
    for (const f of V1_FILES) {
      const [ctl, name] = f.split('/');
      const t = readText(join(CGROUP_ROOT, ctl, cgroupsPath, name));
      if (t !== undefined) files[f] = t;
    }
    if (files['cpuacct/cpuacct.usage'] === undefined && files['memory/memory.usage_in_bytes'] === undefined)
      return null;
  }
  return { version: v, files };
}

/** /proc/stat (the host's CPU time, for system_cpu_usage). */
export function procStat(): string {
  return readText('/proc/stat') ?? '';
}

/** The network interfaces' counters of a process's network namespace (/proc/PID/net/dev); null when it is gone. */
export function netDev(pid: number): string | null {
  if (!pid) return null;
  return readText(`/proc/${pid}/net/dev`) ?? null;
}

/** Major and minor numbers of a block device node; null when the path is not one. */
export function blockDevice(path: string): { major: number; minor: number } | null {
  try {
    const st = statSync(path);
    if (!st.isBlockDevice()) return null;
    // Linux dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 and 20-31.
    const rdev = st.rdev;
    const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    return { major, minor };
  } catch {
    return null;
  }
}

/** The facts with the CPU count and the block device lookup: what resource checks take (containers/resources.ts). */
let ncpu = 0;
export function hostResources(): CgroupFacts & { ncpu: number; blockDevice: typeof blockDevice } {
  // os.cpus() reads /proc/stat and every cpu's cpufreq files: once per daemon, not per create.
  ncpu ||= os.cpus().length;
  return { ...cgroupFacts(), ncpu, blockDevice };
}

/** Test hook: forget the facts found (they are cached for the daemon's life). */
export function resetCgroupFacts(): void {
  facts = null;
  version = null;
}
