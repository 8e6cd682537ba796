// Pull, push, login against real registries (Debian's docker-registry on 127.0.0.1): round trips of
// cocon-built images, multi-layer / zstd / OCI index images pushed raw, and the faults of issue 3
// (digest mismatch, unreachable, 401, 404, connection cut mid-layer, concurrent pulls).
// Needs: docker-registry, apache2-utils (htpasswd), openssl, zstd, attr (setfattr).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, bootstrapBusybox, docker, type Daemon } from '../helpers/daemon.js';
import {
  startRegistry,
  startFaultProxy,
  startTokenFront,
  pushRawImage,
  makeTar,
  freePort,
  type TestRegistry,
  type FaultProxy,
} from './registry-helpers.js';

let plain: TestRegistry;
let authed: TestRegistry;
let proxy: FaultProxy;
let d: Daemon;
let cfgDir: string;

const auth = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64');
const lines = (body: string) =>
  body
    .split('\r\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function pull(ref: string, tag = 'latest', headers: Record<string, string> = { 'X-Registry-Auth': 'e30=' }) {
  return d.api(
    'POST',
    `/images/create?fromImage=${encodeURIComponent(ref)}&tag=${encodeURIComponent(tag)}`,
    undefined,
    { headers, timeoutMs: 120_000 },
  );
}

function layerDirs(): string[] {
  return readdirSync(join(d.dataRoot, 'overlay')).filter((x) => /^[a-f0-9]{64}$/.test(x));
}

before(async () => {
  [plain, authed] = await Promise.all([startRegistry(), startRegistry({ auth: true })]);
  proxy = await startFaultProxy(plain.port);
  cfgDir = mkdtempSync('/tmp/cocon-dockercfg-');
  d = await startDaemon({ env: { DOCKER_CONFIG: cfgDir, COCON_REGISTRY_CA: authed.ca! } });
  await bootstrapBusybox(d);
});

after(async () => {
  await d?.stop();
  await proxy?.stop();
  await plain?.stop();
  await authed?.stop();
  if (cfgDir) rmSync(cfgDir, { recursive: true, force: true });
});

test('push a cocon-built image, remove it, pull it back and run it', async () => {
  const name = `${plain.host}/busybox`;
  assert.equal((await d.api('POST', `/images/busybox/tag?repo=${encodeURIComponent(name)}&tag=v1`)).status, 201);
  const push = await d.api('POST', `/images/${name}/push?tag=v1`, undefined, {
    headers: { 'X-Registry-Auth': 'e30=' },
    timeoutMs: 60_000,
  });
  assert.equal(push.status, 200);
  const msgs = lines(push.body);
  assert.deepEqual(msgs[0], { status: `The push refers to repository [${name}]` });
  assert.equal(msgs[1].status, 'Preparing');
  assert.ok(msgs.some((m) => m.status === 'Pushed'));
  const fin = msgs.find((m) => typeof m.status === 'string' && (m.status as string).startsWith('v1: digest: sha256:'));
  assert.ok(fin, push.body);
  const aux = msgs[msgs.length - 1].aux as { Tag: string; Digest: string; Size: number };
  assert.equal(aux.Tag, 'v1');
  assert.match(aux.Digest, /^sha256:[a-f0-9]{64}$/);

  // second push: the layer is already there
  const again = lines((await d.api('POST', `/images/${name}/push?tag=v1`, undefined, { timeoutMs: 60_000 })).body);
  assert.ok(again.some((m) => m.status === 'Layer already exists'));

  // another repository of the same registry: cross-repository mount
  assert.equal(
    (await d.api('POST', `/images/busybox/tag?repo=${encodeURIComponent(plain.host + '/other')}&tag=v1`)).status,
    201,
  );
  const mounted = lines(
    (await d.api('POST', `/images/${plain.host}/other/push?tag=v1`, undefined, { timeoutMs: 60_000 })).body,
  );
  assert.ok(
    mounted.some((m) => m.status === 'Mounted from busybox'),
    JSON.stringify(mounted),
  );

  // rmi: the repo's digest reference goes with its last tag
  const rmi = await d.api('DELETE', `/images/${name}:v1`);
  assert.equal(rmi.status, 200);
  assert.deepEqual(
    rmi.json.map((x: { Untagged?: string }) => x.Untagged),
    [`${name}:v1`, `${name}@${aux.Digest}`],
  );
  assert.equal((await d.api('DELETE', `/images/${plain.host}/other:v1`)).status, 200);
  assert.equal((await d.api('DELETE', '/images/busybox?force=1')).status, 200);
  assert.equal((await d.api('GET', '/images/json')).json.length, 0);

  const p = await pull(name, 'v1');
  assert.equal(p.status, 200);
  const pm = lines(p.body);
  assert.deepEqual(pm[0], { status: 'Pulling from busybox', id: 'v1' });
  const order = pm
    .filter((m) => m.id && m.id !== 'v1' && !['Downloading', 'Extracting'].includes(m.status as string))
    .map((m) => m.status);
  assert.deepEqual(order, ['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Pull complete']);
  assert.deepEqual(pm[pm.length - 2], { status: `Digest: ${aux.Digest}` });
  assert.deepEqual(pm[pm.length - 1], { status: `Status: Downloaded newer image for ${name}:v1` });
  const again2 = lines((await pull(name, 'v1')).body);
  assert.deepEqual(again2[again2.length - 1], { status: `Status: Image is up to date for ${name}:v1` });
  const insp = await d.api('GET', `/images/${name}:v1/json`);
  assert.deepEqual(insp.json.RepoDigests, [`${name}@${aux.Digest}`]);
  const ev = await d.api(
    'GET',
    `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["image"]}')}`,
  );
  const actions = ev.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; id: string });
  assert.ok(
    actions.some((e) => e.Action === 'push' && e.id === `${name}:v1`),
    ev.body,
  );
  assert.ok(
    actions.some((e) => e.Action === 'pull' && e.id === `${name}:v1`),
    ev.body,
  );
  const r = await docker(d, ['run', '--rm', `${name}:v1`, 'echo', 'pulled and running']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'pulled and running\n');
});

