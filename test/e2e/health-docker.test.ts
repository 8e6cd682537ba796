// Healthchecks run by the daemon, through the real docker CLI: --health-cmd reaches healthy or
// unhealthy within interval x retries; inspect shows State.Health (FailingStreak, the last 5 log
// entries), ps shows "(healthy)" and filters on health=, the health_status event is sent, a hung
// check is cut at its timeout, checks stop with the container and resume after a daemon restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon, docker, uniq, waitFor } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

interface HealthJson {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}
async function health(name: string): Promise<HealthJson | null> {
  const r = await docker(h.d, ['inspect', '-f', '{{json .State.Health}}', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HealthJson | null;
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
  const first = await health(name);
  assert.equal(first?.Status, 'starting');
  const t0 = Date.now();
  const hj = (await waitFor(
    'healthy',
    async () => {
      const x = await health(name);
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
  await waitFor('6 probes', async () => ((await health(name))?.Log.length === 5 ? true : null), 10_000);
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await health(name))?.Log.length, 5);
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
      const x = await health(name);
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
  const n = (await health(name))?.Log.length;
  await new Promise((res) => setTimeout(res, 2500));
  assert.equal((await health(name))?.Log.length, n);
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
      const x = await health(name);
      return x?.Status === 'unhealthy' ? x : null;
    },
    10_000,
  ))!;
  assert.equal(hj.Log[0].ExitCode, -1);
  assert.equal(hj.Log[0].Output, 'Health check exceeded timeout (500ms)');
  // The daemon answered quickly all along, and the hung probe was killed.
  const top = await docker(h.d, ['top', name]);
  assert.doesNotMatch(top.stdout, /sleep 100/);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
  const plain = uniq('none');
  assert.equal(
    (await docker(h.d, ['run', '-d', '--name', plain, '--no-healthcheck', 'busybox', 'sleep', '300'])).code,
    0,
  );
  assert.equal(await health(plain), null);
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
  await waitFor('healthy', async () => ((await health(name))?.Status === 'healthy' ? true : null), 10_000);
  await h.d.shutdown();
  await h.d.restart();
  assert.equal((await health(name))?.Status, 'healthy');
  assert.equal((await docker(h.d, ['exec', name, 'touch', '/tmp/sick'])).code, 0);
  await waitFor(
    'unhealthy after restart',
    async () => ((await health(name))?.Status === 'unhealthy' ? true : null),
    10_000,
  );
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});
