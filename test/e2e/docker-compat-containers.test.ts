// Issue 13, containers part: real clients unchanged against cocon. docker-py (Debian's
// python3-docker, scripts under test/clients/) for exec_run with and without a tty, attach with
// stdin and detach keys, put_archive/get_archive in a volume; the real docker CLI for cp through
// volumes and binds, attach and its detach keys, diff, rm --link; the API for Env without '=' and
// MacAddress (the CLI 28 sends --mac-address only to API 1.44 daemons).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  useDaemon,
  docker,
  run,
  uniq,
  waitFor,
  demux,
  DOCKER_BIN,
  REPO,
  type Json,
  type RunResult,
} from '../helpers/daemon.js';
import { startPty } from '../helpers/pty.js';

const h = useDaemon({ busybox: true });
const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-docker lives
const CLIENTS = join(REPO, 'test/clients');
const names: string[] = [];
const vols: string[] = [];
const tmp = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'compat-'));

after(async () => {
  for (const n of names) await docker(h.d, ['rm', '-f', n]).catch(() => undefined);
  for (const v of vols) await docker(h.d, ['volume', 'rm', '-f', v]).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs a docker-py client script (test/clients) against the daemon; its last output line is JSON. */
async function py(script: string, args: string[], config?: Record<string, unknown>): Promise<Json> {
  const cfg = join(tmp, `cfg-${uniq('c')}`);
  mkdirSync(cfg);
  if (config) writeFileSync(join(cfg, 'config.json'), JSON.stringify(config));
  const r = await run(PYTHON, [join(CLIENTS, script), ...args], {
    env: { DOCKER_HOST: h.d.host, DOCKER_CONFIG: cfg },
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, `${script}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function ok(args: string[]): Promise<RunResult> {
  const r = await docker(h.d, args);
  assert.equal(r.code, 0, `docker ${args.join(' ')} -> ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

test('docker-py exec_run: a tty exec over plain HTTP goes through a pty (hello\\r\\n), streamed or not; 126 for a non-executable file, 127 for a missing one', async () => {
  const name = uniq('pyexec');
  names.push(name);
  const o = await py('exec_tty.py', [name]);
  assert.deepEqual({ code: o.tty.code, out: b64(o.tty.output) }, { code: 0, out: 'hello\r\n' });
  assert.deepEqual({ code: o.notty.code, out: b64(o.notty.output) }, { code: 0, out: 'hello\n' });
  assert.equal(b64(o.tty_stream), 'hello\r\n');
  assert.equal(b64(o.notty_stream), 'hello\n');
  assert.equal(b64(o.tty_is_a_tty.output), 'yes\r\n');
  assert.equal(o.not_executable.code, 126, b64(o.not_executable.output));
  assert.match(b64(o.not_executable.output), /permission denied/);
  assert.equal(o.not_found.code, 127, b64(o.not_found.output));
});

test("exec start: the pty follows the exec's Tty; the start request's Tty only picks raw or framed output (as dockerd)", async () => {
  const name = uniq('exectty');
  names.push(name);
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
  const start = async (body: Record<string, unknown>) => {
    const c = await h.d.api('POST', `/v1.41/containers/${name}/exec`, {
      Cmd: ['echo', 'hi'],
      Tty: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    assert.equal(c.status, 201, c.body);
    return h.d.api('POST', `/v1.41/exec/${c.json.Id}/start`, body);
  };
  const plain = await start({ Detach: false });
  assert.equal(plain.status, 200);
  assert.equal(plain.body, 'hi\r\n');
  const framed = await start({ Detach: false, Tty: false });
  assert.equal(demux(framed.raw).stdout, 'hi\r\n');
  const bad = await h.d.api('POST', `/v1.41/containers/${name}/exec`, { Cmd: ['true'], DetachKeys: 'ctrl-' });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /Invalid escape keys \(ctrl-\) provided/);
});

test('docker-py attach_socket(stdin, stream): commands run (attached before and after start), tty echoes 1000 bytes, non-tty carries 5000, detach keys', {
  timeout: 240_000,
}, async () => {
  const prefix = uniq('pyatt');
  const o = await py('attach.py', [prefix]);
  for (const k of ['after', 'before', 'logs', 'tty', 'notty', 'dd', 'da', 'dn']) names.push(`${prefix}-${k}`);
  assert.equal(o.after_start, 'hello from sh\n');
  assert.equal(o.after_start_code, 3);
  assert.equal(o.before_start, 'before start\n');
  assert.equal(o.before_start_code, 4);
  assert.equal(o.logs_replay, 'early\nlate go\n', 'attach logs=1 replays the log before streaming');
  assert.equal(o.tty_echo_x, 2000, 'the terminal echoes the 1000 bytes and cat writes them back');
  assert.equal(o.notty_y, 5000);
  assert.deepEqual(o.detach_default, { closed: true, running: true });
  assert.deepEqual(o.detach_arg, { closed: true, running: true });
  assert.deepEqual(o.no_detach_on_other_keys, { closed: false, running: true });
  // detachKeys from the client's config.json (docker-py sends them as detachKeys=)
  const c = await py('attach.py', [prefix + 'c', 'config'], { detachKeys: 'ctrl-a,ctrl-b' });
  for (const k of ['dc', 'dcd']) names.push(`${prefix}c-${k}`);
  assert.equal(c.config_keys, 'ctrl-a,ctrl-b');
  assert.deepEqual(c.detach_config, { closed: true, running: true });
  assert.deepEqual(
    c.default_keys_ignored,
    { closed: false, running: true },
    'ctrl-p ctrl-q is plain input when other keys are set',
  );
  // bad keys: 400 before the stream starts
  const k = uniq('keys');
  names.push(k);
  await ok(['run', '-dit', '--name', k, 'busybox', 'sh']);
  const bad = await h.d.api('POST', `/v1.41/containers/${k}/attach?stream=1&stdin=1&detachKeys=ctrl-`);
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /Invalid detach keys \(ctrl-\) provided/);
});

test('docker attach: detach with ctrl-p ctrl-q, --detach-keys and config.json detachKeys; the container keeps running', {
  timeout: 120_000,
}, async () => {
  const name = uniq('att');
  names.push(name);
  await ok(['run', '-dit', '--name', name, 'busybox', 'sh']);
  const cfgDir = join(h.d.root, 'docker-config');
  const attach = async (extra: string[], keys: string[], config?: Record<string, unknown>) => {
    const dir = join(tmp, uniq('attcfg'));
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config ?? {}));
    const p = await startPty([DOCKER_BIN, 'attach', ...extra, name], {
      env: { DOCKER_HOST: h.d.host, DOCKER_CONFIG: config ? dir : cfgDir },
    });
    try {
      await p.type('echo at$((6*7))tached\n');
      await p.waitFor(/at42tached/);
      await p.keys(...keys);
      // the docker CLI 28 ends an attach left with the detach keys with "read escape sequence", exit 1
      const code = await p.exitCode();
      assert.equal(code, 1, await p.screen());
      assert.match(await p.screen(), /read escape sequence/);
    } finally {
      await p.close();
    }
    assert.equal((await ok(['inspect', '-f', '{{.State.Running}}', name])).stdout.trim(), 'true');
  };
  await attach([], ['C-p', 'C-q']);
  await attach(['--detach-keys', 'ctrl-x'], ['C-x']);
  await attach([], ['C-a', 'C-b'], { detachKeys: 'ctrl-a,ctrl-b' });
});

test('docker-py put_archive/get_archive in a named volume at /vol1, by name and id, running and stopped', async () => {
  const name = uniq('pyarch');
  names.push(name);
  const vol = uniq('pyvol');
  vols.push(vol);
  const o = await py('archive.py', [name, vol]);
  assert.equal(o.put_running, true);
  for (const k of ['get_running_by_name', 'get_running_by_id'])
    assert.deepEqual(o[k], { name: 'data.txt', data: 'hello volume\n', stat_name: 'data.txt', stat_size: 13 }, k);
  assert.equal(o.seen_inside, 'hello volume\n');
  assert.equal(o.put_stopped, true);
  assert.equal(o.get_stopped.data, 'written while stopped\n');
  assert.match(o.missing, /Could not find the file \/vol1\/missing\.txt/);
  // what was written is in the volume itself
  const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol])).stdout.trim();
  assert.equal(readFileSync(join(mp, 'later.txt'), 'utf8'), 'written while stopped\n');
});

