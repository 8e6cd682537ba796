// docker stats and docker update through the real docker CLI 28 (and cocon's CLI for the same
// commands): --no-stream, --format, -a, the streaming table, update changing the live cgroup and
// inspect, and the resource flags of docker run read back from the container's cgroup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statfsSync } from 'node:fs';
import { useDaemon, docker, cli, uniq, sleep } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });
const V2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;
const mib = 1024 * 1024;
const cgfile = (id: string, v1: string, v2: string) =>
  readFileSync(
    V2 ? `/sys/fs/cgroup/cocon/${id}/${v2}` : `/sys/fs/cgroup/${v1.split('/')[0]}/cocon/${id}/${v1.split('/')[1]}`,
    'utf8',
  ).trim();

async function ok(args: string[], run = docker): Promise<string> {
  const r = await run(h.d, args);
  assert.equal(r.code, 0, `${args.join(' ')} -> ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** "256KiB / 64MiB" -> bytes of each side. */
function sizes(s: string): number[] {
  const unit: Record<string, number> = { B: 1, KiB: 1024, MiB: mib, GiB: 1024 * mib, TiB: 1024 * 1024 * mib };
  return s.split(' / ').map((x) => {
    const m = /^([\d.]+)(\w+)$/.exec(x.trim());
    assert.ok(m, `size ${x}`);
    return Number(m![1]) * unit[m![2]];
  });
}

test('docker stats --no-stream: the table with sane numbers, --format, one container and -a', async () => {
  const busy = uniq('busy');
  const idle = uniq('idle');
  const stopped = uniq('stp');
  await ok([
    'run',
    '-d',
    '--name',
    busy,
    '-m',
    '64m',
    '--pids-limit',
    '30',
    'busybox',
    'sh',
    '-c',
    'while :; do :; done',
  ]);
  await ok(['run', '-d', '--name', idle, 'busybox', 'sleep', '600']);
  await ok(['create', '--name', stopped, 'busybox', 'true']);
  await sleep(500);

  const table = (await ok(['stats', '--no-stream'])).split('\n').filter(Boolean);
  assert.match(table[0], /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
  const names = table.slice(1).map((l) => l.split(/\s{2,}/)[1]);
  assert.ok(names.includes(busy) && names.includes(idle), table.join('\n'));
  assert.ok(!names.includes(stopped), 'a created container is not listed without -a');

  const f = (
    await ok([
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}',
      busy,
    ])
  )
    .trim()
    .split('|');
  assert.equal(f[0], busy);
  const cpu = parseFloat(f[1]);
  assert.ok(cpu > 1 && cpu <= 205, `a busy loop at ${f[1]}`);
  const [used, limit] = sizes(f[2]);
  assert.equal(limit, 64 * mib);
  assert.ok(used > 0 && used < 64 * mib, f[2]);
  assert.match(f[3], /^\d+\.\d\d%$/);
  assert.match(f[4], /^[\d.]+k?B \/ [\d.]+k?B$/);
  assert.equal(f[6], '1');

  const idleCpu = parseFloat((await ok(['stats', '--no-stream', '--format', '{{.CPUPerc}}', idle])).trim());
  assert.ok(idleCpu < 5, `sleep at ${idleCpu}%`);

  const all = await ok(['stats', '--no-stream', '-a', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}']);
  assert.match(all, new RegExp(`^${stopped} 0B / 0B 0$`, 'm'), all);

  const json = JSON.parse((await ok(['stats', '--no-stream', '--format', '{{json .}}', idle])).trim());
  assert.equal(json.Name, idle);
  assert.equal(json.PIDs, '1');

  // cocon's CLI prints the same columns
  const mine = (await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', idle], cli)).trim();
  assert.equal(mine, `${idle} 1`);

  const missing = await docker(h.d, ['stats', '--no-stream', 'nosuch-stats']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /No such container: nosuch-stats/);
  await ok(['rm', '-f', busy, idle, stopped]);
});

test('docker stats (streaming) refreshes every second until interrupted', async () => {
  const name = uniq('strm');
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
  const r = await docker(h.d, ['stats', '--format', '{{.Name}} {{.PIDs}}', name], { timeoutMs: 3500 });
  assert.equal(r.timedOut, true, 'docker stats keeps streaming');
  const frames = r.stdout.split('\n').filter((l) => l.includes(`${name} 1`));
  assert.ok(frames.length >= 2, `frames: ${JSON.stringify(r.stdout)}`);
  await ok(['rm', '-f', name]);
});

test('docker update: memory, swap, cpus, shares, pids, cpuset, restart policy in the live cgroup and in inspect', async () => {
  const name = uniq('upd');
  const id = (await ok(['run', '-d', '--name', name, '--memory', '64m', 'busybox', 'sleep', '300'])).trim();
  const out = await ok([
    'update',
    '--memory',
    '128m',
    '--memory-swap',
    '256m',
    '--cpu-shares',
    '512',
    '--cpus',
    '0.5',
    '--pids-limit',
    '40',
    '--cpuset-cpus',
    '0',
    '--restart',
    'on-failure:3',
    name,
  ]);
  assert.equal(out, `${name}\n`);
  assert.equal(
    (
      await ok([
        'inspect',
        '-f',
        '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpusetCpus}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}',
        name,
      ])
    ).trim(),
    `${128 * mib} ${256 * mib} 512 500000000 40 0 on-failure 3`,
  );
  assert.equal(cgfile(id, 'memory/memory.limit_in_bytes', 'memory.max'), String(128 * mib));
  assert.equal(cgfile(id, 'pids/pids.max', 'pids.max'), '40');
  assert.equal(cgfile(id, 'cpuset/cpuset.cpus', 'cpuset.cpus'), '0');
  if (!V2) assert.equal(cgfile(id, 'cpu/cpu.cfs_quota_us', ''), '50000');
  const memOnly = await docker(h.d, ['update', '--memory', '512m', name]);
  assert.equal(memOnly.code, 1);
  assert.match(
    memOnly.stderr,
    /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/,
  );
  // cocon's CLI: same request, same result
  assert.equal(await ok(['update', '--pids-limit', '50', name], cli), `${name}\n`);
  assert.equal(cgfile(id, 'pids/pids.max', 'pids.max'), '50');
  const st = (await ok(['stats', '--no-stream', '--format', '{{.MemUsage}}', name])).trim();
  assert.equal(sizes(st)[1], 128 * mib, 'stats shows the new limit');
  await ok(['rm', '-f', name]);
});

test('docker run resource flags reach the cgroup; what the host cannot honour exits 125 with the reason', async () => {
  const script = V2
    ? 'cat /sys/fs/cgroup/memory.low /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max'
    : 'cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max; grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control; ulimit -n; df -k /dev/shm | tail -1';
  const flags = [
    '-m',
    '64m',
    '--memory-reservation',
    '32m',
    '--cpus',
    '0.25',
    '--pids-limit',
    '12',
    '--ulimit',
    'nofile=500:600',
    '--shm-size',
    '8m',
    ...(V2 ? [] : ['--oom-kill-disable']),
  ];
  const r = await docker(h.d, ['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], String(32 * mib));
  assert.equal(lines[1], V2 ? '25000 100000' : '25000');
  assert.equal(lines[2], '12');
  if (!V2) {
    assert.equal(lines[3], 'oom_kill_disable 1');
    assert.equal(lines[4], '500');
    assert.equal(lines[5].trim().split(/\s+/)[1], '8192');
  }
  const bad: Array<[string[], RegExp]> = [
    [['--cpuset-cpus', '0-99'], /Requested CPUs are not available - requested 0-99/],
    [['--cpus', '0.5', '--cpu-period', '50000'], /Conflicting options: Nano CPUs and CPU Period cannot both be set/],
    [['--device-read-bps', '/dev/nosuchdisk:1mb'], /\/dev\/nosuchdisk is not a block device/],
  ];
  const hasWeight =
    V2 ||
    (() => {
      try {
        readFileSync('/sys/fs/cgroup/blkio/blkio.weight');
        return true;
      } catch {
        try {
          readFileSync('/sys/fs/cgroup/blkio/blkio.bfq.weight');
          return true;
        } catch {
          return false;
        }
      }
    })();
  if (!hasWeight) bad.push([['--blkio-weight', '300'], /--blkio-weight cannot be honoured on this host/]);
  for (const [f, msg] of bad) {
    for (const [who, run] of [
      ['docker', docker],
      ['cocon', cli],
    ] as const) {
      const x = await run(h.d, ['run', '--rm', ...f, 'busybox', 'true']);
      assert.equal(x.code, 125, `${who} ${f.join(' ')}: ${x.code} ${x.stderr}`);
      assert.match(x.stderr, msg, `${who} ${f.join(' ')}`);
    }
  }
});

test('docker info: Cgroup Driver cgroupfs and the real Cgroup Version', async () => {
  const out = await ok(['info', '--format', '{{.CgroupDriver}} {{.CgroupVersion}}']);
  assert.equal(out.trim(), `cgroupfs ${V2 ? 2 : 1}`);
});
