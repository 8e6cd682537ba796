// Healthchecks run by the daemon, through the real docker CLI: --health-cmd reaches healthy or
// unhealthy within interval x retries; inspect shows State.Health (FailingStreak, the last 5 log
// entries), ps shows "(healthy)" and filters on health=, the health_status event is sent, a hung
// check is cut at its timeout, checks stop with the container and resume after a daemon restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useDaemon, docker, uniq, waitFor } from '../helpers/daemon.js';
import { health, type HealthJson, runWithCheck } from '../helpers/health.js';
import { RUNNER_NAME } from '../../src/runtime/proberunner.js';

const h = useDaemon({ busybox: true });

/**
 * `docker top` lines of probe processes matching `re`, the probe runner's own line left out (its
 * argv holds the probe command): the probe killed at its timeout is gone, the next one may run.
 */
function probesRunning(top: string, re: RegExp): number {
  return top.split('\n').filter((l) => re.test(l) && !l.includes(RUNNER_NAME)).length;
}

test('a passing --health-cmd is healthy within interval x retries; ps shows it and filters on it', async () => {
  const name = uniq('ok');
  const since = Math.floor(Date.now() / 1000);
  const r = await docker(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '--health-cmd',
    'echo alive; true',
    '--health-interval',
    '1s',
    '--health-retries',
    '2',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const first = await health(h.d, name);
  assert.equal(first?.Status, 'starting');
  const t0 = Date.now();
  const hj = (await waitFor(
    'healthy',
    async () => {
      const x = await health(h.d, name);
      return x?.Status === 'healthy' ? x : null;
    },
    10_000,
  ))!;
  assert.ok(Date.now() - t0 < 1000 * 2 + 2000, `healthy after ${Date.now() - t0} ms`);
  assert.equal(hj.FailingStreak, 0);
  assert.equal(hj.Log[0].ExitCode, 0);
  assert.equal(hj.Log[0].Output, 'alive\n');
  assert.ok(Date.parse(hj.Log[0].End) >= Date.parse(hj.Log[0].Start));
  const ps = await docker(h.d, ['ps', '--filter', `name=${name}`, '--format', '{{.Status}}']);
  assert.match(ps.stdout, /^Up .* \(healthy\)\n$/);
  assert.equal(
    (
      await docker(h.d, ['ps', '-q', '--no-trunc', '--filter', 'health=healthy', '--filter', `name=${name}`])
    ).stdout.trim().length,
    64,
  );
  assert.equal(
    (await docker(h.d, ['ps', '-q', '--filter', 'health=unhealthy', '--filter', `name=${name}`])).stdout,
    '',
  );
  const bad = await docker(h.d, ['ps', '--filter', 'health=sick']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Unrecognised filter value for health: sick/);
  const ev = await docker(h.d, [
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--filter',
    `container=${name}`,
    '--filter',
    'event=health_status',
    '--format',
    '{{.Action}}',
  ]);
  assert.match(ev.stdout, /^health_status: healthy$/m);
  // The log keeps the last 5 results.
  await waitFor('6 probes', async () => ((await health(h.d, name))?.Log.length === 5 ? true : null), 10_000);
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await health(h.d, name))?.Log.length, 5);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test('a failing check turns unhealthy after --health-retries failures; the streak and output are recorded', async () => {
  const name = uniq('bad');
  const r = await docker(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '--health-cmd',
    'echo nope >&2; exit 3',
    '--health-interval',
    '1s',
    '--health-retries',
    '2',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const t0 = Date.now();
  const hj = (await waitFor(
    'unhealthy',
    async () => {
      const x = await health(h.d, name);
      return x?.Status === 'unhealthy' ? x : null;
    },
    10_000,
  ))!;
  assert.ok(Date.now() - t0 < 1000 * 2 + 2500, `unhealthy after ${Date.now() - t0} ms`);
  assert.ok(hj.FailingStreak >= 2);
  assert.equal(hj.Log.at(-1)?.ExitCode, 3);
  assert.equal(hj.Log.at(-1)?.Output, 'nope\n');
  assert.match(
    (await docker(h.d, ['ps', '--filter', `name=${name}`, '--format', '{{.Status}}'])).stdout,
    /\(unhealthy\)/,
  );
  assert.equal(
    (await docker(h.d, ['ps', '-q', '--filter', 'health=unhealthy', '--filter', `name=${name}`])).stdout.trim().length,
    12,
  );
  // Stopped: no more probes, the record keeps its last Health.
  assert.equal((await docker(h.d, ['stop', '-t', '0', name])).code, 0);
  const n = (await health(h.d, name))?.Log.length;
  await new Promise((res) => setTimeout(res, 2500));
  assert.equal((await health(h.d, name))?.Log.length, n);
  assert.equal((await docker(h.d, ['rm', name])).code, 0);
});

test("a hung check is cut at --health-timeout with docker's message; --no-healthcheck and none have no Health", async () => {
  const name = uniq('hang');
  assert.equal(
    (
      await docker(h.d, [
        'run',
        '-d',
        '--name',
        name,
        '--health-cmd',
        'sleep 100',
        '--health-interval',
        '1s',
        '--health-timeout',
        '500ms',
        '--health-retries',
        '1',
        'busybox',
        'sleep',
        '300',
      ])
    ).code,
    0,
  );
  const hj = (await waitFor(
    'unhealthy',
    async () => {
      const x = await health(h.d, name);
      return x?.Status === 'unhealthy' ? x : null;
    },
    10_000,
  ))!;
  assert.equal(hj.Log[0].ExitCode, -1);
  assert.equal(hj.Log[0].Output, 'Health check exceeded timeout (500ms)');
  // The daemon answered quickly all along, and the hung probe was killed.
  const top = await docker(h.d, ['top', name]);
  assert.ok(probesRunning(top.stdout, /sleep 100/) <= 1, top.stdout);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
  const plain = uniq('none');
  assert.equal(
    (await docker(h.d, ['run', '-d', '--name', plain, '--no-healthcheck', 'busybox', 'sleep', '300'])).code,
    0,
  );
  assert.equal(await health(h.d, plain), null);
  assert.equal(
    (await docker(h.d, ['ps', '-q', '--filter', 'health=none', '--filter', `name=${plain}`])).stdout.trim().length,
    12,
  );
  assert.equal((await docker(h.d, ['rm', '-f', plain])).code, 0);
  // The docker CLI checks its flags itself; the API refuses the same with docker's message.
  const bad = await h.d.api('POST', '/containers/create', {
    Image: 'busybox',
    Cmd: ['true'],
    Healthcheck: { Test: ['CMD', 'true'], Retries: -1 },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /Retries in Healthcheck cannot be negative/);
});

test('checks resume after a daemon restart', async () => {
  const name = uniq('rs');
  assert.equal(
    (
      await docker(h.d, [
        'run',
        '-d',
        '--name',
        name,
        '--health-cmd',
        'test ! -e /tmp/sick',
        '--health-interval',
        '1s',
        '--health-retries',
        '1',
        'busybox',
        'sleep',
        '300',
      ])
    ).code,
    0,
  );
  await waitFor('healthy', async () => ((await health(h.d, name))?.Status === 'healthy' ? true : null), 10_000);
  await h.d.shutdown();
  await h.d.restart();
  assert.equal((await health(h.d, name))?.Status, 'healthy');
  assert.equal((await docker(h.d, ['exec', name, 'touch', '/tmp/sick'])).code, 0);
  await waitFor(
    'unhealthy after restart',
    async () => ((await health(h.d, name))?.Status === 'unhealthy' ? true : null),
    10_000,
  );
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

const firstLog = (name: string) =>
  waitFor('a probe result', async () => (await health(h.d, name))?.Log[0] ?? null, 15_000) as Promise<
    HealthJson['Log'][0]
  >;

test("a probe runs with the container's user, capabilities and no-new-privileges, never more", async () => {
  const name = uniq('priv');
  await runWithCheck(
    h.d,
    name,
    'echo "$(id -u):$(id -g) $(grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t\\n" "  ")"',
    {
      extra: ['--user', '1234:2345', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', '--security-opt', 'no-new-privileges'],
    },
  );
  const probe = await firstLog(name);
  assert.equal(probe.ExitCode, 0, probe.Output);
  const own = await docker(h.d, [
    'exec',
    name,
    'sh',
    '-c',
    'echo "$(id -u):$(id -g) $(grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/1/status | tr -s "\\t\\n" "  ")"',
  ]);
  assert.equal(own.code, 0, own.stderr);
  assert.match(probe.Output, /^1234:2345 CapEff: 0+ CapBnd: 0+1 NoNewPrivs: 1 Seccomp: 2/);
  // the same as the container's own process (pid 1)
  assert.equal(probe.Output, own.stdout);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test('a probe that floods its output: docker keeps 4096 bytes; a flood past the read limit is cut at the timeout and the daemon stays small', async () => {
  const big = uniq('big');
  await runWithCheck(h.d, big, 'head -c 200000 /dev/zero | tr "\\0" x; echo; exit 2');
  const b = await firstLog(big);
  assert.equal(b.ExitCode, 2);
  assert.equal(b.Output, 'x'.repeat(4096));
  const flood = uniq('flood');
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${h.d.pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  const t0 = Date.now();
  await runWithCheck(h.d, flood, 'yes', { timeout: '1500ms' });
  const f = await firstLog(flood);
  assert.equal(f.ExitCode, -1);
  assert.equal(f.Output, 'Health check exceeded timeout (1.5s)');
  assert.ok(Date.now() - t0 < 12_000);
  // one probe at a time, each read at most 1 MiB: the daemon did not buffer the flood
  assert.ok(rss() - before < 64 << 20, `daemon RSS grew by ${(rss() - before) >> 20} MiB`);
  const top = await docker(h.d, ['top', flood]);
  assert.ok(probesRunning(top.stdout, /\byes\b/) <= 1, top.stdout);
  assert.equal((await docker(h.d, ['rm', '-f', big, flood])).code, 0);
});

test('a probe that cannot start is a failure with the runtime message (ExitCode -1); a probe that exits early and leaves a child still reports', async () => {
  const missing = uniq('missing');
  const c = await h.d.api('POST', `/containers/create?name=${missing}`, {
    Image: 'busybox',
    Cmd: ['sleep', '300'],
    Healthcheck: { Test: ['CMD', '/no/such/probe'], Interval: 1e9, Retries: 1 },
  });
  assert.equal(c.status, 201, c.body);
  assert.equal((await h.d.api('POST', `/containers/${missing}/start`)).status, 204);
  const m = await firstLog(missing);
  assert.equal(m.ExitCode, -1);
  assert.match(m.Output, /OCI runtime error: .*\/no\/such\/probe.*no such file or directory/);
  const bg = uniq('bg');
  await runWithCheck(h.d, bg, 'echo started; sleep 60 >/dev/null 2>&1 & exit 0');
  const g = await firstLog(bg);
  assert.equal(g.ExitCode, 0);
  assert.equal(g.Output, 'started\n');
  assert.equal((await docker(h.d, ['rm', '-f', missing, bg])).code, 0);
});