test('docker cp in and out of a volume and a bind mount, by name, running and stopped; a read-only mount refuses cp in', async () => {
  const name = uniq('cpvol');
  names.push(name);
  const vol = uniq('cpv');
  vols.push(vol);
  const bind = mkdtempSync(join(tmp, 'bind-'));
  const ro = mkdtempSync(join(tmp, 'ro-'));
  writeFileSync(join(bind, 'b.txt'), 'from the host\n');
  await ok([
    'run',
    '-d',
    '--name',
    name,
    '-v',
    `${vol}:/vol1`,
    '-v',
    `${bind}:/bnd`,
    '-v',
    `${ro}:/ro:ro`,
    'busybox',
    'sh',
    '-c',
    'echo in-volume > /vol1/data.txt; exec sleep 600',
  ]);
  await waitFor(
    'the volume file',
    async () => (await docker(h.d, ['exec', name, 'cat', '/vol1/data.txt'])).stdout === 'in-volume\n',
  );
  const src = join(tmp, 'up.txt');
  for (const when of ['running', 'stopped']) {
    const out = mkdtempSync(join(tmp, `out-${when}-`));
    await ok(['cp', `${name}:/vol1/data.txt`, out]);
    assert.equal(readFileSync(join(out, 'data.txt'), 'utf8'), 'in-volume\n');
    await ok(['cp', `${name}:/bnd/b.txt`, out]);
    assert.equal(readFileSync(join(out, 'b.txt'), 'utf8'), 'from the host\n');
    await ok(['cp', `${name}:/vol1`, join(out, 'whole')]);
    assert.equal(readFileSync(join(out, 'whole/data.txt'), 'utf8'), 'in-volume\n');
    writeFileSync(src, `up ${when}\n`);
    await ok(['cp', src, `${name}:/vol1/up-${when}.txt`]);
    await ok(['cp', src, `${name}:/bnd/`]);
    assert.equal(readFileSync(join(bind, 'up.txt'), 'utf8'), `up ${when}\n`);
    const refused = await docker(h.d, ['cp', src, `${name}:/ro/`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /marked read-only/);
    if (when === 'running') {
      assert.equal((await ok(['exec', name, 'cat', '/vol1/up-running.txt'])).stdout, 'up running\n');
      await ok(['stop', '-t', '0', name]);
    }
  }
  const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol])).stdout.trim();
  assert.equal(readFileSync(join(mp, 'up-stopped.txt'), 'utf8'), 'up stopped\n');
});

