// The image endpoints over HTTP on a unix socket, with a real ImageService on a temp data root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Router } from '../../src/api/router.js';
import { registerImageRoutes } from '../../src/api/images.js';
import { ImageService } from '../../src/images/service.js';
import { openDb, type DB } from '../../src/store/db.js';
import { EventBus } from '../../src/core/events.js';
import { resolveConfig } from '../../src/daemon/config.js';
import { ImageOperations } from '../../src/images/operations.js';

let root: string;
let db: DB;
let server: Server;
let sock: string;
let files: Server;
let filesPort = 0;
let rootfsTar: Buffer;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  raw: Buffer;
}

function call(method: string, path: string, body?: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: body ? { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString(), raw });
        });
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

before(async () => {
  root = mkdtempSync('/tmp/cocon-images-api-');
  db = openDb(join(root, 'cocon.db'));
  const events = new EventBus();
  const config = resolveConfig({ dataRoot: join(root, 'data'), execRoot: join(root, 'run') });
  mkdirSync(config.dataRoot, { recursive: true });
  const images = new ImageService(config, db, events);
  const r = new Router();
  registerImageRoutes(r, new ImageOperations(images, config));
  sock = join(root, 'api.sock');
  server = createServer((req, res) => {
    void r.dispatch(req, res);
  });
  await new Promise<void>((ok) => server.listen(sock, ok));
  const src = join(root, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/hello'), 'hello\n');
  rootfsTar = execFileSync('tar', ['--numeric-owner', '-C', src, '-cf', '-', '.']);
  files = createServer((req, res) => {
    if (req.url === '/rootfs.tar') {
      res.writeHead(200);
      res.end(rootfsTar);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
  filesPort = (files.address() as { port: number }).port;
});

after(async () => {
  await new Promise((ok) => server.close(ok));
  await new Promise((ok) => files.close(ok));
  db.close();
  rmSync(root, { recursive: true, force: true });
});

test('bootstrap, list, inspect, history', async () => {
  const b = await call('POST', '/v1.41/images/bootstrap?image=busybox');
  assert.equal(b.status, 200);
  const id = (JSON.parse(b.body) as { Id: string }).Id;
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  const l = await call('GET', '/v1.41/images/json');
  assert.equal(l.status, 200);
  const list = JSON.parse(l.body) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(list[0]), [
    'Containers',
    'Created',
    'Id',
    'Labels',
    'ParentId',
    'RepoDigests',
    'RepoTags',
    'SharedSize',
    'Size',
    'VirtualSize',
  ]);
  assert.deepEqual(list[0].RepoTags, ['busybox:latest']);
  const i = await call('GET', '/v1.41/images/busybox/json');
  assert.equal(i.status, 200);
  const ins = JSON.parse(i.body) as Record<string, unknown>;
  assert.equal(ins.Id, id);
  for (const k of [
    'Id',
    'RepoTags',
    'RepoDigests',
    'Parent',
    'Comment',
    'Created',
    'Container',
    'ContainerConfig',
    'DockerVersion',
    'Author',
    'Config',
    'Architecture',
    'Os',
    'Size',
    'VirtualSize',
    'GraphDriver',
    'RootFS',
    'Metadata',
  ])
    assert.ok(k in ins, k);
  assert.equal((await call('GET', `/images/${id.slice(7, 19)}/json`)).status, 200);
  const h = await call('GET', '/v1.41/images/busybox:latest/history');
  assert.equal(h.status, 200);
  assert.equal((JSON.parse(h.body) as Array<{ Id: string }>)[0].Id, id);
  const m = await call('GET', '/v1.41/images/nosuch/json');
  assert.equal(m.status, 404);
  assert.deepEqual(JSON.parse(m.body), { message: 'no such image: nosuch: No such image: nosuch:latest' });
});

test('tag with a slash in names, filters, rmi', async () => {
  const t = await call('POST', '/v1.41/images/busybox/tag?repo=docker.io%2Flibrary%2Fbusybox&tag=traced');
  assert.equal(t.status, 201);
  assert.equal(t.body, '');
  assert.equal((await call('POST', '/v1.41/images/busybox/tag?repo=localhost:5000/my/img&tag=1')).status, 201);
  assert.equal((await call('GET', '/v1.41/images/localhost:5000/my/img:1/json')).status, 200);
  const f = encodeURIComponent(JSON.stringify({ reference: { 'busybox:traced': true } }));
  const l = JSON.parse((await call('GET', `/v1.41/images/json?filters=${f}`)).body) as Array<{ RepoTags: string[] }>;
  assert.deepEqual(
    l.map((x) => x.RepoTags),
    [['busybox:traced']],
  );
  const bad = await call('POST', '/v1.41/images/busybox/tag?repo=Bad');
  assert.equal(bad.status, 400);
  assert.deepEqual(JSON.parse(bad.body), { message: 'invalid reference format: repository name must be lowercase' });
  const d = await call('DELETE', '/v1.41/images/busybox:traced');
  assert.equal(d.status, 200);
  assert.equal(d.body, '[{"Untagged":"busybox:traced"}]\n');
  const d2 = await call('DELETE', '/v1.41/images/localhost:5000/my/img:1');
  assert.equal(d2.body, '[{"Untagged":"localhost:5000/my/img:1"}]\n');
  const miss = await call('DELETE', '/v1.41/images/nosuchimage:latest');
  assert.equal(miss.status, 404);
  assert.equal(miss.body, '{"message":"No such image: nosuchimage:latest"}\n');
});

test('import from the body: docker JSON-message stream', async () => {
  const r = await call(
    'POST',
    '/v1.41/images/create?fromSrc=-&repo=imported%3Av1&changes=ENV%20A%3D1&changes=CMD%20%5B%22cat%22%5D',
    rootfsTar,
  );
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.match(r.body, /^\{"status":"sha256:[a-f0-9]{64}"\}\r\n$/);
  const ins = JSON.parse((await call('GET', '/images/imported:v1/json')).body) as {
    Config: { Env: string[]; Cmd: string[] };
    Comment: string;
  };
  assert.deepEqual(ins.Config.Env, ['A=1']);
  assert.deepEqual(ins.Config.Cmd, ['cat']);
  assert.equal(ins.Comment, 'Imported from -');
  const bad = await call('POST', '/v1.41/images/create?fromSrc=-&repo=bad', Buffer.from('not a tar'.repeat(200)));
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message as string, /invalid tar archive/);
  const badChange = await call('POST', '/v1.41/images/create?fromSrc=-&repo=bad&changes=ADD%20x%20y', rootfsTar);
  assert.equal(badChange.status, 400);
  assert.deepEqual(JSON.parse(badChange.body), { message: 'add is not a valid change command' });
  assert.equal((await call('GET', '/images/bad/json')).status, 404);
});

test('import from a URL', async () => {
  const r = await call(
    'POST',
    `/v1.41/images/create?fromSrc=${encodeURIComponent(`http://127.0.0.1:${filesPort}/rootfs.tar`)}&repo=fromurl&tag=1`,
  );
  assert.equal(r.status, 200);
  const ins = JSON.parse((await call('GET', '/images/fromurl:1/json')).body) as { Comment: string };
  assert.equal(ins.Comment, `Imported from http://127.0.0.1:${filesPort}/rootfs.tar`);
  const missing = await call(
    'POST',
    `/v1.41/images/create?fromSrc=${encodeURIComponent(`http://127.0.0.1:${filesPort}/nope.tar`)}`,
  );
  assert.equal(missing.status, 500);
});

test('a pull that cannot reach its registry fails before any stream starts', async () => {
  // no internet here: Docker Hub does not resolve (or does not answer); either way a plain error response
  const r = await call('POST', '/v1.41/images/create?fromImage=docker.io%2Flibrary%2Fnosuchimage&tag=latest');
  assert.notEqual(r.status, 200);
  assert.match((JSON.parse(r.body) as { message: string }).message, /registry-1\.docker\.io|nosuchimage/);
});
