// The CLI's API client against a tiny fake daemon on a unix socket: version negotiation,
// error bodies, hijacked (101) streams with half-close, JSON streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ApiError, Client, ConnectError, readJsonStream, resolveEndpoint } from '../../src/cli/client.js';
import { encodeFrame } from '../../src/cli/streams.js';

interface Fake {
  sock: string;
  seen: string[];
  close(): Promise<void>;
}

async function fake(opts: { apiVersion?: string | null; headStatus?: number } = {}): Promise<Fake> {
  const dir = mkdtempSync(join(tmpdir(), 'cli-client-'));
  const sock = join(dir, 's.sock');
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const hdr: Record<string, string> = {};
    if (opts.apiVersion !== null) hdr['Api-Version'] = opts.apiVersion ?? '1.41';
    if (req.url === '/_ping') {
      if (req.method === 'HEAD' && opts.headStatus) {
        res.writeHead(opts.headStatus);
        res.end();
        return;
      }
      res.writeHead(200, hdr);
      res.end(req.method === 'GET' ? 'OK' : undefined);
      return;
    }
    if (req.url?.endsWith('/containers/nosuch/json')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"No such container: nosuch"}\n');
      return;
    }
    if (req.url?.includes('/echo')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            ct: req.headers['content-type'],
            te: req.headers['transfer-encoding'] ?? '',
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"ok":true}\n');
  });
  // attach: 101, two frames right away (one in the same packet as the head), then echo stdin until EOF
  srv.on('upgrade', (req, socket: Socket) => {
    seen.push(`UPGRADE ${req.url}`);
    socket.write(
      Buffer.concat([
        Buffer.from(
          'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
        ),
        encodeFrame(1, Buffer.from('out\n')),
      ]),
    );
    socket.write(encodeFrame(2, Buffer.from('err\n')));
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('end', () => {
      socket.end(encodeFrame(1, Buffer.from(`stdin:${Buffer.concat(got).toString()}`)));
    });
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  return {
    sock,
    seen,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => {
          rmSync(dir, { recursive: true, force: true });
          r();
        });
      }),
  };
}

test('endpoints: -H, DOCKER_HOST, default', () => {
  assert.deepEqual(resolveEndpoint('unix:///x.sock', {}), {
    socketPath: '/x.sock',
    display: 'unix:///x.sock',
    isDefault: false,
  });
  assert.equal(resolveEndpoint(undefined, { DOCKER_HOST: 'unix:///y.sock' }).socketPath, '/y.sock');
  assert.deepEqual(resolveEndpoint(undefined, {}), {
    socketPath: '/run/cocon/cocon.sock',
    display: 'unix:///run/cocon/cocon.sock',
    isDefault: true,
  });
  assert.equal(resolveEndpoint('tcp://127.0.0.1:2375', {}).port, 2375);
});

test('version negotiation: the ping header, capped at 1.41; 1.24 without one; GET after 405; pinned', async () => {
  for (const [opts, want] of [
    [{ apiVersion: '1.41' }, '1.41'],
    [{ apiVersion: '1.45' }, '1.41'],
    [{ apiVersion: '1.24' }, '1.24'],
    [{ apiVersion: null }, '1.24'],
    [{ headStatus: 405 }, '1.41'],
  ] as const) {
    const f = await fake(opts);
    try {
      const c = new Client(resolveEndpoint(`unix://${f.sock}`, {}), {});
      await c.connect(false);
      assert.equal(c.version, want, JSON.stringify(opts));
      await c.json('GET', '/containers/json');
      assert.equal(f.seen[f.seen.length - 1], `GET /v${want}/containers/json`);
      if ('headStatus' in opts) assert.deepEqual(f.seen.slice(0, 2), ['HEAD /_ping', 'GET /_ping']);
      c.close();
    } finally {
      await f.close();
    }
  }
  const f = await fake();
  try {
    const c = new Client(resolveEndpoint(`unix://${f.sock}`, {}), { DOCKER_API_VERSION: '1.40' });
    await c.connect(false);
    assert.equal(c.version, '1.40');
    c.close();
  } finally {
    await f.close();
  }
});

test('errors: daemon message as ApiError; connection refused as ConnectError', async () => {
  const f = await fake();
  try {
    const c = new Client(resolveEndpoint(`unix://${f.sock}`, {}), {});
    await c.connect(false);
    await assert.rejects(
      c.json('GET', '/containers/nosuch/json'),
      (e: Error) => e instanceof ApiError && e.status === 404 && e.message === 'No such container: nosuch',
    );
    c.close();
  } finally {
    await f.close();
  }
  const c = new Client(resolveEndpoint('unix:///nonexistent/cocon.sock', {}), {});
  await assert.rejects(
    c.connect(true),
    (e: Error) =>
      e instanceof ConnectError &&
      /Cannot connect to the cocon daemon at unix:\/\/\/nonexistent\/cocon.sock/.test(e.message),
  );
});

test('bodies: JSON with Content-Type, streams chunked with the given type, query encoding', async () => {
  const f = await fake();
  try {
    const c = new Client(resolveEndpoint(`unix://${f.sock}`, {}), {});
    await c.connect(false);
    const j = await c.json<{ ct: string; body: string }>('POST', '/echo', {
      body: { A: 1 },
      query: { name: 'x y', b: true, list: ['1', '2'] },
    });
    assert.equal(j.ct, 'application/json');
    assert.equal(j.body, '{"A":1}\n');
    assert.equal(f.seen[f.seen.length - 1], 'POST /v1.41/echo?b=1&list=1&list=2&name=x%20y');
    const s = await c.json<{ ct: string; te: string; body: string }>('POST', '/echo', {
      raw: Readable.from([Buffer.from('tar'), Buffer.from('ball')]),
      contentType: 'text/plain',
    });
    assert.deepEqual(s, { ct: 'text/plain', te: 'chunked', body: 'tarball' });
    c.close();
  } finally {
    await f.close();
  }
});

test('hijack: 101, frames (also in the head packet), stdin then half-close, output after it', async () => {
  const f = await fake();
  try {
    const c = new Client(resolveEndpoint(`unix://${f.sock}`, {}), {});
    await c.connect(false);
    const h = await c.hijack('/containers/x/attach', { stream: '1', stdout: '1', stderr: '1', stdin: '1' });
    assert.equal(f.seen[f.seen.length - 1], 'UPGRADE /v1.41/containers/x/attach?stderr=1&stdin=1&stdout=1&stream=1');
    h.write(Buffer.from('typed'));
    h.closeWrite();
    const chunks: Buffer[] = [];
    for await (const c2 of h.input) chunks.push(c2 as Buffer);
    const all = Buffer.concat(chunks);
    assert.ok(all.includes(Buffer.from('out\n')) && all.includes(Buffer.from('err\n')));
    assert.ok(all.includes(Buffer.from('stdin:typed')), 'output after the half-close was lost');
    c.close();
  } finally {
    await f.close();
  }
});

test('JSON streams: objects split across chunks, \\r\\n separators, exact timeNano', async () => {
  const got: unknown[] = [];
  const raws: string[] = [];
  await readJsonStream(
    Readable.from(['{"status":"a"}\r\n{"sta', 'tus":"b","x":{"y":"}"}}\n', '{"timeNano":1764390000123456789}']),
    (m, raw) => {
      got.push(m);
      raws.push(raw);
    },
  );
  assert.deepEqual(got.slice(0, 2), [{ status: 'a' }, { status: 'b', x: { y: '}' } }]);
  assert.equal(raws[2], '{"timeNano":1764390000123456789}');
});
