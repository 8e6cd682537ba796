// The docker cp routes (src/api/archive.ts) on a fake ArchiveBackend: no runc, no container. Checks
// what docker clients read: the X-Docker-Container-Path-Stat header (base64 JSON, Go FileMode bits),
// the tar body, and the status codes of typed engine errors (404, 400, 403, 409) with {"message"}.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Router } from '../../src/api/router.js';
import { registerArchiveRoutes } from '../../src/api/archive.js';
import type { ArchiveBackend, PathStat } from '../../src/containers/archive.js';
import { Conflict, Forbidden, InvalidArgument, NotFound } from '../../src/core/errors.js';

const T = mkdtempSync(join(tmpdir(), 'api-archive-'));
const SOCK = join(T, 'api.sock');

const DIR: PathStat = {
  name: 'etc',
  size: 4096,
  mode: 0o755,
  mtime: new Date('2024-01-02T03:04:05.678Z'),
  isDir: true,
  isLink: false,
  linkTarget: '',
};
const received: Buffer[] = [];

const fake: ArchiveBackend = {
  async stat(ref, path) {
    if (ref === 'paused') throw new Conflict(`container ${ref} is paused`);
    if (path !== '/etc') throw new NotFound(`Could not find the file ${path} in container ${ref}`);
    return DIR;
  },
  async get(ref, path) {
    return { stat: await this.stat(ref, path), tar: Readable.from([Buffer.from('tar-bytes')]) };
  },
  async export() {
    return Readable.from([Buffer.from('whole-fs')]);
  },
  async put(_ref, path, tar) {
    if (path === '/ro') throw new Forbidden('container rootfs is marked read-only');
    for await (const chunk of tar) {
      received.push(chunk as Buffer);
      if (path === '/bad') throw new InvalidArgument('refused entry ../x: outside the target');
    }
  },
};

const router = new Router();
registerArchiveRoutes(router, fake);
const server = createServer((req, res) => void router.dispatch(req, res));
await new Promise<void>((resolve) => server.listen(SOCK, resolve));
after(() => {
  server.close();
  rmSync(T, { recursive: true, force: true });
});

function call(method: string, path: string, body?: Buffer) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request({ socketPath: SOCK, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('HEAD answers the path stat as docker encodes it', async () => {
  const r = await call('HEAD', '/v1.43/containers/c1/archive?path=/etc');
  assert.equal(r.status, 200);
  const stat = JSON.parse(Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString());
  assert.deepEqual(stat, {
    name: 'etc',
    size: 4096,
    mode: 0o755 + 2 ** 31,
    mtime: '2024-01-02T03:04:05Z',
    linkTarget: '',
  });
});

test('GET streams the backend tar with the stat header', async () => {
  const r = await call('GET', '/containers/c1/archive?path=/etc');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/x-tar');
  assert.ok(r.headers['x-docker-container-path-stat']);
  assert.equal(r.body.toString(), 'tar-bytes');
});

test('typed engine errors become docker status codes with a message body', async () => {
  const missing = await call('GET', '/containers/c1/archive?path=/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body.toString()), { message: 'Could not find the file /nope in container c1' });
  assert.equal((await call('HEAD', '/containers/paused/archive?path=/etc')).status, 409);
  const ro = await call('PUT', '/containers/c1/archive?path=/ro', Buffer.from('x'));
  assert.equal(ro.status, 403);
  assert.match(JSON.parse(ro.body.toString()).message, /read-only/);
  const bad = await call('PUT', '/containers/c1/archive?path=/bad', Buffer.alloc(256 * 1024, 1));
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body.toString()).message, /refused entry/);
});

test('PUT hands the request body to the backend and answers 200', async () => {
  received.length = 0;
  const r = await call('PUT', '/containers/c1/archive?path=/etc', Buffer.from('some tar'));
  assert.equal(r.status, 200);
  assert.equal(Buffer.concat(received).toString(), 'some tar');
});
