// Docker's container stats JSON (GET /containers/{id}/stats, API 1.41) from the raw text of a
// container's cgroup files (cgroup v1 or v2, read by src/sys/cgroups.ts), the host's /proc/stat
// and the container's /proc/PID/net/dev. Pure: every input is text or a number, so both cgroup
// versions are unit-tested on any host. Field names, order and omissions follow dockerd 20.10
// (omitempty fields are left out when zero, as Go does).

export interface CgroupText {
  version: 1 | 2;
  files: Record<string, string>;
}

/** One reading of a container, taken at `time`. */
export interface Sample {
  time: string; // RFC3339Nano
  cgroup: CgroupText;
  /** the host's /proc/stat */
  procStat: string;
  /** the container's /proc/PID/net/dev; null for --network host (docker reports no networks then) */
  netDev: string | null;
}

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}
export interface NetStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface StatsJSON {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<(typeof BLKIO_KEYS)[number], BlkioEntry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: {
    usage?: number;
    max_usage?: number;
    stats?: Record<string, number>;
    failcnt?: number;
    limit?: number;
  };
  name: string;
  id: string;
  networks?: Record<string, NetStats>;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';
const BLKIO_KEYS = [
  'io_service_bytes_recursive',
  'io_serviced_recursive',
  'io_queue_recursive',
  'io_service_time_recursive',
  'io_wait_time_recursive',
  'io_merged_recursive',
  'io_time_recursive',
  'sectors_recursive',
] as const;
/** USER_HZ: /proc/stat and cpuacct.stat count in these ticks per second. */
const CLK_TCK = 100;
const NS_PER_TICK = 1e9 / CLK_TCK;

const num = (s: string | undefined): number => {
  if (s === undefined) return 0;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : 0;
};

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) -> a map of numbers. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** The host's busy + idle time in ns from /proc/stat's "cpu" line (user, nice, system, idle, iowait, irq, softirq), as dockerd sums it. */
export function systemCpuNs(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return f.reduce((t, x) => t + (Number.isFinite(x) ? x : 0), 0) * NS_PER_TICK;
}

/** v1 blkio "MAJ:MIN Op value" lines ("Total n" summary lines are skipped, as libcontainer does). */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const m = /^(\d+):(\d+)$/.exec(f[0]);
    if (!m) continue;
    out.push({ major: Number(m[1]), minor: Number(m[2]), op: f[1], value: Number(f[2]) });
  }
  return out;
}