test('multi-layer images: whiteouts, zstd, uncompressed, OCI index with platform selection, pull by digest', async () => {
  const l1 = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/keep', data: 'keep\n' },
    { name: 'etc/gone', data: 'gone\n' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/old', data: 'old\n' },
  ]);
  const l2 = await makeTar([
    { name: 'etc/.wh.gone', data: '' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/.wh..wh..opq', data: '' },
    { name: 'dir/new', data: 'new\n' },
  ]);
  const busybox = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: (await import('node:fs')).readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/cat', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/ls', type: 'symlink', linkname: 'busybox' },
  ]);
  for (const [comp, index] of [
    ['gzip', false],
    ['zstd', true],
    ['none', false],
  ] as const) {
    const repo = `layers-${comp}`;
    const pushed = await pushRawImage(plain.host, repo, 'v1', [busybox, l1, l2], { compression: comp, index });
    const p = await pull(`${plain.host}/${repo}`, 'v1');
    assert.equal(p.status, 200, p.body);
    const pm = lines(p.body);
    assert.ok(!pm.some((m) => m.error), p.body);
    assert.deepEqual(pm[pm.length - 2], { status: `Digest: ${pushed.top}` });
    const r = await docker(d, [
      'run',
      '--rm',
      `${plain.host}/${repo}:v1`,
      'sh',
      '-c',
      'cat /etc/keep; test -e /etc/gone || echo nogone; ls /dir',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'keep\nnogone\nnew\n', comp);
  }
  // the same layers again under another name: all exist
  const pushed = await pushRawImage(plain.host, 'layers-again', 'v1', [busybox, l1, l2]);
  const pm = lines((await pull(`${plain.host}/layers-again`, 'v1')).body);
  assert.equal(pm.filter((m) => m.status === 'Already exists').length, 3);
  // by digest
  const byDigest = await pull(`${plain.host}/layers-again`, pushed.manifest);
  assert.equal(byDigest.status, 200);
  const last = lines(byDigest.body).pop();
  assert.deepEqual(last, { status: `Status: Image is up to date for ${plain.host}/layers-again@${pushed.manifest}` });
});

test('404 manifest, unreachable registry, bad reference', async () => {
  const missing = await pull(`${plain.host}/nosuch`, 'latest');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, {
    message: `manifest for ${plain.host}/nosuch:latest not found: manifest unknown: manifest unknown`,
  });
  const port = await freePort();
  const down = await pull(`127.0.0.1:${port}/x`, 'latest');
  assert.equal(down.status, 500);
  assert.match(
    down.json.message,
    new RegExp(
      `Get "http://127\\.0\\.0\\.1:${port}/v2/": dial tcp 127\\.0\\.0\\.1:${port}: connect: connection refused`,
    ),
  );
  const bad = await pull('Foo', 'latest');
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /invalid reference format/);
});

