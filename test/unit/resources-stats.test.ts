// Unit tests for docker's stats JSON from cgroup v1 and v2 file texts (runtime/stats.ts), the
// resource rules of create and update (containers/resources.ts) and the spec's blockIO.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dockerStats,
  emptyStats,
  parseBlkioV1,
  parseIoStatV2,
  parseNetDev,
  systemCpuNs,
  type Sample,
} from '../../src/runtime/stats.js';
import {
  parseCpuset,
  planUpdate,
  resourceSpecInput,
  validateResources,
  type ResourceFacts,
} from '../../src/containers/resources.js';
import { validateMemory } from '../../src/containers/hostconfig.js';
import { buildSpec } from '../../src/runtime/spec.js';
import { EngineError } from '../../src/core/errors.js';
import type { HostConfig } from '../../src/containers/types.js';

const PROC_STAT = 'cpu  722050 0 371809 1760040 2509 0 1851 0 0 0\ncpu0 360944 0 185945 881010 695 0 338 0 0 0\n';
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1986      27    1    2    0     0          0         0      500       5    3    4    0     0       0          0
`;

const V1: Sample = {
  time: '2026-12-05T12:00:01.000000000Z',
  procStat: PROC_STAT,
  netDev: NET_DEV,
  cgroup: {
    version: 1,
    files: {
      'memory/memory.usage_in_bytes': '323584\n',
      'memory/memory.max_usage_in_bytes': '4206592\n',
      'memory/memory.failcnt': '0\n',
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/memory.stat': 'cache 0\nrss 49152\ntotal_inactive_file 4096\n',
      'cpuacct/cpuacct.usage': '93319301\n',
      'cpuacct/cpuacct.usage_percpu': '66307946 27011355 \n',
      'cpuacct/cpuacct.stat': 'user 3\nsystem 5\n',
      'cpu/cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 12345\n',
      'pids/pids.current': '3\n',
      'pids/pids.max': 'max\n',
      'blkio/blkio.throttle.io_service_bytes_recursive':
        '254:0 Read 73728\n254:0 Write 2109440\n254:0 Total 2183168\nTotal 2183168\n',
      'blkio/blkio.throttle.io_serviced_recursive': '254:0 Read 3\n254:0 Write 7\nTotal 10\n',
    },
  },
};

const V2: Sample = {
  time: '2026-12-05T12:00:02.000000000Z',
  procStat: PROC_STAT,
  netDev: null,
  cgroup: {
    version: 2,
    files: {
      'memory.current': '1048576\n',
      'memory.max': '67108864\n',
      'memory.stat': 'anon 4096\nfile 8192\ninactive_file 8192\n',
      'cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 30\n',
      'pids.current': '2\n',
      'pids.max': '50\n',
      'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
    },
  },
};

test("stats v1: dockerd 20.10's shape and values from cgroup v1 files", () => {
  const s = dockerStats({ id: 'abc', name: '/web', cur: V1, pre: null, memTotal: 25276026880, onlineCpus: 2 });
  assert.deepEqual(Object.keys(s), [
    'read',
    'preread',
    'pids_stats',
    'blkio_stats',
    'num_procs',
    'storage_stats',
    'cpu_stats',
    'precpu_stats',
    'memory_stats',
    'name',
    'id',
    'networks',
  ]);
  assert.equal(s.preread, '0001-01-01T00:00:00Z');
  assert.deepEqual(s.pids_stats, { current: 3 });
  assert.deepEqual(s.cpu_stats.cpu_usage, {
    total_usage: 93319301,
    percpu_usage: [66307946, 27011355],
    usage_in_kernelmode: 50000000,
    usage_in_usermode: 30000000,
  });
  assert.equal(s.cpu_stats.system_cpu_usage, (722050 + 371809 + 1760040 + 2509 + 1851) * 1e7);
  assert.equal(s.cpu_stats.online_cpus, 2);
  assert.deepEqual(s.cpu_stats.throttling_data, { periods: 10, throttled_periods: 2, throttled_time: 12345 });
  assert.deepEqual(s.precpu_stats, {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  // unlimited: the host's memory, as dockerd reports it; failcnt 0 is left out (omitempty)
  assert.deepEqual(s.memory_stats, {
    usage: 323584,
    max_usage: 4206592,
    stats: { cache: 0, rss: 49152, total_inactive_file: 4096 },
    limit: 25276026880,
  });
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [
    { major: 254, minor: 0, op: 'Read', value: 73728 },
    { major: 254, minor: 0, op: 'Write', value: 2109440 },
    { major: 254, minor: 0, op: 'Total', value: 2183168 },
  ]);
  assert.deepEqual(s.blkio_stats.io_queue_recursive, []);
  assert.deepEqual(s.networks, {
    eth0: {
      rx_bytes: 1986,
      rx_packets: 27,
      rx_errors: 1,
      rx_dropped: 2,
      tx_bytes: 500,
      tx_packets: 5,
      tx_errors: 3,
      tx_dropped: 4,
    },
  });
});

test('stats v2: cpu.stat in µs, memory.max as the limit, io.stat as read/write, pids.max as the limit', () => {
  const s = dockerStats({ id: 'abc', name: '/web', cur: V2, pre: V2, memTotal: 1 << 30, onlineCpus: 4 });
  assert.deepEqual(s.cpu_stats.cpu_usage, {
    total_usage: 2_000_000,
    usage_in_kernelmode: 500_000,
    usage_in_usermode: 1_500_000,
  });
  assert.deepEqual(s.cpu_stats.throttling_data, { periods: 4, throttled_periods: 1, throttled_time: 30_000 });
  assert.equal(s.preread, V2.time);
  assert.equal(s.precpu_stats.cpu_usage.total_usage, 2_000_000);
  assert.deepEqual(s.memory_stats, {
    usage: 1048576,
    stats: { anon: 4096, file: 8192, inactive_file: 8192 },
    limit: 67108864,
  });
  assert.deepEqual(s.pids_stats, { current: 2, limit: 50 });
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'read', value: 4096 },
    { major: 8, minor: 0, op: 'write', value: 8192 },
  ]);
  assert.deepEqual(s.blkio_stats.io_serviced_recursive, [
    { major: 8, minor: 0, op: 'read', value: 1 },
    { major: 8, minor: 0, op: 'write', value: 2 },
  ]);
  assert.equal(s.blkio_stats.sectors_recursive, null);
  assert.equal('networks' in s, false, 'host network: no networks');
});

test('stats parsers: blkio summary lines skipped, io.stat, net/dev without lo, /proc/stat, a stopped container', () => {
  assert.deepEqual(parseBlkioV1('Total 0\n'), []);
  assert.deepEqual(parseIoStatV2(''), { bytes: [], ios: [] });
  assert.equal(parseNetDev(NET_DEV.split('\n').slice(0, 3).join('\n')), undefined, 'only lo: no networks');
  assert.equal(systemCpuNs('intr 1\n'), 0);
  const e = emptyStats('abc', '/x');
  assert.equal(e.read, '0001-01-01T00:00:00Z');
  assert.deepEqual(e.memory_stats, {});
  assert.equal(e.blkio_stats.io_service_bytes_recursive, null);
  assert.equal(JSON.stringify(e).includes('"networks"'), false);
});

const FACTS: ResourceFacts = {
  version: 1,
  memory: true,
  swap: true,
  memoryReservation: true,
  oomKillDisable: true,
  swappiness: true,
  cpuShares: true,
  cpuCfs: true,
  cpuset: true,
  pids: true,
  blkioWeight: false,
  blkioThrottle: true,
  cpus: '0-1',
  mems: '0',
  ncpu: 2,
  blockDevice: (p) => (p === '/dev/vda' ? { major: 254, minor: 0 } : null),
};
const mib = 1024 * 1024;

function refuses(fn: () => unknown, re: RegExp, kind = 'invalid-argument'): void {
  assert.throws(fn, (e: unknown) => e instanceof EngineError && e.kind === kind && re.test(e.message), String(re));
}

test("create rules: docker's messages, and what this host cannot enforce is refused", () => {
  const v = (hc: Partial<HostConfig>, f: Partial<ResourceFacts> = {}) => validateResources(hc, { ...FACTS, ...f });
  refuses(
    () => v({ NanoCpus: 5e8, CpuPeriod: 50000 }),
    /^Conflicting options: Nano CPUs and CPU Period cannot both be set$/,
  );
  refuses(() => v({ NanoCpus: 5e8, CpuQuota: 50000 }), /Nano CPUs and CPU Quota cannot both be set/);
  refuses(() => v({ NanoCpus: 3e9 }), /^Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available$/);
  refuses(() => v({ CpuPeriod: 500 }), /CPU cfs period can not be less than 1ms/);
  refuses(() => v({ CpuQuota: 10 }), /CPU cfs quota can not be less than 1ms/);
  refuses(() => v({ CpusetCpus: '0-5' }), /^Requested CPUs are not available - requested 0-5, available: 0-1$/);
  refuses(() => v({ CpusetCpus: '1-x' }), /^Invalid value 1-x for cpuset cpus$/);
  refuses(() => v({ CpusetMems: '1' }), /Requested memory nodes are not available/);
  refuses(() => v({ BlkioWeight: 300 }), /--blkio-weight cannot be honoured on this host/);
  refuses(() => v({ BlkioWeight: 5 }, { blkioWeight: true }), /Range of blkio weight is from 10 to 1000/);
  refuses(
    () => v({ BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] }),
    /--device-read-bps: \/dev\/nope is not a block device/,
  );
  refuses(
    () => v({ BlkioDeviceWriteIOps: [{ Path: '/dev/vda', Rate: 1 }] }, { blkioThrottle: false }),
    /--device-write-iops cannot be honoured/,
  );
  refuses(() => v({ MemoryReservation: 1024 }), /Minimum memory reservation allowed is 6MB/);
  refuses(
    () => v({ Memory: 64 * mib, MemoryReservation: 128 * mib }),
    /Minimum memory limit can not be less than memory reservation limit/,
  );
  refuses(
    () => v({ OomKillDisable: true }, { version: 2, oomKillDisable: false }),
    /--oom-kill-disable cannot be honoured.*cgroup v2/,
  );
  refuses(() => v({ MemorySwappiness: 101 }), /valid memory swappiness range is 0-100/);
  refuses(() => v({ PidsLimit: 10 }, { pids: false }), /--pids-limit cannot be honoured/);
  refuses(() => v({ ShmSize: -1 }), /SHM size can not be less than 0/);
  refuses(() => v({ KernelMemory: 64 * mib }), /--kernel-memory is not supported/);
  refuses(() => v({ OomScoreAdj: 1001 }), /Invalid value 1001, range for oom score adj is \[-1000, 1000\]/);
  refuses(() => v({ CgroupParent: 'mine' }), /--cgroup-parent is not supported by cocon/);
  refuses(() => v({ CpuRealtimeRuntime: 1000 }), /--cpu-rt-period\/--cpu-rt-runtime are not supported/);
  // normalised as docker stores them
  assert.deepEqual(v({}), { ShmSize: 64 * mib, PidsLimit: null, MemorySwappiness: null, OomKillDisable: false });
  assert.deepEqual(v({ ShmSize: 16 * mib, PidsLimit: -1, MemorySwappiness: -1 }), {
    ShmSize: 16 * mib,
    PidsLimit: -1,
    MemorySwappiness: null,
    OomKillDisable: false,
  }); // -1 stays: unlimited, not the daemon's default
  assert.equal(v({ PidsLimit: 20 }).PidsLimit, 20);
  assert.deepEqual([...parseCpuset('0-2,4')!], [0, 1, 2, 4]);
  assert.equal(parseCpuset('3-1'), null);
});

test('spec: every resource flag reaches the OCI resources, block devices resolved', () => {
  const hc: Partial<HostConfig> = {
    Memory: 64 * mib,
    MemorySwap: 128 * mib,
    MemoryReservation: 32 * mib,
    MemorySwappiness: 10,
    OomKillDisable: true,
    CpuShares: 512,
    CpuPeriod: 50000,
    CpuQuota: 25000,
    CpusetCpus: '1',
    CpusetMems: '0',
    PidsLimit: 20,
    ShmSize: 16 * mib,
    BlkioDeviceReadBps: [{ Path: '/dev/vda', Rate: 1048576 }],
    BlkioDeviceWriteIOps: [
      { Path: '/dev/vda', Rate: 100 },
      { Path: '/dev/gone', Rate: 5 },
    ],
  };
  const spec = buildSpec({
    args: ['true'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    terminal: false,
    hostname: 'h',
    rootfsPath: '/r',
    readonlyRootfs: false,
    privileged: false,
    capAdd: [],
    capDrop: [],
    networkMode: 'none',
    mounts: [],
    cgroupsPath: '/cocon/x',
    rlimitNofileHard: 1024,
    noNewPrivileges: false,
    seccomp: false,
    ...resourceSpecInput(hc, FACTS.blockDevice),
  });
  const r = spec.linux.resources!;
  assert.deepEqual(r.memory, {
    limit: 64 * mib,
    swap: 128 * mib,
    reservation: 32 * mib,
    disableOOMKiller: true,
    swappiness: 10,
  });
  assert.deepEqual(r.cpu, { shares: 512, period: 50000, quota: 25000, cpus: '1', mems: '0' });
  assert.deepEqual(r.pids, { limit: 20 });
  assert.deepEqual(r.blockIO, {
    throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
    throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
  });
  assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')!.options!.includes('size=16384k'));
});

test("update rules: zero is unchanged, docker's conflicts, only touched groups go to runc", () => {
  const cur = {
    NetworkMode: 'default',
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    Privileged: false,
    ReadonlyRootfs: false,
    Memory: 64 * mib,
    MemorySwap: 128 * mib,
    NanoCpus: 5e8,
    CpuShares: 0,
  } as HostConfig;
  const mem = (hc: Partial<HostConfig>) => validateMemory(hc, { swapLimit: true });
  const p = planUpdate(
    cur,
    {
      Memory: 100 * mib,
      CpuShares: 512,
      PidsLimit: 30,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      BlkioWeightDevice: null,
      Ulimits: null,
      MemorySwappiness: null,
    },
    FACTS,
    'id1',
    mem,
  );
  assert.equal(p.hostConfig.Memory, 100 * mib);
  assert.equal(p.hostConfig.MemorySwap, 128 * mib, 'swap kept');
  assert.equal(p.hostConfig.NanoCpus, 5e8, 'zero NanoCpus in the body leaves it');
  assert.deepEqual(p.hostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(p.hostConfig.PidsLimit, 30);
  assert.deepEqual(p.runc, {
    memory: { limit: 100 * mib, swap: 128 * mib },
    cpu: { shares: 512, period: 100000, quota: 50000 },
    pids: { limit: 30 },
  });
  assert.equal(
    planUpdate(cur, { RestartPolicy: { Name: 'always' } }, FACTS, 'id1', mem).runc,
    null,
    'a restart policy alone touches no cgroup',
  );
  assert.deepEqual(planUpdate(cur, { PidsLimit: -1 }, FACTS, 'id1', mem).runc, { pids: { limit: -1 } });
  refuses(
    () => planUpdate(cur, { Memory: 256 * mib }, FACTS, 'id1', mem),
    /^Cannot update container id1: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time$/,
    'conflict',
  );
  refuses(
    () => planUpdate(cur, { CpuQuota: 20000 }, FACTS, 'id1', mem),
    /CPU Quota cannot be updated as NanoCPUs has already been set/,
    'conflict',
  );
  refuses(
    () => planUpdate({ ...cur, NanoCpus: 0, CpuPeriod: 50000 }, { NanoCpus: 1e9 }, FACTS, 'id1', mem),
    /Nano CPUs cannot be updated as CPU Period has already been set/,
    'conflict',
  );
  refuses(
    () => planUpdate({ ...cur, AutoRemove: true }, { RestartPolicy: { Name: 'always' } }, FACTS, 'id1', mem),
    /AutoRemove is enabled/,
    'conflict',
  );
  refuses(
    () => planUpdate(cur, { BlkioDeviceReadBps: [{ Path: '/dev/vda', Rate: 1 }] }, FACTS, 'id1', mem),
    /BlkioDeviceReadBps cannot be changed by update/,
  );
  refuses(() => planUpdate(cur, { CpusetCpus: '7' }, FACTS, 'id1', mem), /Requested CPUs are not available/);
  refuses(() => planUpdate(cur, { BlkioWeight: 300 }, FACTS, 'id1', mem), /--blkio-weight cannot be honoured/);
  const big = planUpdate(cur, { Memory: 256 * mib, MemorySwap: 512 * mib }, FACTS, 'id1', mem);
  assert.deepEqual([big.hostConfig.Memory, big.hostConfig.MemorySwap], [256 * mib, 512 * mib]);
  const none = { ...cur, Memory: 0, MemorySwap: 0, NanoCpus: 0 } as HostConfig;
  const first = planUpdate(none, { Memory: 32 * mib }, FACTS, 'id1', mem);
  assert.deepEqual([first.hostConfig.Memory, first.hostConfig.MemorySwap], [32 * mib, 0], 'no swap limit stays none');
});
