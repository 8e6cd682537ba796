// The docker-user suite, run by two clients against a real cocon daemon: the real docker CLI 28
// (docker-cli.test.ts) and cocon's own CLI (cocon-cli.test.ts). Same commands, same expectations:
// cocon's CLI must behave like docker's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, copyFileSync, symlinkSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  uniq,
  run,
  waitFor,
  type Daemon,
  type RunOptions,
  type RunResult,
  type DaemonHolder,
} from '../helpers/daemon.js';
import { startPty } from '../helpers/pty.js';
import { shq } from '../../src/sys/shell.js';

export interface Client {
  name: string;
  /** Runs the client with these arguments against the test daemon. */
  run(d: Daemon, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** argv that runs the client in a terminal (for -ti tests), with the env it needs. */
  argv(d: Daemon, args: string[]): { argv: string[]; env: Record<string, string> };
}

const HEX64 = /^[0-9a-f]{64}$/;

export function clientSuite(h: DaemonHolder, c: Client): void {
  const x = (args: string[], opts?: RunOptions) => c.run(h.d, args, opts);
  const ok = async (args: string[], opts?: RunOptions): Promise<RunResult> => {
    const r = await x(args, opts);
    assert.equal(r.code, 0, `${c.name} ${args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const psNames = async (all: boolean) =>
    (await ok(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
  const state = async (name: string) =>
    (await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();

  test(`${c.name}: version and info talk to cocon (API 1.41 or later)`, async () => {
    const v = await ok(['version', '--format', '{{.Server.APIVersion}}']);
    assert.match(v.stdout.trim(), /^1\.(4[1-9]|[5-9]\d)$/);
    const i = await ok(['info', '--format', '{{.DockerRootDir}}']);
    assert.equal(i.stdout.trim(), h.d.dataRoot);
  });

  test(`${c.name}: run --rm busybox echo hello -> prints hello, exit 0, leaves no container`, async () => {
    const before = (await psNames(true)).length;
    const r = await ok(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal((await psNames(true)).length, before, 'run --rm left a container');
  });

  test(`${c.name}: run's exit code is the container's; stdout and stderr stay apart`, async () => {
    const r = await x(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test(`${c.name}: exit codes 125 (no such image), 127 (command not found), 126 (not executable)`, async () => {
    const a = await x(['run', '--rm', 'nosuchimage-e2e', 'true']);
    assert.equal(a.code, 125, a.stderr);
    assert.match(a.stderr, /No such image|Unable to find image|pull access denied|not found|connect|lookup/i);
    const b = await x(['run', '--rm', 'busybox', 'nosuchcommand']);
    assert.equal(b.code, 127, b.stderr);
    assert.match(b.stderr, /executable file not found|no such file/);
    const d = await x(['run', '--rm', 'busybox', '/dev']);
    assert.equal(d.code, 126, d.stderr);
    assert.match(d.stderr, /permission denied/);
    const name = uniq('ec');
    await ok(['create', '--name', name, 'busybox', 'true']);
    const e = await x(['run', '--name', name, 'busybox', 'true']);
    assert.equal(e.code, 125);
    assert.match(e.stderr, /is already in use/);
    await ok(['rm', name]);
  });

  test(`${c.name}: run -d, ps, ps -a, ps -q, ps --no-trunc, inspect`, async () => {
    const name = uniq('web');
    const r = await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const id = r.stdout.trim();
    assert.match(id, HEX64);
    const ps = await ok(['ps']);
    const header = ps.stdout.split('\n')[0];
    assert.match(header, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const line = ps.stdout.split('\n').find((l) => l.endsWith(` ${name}`));
    assert.ok(line, `ps does not list ${name}:\n${ps.stdout}`);
    assert.ok(line.startsWith(id.slice(0, 12) + ' '), line);
    assert.match(line, /busybox\s+"sleep 600"\s+.*(seconds|second|minute)s? ago\s+Up /);
    assert.ok((await ok(['ps', '-q'])).stdout.split('\n').includes(id.slice(0, 12)));
    assert.ok((await ok(['ps', '-a', '--no-trunc', '-q'])).stdout.split('\n').includes(id));
    assert.ok((await psNames(false)).includes(name));
    const exited = uniq('ex');
    await ok(['run', '--name', exited, 'busybox', 'true']);
    assert.ok(!(await psNames(false)).includes(exited), 'an exited container in ps without -a');
    const psa = await ok(['ps', '-a', '--filter', `name=${exited}`]);
    assert.match(psa.stdout, new RegExp(`Exited \\(0\\) .* ago\\s+${exited}`));
    const f = await ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    assert.ok(
      f.stdout.split('\n').some((l) => l.includes(` ${exited} Exited (0)`)),
      f.stdout,
    );
    const j = JSON.parse((await ok(['inspect', name])).stdout);
    assert.ok(Array.isArray(j) && j.length === 1);
    assert.equal(j[0].Id, id);
    assert.equal(j[0].Name, `/${name}`);
    assert.equal(j[0].State.Running, true);
    assert.ok(j[0].State.Pid > 0);
    assert.equal(await state(name), 'running 0');
    await ok(['rm', '-f', name, exited]);
    assert.ok(!(await psNames(true)).includes(name));
  });

  test(`${c.name}: logs keep stdout and stderr apart; --tail; -t; --since`, async () => {
    const name = uniq('logs');
    await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo o1; echo e1 >&2; echo o2; echo e2 >&2']);
    assert.equal((await ok(['wait', name])).stdout.trim(), '0');
    const l = await ok(['logs', name]);
    assert.equal(l.stdout, 'o1\no2\n');
    assert.equal(l.stderr, 'e1\ne2\n');
    const t = await ok(['logs', '--tail', '1', name]);
    assert.equal(t.stdout, '');
    assert.equal(t.stderr, 'e2\n');
    const ts = await ok(['logs', '-t', name]);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z o1\n/);
    const recent = await ok(['logs', '--since', '10m', name]);
    assert.equal(recent.stdout, 'o1\no2\n');
    const future = await ok(['logs', '--since', String(Math.floor(Date.now() / 1000) + 5), name]);
    assert.equal(future.stdout + future.stderr, '', 'logs --since a later time should be empty');
    await ok(['rm', name]);
  });

  test(`${c.name}: logs -f follows until the container exits`, async () => {
    const name = uniq('follow');
    await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
    const r = await ok(['logs', '-f', name], { timeoutMs: 20_000 });
    assert.equal(r.stdout, 'line1\nline2\nline3\n');
    await ok(['rm', name]);
  });

  test(`${c.name}: stop, start, restart, kill -s, kill, wait`, async () => {
    const name = uniq('ssr');
    await ok([
      'run',
      '-d',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'trap "echo got USR1" USR1; trap "exit 0" TERM; echo up; while :; do sleep 0.1; done',
    ]);
    await waitFor('up', async () => (await x(['logs', name])).stdout.includes('up'));
    await ok(['kill', '-s', 'USR1', name]);
    await waitFor('got USR1', async () => (await x(['logs', name])).stdout.includes('got USR1'));
    assert.equal((await ok(['stop', name])).stdout.trim(), name);
    assert.equal(await state(name), 'exited 0');
    assert.equal((await ok(['start', name])).stdout.trim(), name);
    assert.equal(await state(name), 'running 0');
    const pid1 = (await ok(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim();
    assert.equal((await ok(['restart', '-t', '1', name])).stdout.trim(), name);
    const pid2 = (await ok(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim();
    assert.notEqual(pid1, pid2, 'restart kept the old process');
    await waitFor('up twice more', async () => (await x(['logs', name])).stdout.split('up').length - 1 === 3);
    assert.equal((await ok(['kill', name])).stdout.trim(), name);
    assert.equal((await ok(['wait', name])).stdout.trim(), '137');
    const k = await x(['kill', name]);
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /is not running/);
    const w = uniq('waiter');
    await ok(['run', '-d', '--name', w, 'busybox', 'sh', '-c', 'sleep 1; exit 9']);
    assert.equal((await ok(['wait', w])).stdout.trim(), '9');
    await ok(['rm', name, w]);
  });

  test(`${c.name}: stop of a process that ignores SIGTERM falls back to SIGKILL after -t`, async () => {
    const name = uniq('stubborn');
    await ok([
      'run',
      '-d',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'trap "" TERM; echo up; while :; do sleep 0.1; done',
    ]);
    await waitFor('up', async () => (await x(['logs', name])).stdout.includes('up'));
    const t0 = Date.now();
    await ok(['stop', '-t', '2', name]);
    const took = Date.now() - t0;
    assert.ok(took >= 1900 && took < 10_000, `stop -t 2 took ${took} ms`);
    assert.equal(await state(name), 'exited 137');
    await ok(['rm', name]);
  });

  test(`${c.name}: rm of a running container is refused; rm -f removes it`, async () => {
    const name = uniq('rmr');
    await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const r = await x(['rm', name]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot remove|running|stop the container/i);
    assert.ok((await psNames(false)).includes(name));
    await ok(['rm', '-f', name]);
    assert.ok(!(await psNames(true)).includes(name));
  });

  test(`${c.name}: exec with and without -t; exit code; -e -w -u`, async () => {
    const name = uniq('exec');
    await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const e = await x(['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(e.code, 7);
    assert.equal(e.stdout, 'out\n');
    assert.equal(e.stderr, 'err\n');
    const t = await ok(['exec', '-t', name, 'tty']);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n$/);
    const opts = await ok([
      'exec',
      '-e',
      'V=val',
      '-w',
      '/tmp',
      '-u',
      '1000',
      name,
      'sh',
      '-c',
      'echo $V $(pwd) $(id -u)',
    ]);
    assert.equal(opts.stdout, 'val /tmp 1000\n');
    const piped = await ok(['exec', '-i', name, 'cat'], { input: 'through exec\n' });
    assert.equal(piped.stdout, 'through exec\n');
    await ok(['exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/f']);
    await waitFor(
      'exec -d wrote /tmp/f',
      async () => (await x(['exec', name, 'cat', '/tmp/f'])).stdout === 'detached\n',
    );
    const missing = await x(['exec', name, 'nosuchcmd']);
    assert.equal(missing.code, 127, missing.stderr);
    await ok(['rm', '-f', name]);
  });

  test(`${c.name}: rename`, async () => {
    const a = uniq('rn');
    const b = uniq('rn2');
    await ok(['create', '--name', a, 'busybox', 'true']);
    await ok(['rename', a, b]);
    const names = await psNames(true);
    assert.ok(names.includes(b) && !names.includes(a), names.join(','));
    await ok(['rm', b]);
  });

  test(`${c.name}: echo hi | run -i busybox cat -> hi, exit 0`, async () => {
    const r = await ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'hi\n' });
    assert.equal(r.stdout, 'hi\n');
    const big = 'x'.repeat(200_000) + '\n';
    const r2 = await ok(['run', '--rm', '-i', 'busybox', 'wc', '-c'], { input: big });
    assert.equal(r2.stdout.trim(), String(big.length));
  });

  test(`${c.name}: run -ti busybox sh through a terminal; exit 3 -> 3`, async () => {
    const { argv, env } = c.argv(h.d, ['run', '-ti', '--rm', 'busybox', 'sh']);
    const p = await startPty(argv, { env, cols: 100, rows: 30 });
    try {
      await p.waitFor(/[#$] $/m, 20_000);
      await p.type('stty size; tty; echo marker-$((6*7))\n');
      const s = await p.waitFor('marker-42');
      assert.match(s, /30 100/, 'the pty does not have the terminal size');
      assert.match(s, /\/dev\/pts\/\d+/);
      await p.resize(120, 40);
      // the new size travels tmux -> client (SIGWINCH) -> daemon -> container pty: ask until it is there
      await waitFor(
        'stty size to show 40 120',
        async () => {
          await p.type('stty size\n');
          return (await p.screen()).includes('40 120');
        },
        10_000,
        250,
      );
      await p.type('exit 3\n');
      assert.equal(await p.exitCode(), 3);
    } finally {
      await p.close();
    }
  });

  test(`${c.name}: exec -it sh through a terminal; exit 4 -> 4`, async () => {
    const name = uniq('execit');
    await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const { argv, env } = c.argv(h.d, ['exec', '-it', name, 'sh']);
    const p = await startPty(argv, { env });
    try {
      await p.waitFor(/[#$] $/m, 20_000);
      await p.type('echo in-$((40+2))\n');
      await p.waitFor('in-42');
      await p.type('exit 4\n');
      assert.equal(await p.exitCode(), 4);
    } finally {
      await p.close();
      await x(['rm', '-f', name]);
    }
  });

  test(`${c.name}: run -ti, detach with ctrl-p ctrl-q, attach again, exit 6 -> 6; start -a`, async () => {
    const name = uniq('det');
    const first = c.argv(h.d, ['run', '-ti', '--name', name, 'busybox', 'sh']);
    const p = await startPty(first.argv, { env: first.env });
    try {
      await p.waitFor(/[#$] $/m, 20_000);
      await p.keys('C-p', 'C-q');
      assert.equal(await p.exitCode(), 0, 'detaching should end the client with 0');
    } finally {
      await p.close();
    }
    assert.equal(await state(name), 'running 0', 'the container must keep running after a detach');
    const again = c.argv(h.d, ['attach', name]);
    const p2 = await startPty(again.argv, { env: again.env });
    try {
      // typed before the client is attached (and has set raw mode), a line can be lost: type it until the shell answers
      await waitFor(
        'the attached shell to answer',
        async () => {
          await p2.type('echo back-$((1+1))\n');
          return (await p2.screen()).includes('back-2');
        },
        15_000,
        500,
      );
      await p2.type('exit 6\n');
      assert.equal(await p2.exitCode(), 6);
    } finally {
      await p2.close();
    }
    const ca = uniq('ca');
    await ok(['create', '--name', ca, 'busybox', 'sh', '-c', 'echo from-start; exit 5']);
    const sa = await x(['start', '-a', ca]);
    assert.equal(sa.code, 5, sa.stderr);
    assert.equal(sa.stdout, 'from-start\n');
    await ok(['rm', '-f', name, ca]);
  });

  test(`${c.name}: run flags: -e -w -u --hostname -l --entrypoint --env-file --read-only --cap-drop --network --init --stop-timeout`, async () => {
    const a = await ok([
      'run',
      '--rm',
      '-e',
      'A=1',
      '-w',
      '/tmp/w',
      '-u',
      '1000',
      '--hostname',
      'hh',
      '-l',
      'k=v',
      '--entrypoint',
      'sh',
      'busybox',
      '-c',
      'echo $A $(pwd) $(id -u) $(hostname)',
    ]);
    assert.equal(a.stdout, '1 /tmp/w 1000 hh\n');
    const ro = await x(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    const caps = await ok(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(caps.stdout, /CapEff:\s+0{16}/);
    const none = await ok(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/net/dev']);
    assert.deepEqual(
      none.stdout
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0].trim())
        .filter(Boolean),
      ['lo'],
    );
    const host = await ok(['run', '--rm', '--network', 'host', 'busybox', 'cat', '/proc/net/dev']);
    assert.ok(host.stdout.split('\n').length > 3, 'host network shows only lo');
    const init = await ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/comm; echo $$']);
    const [pid1comm, shpid] = init.stdout.trim().split('\n');
    assert.notEqual(pid1comm, 'sh', '--init: PID 1 is the shell');
    assert.notEqual(shpid, '1');
    const name = uniq('stopto');
    await ok(['run', '-d', '--name', name, '--stop-timeout', '1', 'busybox', 'sleep', '600']);
    const t0 = Date.now();
    await ok(['stop', name]);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 6000, `stop with --stop-timeout 1 took ${took} ms`);
    await ok(['rm', name]);
  });

  test(`${c.name}: images, tag, rmi (untag; refused while in use)`, async () => {
    const imgs = await ok(['images']);
    assert.match(imgs.stdout.split('\n')[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(imgs.stdout, /\nbusybox\s+latest\s+[0-9a-f]{12}\s/);
    const tag = `e2e${uniq('t').replace(/-/g, '')}`;
    await ok(['tag', 'busybox', `busybox:${tag}`]);
    const list = (await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout;
    const ids = list
      .split('\n')
      .filter((l) => l.startsWith('busybox:latest ') || l.startsWith(`busybox:${tag} `))
      .map((l) => l.split(' ')[1]);
    assert.equal(ids.length, 2, list);
    assert.equal(ids[0], ids[1], 'the tag points to another image');
    const rmi = await ok(['rmi', `busybox:${tag}`]);
    assert.match(rmi.stdout, new RegExp(`Untagged: busybox:${tag}`));
    assert.doesNotMatch((await ok(['images', '--format', '{{.Tag}}'])).stdout, new RegExp(`^${tag}$`, 'm'));
    const name = uniq('user');
    await ok(['create', '--name', name, 'busybox', 'true']);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    const inUse = await x(['rmi', id]);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /conflict|is being used|in use/i);
    const missing = await x(['rmi', 'nosuchimage-e2e']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such image/);
    await ok(['rm', name]);
  });

  test(`${c.name}: import a rootfs tar from stdin (with --change), run it, rmi it`, async () => {
    const dir = mkdtempSync(join(h.d.root, 'rootfs-'));
    try {
      mkdirSync(join(dir, 'bin'));
      mkdirSync(join(dir, 'etc'));
      copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
      chmodSync(join(dir, 'bin/busybox'), 0o755);
      for (const a of ['sh', 'echo', 'cat']) symlinkSync('busybox', join(dir, 'bin', a));
      const ref = `imported-${uniq('i')}:v1`;
      const tarRun = await run(
        'sh',
        [
          '-c',
          `tar -C ${shq(dir)} -c . | ${c.argv(h.d, ['import', '--change', 'CMD ["echo","from-cmd"]', '--change', 'ENV PATH=/bin', '-', ref]).argv.map(shq).join(' ')}`,
        ],
        { env: c.argv(h.d, []).env },
      );
      assert.equal(tarRun.code, 0, tarRun.stderr);
      assert.match(tarRun.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      assert.equal((await ok(['run', '--rm', ref])).stdout, 'from-cmd\n');
      assert.equal((await ok(['run', '--rm', ref, 'sh', '-c', 'echo $PATH'])).stdout, '/bin\n');
      const rmi = await ok(['rmi', ref]);
      assert.match(rmi.stdout, /Untagged: .*imported-/);
      assert.match(rmi.stdout, /Deleted: sha256:/);
      // from a file, with a message
      const tarFile = join(h.d.root, `${uniq('rootfs')}.tar`);
      const t = await run('tar', ['-C', dir, '-cf', tarFile, '.']);
      assert.equal(t.code, 0, t.stderr);
      const ref2 = `fromfile-${uniq('i')}:v2`;
      const imp = await ok(['import', '--change', 'ENV PATH=/bin', tarFile, ref2]);
      assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      assert.equal((await ok(['run', '--rm', ref2, 'echo', 'file-ok'])).stdout, 'file-ok\n');
      await ok(['rmi', ref2]);
      rmSync(tarFile, { force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${c.name}: top and port`, async () => {
    const name = uniq('top');
    await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const t = await ok(['top', name]);
    assert.match(t.stdout, /PID/);
    assert.match(t.stdout, /sleep 600/);
    const p = await ok(['port', name]);
    assert.equal(p.stdout, '');
    await ok(['rm', '-f', name]);
  });
}
