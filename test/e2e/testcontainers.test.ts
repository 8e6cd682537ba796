// testcontainers (npm), unmodified, against a real cocon daemon: a GenericContainer from the local
// busybox image with a command, files copied in before and after start, an exposed port mapped to a
// random host port and reached over TCP, a wait strategy made of a log message, the container's
// health check, the listening ports and an HTTP probe, exec (output, exit code, user, env, workdir),
// logs, copy out, restart, and stop (which removes the container).
//
// Ryuk, testcontainers' reaper, is off (TESTCONTAINERS_RYUK_DISABLED=true): its image
// (testcontainers/ryuk) would come from Docker Hub, which this machine cannot reach. The test stops
// what it starts itself, and the daemon's cleanup removes whatever a failure leaves.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { get } from 'node:http';
import type { Readable } from 'node:stream';
import { useDaemon } from '../helpers/daemon.js';
import { cleanupNet } from '../integration/network-common.js';

const tag = (process.pid % 200) + 20;
const h = useDaemon({
  busybox: true,
  args: ['--bridge', `ctc${process.pid.toString(36)}`, '--bip', `10.${tag}.23.1/24`],
});
after(() => {
  try {
    cleanupNet(h.d.dataRoot);
  } catch {
    /* never started */
  }
});
process.on('exit', () => {
  try {
    cleanupNet(h.d.dataRoot);
  } catch {
    /* never started */
  }
});

