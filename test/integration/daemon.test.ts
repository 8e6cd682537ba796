// The daemon itself: ping, version negotiation, info, version prefixes, errors, second daemon,
// SIGTERM shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, readFileSync } from 'node:fs';
import { useDaemon, startDaemon, apiCall, run, CLI_MAIN } from '../helpers/daemon.js';

const h = useDaemon();

test('GET /_ping answers OK with Api-Version', async () => {
  const r = await h.d.api('GET', '/_ping');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'OK');
  assert.ok(r.headers['api-version'], 'Api-Version header missing');
  assert.equal(r.headers.ostype, 'linux');
});

test('HEAD /_ping answers 200 with Api-Version >= 1.41 and an empty body', async () => {
  const r = await h.d.api('HEAD', '/_ping');
  assert.equal(r.status, 200);
  assert.equal(r.body, '');
  const v = String(r.headers['api-version']);
  const [maj, min] = v.split('.').map(Number);
  assert.ok(maj === 1 && min >= 41, `Api-Version ${v} is below 1.41`);
});

test('GET /version reports ApiVersion, MinAPIVersion, Os, Arch', async () => {
  const r = await h.d.api('GET', '/version');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] ?? '', /application\/json/);
  const v = r.json;
  assert.equal(typeof v.Version, 'string');
  assert.match(v.ApiVersion, /^1\.\d+$/);
  assert.match(v.MinAPIVersion, /^1\.\d+$/);
  assert.equal(v.Os, 'linux');
  assert.equal(v.Arch, 'amd64');
});

test('GET /info reports the daemon roots and runtime', async () => {
  const r = await h.d.api('GET', '/info');
  assert.equal(r.status, 200);
  const i = r.json;
  assert.equal(i.DockerRootDir, h.d.dataRoot);
  assert.equal(i.OSType, 'linux');
  assert.equal(typeof i.Containers, 'number');
  assert.equal(typeof i.Images, 'number');
  assert.equal(i.DefaultRuntime, 'runc');
  assert.ok(typeof i.NCPU === 'number' && i.NCPU >= 1, 'NCPU');
  assert.ok(typeof i.MemTotal === 'number' && i.MemTotal > 0, 'MemTotal');
});

test('version prefixes: unprefixed, /v1.41 and /v1.24 are served; /v1.99 and /v1.11 get 400', async () => {
  for (const p of ['/version', '/v1.41/version', '/v1.24/version', '/v1.41/_ping']) {
    const r = await h.d.api('GET', p);
    assert.equal(r.status, 200, `${p} -> ${r.status} ${r.body}`);
  }
  const hi = await h.d.api('GET', '/v1.99/version');
  assert.equal(hi.status, 400);
  assert.match(hi.body, /client version 1\.99 is too new/);
  const lo = await h.d.api('GET', '/v1.11/version');
  assert.equal(lo.status, 400);
  assert.match(lo.body, /too old/);
});

test('unknown route -> 404 {"message":"page not found"}; malformed JSON -> 4xx/5xx with a message', async () => {
  const r = await h.d.api('GET', '/v1.41/nosuchthing');
  assert.equal(r.status, 404);
  assert.equal(r.json?.message, 'page not found');
  const bad = await h.d.api('POST', '/v1.41/containers/create', undefined, {
    raw: '{bad',
    headers: { 'Content-Type': 'application/json' },
  });
  assert.ok(bad.status === 400 || bad.status === 500, `malformed JSON -> ${bad.status}`);
  assert.equal(typeof bad.json?.message, 'string');
});

test('socket is mode 0660 and the pid file holds the daemon pid', () => {
  const st = statSync(h.d.socket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.ok(existsSync(`${h.d.execRoot}/cocon.pid`), 'pid file missing');
});

test('a second daemon with its own roots and socket runs side by side; SIGTERM removes its socket', async () => {
  const d2 = await startDaemon();
  try {
    assert.notEqual(d2.socket, h.d.socket);
    const [a, b] = await Promise.all([apiCall(h.d.socket, 'GET', '/info'), d2.api('GET', '/info')]);
    assert.equal(a.json.DockerRootDir, h.d.dataRoot);
    assert.equal(b.json.DockerRootDir, d2.dataRoot);
    await d2.shutdown();
    assert.equal(existsSync(d2.socket), false, 'socket left behind after SIGTERM');
    assert.equal(existsSync(`${d2.execRoot}/cocon.pid`), false, 'pid file left behind after SIGTERM');
    await d2.restart();
    assert.equal((await d2.api('GET', '/_ping')).status, 200, 'restart on the same roots');
  } finally {
    await d2.stop();
  }
});

test('--pidfile and --runtime runc are honoured; a second daemon on the same roots is refused', async () => {
  const d3 = await startDaemon({ args: ['--pidfile', '{root}/custom.pid', '--runtime', 'runc'] });
  try {
    const pidPath = `${d3.root}/custom.pid`;
    assert.ok(existsSync(pidPath), `--pidfile ${pidPath} not written`);
    assert.equal(Number(readFileSync(pidPath, 'utf8').trim()), d3.pid);
    assert.equal((await d3.api('GET', '/info')).json.DefaultRuntime, 'runc');
    const twin = await run(
      process.execPath,
      [
        '--',
        CLI_MAIN,
        'daemon',
        '--data-root',
        d3.dataRoot,
        '--exec-root',
        d3.execRoot,
        '-H',
        `unix://${d3.root}/twin.sock`,
        '--pidfile',
        pidPath,
      ],
      { timeoutMs: 15_000 },
    );
    assert.notEqual(twin.code, 0, 'a second daemon started on the same roots');
    assert.equal(twin.timedOut, false, 'a second daemon kept running on the same roots');
    assert.match(twin.stderr, /pid file|already running|in use/i);
    assert.equal((await d3.api('GET', '/_ping')).status, 200, 'the first daemon was disturbed');
  } finally {
    await d3.stop();
  }
});
