// Resource limits that hold (issue 12): each create flag read back from the container's cgroup
// files, a process flood bounded by --pids-limit, POST /update changing the live cgroup and the
// record, GET /stats with docker's JSON (stream=0, one-shot, stream=1, stopped, unknown), and
// info's real cgroup version. Real runc, real cgroups (v1 on this machine kind; v2 paths too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { request } from 'node:http';
import { basename } from 'node:path';
import { useDaemon, uniq, sleep, waitFor } from '../helpers/daemon.js';
import { create, createBody, exec, inspect, list, rm, runDetached, runToEnd, start } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });
const mib = 1024 * 1024;
const V2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;

/** A container's cgroup file: v1 /sys/fs/cgroup/<controller>/cocon/<id>/<file>, v2 /sys/fs/cgroup/cocon/<id>/<file>. */
function cg(id: string, v1: [string, string], v2: string): string {
  return readFileSync(
    V2 ? `/sys/fs/cgroup/cocon/${id}/${v2}` : `/sys/fs/cgroup/${v1[0]}/cocon/${id}/${v1[1]}`,
    'utf8',
  ).trim();
}
const memLimit = (id: string) => cg(id, ['memory', 'memory.limit_in_bytes'], 'memory.max');
const memsw = (id: string) => cg(id, ['memory', 'memory.memsw.limit_in_bytes'], 'memory.swap.max');
const cpuMax = (id: string) =>
  V2
    ? cg(id, ['', ''], 'cpu.max')
    : `${cg(id, ['cpu', 'cpu.cfs_quota_us'], '')} ${cg(id, ['cpu', 'cpu.cfs_period_us'], '')}`;
const pidsMax = (id: string) => cg(id, ['pids', 'pids.max'], 'pids.max');
const pidsCurrent = (id: string) => Number(cg(id, ['pids', 'pids.current'], 'pids.current'));
const cpusetCpus = (id: string) => cg(id, ['cpuset', 'cpuset.cpus'], 'cpuset.cpus');
const HOST_BLK = existsSync('/dev/vda')
  ? '/dev/vda'
  : existsSync('/dev/sda')
    ? '/dev/sda'
    : existsSync('/dev/loop0')
      ? '/dev/loop0'
      : '';
const BLKIO_WEIGHT =
  V2 || existsSync('/sys/fs/cgroup/blkio/blkio.weight') || existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight');

/** "MAJ:MIN" of a block device, as sysfs gives it. */
const majMin = (path: string) => readFileSync(`/sys/class/block/${basename(path)}/dev`, 'utf8').trim();

test("create flags land in the container's cgroup: memory, reservation, oom-kill-disable, cpus, shares, cpuset, pids, device bps", async () => {
  const hc: Record<string, unknown> = {
    Memory: 64 * mib,
    MemoryReservation: 32 * mib,
    NanoCpus: 5e8,
    CpuShares: 512,
    CpusetCpus: '0',
    PidsLimit: 40,
    OomScoreAdj: 500,
    ...(V2 ? {} : { OomKillDisable: true, MemorySwappiness: 10 }),
    ...(HOST_BLK
      ? {
          BlkioDeviceReadBps: [{ Path: HOST_BLK, Rate: 1048576 }],
          BlkioDeviceWriteBps: [{ Path: HOST_BLK, Rate: 2097152 }],
        }
      : {}),
  };
  const id = await runDetached(h.d, { name: uniq('res'), hostConfig: hc });
  assert.equal(memLimit(id), String(64 * mib));
  assert.equal(memsw(id), String(128 * mib), "docker's default: swap = 2 x memory");
  assert.equal(cg(id, ['memory', 'memory.soft_limit_in_bytes'], 'memory.low'), String(32 * mib));
  assert.equal(cpuMax(id), V2 ? '50000 100000' : '50000 100000');
  assert.equal(cg(id, ['cpu', 'cpu.shares'], 'cpu.weight'), V2 ? '20' : '512');
  assert.equal(cpusetCpus(id), '0');
  assert.equal(pidsMax(id), '40');
  const pid = (await inspect(h.d, id)).State.Pid;
  assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '500', '--oom-score-adj reaches the process');
  if (!V2) {
    assert.match(cg(id, ['memory', 'memory.oom_control'], ''), /^oom_kill_disable 1$/m);
    assert.equal(cg(id, ['memory', 'memory.swappiness'], ''), '10');
  }
  if (HOST_BLK && !V2) {
    assert.equal(cg(id, ['blkio', 'blkio.throttle.read_bps_device'], ''), `${majMin(HOST_BLK)} 1048576`);
    assert.equal(cg(id, ['blkio', 'blkio.throttle.write_bps_device'], ''), `${majMin(HOST_BLK)} 2097152`);
  }
  const c = await inspect(h.d, id);
  assert.equal(c.HostConfig.PidsLimit, 40);
  assert.equal(c.HostConfig.NanoCpus, 5e8);
  assert.equal(c.HostConfig.ShmSize, 64 * mib, "docker's default /dev/shm size in inspect");
  await rm(h.d, id);
});

