// The healthcheck probe runner (runtime/proberunner.ts) against hostile and plain containers,
// through the real docker CLI and a real daemon: one runner per container, reused across probes,
// not an exec session, gone with the container and with the daemon; a container that kills its
// runner, a probe that leaves a child flooding the pipe between probes, output that forges a
// terminator, and a container without /bin/sh (probes through runc exec) all keep docker's results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { useDaemon, docker, uniq, waitFor, sleep } from '../helpers/daemon.js';
import { health, type HealthLogEntry, runWithCheck } from '../helpers/health.js';
import { RUNNER_NAME } from '../../src/runtime/proberunner.js';

const h = useDaemon({ busybox: true });

async function idOf(name: string): Promise<string> {
  const r = await docker(h.d, ['inspect', '-f', '{{.Id}}', name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Host pids of the probe runners in the container (by cgroup) and of processes named like `prog`. */
function procsOf(id: string, match: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (match(cmd) && readFileSync(`/proc/${e}/cgroup`, 'utf8').includes(id)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}
const runnersOf = (id: string) => procsOf(id, (c) => c.includes(RUNNER_NAME));

/** Waits until the container's Health.Log holds `n` entries with Start after `since`. */
async function entriesAfter(name: string, since: number, n: number, timeoutMs = 20_000): Promise<HealthLogEntry[]> {
  const l = await waitFor(
    `${n} probe results`,
    async () => {
      const l = ((await health(h.d, name))?.Log ?? []).filter((e) => Date.parse(e.Start) > since);
      return l.length >= n ? l : null;
    },
    timeoutMs,
  );
  return l ?? [];
}

test('one runner per container serves every probe; it is no exec session and ends with the container and with the daemon', async () => {
  const name = uniq('run');
  await runWithCheck(h.d, name, 'echo ok', { timeout: '5s' });
  const id = await idOf(name);
  const first = await entriesAfter(name, 0, 1);
  assert.deepEqual([first[0].ExitCode, first[0].Output], [0, 'ok\n']);
  const [runner] = runnersOf(id);
  assert.ok(runner, 'a runner runs in the container');
  const t = Date.now();
  const more = await entriesAfter(name, t, 2);
  assert.ok(more.every((e) => e.ExitCode === 0 && e.Output === 'ok\n'));
  assert.deepEqual(runnersOf(id), [runner], 'the same runner served the later probes');
  const ins = await docker(h.d, ['inspect', '-f', '{{json .ExecIDs}}', name]);
  assert.equal(ins.stdout.trim(), 'null', 'the runner is not an exec session');
  // a daemon that dies closes the runner's request pipe: the runner ends; the new daemon starts another
  await h.d.kill9();
  await waitFor('the old runner ended', () => runnersOf(id).length === 0, 10_000);
  await h.d.restart();
  const t2 = Date.now();
  await entriesAfter(name, t2, 1);
  const [again] = runnersOf(id);
  assert.ok(again && again !== runner);
  // stop: the runner ends with the container (its pid namespace), and nothing stays behind
  assert.equal((await docker(h.d, ['stop', '-t', '1', name])).code, 0);
  await waitFor('no runner after stop', () => runnersOf(id).length === 0, 5000);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test('a container that kills its runner: the next probe starts a new one and the container stays healthy', async () => {
  const name = uniq('kill');
  await runWithCheck(h.d, name, 'echo ok', { timeout: '5s' });
  const id = await idOf(name);
  await entriesAfter(name, 0, 1);
  const [runner] = runnersOf(id);
  assert.ok(runner);
  // busybox has no pkill: scan /proc (the name is split so that this shell does not match itself)
  const half = RUNNER_NAME.length >> 1;
  const k = await docker(h.d, [
    'exec',
    name,
    'sh',
    '-c',
    `n=${RUNNER_NAME.slice(0, half)}; n=\${n}${RUNNER_NAME.slice(half)}; ` +
      'for p in /proc/[0-9]*; do grep -q "$n" $p/cmdline 2>/dev/null && kill -9 ${p#/proc/} && echo killed; done',
  ]);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, /^(killed\n)+$/);
  const t = Date.now();
  const later = await entriesAfter(name, t, 2);
  // the runner's end is seen at once (end of file on its request socket, no /proc poll): no probe
  // started after the kill is sent to the dead runner
  assert.ok(
    later.every((e) => e.ExitCode === 0 && e.Output === 'ok\n'),
    JSON.stringify(later),
  );
  const now = runnersOf(id);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], runner);
  await waitFor('healthy', async () => (await health(h.d, name))?.Status === 'healthy', 10_000);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test('a probe that leaves a child flooding the pipe between probes: the runner is ended with the child, the daemon stays small', async () => {
  const name = uniq('stray');
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${h.d.pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  await runWithCheck(h.d, name, 'echo started; { sleep 0.3; exec yes; } & exit 0', { timeout: '5s' });
  const id = await idOf(name);
  const entries = await entriesAfter(name, 0, 3);
  for (const e of entries) {
    assert.equal(e.ExitCode, 0, e.Output);
    assert.match(e.Output, /^started\n/);
    assert.ok(Buffer.byteLength(e.Output) <= 4096);
  }
  // each flood ended with its runner: never more than the latest probe's child
  await sleep(1500);
  assert.ok(procsOf(id, (c) => /^yes\b/.test(c)).length <= 1);
  assert.ok(runnersOf(id).length <= 1);
  assert.ok(rss() - before < 64 << 20, `daemon RSS grew by ${(rss() - before) >> 20} MiB`);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test("output that forges a runner terminator does not end the probe; the marker is in neither the runner's argv nor its env", async () => {
  const name = uniq('forge');
  await runWithCheck(
    h.d,
    name,
    'm=$(printf %032d 7); printf "\\n%s 1 0\\n\\n%s 0 ready\\n" $m $m; ' +
      'tr "\\0" " " </proc/$PPID/cmdline | grep -c "[0-9a-f]\\{32\\}"; tr "\\0" "\\n" </proc/$PPID/environ | grep -c "[0-9a-f]\\{32\\}"; exit 3',
    { timeout: '5s' },
  );
  const [e] = await entriesAfter(name, 0, 1);
  assert.equal(e.ExitCode, 3, e.Output);
  const m = `${'0'.repeat(31)}7`;
  assert.equal(e.Output, `\n${m} 1 0\n\n${m} 0 ready\n0\n0\n`);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});

test('a container without /bin/sh: its probes run through runc exec, with no runner', async () => {
  const name = uniq('nosh');
  const c = await h.d.api('POST', `/containers/create?name=${name}`, {
    Image: 'busybox',
    Cmd: ['/opt/busybox', 'sleep', '300'],
    HostConfig: { Binds: ['/bin/busybox:/opt/busybox:ro'], Tmpfs: { '/bin': '' } },
    Healthcheck: { Test: ['CMD', '/opt/busybox', 'echo', 'fine'], Interval: 1e9, Retries: 1 },
  });
  assert.equal(c.status, 201, c.body);
  assert.equal((await h.d.api('POST', `/containers/${name}/start`)).status, 204);
  const es = await entriesAfter(name, 0, 2);
  assert.deepEqual(
    es.map((e) => [e.ExitCode, e.Output]),
    [
      [0, 'fine\n'],
      [0, 'fine\n'],
    ],
  );
  assert.deepEqual(runnersOf(c.json.Id), []);
  assert.equal((await docker(h.d, ['rm', '-f', name])).code, 0);
});