test("docker diff: the engine's /etc files are bound, not written into the container's layer", async () => {
  const a = uniq('diff');
  names.push(a);
  await ok([
    'run',
    '--name',
    a,
    'busybox',
    'sh',
    '-c',
    'echo x > /x; cat /etc/hosts /etc/hostname /etc/resolv.conf > /dev/null',
  ]);
  assert.deepEqual((await ok(['diff', a])).stdout.trim().split('\n'), ['A /x']);
  const ch = await h.d.api('GET', `/v1.41/containers/${a}/changes`);
  assert.deepEqual(ch.json, [{ Path: '/x', Kind: 1 }]);
  // a change of the container's own in /etc is still seen
  const b = uniq('diff');
  names.push(b);
  await ok(['run', '--name', b, 'busybox', 'sh', '-c', 'echo y > /etc/mine']);
  assert.deepEqual((await ok(['diff', b])).stdout.trim().split('\n'), ['C /etc', 'A /etc/mine']);
  // and the files are the engine's inside the container
  const c = uniq('diff');
  names.push(c);
  const r = await ok(['run', '--name', c, '--hostname', 'h13', 'busybox', 'cat', '/etc/hostname']);
  assert.equal(r.stdout, 'h13\n');
});

test('docker rm --link PARENT/ALIAS removes a legacy link; unknown links 404, the default name 409', async () => {
  const db = uniq('db');
  const web = uniq('web');
  names.push(db, web);
  await ok(['run', '-d', '--name', db, 'busybox', 'sleep', '600']);
  await ok(['run', '-d', '--name', web, '--link', `${db}:dbalias`, 'busybox', 'sleep', '600']);
  assert.match((await ok(['inspect', '-f', '{{json .HostConfig.Links}}', web])).stdout, /dbalias/);
  const r = await ok(['rm', '--link', `${web}/dbalias`]);
  assert.equal(r.stdout.trim(), `${web}/dbalias`);
  const i = await ok([
    'inspect',
    '-f',
    '{{json .HostConfig.Links}} {{json .NetworkSettings.Networks.bridge.Links}}',
    web,
  ]);
  assert.equal(i.stdout.trim(), 'null null');
  assert.equal(
    (await ok(['inspect', '-f', '{{.State.Running}}', db])).stdout.trim(),
    'true',
    'the linked container stays',
  );
  const again = await docker(h.d, ['rm', '--link', `${web}/dbalias`]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, new RegExp(`No such container: ${web}/dbalias`));
  const dflt = await h.d.api('DELETE', `/v1.41/containers/${web}?link=1`);
  assert.equal(dflt.status, 409);
  assert.match(dflt.json.message, /cannot remove the default link name/);
});

