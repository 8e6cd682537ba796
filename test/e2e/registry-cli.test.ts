// The real docker CLI and cocon's CLI against cocon + local registries: login/push/pull/run with
// credentials, run pulling a missing image (create 404 -> pull -> create), save/load, history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, bootstrapBusybox, docker, cli, type Daemon } from '../helpers/daemon.js';
import { startRegistry, pushRawImage, makeTar, type TestRegistry } from '../integration/registry-helpers.js';

let plain: TestRegistry;
let authed: TestRegistry;
let d: Daemon;
let cfg: string;
let tmp: string;
let daemonCfg: string;

before(async () => {
  [plain, authed] = await Promise.all([startRegistry(), startRegistry({ auth: true })]);
  cfg = mkdtempSync('/tmp/cocon-e2e-cfg-');
  tmp = mkdtempSync('/tmp/cocon-e2e-reg-');
  daemonCfg = mkdtempSync('/tmp/cocon-e2e-dcfg-');
  d = await startDaemon({ env: { DOCKER_CONFIG: daemonCfg, COCON_REGISTRY_CA: authed.ca! } });
  await bootstrapBusybox(d);
});

after(async () => {
  await d?.stop();
  await plain?.stop();
  await authed?.stop();
  for (const x of [cfg, tmp, daemonCfg]) if (x) rmSync(x, { recursive: true, force: true });
});

test('docker CLI: login, push, rmi, pull, run against a registry with htpasswd + TLS', async () => {
  const env = { DOCKER_CONFIG: cfg };
  const name = `${authed.host}/bb`;
  const denied = await docker(d, ['pull', name], { env });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /no basic auth credentials/);
  const bad = await docker(d, ['login', '-u', authed.user!, '--password-stdin', authed.host], {
    env,
    input: 'wrong\n',
  });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /401/);
  const ok = await docker(d, ['login', '-u', authed.user!, '--password-stdin', authed.host], {
    env,
    input: authed.password + '\n',
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Login Succeeded/);
  assert.equal((await docker(d, ['tag', 'busybox', name], { env })).code, 0);
  const push = await docker(d, ['push', name], { env });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, new RegExp(`The push refers to repository \\[${name.replace(/\./g, '\\.')}\\]`));
  assert.match(push.stdout, /latest: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.equal((await docker(d, ['rmi', name], { env })).code, 0);
  const pull = await docker(d, ['pull', name], { env });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Status: (Downloaded newer image|Image is up to date) for /);
  const run = await docker(d, ['run', '--rm', name, 'echo', 'authed'], { env });
  assert.equal(run.stdout, 'authed\n', run.stderr);
});

test('docker run pulls a missing image by itself (run-pull.txt)', async () => {
  const layer = await makeTar([{ name: 'second.txt', data: 'second\n' }]);
  const base = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: (await import('node:fs')).readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/cat', type: 'symlink', linkname: 'busybox' },
  ]);
  await pushRawImage(plain.host, 'progress', 'v1', [base, layer]);
  const r = await docker(d, ['run', '--rm', `${plain.host}/progress:v1`, 'cat', '/second.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'second\n');
  assert.match(r.stderr, new RegExp(`Unable to find image '${plain.host.replace(/\./g, '\\.')}/progress:v1' locally`));
  assert.match(r.stderr, /v1: Pulling from progress/);
  assert.match(r.stderr, /Pull complete/);
  assert.match(r.stderr, /Status: Downloaded newer image for /);
});

test('cocon CLI: push, pull, run of a missing image, save, load, history', async () => {
  const name = `${plain.host}/cocon-cli`;
  {
    const t = await cli(d, ['tag', 'busybox', `${name}:v2`]);
    assert.equal(t.code, 0, t.stderr);
  }
  const push = await cli(d, ['push', `${name}:v2`]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /v2: digest: sha256:[a-f0-9]{64} size: \d+/);
  {
    const x = await cli(d, ['rmi', `${name}:v2`]);
    assert.equal(x.code, 0, x.stderr);
  }
  const pull = await cli(d, ['pull', `${name}:v2`]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Digest: sha256:/);
  {
    const x = await cli(d, ['rmi', `${name}:v2`]);
    assert.equal(x.code, 0, x.stderr);
  }
  const run = await cli(d, ['run', '--rm', `${name}:v2`, 'echo', 'auto-pulled']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /auto-pulled/);
  const file = join(tmp, 'cli.tar');
  const save = await cli(d, ['save', '-o', file, `${name}:v2`]);
  assert.equal(save.code, 0, save.stderr);
  assert.ok(statSync(file).size > 100_000);
  {
    const x = await cli(d, ['rmi', `${name}:v2`]);
    assert.equal(x.code, 0, x.stderr);
  }
  const load = await cli(d, ['load', '-i', file]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stdout, `Loaded image: ${name}:v2\n`);
  const hist = await cli(d, ['history', `${name}:v2`]);
  assert.equal(hist.code, 0, hist.stderr);
  assert.match(hist.stdout, /IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
});
