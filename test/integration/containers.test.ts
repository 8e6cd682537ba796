// Container lifecycle through the Docker Engine API on a real daemon (runc + conmon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { useDaemon, uniq, hijack, demux, waitFor, sleep } from '../helpers/daemon.js';
import {
  create,
  start,
  wait,
  inspect,
  logs,
  rm,
  list,
  runToEnd,
  runDetached,
  exec,
  procStatusField,
} from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

test('create -> start -> wait -> logs keep stdout and stderr apart -> inspect -> rm', async () => {
  const name = uniq('life');
  const id = await create(h.d, { name, cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; echo more-out; exit 3'] });
  const created = await inspect(h.d, id);
  assert.equal(created.State.Status, 'created');
  assert.equal(created.Name, `/${name}`);
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 3);
  const l = await logs(h.d, id);
  assert.equal(l.stdout, 'to-out\nmore-out\n');
  assert.equal(l.stderr, 'to-err\n');
  const onlyErr = await logs(h.d, id, 'stderr=1');
  assert.equal(onlyErr.stdout, '');
  assert.equal(onlyErr.stderr, 'to-err\n');
  const c = await inspect(h.d, id);
  assert.equal(c.Id, id);
  assert.equal(c.State.Status, 'exited');
  assert.equal(c.State.Running, false);
  assert.equal(c.State.ExitCode, 3);
  assert.equal(c.State.OOMKilled, false);
  assert.ok(Date.parse(c.State.StartedAt) > 0, `StartedAt ${c.State.StartedAt}`);
  assert.ok(
    Date.parse(c.State.FinishedAt) >= Date.parse(c.State.StartedAt),
    `FinishedAt ${c.State.FinishedAt} is before StartedAt ${c.State.StartedAt}`,
  );
  assert.deepEqual(c.Config.Cmd, ['sh', '-c', 'echo to-out; echo to-err >&2; echo more-out; exit 3']);
  assert.equal(c.Config.Image, 'busybox');
  assert.match(c.Image, /^sha256:[0-9a-f]{64}$/);
  assert.ok(c.HostConfig && typeof c.HostConfig === 'object', 'HostConfig');
  assert.ok(Array.isArray(c.Mounts), 'Mounts');
  assert.ok(c.NetworkSettings && typeof c.NetworkSettings === 'object', 'NetworkSettings');
  // short id and name prefixes resolve too
  assert.equal((await inspect(h.d, id.slice(0, 12))).Id, id);
  assert.equal((await inspect(h.d, name)).Id, id);
  await rm(h.d, id, false);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('a container that exits at once: true -> 0; the image CMD (sh with no stdin) -> 0', async () => {
  const r = await runToEnd(h.d, { name: uniq('quick'), cmd: ['true'] });
  assert.equal(r.code, 0);
  const s = await inspect(h.d, r.id);
  assert.equal(s.State.Status, 'exited');
  assert.deepEqual(s.Config.Cmd, ['true']);
  const dflt = await runToEnd(h.d, { name: uniq('dcmd') });
  assert.equal(dflt.code, 0);
  assert.deepEqual((await inspect(h.d, dflt.id)).Config.Cmd, ['sh']);
  await rm(h.d, r.id);
  await rm(h.d, dflt.id);
});

test('Env, WorkingDir, User, Hostname, Entrypoint and Labels reach the process', async () => {
  const r = await runToEnd(h.d, {
    name: uniq('cfg'),
    env: ['FOO=bar baz'],
    workingDir: '/tmp/wd',
    user: '1000:1000',
    hostname: 'myhost',
    entrypoint: ['sh', '-c'],
    cmd: ['echo "$FOO"; pwd; id -u; id -g; hostname; echo "$PATH"'],
    labels: { 'cocon.test': 'yes' },
  });
  assert.equal(r.code, 0, r.stderr);
  const [foo, pwd, uid, gid, host, path] = r.stdout.trim().split('\n');
  assert.equal(foo, 'bar baz');
  assert.equal(pwd, '/tmp/wd');
  assert.equal(uid, '1000');
  assert.equal(gid, '1000');
  assert.equal(host, 'myhost');
  assert.match(path, /\/bin/);
  const c = await inspect(h.d, r.id);
  assert.equal(c.Config.Labels['cocon.test'], 'yes');
  assert.ok(c.Config.Env.includes('FOO=bar baz'));
  const filtered = await list(
    h.d,
    `all=1&filters=${encodeURIComponent(JSON.stringify({ label: { 'cocon.test=yes': true } }))}`,
  );
  assert.deepEqual(
    filtered.map((x: { Id: string }) => x.Id),
    [r.id],
  );
  await rm(h.d, r.id);
});

test('a running container: inspect, ps, top, exec, then stop (sleep as PID 1 ignores SIGTERM -> SIGKILL after t)', async () => {
  const name = uniq('run');
  const id = await runDetached(h.d, { name });
  const c = await inspect(h.d, id);
  assert.equal(c.State.Status, 'running');
  assert.equal(c.State.Running, true);
  assert.ok(c.State.Pid > 0);
  assert.ok(existsSync(`/proc/${c.State.Pid}`), 'container pid is not alive on the host');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: /proc/PID/cmdline separates the arguments with NULs
  assert.match(readFileSync(`/proc/${c.State.Pid}/cmdline`, 'utf8'), /^sleep\x00600/);
  const ps = await list(h.d, '');
  const mine = ps.find((x: { Id: string }) => x.Id === id);
  assert.ok(mine, 'running container missing from GET /containers/json');
  assert.deepEqual(mine.Names, [`/${name}`]);
  assert.equal(mine.State, 'running');
  assert.match(mine.Status, /^Up /);
  assert.equal(mine.Image, 'busybox');
  assert.equal(mine.Command, 'sleep 600');
  const top = (await h.d.api('GET', `/containers/${id}/top`)).json;
  assert.ok(Array.isArray(top?.Titles) && top.Titles.includes('PID'), `top: ${JSON.stringify(top)}`);
  assert.ok(
    top.Processes.some((p: string[]) => p.join(' ').includes('sleep 600')),
    'top does not list sleep 600',
  );
  const e = await exec(h.d, id, ['sh', '-c', 'echo exec-out; echo exec-err >&2; exit 7']);
  assert.equal(e.code, 7);
  assert.equal(e.stdout, 'exec-out\n');
  assert.equal(e.stderr, 'exec-err\n');
  const t0 = Date.now();
  const st = await h.d.api('POST', `/containers/${id}/stop?t=1`);
  assert.equal(st.status, 204, st.body);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 8000, `stop -t 1 took ${took} ms`);
  const after = await inspect(h.d, id);
  assert.equal(after.State.Running, false);
  assert.equal(after.State.ExitCode, 137);
  assert.ok(
    !existsSync(`/proc/${c.State.Pid}`) || !readFileSync(`/proc/${c.State.Pid}/cmdline`, 'utf8').startsWith('sleep'),
    'process still alive after stop',
  );
  assert.equal((await h.d.api('POST', `/containers/${id}/stop`)).status, 304, 'stop of a stopped container -> 304');
  await rm(h.d, id, false);
});

test('stop of a container that traps SIGTERM ignores it -> SIGKILL after -t 2 (exit 137); a handled TERM -> its own code', async () => {
  const id = await runDetached(h.d, {
    name: uniq('ign'),
    cmd: ['sh', '-c', 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.2; done'],
  });
  await waitFor('ready', async () => (await logs(h.d, id)).stdout.includes('ready'));
  const t0 = Date.now();
  const r = await h.d.api('POST', `/containers/${id}/stop?t=2`);
  const took = Date.now() - t0;
  assert.equal(r.status, 204, r.body);
  assert.ok(took >= 1900 && took < 9000, `stop -t 2 took ${took} ms`);
  assert.equal((await inspect(h.d, id)).State.ExitCode, 137);
  assert.match((await logs(h.d, id)).stdout, /got-term/, 'SIGTERM was never delivered');
  // a process that exits on TERM stops quickly with its own status
  const id2 = await runDetached(h.d, {
    name: uniq('term'),
    cmd: ['sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'],
  });
  await waitFor('ready', async () => (await logs(h.d, id2)).stdout.includes('ready'));
  const t1 = Date.now();
  assert.equal((await h.d.api('POST', `/containers/${id2}/stop?t=10`)).status, 204);
  assert.ok(Date.now() - t1 < 5000, 'stop waited for the timeout although the process exited');
  assert.equal((await inspect(h.d, id2)).State.ExitCode, 42);
  // StopSignal from the config is used
  const id3 = await runDetached(h.d, {
    name: uniq('sig'),
    stopSignal: 'SIGUSR1',
    cmd: ['sh', '-c', 'trap "exit 11" USR1; echo ready; while :; do sleep 0.1; done'],
  });
  await waitFor('ready', async () => (await logs(h.d, id3)).stdout.includes('ready'));
  assert.equal((await h.d.api('POST', `/containers/${id3}/stop?t=10`)).status, 204);
  assert.equal((await inspect(h.d, id3)).State.ExitCode, 11);
  await rm(h.d, id);
  await rm(h.d, id2);
  await rm(h.d, id3);
});

test('kill -s USR1 reaches a trap; kill (KILL) -> 137; kill of a stopped container -> 409', async () => {
  const id = await runDetached(h.d, {
    name: uniq('kill'),
    cmd: ['sh', '-c', 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.1; done'],
  });
  await waitFor('ready', async () => (await logs(h.d, id)).stdout.includes('ready'));
  assert.equal((await h.d.api('POST', `/containers/${id}/kill?signal=USR1`)).status, 204);
  await waitFor('got USR1 in logs', async () => (await logs(h.d, id)).stdout.includes('got USR1'));
  assert.equal((await h.d.api('POST', `/containers/${id}/kill`)).status, 204);
  assert.equal(await wait(h.d, id), 137);
  const again = await h.d.api('POST', `/containers/${id}/kill`);
  assert.equal(again.status, 409);
  assert.match(again.json?.message ?? '', /not running/);
  await rm(h.d, id);
});

test('restart gives a new process; start of an exited container runs it again', async () => {
  const id = await runDetached(h.d, { name: uniq('rs'), cmd: ['sh', '-c', 'echo started; exec sleep 600'] });
  const before = await inspect(h.d, id);
  const r = await h.d.api('POST', `/containers/${id}/restart?t=0`);
  assert.equal(r.status, 204, r.body);
  const after = await inspect(h.d, id);
  assert.equal(after.State.Running, true);
  assert.notEqual(after.State.Pid, before.State.Pid);
  assert.ok(Date.parse(after.State.StartedAt) > Date.parse(before.State.StartedAt));
  await waitFor('two starts logged', async () => (await logs(h.d, id)).stdout === 'started\nstarted\n');
  await h.d.api('POST', `/containers/${id}/kill`);
  await wait(h.d, id);
  await start(h.d, id);
  assert.equal((await inspect(h.d, id)).State.Running, true);
  assert.equal((await h.d.api('POST', `/containers/${id}/start`)).status, 304, 'start of a running container -> 304');
  await rm(h.d, id);
});

test('rename: the new name resolves, the old one is gone; renaming onto a used name -> 409', async () => {
  const a = uniq('ren');
  const b = uniq('ren2');
  const other = uniq('ren3');
  const id = await create(h.d, { name: a, cmd: ['true'] });
  const id2 = await create(h.d, { name: other, cmd: ['true'] });
  assert.equal((await h.d.api('POST', `/containers/${a}/rename?name=${b}`)).status, 204);
  assert.equal((await inspect(h.d, b)).Id, id);
  assert.equal((await h.d.api('GET', `/containers/${a}/json`)).status, 404);
  assert.equal((await h.d.api('POST', `/containers/${b}/rename?name=${other}`)).status, 409);
  // the old name is free again
  const id3 = await create(h.d, { name: a, cmd: ['true'] });
  await rm(h.d, id);
  await rm(h.d, id2);
  await rm(h.d, id3);
});

test('attach with stdin before start: bytes reach cat, EOF closes stdin, exit 0', async () => {
  const id = await create(h.d, { name: uniq('att'), cmd: ['cat'], openStdin: true });
  const s = await hijack(h.d.socket, 'POST', `/v1.41/containers/${id}/attach?stderr=1&stdin=1&stdout=1&stream=1`);
  assert.ok(s.status === 101 || s.status === 200, s.head);
  s.write('line one\nline two\n');
  const waiting = wait(h.d, id, 'next-exit');
  await start(h.d, id);
  await waitFor('cat to echo both lines', () => s.received().includes('line two\n'), 10_000, 20);
  s.end();
  const out = demux(await s.output);
  assert.equal(out.stdout, 'line one\nline two\n');
  assert.equal(await waiting, 0);
  await rm(h.d, id);
});

test('AutoRemove: wait?condition=removed answers after the container is gone', async () => {
  const id = await create(h.d, { name: uniq('auto'), cmd: ['sh', '-c', 'exit 4'], hostConfig: { AutoRemove: true } });
  const w = wait(h.d, id, 'removed');
  await start(h.d, id);
  assert.equal(await w, 4);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('restart policy on-failure:2 restarts twice, then leaves it exited', async () => {
  const id = await create(h.d, {
    name: uniq('rp'),
    cmd: ['sh', '-c', 'echo run; exit 3'],
    hostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } },
  });
  await start(h.d, id);
  const c = await waitFor(
    '3 runs and exited',
    async () => {
      const x = await inspect(h.d, id);
      return x.RestartCount === 2 && x.State.Status === 'exited' ? x : null;
    },
    30_000,
    200,
  );
  assert.equal(c.State.ExitCode, 3);
  assert.equal((await logs(h.d, id)).stdout, 'run\nrun\nrun\n');
  await rm(h.d, id);
});

test('restart policy always: restarts after each exit; stop while running or while waiting to restart ends it for good', async () => {
  const always = { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } };
  const stays = async (id: string, when: string) => {
    assert.equal((await h.d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
    const stopped = await inspect(h.d, id);
    for (let i = 0; i < 10; i++) {
      await sleep(300);
      const later = await inspect(h.d, id);
      assert.equal(
        later.State.Status,
        'exited',
        `stopped ${when}, the container came back (${later.State.Status}, RestartCount ${later.RestartCount})`,
      );
      assert.equal(later.RestartCount, stopped.RestartCount, `stopped ${when}, RestartCount went on`);
    }
  };
  const a = await create(h.d, {
    name: uniq('always'),
    cmd: ['sh', '-c', 'echo run; sleep 1; exit 1'],
    hostConfig: always,
  });
  await start(h.d, a);
  await waitFor(
    'a restart, running again',
    async () => {
      const c = await inspect(h.d, a);
      return c.RestartCount >= 1 && c.State.Status === 'running';
    },
    30_000,
    50,
  );
  await stays(a, 'while running');
  const b = await create(h.d, { name: uniq('always'), cmd: ['sh', '-c', 'exit 1'], hostConfig: always });
  await start(h.d, b);
  await waitFor(
    'waiting to restart',
    async () => {
      const c = await inspect(h.d, b);
      return c.RestartCount >= 1 && c.State.Status === 'restarting';
    },
    30_000,
    20,
  );
  await stays(b, 'while waiting to restart');
  await rm(h.d, a);
  await rm(h.d, b);
});

test('ps filters: status=exited, name=, id=, ancestor=, exited=N; limit; size of the list', async () => {
  const n1 = uniq('fa');
  const n2 = uniq('fb');
  const a = await runToEnd(h.d, { name: n1, cmd: ['true'] });
  const b = await runDetached(h.d, { name: n2 });
  const q = (f: object, extra = 'all=1') => list(h.d, `${extra}&filters=${encodeURIComponent(JSON.stringify(f))}`);
  const ids = (xs: Array<{ Id: string }>) => xs.map((x) => x.Id);
  assert.ok(ids(await q({ status: { exited: true } })).includes(a.id));
  assert.ok(!ids(await q({ status: { exited: true } })).includes(b));
  assert.deepEqual(ids(await q({ name: { [n2]: true } })), [b]);
  assert.deepEqual(ids(await q({ id: { [a.id.slice(0, 12)]: true } })), [a.id]);
  assert.ok(ids(await q({ ancestor: { busybox: true } })).includes(b));
  const latest = await list(h.d, 'all=1&limit=1');
  assert.equal(latest.length, 1);
  assert.equal(latest[0].Id, b, 'limit=1 must give the newest container');
  const failed = await runToEnd(h.d, { name: uniq('fx'), cmd: ['sh', '-c', 'exit 3'] });
  assert.ok(ids(await q({ exited: { '3': true } })).includes(failed.id), 'exited=3 misses a container that exited 3');
  assert.ok(!ids(await q({ exited: { '3': true } })).includes(a.id), 'exited=3 lists a container that exited 0');
  await rm(h.d, a.id);
  await rm(h.d, b);
  await rm(h.d, failed.id);
});

test('secure defaults: docker capability set, masked /proc paths; network none; cap-drop ALL; read-only rootfs; privileged', async () => {
  const d = await runToEnd(h.d, {
    name: uniq('sec'),
    hostConfig: { NetworkMode: 'none' },
    cmd: [
      'sh',
      '-c',
      'cat /proc/self/status; echo ---; cat /proc/keys /proc/timer_list 2>&1 | wc -c; grep " /proc/sys " /proc/mounts; echo ---; cat /proc/net/dev; echo ---; ls /dev',
    ],
  });
  assert.equal(d.code, 0, d.stderr);
  const [status, kcore, netdev, devs] = d.stdout.split('---\n');
  assert.equal(procStatusField(status, 'CapEff'), '00000000a80425fb', "default CapEff is not docker's set");
  assert.equal(procStatusField(status, 'CapBnd'), '00000000a80425fb');
  assert.equal(procStatusField(status, 'NoNewPrivs'), '0');
  assert.equal(procStatusField(status, 'Seccomp'), '2', 'no seccomp filter');
  const [maskedBytes, procSys] = kcore.trim().split('\n');
  assert.equal(maskedBytes.trim(), '0', '/proc/keys and /proc/timer_list are not masked');
  assert.match(procSys ?? '', /\sro[,\s]/, `/proc/sys is not read-only: ${procSys}`);
  const ifaces = netdev
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean);
  assert.deepEqual(ifaces, ['lo'], `--network none should leave only lo: ${ifaces}`);
  const devList = devs.split(/\s+/).filter(Boolean);
  for (const dev of ['null', 'zero', 'full', 'random', 'urandom', 'tty'])
    assert.ok(devList.includes(dev), `/dev/${dev} missing`);
  assert.ok(
    !devList.includes('sda') && !devList.includes('vda') && !devList.includes('mem'),
    `host devices leaked: ${devList}`,
  );

  const drop = await runToEnd(h.d, {
    name: uniq('drop'),
    cmd: ['sh', '-c', 'grep CapEff /proc/self/status'],
    hostConfig: { CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'] },
  });
  assert.match(drop.stdout, /CapEff:\s+0000000000001000/);
  const ro = await runToEnd(h.d, {
    name: uniq('ro'),
    cmd: ['sh', '-c', 'touch /x'],
    hostConfig: { ReadonlyRootfs: true },
  });
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  const priv = await runToEnd(h.d, {
    name: uniq('priv'),
    cmd: ['sh', '-c', 'grep CapEff /proc/self/status; cat /proc/keys | wc -c'],
    hostConfig: { Privileged: true },
  });
  const hostCaps = procStatusField(readFileSync('/proc/self/status', 'utf8'), 'CapEff');
  assert.match(
    priv.stdout,
    new RegExp(`CapEff:\\s+${hostCaps}`),
    'privileged should get every capability the host has',
  );
  // other test files add and remove links meanwhile: the container must see every link the host had
  // both before and after its run, and nothing the host did not have at one of the two moments
  const hostLinks = () =>
    readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0].trim())
      .filter(Boolean);
  const before = hostLinks();
  const host = await runToEnd(h.d, {
    name: uniq('hostnet'),
    cmd: ['cat', '/proc/net/dev'],
    hostConfig: { NetworkMode: 'host' },
  });
  assert.equal(host.code, 0, host.stderr);
  const after = hostLinks();
  const seen = host.stdout
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean);
  const stable = before.filter((l) => after.includes(l));
  for (const l of stable) assert.ok(seen.includes(l), `--network host should see the host's ${l}: ${seen.join(' ')}`);
  for (const l of seen) assert.ok(before.includes(l) || after.includes(l), `${l} is not a host link`);
  for (const x of [d, drop, ro, priv, host]) await rm(h.d, x.id);
});