test('create: Env "Foo" (no =) kept in Config.Env as docker keeps it and unset in the process; MacAddress on the container\'s interface', async () => {
  const e = uniq('env');
  names.push(e);
  const c = await h.d.api('POST', `/v1.41/containers/create?name=${e}`, {
    Image: 'busybox',
    Cmd: ['env'],
    Env: ['Foo', 'Other=one', 'Blank='],
  });
  assert.equal(c.status, 201, c.body);
  const env = (await h.d.api('GET', `/v1.41/containers/${e}/json`)).json.Config.Env as string[];
  assert.deepEqual(
    env.filter((x) => !x.startsWith('PATH=')),
    ['Foo', 'Other=one', 'Blank='],
  );
  await ok(['start', e]);
  await ok(['wait', e]);
  const out = (await ok(['logs', e])).stdout.split('\n');
  assert.ok(out.includes('Other=one') && out.includes('Blank='), out.join('|'));
  assert.ok(!out.some((l) => l === 'Foo' || l.startsWith('Foo=')), out.join('|'));

  const m = uniq('mac');
  names.push(m);
  const mc = await h.d.api('POST', `/v1.41/containers/create?name=${m}`, {
    Image: 'busybox',
    Cmd: ['sleep', '600'],
    MacAddress: '92:d0:c6:0a:29:33',
  });
  assert.equal(mc.status, 201, mc.body);
  await ok(['start', m]);
  assert.match((await ok(['exec', m, 'ip', 'link', 'show', 'eth0'])).stdout, /link\/ether 92:d0:c6:0a:29:33 /);
  assert.equal(
    (await ok(['inspect', '-f', '{{.NetworkSettings.MacAddress}} {{.Config.MacAddress}}', m])).stdout.trim(),
    '92:d0:c6:0a:29:33 92:d0:c6:0a:29:33',
  );
  for (const bad of ['93:d0:c6:0a:29:33', 'zz:d0:c6:0a:29:33', '92:d0:c6']) {
    const r = await h.d.api('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], MacAddress: bad });
    assert.equal(r.status, 400, bad);
    assert.match(r.json.message, /invalid MAC address: /);
  }
  const host = await h.d.api('POST', '/v1.41/containers/create', {
    Image: 'busybox',
    Cmd: ['true'],
    MacAddress: '92:d0:c6:0a:29:34',
    HostConfig: { NetworkMode: 'host' },
  });
  assert.equal(host.status, 400);
  assert.match(host.json.message, /conflicting options: mac-address and the network mode/);
});
