// Debian's docker-compose 1.29 (python, docker-py 5) against a real cocon daemon: a multi-service
// app with a user network and an alias, a named volume, a published port and a scaled service,
// driven through up -d, ps, logs, exec, stop/start, up --scale and down -v.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { useDaemon, run, waitFor, type RunResult } from '../helpers/daemon.js';
import { freePort } from '../integration/registry-helpers.js';
import { cleanupNet } from '../integration/network-common.js';

const tag = (process.pid % 200) + 20;
const h = useDaemon({
  busybox: true,
  args: [
    '--bridge',
    `ccp${process.pid.toString(36)}`,
    '--bip',
    `10.${tag}.22.1/24`,
    '--default-address-pool',
    `base=10.${tag}.192.0/19,size=24`,
  ],
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

const COMPOSE = '/usr/bin/docker-compose';
const project = `cp${process.pid.toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'compose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function composeFile(port: number): string {
  return `version: "3.8"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db-up; echo served-from-volume > /data/index.html; exec httpd -f -p 8080 -h /data"]
    volumes: ["data:/data"]
    networks:
      backend:
        aliases: [database]
  web:
    image: busybox
    command: ["sh", "-c", "echo web-up; mkdir -p /www; echo web-page > /www/index.html; exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${port}:80"]
    depends_on: [db]
    networks: [backend]
  worker:
    image: busybox
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

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/index.html', timeout: 3000 }, (res) => {
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

test('docker-compose 1.29: up -d, ps, logs, exec (alias + volume), published port, stop/start, up --scale, down -v', async () => {
  const port = await freePort();
  writeFileSync(join(dir, 'docker-compose.yml'), composeFile(port));
  after(async () => {
    await compose(['down', '-v', '--timeout', '1']).catch(() => undefined);
  });

  await ok(['up', '-d'], 180_000);
  const ps = await ok(['ps']);
  for (const svc of ['db_1', 'web_1', 'worker_1'])
    assert.match(ps.stdout, new RegExp(`${project}_${svc}\\s.*\\bUp\\b`), ps.stdout);
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
  await ok(['down', '-v', '--timeout', '1'], 120_000);
  assert.deepEqual(await api(byProject('containers')), []);
  assert.deepEqual(await api(byProject('networks')), []);
  const vols = (await h.d.api('GET', byProject('volumes'))).json.Volumes;
  assert.deepEqual(vols, [], 'down -v left the named volume');
});