test('htpasswd + TLS registry: 401 without credentials, login, push and pull with X-Registry-Auth', async () => {
  const name = `${authed.host}/secure`;
  const noCreds = await pull(name, 'latest');
  assert.equal(noCreds.status, 500);
  assert.match(noCreds.json.message, /no basic auth credentials/);
  const wrong = await d.api('POST', '/auth', { username: authed.user, password: 'nope', serveraddress: authed.host });
  assert.equal(wrong.status, 401);
  assert.match(wrong.json.message, /login attempt to https:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401/);
  const ok = await d.api('POST', '/auth', {
    username: authed.user,
    password: authed.password,
    serveraddress: authed.host,
  });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.json.Status, 'Login Succeeded');
  const xra = {
    'X-Registry-Auth': auth({ username: authed.user, password: authed.password, serveraddress: authed.host }),
  };
  await bootstrapBusybox(d);
  assert.equal((await d.api('POST', `/images/busybox/tag?repo=${encodeURIComponent(name)}&tag=latest`)).status, 201);
  const push = await d.api('POST', `/images/${name}/push?tag=latest`, undefined, { headers: xra, timeoutMs: 60_000 });
  assert.equal(push.status, 200);
  assert.ok(!lines(push.body).some((m) => m.error), push.body);
  assert.equal((await d.api('DELETE', `/images/${name}`)).status, 200);
  const p = await pull(name, 'latest', xra);
  assert.equal(p.status, 200);
  assert.ok(!lines(p.body).some((m) => m.error), p.body);
  assert.equal((await d.api('GET', `/images/${name}/json`)).status, 200);
});

test('a tampered blob is refused and nothing is recorded; a cut connection too; the next pull succeeds', async () => {
  const goodLayer = await makeTar([{ name: 'good.bin', data: Buffer.alloc(1 << 20, 3) }]);
  const layer = await makeTar([
    { name: 'data.bin', data: Buffer.alloc(3 << 20, 7) },
    { name: 'bin/', type: 'directory' },
  ]);
  const pushed = await pushRawImage(plain.host, 'faulty', 'v1', [goodLayer, layer], { compression: 'none' });
  pushed.blobs.reverse(); // blobs[0] = the big (faulty) one, blobs[1] = the good one
  const before = layerDirs().length;
  const name = `${proxy.host}/faulty`;
  proxy.mode.corrupt = pushed.blobs[0];
  const bad = await pull(name, 'v1');
  assert.equal(bad.status, 200);
  const last = lines(bad.body).pop()!;
  assert.match(String(last.error), /verification failed for digest sha256:/);
  assert.equal((await d.api('GET', `/images/${name}:v1/json`)).status, 404);
  assert.equal(layerDirs().length, before);
  assert.equal(readdirSync(join(d.dataRoot, 'overlay/.tmp')).length, 0);
  assert.equal(readdirSync(join(d.dataRoot, 'content/ingest')).length, 0);
  assert.ok(!existsSync(join(d.dataRoot, 'content/sha256', pushed.blobs[0].slice(7))));
  assert.ok(
    !existsSync(join(d.dataRoot, 'content/sha256', pushed.blobs[1].slice(7))),
    'the good layer of the failed pull is not kept either',
  );
  proxy.mode.corrupt = undefined;
  proxy.mode.cut = pushed.blobs[0];
  const cut = await pull(name, 'v1');
  const lastCut = lines(cut.body).pop()!;
  assert.ok(lastCut.error, cut.body);
  assert.equal((await d.api('GET', `/images/${name}:v1/json`)).status, 404);
  assert.equal(layerDirs().length, before);
  proxy.mode.cut = undefined;
  const good = await pull(name, 'v1');
  assert.ok(!lines(good.body).some((m) => m.error), good.body);
  assert.equal((await d.api('GET', `/images/${name}:v1/json`)).status, 200);
});

test('two concurrent pulls of the same image: one download per blob, both succeed', async () => {
  const layers = [
    await makeTar([{ name: 'a.bin', data: Buffer.alloc(2 << 20, 1) }]),
    await makeTar([{ name: 'b.bin', data: Buffer.alloc(2 << 20, 2) }]),
  ];
  const pushed = await pushRawImage(plain.host, 'twice', 'v1', layers, { compression: 'gzip' });
  const name = `${proxy.host}/twice`;
  const [a, b] = await Promise.all([pull(name, 'v1'), pull(name, 'v1')]);
  for (const r of [a, b]) {
    assert.equal(r.status, 200);
    assert.ok(!lines(r.body).some((m) => m.error), r.body);
  }
  for (const blob of pushed.blobs)
    assert.equal(proxy.hits.get(blob), 1, `blob ${blob} fetched ${proxy.hits.get(blob)} times`);
  assert.equal((await d.api('GET', `/images/${name}:v1/json`)).status, 200);
});