test('--ulimit and --shm-size are what the container sees', async () => {
  const r = await runToEnd(h.d, {
    name: uniq('ul'),
    cmd: ['sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -u; df -k /dev/shm | tail -1'],
    hostConfig: {
      ShmSize: 16 * mib,
      Ulimits: [
        { Name: 'nofile', Soft: 1000, Hard: 2000 },
        { Name: 'nproc', Soft: 300, Hard: 300 },
      ],
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const [soft, hard, nproc, shm] = r.stdout.trim().split('\n');
  assert.deepEqual([soft, hard, nproc], ['1000', '2000', '300']);
  assert.equal(shm.trim().split(/\s+/)[1], '16384', `df: ${shm}`);
  await rm(h.d, r.id);
});

test('a process flood under --pids-limit stays bounded and the container survives it', async () => {
  // A subshell forks without end (it dies at the first refused fork); the container's init then
  // becomes sleep without forking, so it outlives the flood.
  const id = await runDetached(h.d, {
    name: uniq('flood'),
    hostConfig: { PidsLimit: 20 },
    cmd: ['sh', '-c', '(while :; do sleep 60 & done) 2>/dev/null; exec sleep 600'],
  });
  const refused = () => Number(cg(id, ['pids', 'pids.events'], 'pids.events').split(/\s+/)[1]);
  await waitFor('the kernel to refuse a fork', async () => refused() > 0, 30_000, 100);
  for (let i = 0; i < 5; i++) {
    const n = pidsCurrent(id);
    assert.ok(n <= 20 && n >= 15, `pids.current ${n} with --pids-limit 20`);
    await sleep(200);
  }
  assert.equal((await inspect(h.d, id)).State.Running, true);
  const st = (await h.d.api('GET', `/v1.41/containers/${id}/stats?stream=0&one-shot=1`)).json;
  assert.deepEqual(st.pids_stats, { current: pidsCurrent(id), limit: 20 });
  await rm(h.d, id);
});

test("flags this host cannot honour or that are wrong: 400 with docker's or a clear message, nothing created", async () => {
  const before = (await list(h.d)).length;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['cpuset out of range', { CpusetCpus: '0-63' }, /Requested CPUs are not available - requested 0-63, available: /],
    ['bad cpuset', { CpusetCpus: 'zero' }, /Invalid value zero for cpuset cpus/],
    [
      'cpus and period',
      { NanoCpus: 5e8, CpuPeriod: 50000 },
      /Conflicting options: Nano CPUs and CPU Period cannot both be set/,
    ],
    ['too many cpus', { NanoCpus: 1000e9 }, /Range of CPUs is from 0.01 to \d+\.00/],
    [
      'reservation above memory',
      { Memory: 16 * mib, MemoryReservation: 32 * mib },
      /Minimum memory limit can not be less than memory reservation limit/,
    ],
    [
      'not a block device',
      { BlkioDeviceReadBps: [{ Path: '/etc/passwd', Rate: 1024 }] },
      /--device-read-bps: \/etc\/passwd is not a block device/,
    ],
    [
      'blkio weight range',
      { BlkioWeight: 5 },
      BLKIO_WEIGHT ? /Range of blkio weight is from 10 to 1000/ : /--blkio-weight cannot be honoured on this host/,
    ],
    ['shm negative', { ShmSize: -1 }, /SHM size can not be less than 0/],
    ['swappiness', { MemorySwappiness: 200 }, /valid memory swappiness range is 0-100/],
  ];
  if (!BLKIO_WEIGHT)
    cases.push([
      'blkio weight without CFQ/BFQ',
      { BlkioWeight: 300 },
      /--blkio-weight cannot be honoured on this host/,
    ]);
  if (V2) cases.push(['oom-kill-disable on v2', { OomKillDisable: true }, /--oom-kill-disable cannot be honoured/]);
  for (const [what, hc, msg] of cases) {
    const r = await h.d.api(
      'POST',
      `/v1.41/containers/create?name=${uniq('bad')}`,
      createBody({ cmd: ['true'], hostConfig: hc }),
    );
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    assert.match(r.json?.message ?? '', msg, what);
  }
  assert.equal((await list(h.d)).length, before, 'a refused create left a container');
});

test("POST /update changes the running container's cgroup and the record; a stopped one gets it at start", async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = await runDetached(h.d, { name: uniq('upd'), hostConfig: { Memory: 64 * mib } });
  const r = await h.d.api('POST', `/v1.41/containers/${id}/update`, {
    Memory: 128 * mib,
    MemorySwap: 256 * mib,
    CpuShares: 256,
    NanoCpus: 1.5e9,
    PidsLimit: 25,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
    BlkioWeightDevice: null,
    MemorySwappiness: null,
  });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json, { Warnings: null });
  assert.equal(memLimit(id), String(128 * mib));
  assert.equal(memsw(id), String(256 * mib));
  assert.equal(cpuMax(id), '150000 100000');
  assert.equal(pidsMax(id), '25');
  const hc = (await inspect(h.d, id)).HostConfig;
  assert.deepEqual(
    [hc.Memory, hc.MemorySwap, hc.CpuShares, hc.NanoCpus, hc.PidsLimit, hc.RestartPolicy],
    [128 * mib, 256 * mib, 256, 1.5e9, 25, { Name: 'on-failure', MaximumRetryCount: 3 }],
  );
  // -1: no pids limit any more
  assert.equal((await h.d.api('POST', `/v1.41/containers/${id}/update`, { PidsLimit: -1 })).status, 200);
  assert.equal(pidsMax(id), 'max');
  assert.equal((await inspect(h.d, id)).HostConfig.PidsLimit, null);
  // refused: nothing changes
  const bad = await h.d.api('POST', `/v1.41/containers/${id}/update`, { Memory: 512 * mib });
  assert.equal(bad.status, 409, bad.body);
  assert.match(bad.json.message, /Memory limit should be smaller than already set memoryswap limit/);
  const cpu = await h.d.api('POST', `/v1.41/containers/${id}/update`, { CpuQuota: 20000 });
  assert.equal(cpu.status, 409, cpu.body);
  assert.equal(memLimit(id), String(128 * mib));
  // a limit the kernel refuses (below what the container uses) leaves record and cgroup as they were
  const low = await h.d.api('POST', `/v1.41/containers/${id}/update`, {
    Memory: 6 * mib,
    MemorySwap: 6 * mib,
    CpusetCpus: '0',
  });
  if (low.status === 200) assert.equal(memLimit(id), String(6 * mib));
  else {
    assert.equal((await inspect(h.d, id)).HostConfig.Memory, 128 * mib);
    assert.equal(memLimit(id), String(128 * mib));
  }
  const ev = await h.d.api(
    'GET',
    `/v1.41/events?since=${since}&until=${Math.ceil(Date.now() / 1000)}&filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['update'] }))}`,
  );
  assert.ok(ev.body.includes('"Action":"update"'), `events: ${ev.body}`);
  await rm(h.d, id);

  const stopped = await create(h.d, { name: uniq('upds'), cmd: ['sleep', '600'] });
  assert.equal(
    (await h.d.api('POST', `/v1.41/containers/${stopped}/update`, { Memory: 48 * mib, CpusetCpus: '0', PidsLimit: 33 }))
      .status,
    200,
  );
  await start(h.d, stopped);
  assert.equal(memLimit(stopped), String(48 * mib));
  assert.equal(cpusetCpus(stopped), '0');
  assert.equal(pidsMax(stopped), '33');
  await rm(h.d, stopped);

  const missing = await h.d.api('POST', '/v1.41/containers/nosuch-upd/update', { Memory: 64 * mib });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'No such container: nosuch-upd');
  const wrong = await h.d.api('POST', `/v1.41/containers/${stopped}/update`, { Memory: 'lots' });
  assert.equal(wrong.status, 400);
});

