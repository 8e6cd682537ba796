// Daemon faults: SIGKILL and SIGTERM of the daemon while containers run. Containers live on under
// conmon; the restarted daemon re-adopts them, keeps their logs and records exits that happened
// while it was away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, uniq, waitFor } from '../helpers/daemon.js';
import { inspect, logs, list, rm, runDetached, exec, wait } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

test('SIGKILL of the daemon: running containers survive, exits meanwhile are recorded, logs intact, control works', async () => {
  const a = await runDetached(h.d, { name: uniq('ka'), cmd: ['sh', '-c', 'echo a-start; exec sleep 600'] });
  const b = await runDetached(h.d, {
    name: uniq('kb'),
    cmd: ['sh', '-c', 'echo b-out; echo b-err >&2; sleep 3; exit 7'],
  });
  const c = await runDetached(h.d, { name: uniq('kc'), cmd: ['sh', '-c', 'echo c-line; sleep 600'] });
  await waitFor(
    'a, b, c logged',
    async () =>
      (await logs(h.d, a)).stdout === 'a-start\n' &&
      (await logs(h.d, b)).stdout === 'b-out\n' &&
      (await logs(h.d, c)).stdout === 'c-line\n',
  );
  const pidA = (await inspect(h.d, a)).State.Pid;
  const pidC = (await inspect(h.d, c)).State.Pid;
  const pidB = (await inspect(h.d, b)).State.Pid;

  await h.d.kill9();
  assert.ok(existsSync(`/proc/${pidA}`), 'container a died with the daemon');
  // b exits (7) while the daemon is away: wait until its process is gone and its conmon has
  // recorded the exit (exec-root/exits/ID, what the restarted daemon reads)
  await waitFor(
    'b to exit and its conmon to record it',
    () => !existsSync(`/proc/${pidB}`) && existsSync(join(h.d.execRoot, 'exits', b)),
    15_000,
    50,
  );
  assert.ok(existsSync(`/proc/${pidA}`) && existsSync(`/proc/${pidC}`), 'containers died while the daemon was away');
  await h.d.restart();

  const running = (await list(h.d, '')).map((x: { Id: string }) => x.Id);
  assert.ok(running.includes(a), 'a not listed as running after restart');
  assert.ok(running.includes(c), 'c not listed as running after restart');
  assert.ok(!running.includes(b), 'b listed as running although it exited');
  const ia = await inspect(h.d, a);
  assert.equal(ia.State.Status, 'running');
  assert.equal(ia.State.Pid, pidA, 'a got a new pid: was it restarted instead of re-adopted?');
  const ib = await inspect(h.d, b);
  assert.equal(ib.State.Status, 'exited');
  assert.equal(ib.State.ExitCode, 7);
  assert.ok(Date.parse(ib.State.FinishedAt) > Date.parse(ib.State.StartedAt), `FinishedAt ${ib.State.FinishedAt}`);
  const all = await list(h.d, 'all=1');
  assert.match(all.find((x: { Id: string }) => x.Id === b)?.Status ?? '', /^Exited \(7\)/);
  const lb = await logs(h.d, b);
  assert.equal(lb.stdout, 'b-out\n');
  assert.equal(lb.stderr, 'b-err\n');
  assert.equal((await logs(h.d, c)).stdout, 'c-line\n');

  // the re-adopted containers are fully under control again
  const e = await exec(h.d, c, ['sh', '-c', 'echo from-exec']);
  assert.equal(e.code, 0);
  assert.equal(e.stdout, 'from-exec\n');
  const w = wait(h.d, a);
  assert.equal((await h.d.api('POST', `/containers/${a}/stop?t=1`)).status, 204);
  assert.equal(await w, 137);
  assert.equal(existsSync(`/proc/${pidA}`), false, 'a still alive after stop');
  // an adopted container that ends on its own is noticed
  const wc = wait(h.d, c);
  assert.equal((await h.d.api('POST', `/containers/${c}/kill?signal=KILL`)).status, 204);
  assert.equal(await wc, 137);
  assert.equal((await inspect(h.d, c)).State.Status, 'exited');
  for (const id of [a, b, c]) await rm(h.d, id);
});

test('SIGTERM of the daemon leaves containers running; the restarted daemon adopts them', async () => {
  const a = await runDetached(h.d, { name: uniq('ta'), cmd: ['sh', '-c', 'echo hello; exec sleep 600'] });
  const pid = (await inspect(h.d, a)).State.Pid;
  await h.d.shutdown();
  assert.ok(existsSync(`/proc/${pid}`), 'SIGTERM of the daemon stopped the container');
  await h.d.restart();
  const ia = await inspect(h.d, a);
  assert.equal(ia.State.Running, true);
  assert.equal(ia.State.Pid, pid);
  assert.equal((await logs(h.d, a)).stdout, 'hello\n');
  await rm(h.d, a);
  assert.equal(existsSync(`/proc/${pid}`), false, 'rm -f of an adopted container left its process');
});

test('a container that ends while the daemon is down and was started with --rm is removed on restart', async () => {
  const name = uniq('arm');
  const id = await runDetached(h.d, { name, cmd: ['sh', '-c', 'sleep 1; exit 2'], hostConfig: { AutoRemove: true } });
  await h.d.kill9();
  await waitFor(
    'the container to exit while the daemon is down',
    () => existsSync(join(h.d.execRoot, 'exits', id)),
    15_000,
    50,
  );
  await h.d.restart();
  await waitFor(
    'auto-removed container gone',
    async () => (await h.d.api('GET', `/containers/${name}/json`)).status === 404,
    10_000,
  );
});
