// Debian's docker-compose 1.29 (python, docker-py 5) against a real cocon daemon: a multi-service
// app with a user network and an alias, a named volume, a published port, a healthcheck that a
// service waits for (depends_on condition: service_healthy), a service built from a build: section,
// and a scaled service, driven through up -d, ps, logs, exec, stop/start, up --scale and down -v.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run, waitFor, type RunResult } from '../helpers/daemon.js';
import { freePort } from '../integration/registry-helpers.js';
import { useBridgeDaemon } from '../integration/network-common.js';

const h = useBridgeDaemon('ccp', 22, 192);

const COMPOSE = '/usr/bin/docker-compose';
const project = `cp${process.pid.toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'compose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function composeFile(port: number): string {
  // 2.4: the format where compose 1.29 takes depends_on's condition (3.x dropped it)
  return `version: "2.4"
services:
  db:
    image: busybox
    # slow to come up: httpd starts 2 s late, so web only starts once db's healthcheck passed
    command: ["sh", "-c", "echo db-up; echo served-from-volume > /data/index.html; sleep 2; exec httpd -f -p 8080 -h /data"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/index.html"]
      interval: 1s
      timeout: 2s
      retries: 30
    networks:
      backend:
        aliases: [database]
  web:
    image: busybox
    # fetches db's page through its alias when it starts: only works if db was healthy first
    command: ["sh", "-c", "echo web-up; mkdir -p /www; echo web-page > /www/index.html; wget -qO /www/db.html http://database:8080/index.html || echo db-not-ready > /www/db.html; exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${port}:80"]
    depends_on:
      db:
        condition: service_healthy
    networks: [backend]
  worker:
    build:
      context: ./worker
      args:
        FLAVOUR: compose-built
    command: ["sh", "-c", "echo worker-up; exec sleep 3600"]
    networks: [backend]
volumes:
  data: {}
networks:
  backend: {}
`;
}

async function compose(args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run(COMPOSE, ['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], {
    cwd: dir,
    timeoutMs,
    env: { DOCKER_HOST: h.d.host, COMPOSE_INTERACTIVE_NO_CLI: '1', DOCKER_CONFIG: join(dir, 'docker-config') },
  });
}
async function ok(args: string[], timeoutMs?: number): Promise<RunResult> {
  const r = await compose(args, timeoutMs);
  assert.equal(
    r.code,
    0,
    `docker-compose ${args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
  );
  return r;
}