function httpGet(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Opens a plain TCP connection, sends a request line and returns everything the server answers. */
function tcpExchange(host: string, port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.setTimeout(5000, () => s.destroy(new Error('timed out')));
    s.on('connect', () => s.write(send));
    s.on('data', (c) => {
      got += c.toString('utf8');
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

/** Reads a stream until `re` matches what arrived (or the stream ends). */
function readUntil(stream: Readable, re: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(
      () => done(new Error(`no ${re} in the logs within ${ms} ms: ${JSON.stringify(text)}`)),
      ms,
    );
    stream.on('data', (c: Buffer | string) => {
      text += c.toString();
      if (re.test(text)) done();
    });
    stream.on('end', () => (re.test(text) ? done() : done(new Error(`logs ended without ${re}: ${text}`))));
    stream.on('error', done);
  });
}

test('testcontainers: GenericContainer with a command, copied files, a mapped port, log + health + port + HTTP waits, exec, logs, stop', async () => {
  process.env.DOCKER_HOST = h.d.host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  delete process.env.TESTCONTAINERS_HOST_OVERRIDE;
  const { GenericContainer, Wait, PullPolicy } = await import('testcontainers');

  const started = await new GenericContainer('busybox:latest')
    .withPullPolicy(PullPolicy.defaultPolicy())
    .withCommand([
      'sh',
      '-c',
      'mkdir -p /www; echo hello-from-cocon > /www/index.html; echo "server ready on $GREETING"; exec httpd -f -p 8080 -h /www',
    ])
    .withEnvironment({ GREETING: 'port-8080' })
    .withExposedPorts(8080)
    .withCopyContentToContainer([{ content: 'copied before start\n', target: '/etc/tc/before.txt', mode: 0o640 }])
    .withHealthCheck({
      test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1:8080/index.html | grep -q hello-from-cocon'],
      interval: 500,
      timeout: 2000,
      retries: 5,
      startPeriod: 0,
    })
    .withWaitStrategy(
      Wait.forAll([
        Wait.forLogMessage(/server ready on port-8080/),
        Wait.forHealthCheck(),
        Wait.forListeningPorts(),
        Wait.forHttp('/index.html', 8080).forStatusCode(200),
      ]),
    )
    .withStartupTimeout(60_000)
    .start();
  let stopped = false;
  after(async () => {
    if (!stopped) await started.stop({ timeout: 1 }).catch(() => undefined);
  });
  const id = started.getId();

  // the mapped port, reached over TCP from the host
  const port = started.getMappedPort(8080);
  assert.ok(port > 0 && port !== 8080, `a random host port: ${port}`);
  const host = started.getHost();
  const page = await httpGet(host, port, '/index.html');
  assert.deepEqual(page, { status: 200, body: 'hello-from-cocon\n' });
  const raw = await tcpExchange(host, port, 'GET /index.html HTTP/1.0\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.[01] 200 OK\r\n/);
  assert.match(raw, /\r\n\r\nhello-from-cocon\n$/);

  // what the daemon reports about it: healthy, the port binding, testcontainers' labels
  const ins = (await h.d.api('GET', `/containers/${id}/json`)).json;
  assert.equal(ins.State.Health.Status, 'healthy');
  assert.equal(ins.NetworkSettings.Ports['8080/tcp'][0].HostPort, String(port));
  assert.equal(ins.Config.Labels['org.testcontainers'], 'true');

  // files copied in before start (with their mode) and after start
  const before = await started.exec(['sh', '-c', 'cat /etc/tc/before.txt; stat -c %a /etc/tc/before.txt']);
  assert.equal(before.exitCode, 0, before.output);
  assert.equal(before.stdout, 'copied before start\n640\n');
  await started.copyContentToContainer([{ content: 'copied while running\n', target: '/www/after.txt' }]);
  assert.deepEqual(await httpGet(host, port, '/after.txt'), { status: 200, body: 'copied while running\n' });

  // exec: separate stdout/stderr, exit codes, user, env and working directory
  const ex = await started.exec(['sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
  assert.equal(ex.exitCode, 3);
  assert.equal(ex.stdout, 'to-out\n');
  assert.equal(ex.stderr, 'to-err\n');
  const opts = await started.exec(['sh', '-c', 'id -u; echo $EXTRA; pwd'], {
    user: 'nobody',
    env: { EXTRA: 'from-exec' },
    workingDir: '/www',
  });
  assert.equal(opts.exitCode, 0, opts.output);
  assert.equal(opts.stdout, '65534\nfrom-exec\n/www\n');

  // copy out: a tar of the file
  const tarStream = await started.copyArchiveFromContainer('/www/index.html');
  const chunks: Buffer[] = [];
  for await (const c of tarStream) chunks.push(Buffer.from(c as Buffer));
  const tar = Buffer.concat(chunks);
  assert.equal(tar.subarray(0, 10).toString('utf8'), 'index.html');
  assert.ok(tar.includes('hello-from-cocon\n'), 'the tar holds the file');

  // logs, as a stream
  assert.match(await readUntil(await started.logs(), /server ready on port-8080\n/), /server ready on port-8080\n/);

  // restart keeps the container and its port mapping reachable
  await started.restart({ timeout: 1 });
  const newPort = started.getMappedPort(8080);
  const again = await (async () => {
    for (let i = 0; i < 50; i++) {
      const r = await httpGet(host, newPort, '/index.html').catch(() => undefined);
      if (r) return r;
      await new Promise((r2) => setTimeout(r2, 200));
    }
    return undefined;
  })();
  assert.deepEqual(again, { status: 200, body: 'hello-from-cocon\n' });

  // stop removes the container (testcontainers' default)
  await started.stop({ timeout: 1 });
  stopped = true;
  const gone = await h.d.api('GET', `/containers/${id}/json`);
  assert.equal(gone.status, 404, gone.body);
});

test('testcontainers: a failing start (command exits) is reported and the container is removed', async () => {
  process.env.DOCKER_HOST = h.d.host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  const { GenericContainer, Wait } = await import('testcontainers');
  const before = (await h.d.api('GET', '/containers/json?all=1')).json as unknown[];
  await assert.rejects(
    new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'echo going-away; exit 1'])
      .withWaitStrategy(Wait.forLogMessage('never printed'))
      .withStartupTimeout(5_000)
      .start(),
    /never printed|exited|Log stream ended/,
  );
  const afterList = (await h.d.api('GET', '/containers/json?all=1')).json as unknown[];
  assert.equal(afterList.length, before.length, 'testcontainers removed the failed container');
});