/** v2 io.stat "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.." -> bytes and ios per device, ops "read"/"write" as dockerd reports them. */
export function parseIoStatV2(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!m) continue;
    const kv: Record<string, number> = {};
    for (const p of f.slice(1)) {
      const [k, v] = p.split('=');
      kv[k] = Number(v);
    }
    const dev = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...dev, op: 'read', value: kv.rbytes ?? 0 }, { ...dev, op: 'write', value: kv.wbytes ?? 0 });
    ios.push({ ...dev, op: 'read', value: kv.rios ?? 0 }, { ...dev, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

/** /proc/PID/net/dev -> counters per interface, loopback left out (docker lists the container's endpoints). */
export function parseNetDev(text: string | null): Record<string, NetStats> | undefined {
  if (text === null) return undefined;
  const out: Record<string, NetStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    if (!name || name === 'lo') continue;
    const f = line
      .slice(i + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out[name] = {
      rx_bytes: f[0],
      rx_packets: f[1],
      rx_errors: f[2],
      rx_dropped: f[3],
      tx_bytes: f[8],
      tx_packets: f[9],
      tx_errors: f[10],
      tx_dropped: f[11],
    };
  }
  return Object.keys(out).length ? out : undefined;
}

export function emptyCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** The CPU part of a sample (cpu_stats, or precpu_stats for the previous sample). */
export function cpuStats(s: Sample, onlineCpus: number): CpuStats {
  const f = s.cgroup.files;
  const out = emptyCpu();
  if (s.cgroup.version === 1) {
    out.cpu_usage.total_usage = num(f['cpuacct/cpuacct.usage']);
    const percpu = (f['cpuacct/cpuacct.usage_percpu'] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    if (percpu.length) out.cpu_usage.percpu_usage = percpu;
    const st = parseFlatKeyed(f['cpuacct/cpuacct.stat']);
    out.cpu_usage.usage_in_kernelmode = (st.system ?? 0) * NS_PER_TICK;
    out.cpu_usage.usage_in_usermode = (st.user ?? 0) * NS_PER_TICK;
    const t = parseFlatKeyed(f['cpu/cpu.stat']);
    out.throttling_data = {
      periods: t.nr_periods ?? 0,
      throttled_periods: t.nr_throttled ?? 0,
      throttled_time: t.throttled_time ?? 0,
    };
  } else {
    const st = parseFlatKeyed(f['cpu.stat']);
    out.cpu_usage.total_usage = (st.usage_usec ?? 0) * 1000;
    out.cpu_usage.usage_in_kernelmode = (st.system_usec ?? 0) * 1000;
    out.cpu_usage.usage_in_usermode = (st.user_usec ?? 0) * 1000;
    out.throttling_data = {
      periods: st.nr_periods ?? 0,
      throttled_periods: st.nr_throttled ?? 0,
      throttled_time: (st.throttled_usec ?? 0) * 1000,
    };
  }
  const sys = systemCpuNs(s.procStat);
  if (sys) out.system_cpu_usage = sys;
  if (onlineCpus) out.online_cpus = onlineCpus;
  return out;
}

/** A limit file's value: "max" (v2) or the v1 "no limit" value (near 2^63) mean none. */
function limitOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max' || t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export interface StatsInput {
  id: string;
  /** with the leading "/" */
  name: string;
  cur: Sample;
  /** the previous sample (precpu_stats, preread); null gives docker's zeroes */
  pre: Sample | null;
  /** the host's memory (docker reports it as the limit of an unlimited container) */
  memTotal: number;
  onlineCpus: number;
}

/** dockerd's StatsJSON for one sample (and the one before it). */
export function dockerStats(i: StatsInput): StatsJSON {
  const f = i.cur.cgroup.files;
  const v1 = i.cur.cgroup.version === 1;
  const pids: StatsJSON['pids_stats'] = {};
  const pidsCur = num(f[v1 ? 'pids/pids.current' : 'pids.current']);
  if (pidsCur) pids.current = pidsCur;
  const pidsMax = limitOf(f[v1 ? 'pids/pids.max' : 'pids.max']);
  if (pidsMax) pids.limit = pidsMax;

  const blkio = Object.fromEntries(BLKIO_KEYS.map((k) => [k, v1 ? [] : null])) as StatsJSON['blkio_stats'];
  if (v1) {
    blkio.io_service_bytes_recursive = parseBlkioV1(f['blkio/blkio.throttle.io_service_bytes_recursive']);
    blkio.io_serviced_recursive = parseBlkioV1(f['blkio/blkio.throttle.io_serviced_recursive']);
  } else {
    const io = parseIoStatV2(f['io.stat']);
    blkio.io_service_bytes_recursive = io.bytes;
    blkio.io_serviced_recursive = io.ios;
  }

  const mem: StatsJSON['memory_stats'] = {};
  if (v1) {
    mem.usage = num(f['memory/memory.usage_in_bytes']);
    const max = num(f['memory/memory.max_usage_in_bytes']);
    if (max) mem.max_usage = max;
    mem.stats = parseFlatKeyed(f['memory/memory.stat']);
    const failcnt = num(f['memory/memory.failcnt']);
    if (failcnt) mem.failcnt = failcnt;
  } else {
    mem.usage = num(f['memory.current']);
    mem.stats = parseFlatKeyed(f['memory.stat']);
  }
  const limit = limitOf(f[v1 ? 'memory/memory.limit_in_bytes' : 'memory.max']);
  // An unlimited container (or a limit above the host's memory) shows the host's memory, as dockerd does.
  mem.limit = limit === undefined || (i.memTotal > 0 && limit > i.memTotal) ? i.memTotal : limit;

  const out: StatsJSON = {
    read: i.cur.time,
    preread: i.pre?.time ?? ZERO_TIME,
    pids_stats: pids,
    blkio_stats: blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(i.cur, i.onlineCpus),
    precpu_stats: i.pre ? cpuStats(i.pre, i.onlineCpus) : emptyCpu(),
    memory_stats: mem,
    name: i.name,
    id: i.id,
  };
  const nets = parseNetDev(i.cur.netDev);
  if (nets) out.networks = nets;
  return out;
}

/** What dockerd answers for a container that is not running (stream=0): names and zeroes. */
export function emptyStats(id: string, name: string): StatsJSON {
  return {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])) as StatsJSON['blkio_stats'],
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
    name,
    id,
  };
}