function httpGet(port: number, path = '/index.html'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let b = '';
      res.on('data', (c) => {
        b += c;
      });
      res.on('end', () => resolve(b));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function api(path: string): Promise<unknown[]> {
  const r = await h.d.api('GET', path);
  assert.equal(r.status, 200, r.body);
  return r.json as unknown[];
}
const byProject = (kind: 'containers' | 'networks' | 'volumes') => {
  const f = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  return kind === 'containers'
    ? `/containers/json?all=1&filters=${f}`
    : kind === 'networks'
      ? `/networks?filters=${f}`
      : `/volumes?filters=${f}`;
};

test('docker-compose 1.29: build:, depends_on service_healthy, up -d, ps, logs, exec (alias + volume), published port, stop/start, up --scale, down -v', async () => {
  const port = await freePort();
  writeFileSync(join(dir, 'docker-compose.yml'), composeFile(port));
  mkdirSync(join(dir, 'worker'));
  writeFileSync(
    join(dir, 'worker', 'Dockerfile'),
    'FROM busybox\nARG FLAVOUR=plain\nRUN echo "$FLAVOUR" > /built.txt\nLABEL built.by=compose\n',
  );
  after(async () => {
    await compose(['down', '-v', '--rmi', 'local', '--timeout', '1']).catch(() => undefined);
    await h.d.api('DELETE', `/images/${project}_worker?force=1`).catch(() => undefined);
  });

  const up = await ok(['up', '-d'], 240_000);
  // the build: section ran through the daemon's /build (docker-py's build call)
  assert.match(up.stdout + up.stderr, new RegExp(`Successfully tagged ${project}_worker`), up.stderr);
  // depends_on condition: service_healthy: web was created only after db's healthcheck passed
  const dbIns = (await h.d.api('GET', `/containers/${project}_db_1/json`)).json;
  const webIns = (await h.d.api('GET', `/containers/${project}_web_1/json`)).json;
  assert.equal(dbIns.Config.Healthcheck.Test.join(' '), 'CMD wget -qO- http://127.0.0.1:8080/index.html');
  assert.equal(dbIns.State.Health.Status, 'healthy');
  // db's httpd (what its healthcheck probes) starts 2 s after db: web must not have started earlier
  const dbStart = Date.parse(dbIns.State.StartedAt);
  const webStart = Date.parse(webIns.State.StartedAt);
  assert.ok(webStart >= dbStart + 2000, `web started ${webIns.State.StartedAt}, db ${dbIns.State.StartedAt}`);
  const ps = await ok(['ps']);
  for (const svc of ['db_1', 'web_1', 'worker_1'])
    assert.match(ps.stdout, new RegExp(`${project}_${svc}\\s.*\\bUp\\b`), ps.stdout);
  assert.match(ps.stdout, new RegExp(`${project}_db_1\\s.*\\(healthy\\)`), ps.stdout);
  assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
  const q = await ok(['ps', '-q']);
  assert.equal(q.stdout.trim().split('\n').length, 3, q.stdout);

  const logs = await waitFor(
    'logs of all services',
    async () => {
      const r = await ok(['logs', '--no-color']);
      return ['db-up', 'web-up', 'worker-up'].every((w) => r.stdout.includes(w)) ? r : undefined;
    },
    20_000,
  );
  assert.match(logs!.stdout, /^db_1\s+\| db-up$/m);

  // the published port reaches web; web reaches db through the network alias; db serves the named volume
  assert.equal(await waitFor('published port', () => httpGet(port).catch(() => undefined), 20_000), 'web-page\n');
  // web fetched db's page at its start: db was serving (healthy) by then
  assert.equal(await httpGet(port, '/db.html'), 'served-from-volume\n');
  // the built image: the build arg reached RUN, the label the image
  const built = await compose(['exec', '-T', 'worker', 'cat', '/built.txt']);
  assert.equal(built.stdout, 'compose-built\n', built.stderr);
  const img = (await h.d.api('GET', `/images/${project}_worker/json`)).json;
  assert.equal(img.Config.Labels['built.by'], 'compose');
  const ex = await waitFor(
    'db through its alias',
    async () => {
      const r = await compose(['exec', '-T', 'web', 'wget', '-qO-', 'http://database:8080/index.html']);
      return r.code === 0 ? r : undefined;
    },
    20_000,
  );
  assert.equal(ex!.stdout, 'served-from-volume\n');
  const code = await compose(['exec', '-T', 'worker', 'sh', '-c', 'exit 7']);
  assert.equal(code.code, 7, 'exec exit code');

  await ok(['stop', '--timeout', '1'], 120_000);
  const stopped = await ok(['ps']);
  assert.equal((stopped.stdout.match(/\bExit \d+/g) ?? []).length, 3, stopped.stdout);
  await ok(['start'], 120_000);
  const restarted = await ok(['ps']);
  assert.equal((restarted.stdout.match(/\bUp\b/g) ?? []).length, 3, restarted.stdout);
  assert.equal(
    await waitFor('published port after start', () => httpGet(port).catch(() => undefined), 20_000),
    'web-page\n',
  );

  await ok(['up', '-d', '--scale', 'worker=3'], 180_000);
  const scaled = await ok(['ps', 'worker']);
  for (const i of [1, 2, 3])
    assert.match(scaled.stdout, new RegExp(`${project}_worker_${i}\\s.*\\bUp\\b`), scaled.stdout);
  // a scaled replica resolves the service name and the alias on the user network
  const res = await compose(['exec', '-T', '--index=3', 'worker', 'wget', '-qO-', 'http://database:8080/index.html']);
  assert.equal(res.stdout, 'served-from-volume\n', res.stderr);
  await ok(['up', '-d', '--scale', 'worker=1'], 180_000);
  assert.equal((await ok(['ps', '-q', 'worker'])).stdout.trim().split('\n').length, 1);

  const labelled = (await h.d.api('GET', byProject('volumes'))).json.Volumes as Array<{ Name: string }>;
  assert.deepEqual(
    labelled.map((v) => v.Name),
    [`${project}_data`],
    'the named volume is labelled with the project',
  );
  await ok(['down', '-v', '--rmi', 'local', '--timeout', '1'], 120_000);
  assert.deepEqual(await api(byProject('containers')), []);
  assert.equal((await h.d.api('GET', `/images/${project}_worker/json`)).status, 404, 'down --rmi local');
  assert.deepEqual(await api(byProject('networks')), []);
  const vols = (await h.d.api('GET', byProject('volumes'))).json.Volumes;
  assert.deepEqual(vols, [], 'down -v left the named volume');
});