test('push of a tag that does not exist: error inside a 200 stream (push-missing.txt)', async () => {
  const r = await d.api('POST', `/images/${plain.host}/notlocal/push?tag=v9`, undefined, {
    headers: { 'X-Registry-Auth': 'e30=' },
  });
  assert.equal(r.status, 200);
  const msg = `An image does not exist locally with the tag: ${plain.host}/notlocal`;
  assert.equal(
    r.body,
    `{"status":"The push refers to repository [${plain.host}/notlocal]"}\r\n{"errorDetail":{"message":"${msg}"},"error":"${msg}"}\r\n`,
  );
});

test('a malicious layer fails the pull and writes nothing outside the layer dir', async () => {
  const before = layerDirs().length;
  const evil = await makeTar([
    { name: 'link', type: 'symlink', linkname: '/tmp' },
    { name: 'link/cocon-evil-file', data: 'x' },
  ]);
  await pushRawImage(plain.host, 'evil', 'v1', [evil]);
  const r = await pull(`${plain.host}/evil`, 'v1');
  const last = lines(r.body).pop()!;
  assert.match(String(last.error), /refusing entry through a symlink/);
  assert.ok(!existsSync('/tmp/cocon-evil-file'));
  assert.equal(layerDirs().length, before);
  assert.equal((await d.api('GET', `/images/${plain.host}/evil:v1/json`)).status, 404);
});

test('TLS: the registry certificate is trusted through a CA file (no insecure fallback)', async () => {
  const { RegistryClient } = await import('../../src/registry/client.js');
  const creds = { username: authed.user, password: authed.password };
  const trusted = new RegistryClient(authed.host, 'secure', creds, { loopbackInsecure: false, caFiles: [authed.ca!] });
  await trusted.login();
  assert.equal(trusted.baseUrl, `https://${authed.host}`);
  const untrusted = new RegistryClient(authed.host, 'secure', creds, {
    loopbackInsecure: false,
    caFiles: [],
    certsDir: '/nonexistent',
  });
  await assert.rejects(untrusted.login(), /self.signed|certificate/i);
});

test('bearer token auth (the Docker Hub scheme): anonymous pull tokens, push with basic credentials at the token realm', async () => {
  const front = await startTokenFront(plain.port, { user: 'bob', password: 'pw' });
  try {
    const layer = await makeTar([{ name: 'tok.txt', data: 'token\n' }]);
    await pushRawImage(plain.host, 'tokrepo', 'v1', [layer]);
    const p = await pull(`${front.host}/tokrepo`, 'v1');
    assert.equal(p.status, 200, p.body);
    assert.ok(!lines(p.body).some((m) => m.error), p.body);
    assert.ok(front.tokenRequests.includes('repository:tokrepo:pull'), front.tokenRequests.join(','));
    // push needs credentials: anonymous tokens only allow pull
    await bootstrapBusybox(d);
    assert.equal(
      (await d.api('POST', `/images/busybox/tag?repo=${encodeURIComponent(front.host + '/tokpush')}&tag=v1`)).status,
      201,
    );
    const denied = await d.api('POST', `/images/${front.host}/tokpush/push?tag=v1`, undefined, {
      headers: { 'X-Registry-Auth': 'e30=' },
      timeoutMs: 60_000,
    });
    assert.ok(lines(denied.body).pop()!.error, denied.body);
    const xra = { 'X-Registry-Auth': auth({ username: 'bob', password: 'pw', serveraddress: front.host }) };
    const ok = await d.api('POST', `/images/${front.host}/tokpush/push?tag=v1`, undefined, {
      headers: xra,
      timeoutMs: 60_000,
    });
    assert.ok(!lines(ok.body).some((m) => m.error), ok.body);
    assert.ok(front.tokenRequests.includes('repository:tokpush:pull,push'), front.tokenRequests.join(','));
    const login = await d.api('POST', '/auth', { username: 'bob', password: 'pw', serveraddress: front.host });
    assert.equal(login.status, 200, login.body);
    const badLogin = await d.api('POST', '/auth', { username: 'bob', password: 'nope', serveraddress: front.host });
    assert.equal(badLogin.status, 401);
  } finally {
    await front.stop();
  }
});