/** GET a streaming endpoint; collects `n` JSON lines, then closes the connection. */
function streamLines(
  socket: string,
  path: string,
  n: number,
  timeoutMs = 15_000,
): Promise<{ status: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, headers: { Host: 'x' } }, (res) => {
      let buf = '';
      const lines: string[] = [];
      const t = setTimeout(() => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, lines });
      }, timeoutMs);
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        if (lines.length >= n) {
          clearTimeout(t);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, lines });
        }
      });
      res.on('end', () => {
        clearTimeout(t);
        resolve({ status: res.statusCode ?? 0, lines });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test("GET /stats: docker's JSON with sane numbers (stream=0, one-shot, stream=1), zeroes when stopped, 404 when unknown", async () => {
  const name = uniq('st');
  const id = await runDetached(h.d, {
    name,
    hostConfig: { Memory: 64 * mib, PidsLimit: 50 },
    cmd: ['sh', '-c', 'sleep 600 & while :; do :; done'],
  });
  await sleep(300);
  const r = await h.d.api('GET', `/v1.41/containers/${name}/stats?stream=0`);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'] ?? '', /application\/json/);
  const s = r.json;
  assert.deepEqual(Object.keys(s).slice(0, 11), [
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
  ]);
  assert.equal(s.id, id);
  assert.equal(s.name, '/' + name);
  assert.ok(
    Date.parse(s.read) > Date.parse(s.preread) && Date.parse(s.preread) > Date.now() - 10_000,
    `read ${s.read} preread ${s.preread}`,
  );
  assert.equal(s.memory_stats.limit, 64 * mib);
  assert.ok(s.memory_stats.usage > 0 && s.memory_stats.usage < 64 * mib, `usage ${s.memory_stats.usage}`);
  assert.equal(typeof s.memory_stats.stats, 'object');
  assert.deepEqual(s.pids_stats, { current: 2, limit: 50 }, 'sh and sleep');
  assert.ok(s.cpu_stats.online_cpus >= 1);
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
  assert.ok(cpuDelta > 0 && sysDelta > 0, `cpu delta ${cpuDelta}, system delta ${sysDelta}`);
  const pct = (cpuDelta / sysDelta) * s.cpu_stats.online_cpus * 100;
  assert.ok(pct > 1 && pct <= 100 * s.cpu_stats.online_cpus + 5, `a busy loop at ${pct.toFixed(1)}%`);
  assert.ok(Array.isArray(s.blkio_stats.io_service_bytes_recursive));
  assert.ok(s.networks?.eth0, `networks: ${JSON.stringify(s.networks)}`);
  assert.equal(s.networks.lo, undefined);

  const one = (await h.d.api('GET', `/v1.41/containers/${id}/stats?stream=0&one-shot=1`)).json;
  assert.equal(one.preread, '0001-01-01T00:00:00Z');
  assert.equal(one.precpu_stats.cpu_usage.total_usage, 0);
  assert.ok(one.cpu_stats.cpu_usage.total_usage > 0);

  const t0 = Date.now();
  const st = await streamLines(h.d.socket, `/v1.41/containers/${id}/stats`, 3);
  assert.equal(st.status, 200);
  assert.equal(st.lines.length, 3, 'three frames');
  const frames = st.lines.map((l) => JSON.parse(l));
  assert.ok(Date.now() - t0 >= 1800, 'one frame a second');
  assert.equal(frames[1].preread, frames[0].read, "each frame's precpu is the frame before");
  assert.ok(frames[2].cpu_stats.cpu_usage.total_usage > frames[1].cpu_stats.cpu_usage.total_usage);
  // the daemon is fine after the client went away mid-stream
  assert.equal((await h.d.api('GET', '/_ping')).status, 200);

  const host = await runDetached(h.d, { name: uniq('sth'), hostConfig: { NetworkMode: 'host' } });
  assert.equal(
    (await h.d.api('GET', `/v1.41/containers/${host}/stats?stream=0&one-shot=1`)).json.networks,
    undefined,
    'host network: no networks',
  );

  const stopped = await create(h.d, { name: uniq('sts'), cmd: ['true'] });
  const z = await h.d.api('GET', `/v1.41/containers/${stopped}/stats?stream=0`);
  assert.equal(z.status, 200);
  assert.equal(z.json.read, '0001-01-01T00:00:00Z');
  assert.deepEqual(z.json.memory_stats, {});
  assert.equal(z.json.id, stopped);
  const nf = await h.d.api('GET', '/v1.41/containers/nosuch-st/stats?stream=0');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.message, 'No such container: nosuch-st');
  for (const x of [id, host, stopped]) await rm(h.d, x);
});

test('a stats stream ends when its container is removed', async () => {
  const id = await runDetached(h.d, { name: uniq('stg') });
  const p = streamLines(h.d.socket, `/v1.41/containers/${id}/stats`, 100, 20_000);
  await sleep(1500);
  await rm(h.d, id);
  const t0 = Date.now();
  const r = await p;
  assert.ok(
    r.lines.length >= 1 && Date.now() - t0 < 5000,
    `${r.lines.length} frames, ended ${Date.now() - t0} ms after rm`,
  );
});

test('info: the real cgroup version and driver, no stale warnings', async () => {
  const i = (await h.d.api('GET', '/v1.41/info')).json;
  assert.equal(i.CgroupVersion, V2 ? '2' : '1');
  assert.equal(i.CgroupDriver, 'cgroupfs');
  assert.equal(i.PidsLimit, true);
  assert.equal(i.OomKillDisable, !V2);
  assert.ok(!i.Warnings.some((w: string) => /bridge networking is not available/.test(w)), i.Warnings.join('\n'));
  assert.equal(i.Warnings.includes('WARNING: No blkio weight support'), !BLKIO_WEIGHT);
});

test('exec still works in a container with limits (the exec joins the same cgroup)', async () => {
  const id = await runDetached(h.d, { name: uniq('ex'), hostConfig: { Memory: 32 * mib, PidsLimit: 10 } });
  const e = await exec(h.d, id, ['sh', '-c', 'cat /proc/self/cgroup | grep -c cocon']);
  assert.equal(e.code, 0, e.stderr);
  assert.ok(Number(e.stdout.trim()) >= 1);
  await rm(h.d, id);
});
