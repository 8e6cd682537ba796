// Hostile requests through the API socket (issue 9): bodies of the wrong shape, too large or too
// slow, malformed URLs, slowloris headers and idle connections. Each is refused with docker's
// {"message"} body or cut, leaves nothing behind, and never stops the daemon serving others;
// streams and slow uploads still work past every time limit. The daemon runs with short limits
// (COCON_API_TIMEOUTS) so that the timeouts are tested in seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { useDaemon, uniq, hijack, demux, type Daemon } from '../helpers/daemon.js';
import { create, createBody, exec, inspect, list, rm, runDetached } from '../helpers/containers.js';

const LIMIT_MS = 1500;
const h = useDaemon({
  busybox: true,
  env: { COCON_API_TIMEOUTS: `headers=${LIMIT_MS},body=${LIMIT_MS},idle=${LIMIT_MS}` },
});

interface Raw {
  data: string;
  closedAfterMs: number | null;
  status: number;
}

/**
 * Writes `parts` on a fresh socket, `gapMs` apart, and collects what comes back until the daemon
 * closes the connection or `waitMs` passes. closedAfterMs: when the daemon closed it (null: open).
 */
function raw(d: Daemon, parts: string[], gapMs = 0, waitMs = 5000): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = connect({ path: d.socket });
    const t0 = Date.now();
    let data = '';
    let closed: number | null = null;
    let i = 0;
    const next = () => {
      if (closed !== null || i >= parts.length) return;
      s.write(parts[i++]);
      if (i < parts.length) setTimeout(next, gapMs);
    };
    s.on('connect', next);
    s.on('data', (b: Buffer) => {
      data += b.toString('latin1');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = Date.now() - t0;
      finish();
    });
    const timer = setTimeout(() => {
      s.destroy();
    }, waitMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({
        data,
        closedAfterMs: closed !== null && closed < waitMs ? closed : null,
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0),
      });
    };
    s.on('timeout', reject);
  });
}

function jsonOf(r: Raw): { message?: string } {
  const i = r.data.indexOf('\r\n\r\n');
  try {
    return JSON.parse(r.data.slice(i + 4)) as { message?: string };
  } catch {
    return {};
  }
}

test('create bodies of the wrong shape -> 400 with a message; nothing created; the list still answers', async () => {
  const before = (await list(h.d)).length;
  const base = createBody({ cmd: ['true'] });
  const cases: Array<[string, unknown, RegExp]> = [
    ['Cmd item a number', { ...base, Cmd: ['echo', 1] }, /Cmd\[1\] of type string/],
    ['Entrypoint item an object', { ...base, Entrypoint: [{}] }, /Entrypoint\[0\] of type string/],
    ['Env item null', { ...base, Env: [null] }, /Env\[0\] of type string/],
    ['Env a string', { ...base, Env: 'A=1' }, /Env of type \[\]string/],
    [
      'Memory 1e308',
      { ...base, HostConfig: { ...base.HostConfig, Memory: 1e308 } },
      /HostConfig\.Memory of type int64/,
    ],
    [
      'Memory fractional',
      { ...base, HostConfig: { ...base.HostConfig, Memory: 1.5 } },
      /HostConfig\.Memory of type int64/,
    ],
    [
      'Memory a string',
      { ...base, HostConfig: { ...base.HostConfig, Memory: '64m' } },
      /HostConfig\.Memory of type int64/,
    ],
    ['Image a number', { ...base, Image: 5 }, /Image of type string/],
    ['User an object', { ...base, User: { name: 'root' } }, /User of type string/],
    ['Labels value a number', { ...base, Labels: { a: 1 } }, /Labels\.a of type string/],
    ['HostConfig an array', { ...base, HostConfig: [] }, /HostConfig of type struct/],
    [
      'Ulimits item Soft a string',
      { ...base, HostConfig: { ...base.HostConfig, Ulimits: [{ Name: 'nofile', Soft: 'x', Hard: 1 }] } },
      /Ulimits\[0\]\.Soft of type int64/,
    ],
    ['body null', null, /config cannot be empty/],
    ['body an array', [], /a JSON object is expected/],
    ['body a number', 5, /a JSON object is expected/],
    ['body a string', 'x', /a JSON object is expected/],
  ];
  for (const [what, body, msg] of cases) {
    const r = await h.d.api('POST', `/v1.41/containers/create?name=${uniq('shape')}`, undefined, {
      raw: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    assert.match(r.json?.message ?? '', msg, what);
  }
  const l = await h.d.api('GET', '/v1.41/containers/json?all=1');
  assert.equal(l.status, 200, l.body);
  assert.equal(l.json.length, before, 'a refused body created a container');
});

test('every JSON endpoint refuses null, non-objects and wrong field types with 400', async () => {
  const id = await runDetached(h.d, { name: uniq('shapes') });
  const ex = await h.d.api('POST', `/v1.41/containers/${id}/exec`, { Cmd: ['true'] });
  assert.equal(ex.status, 201, ex.body);
  const cases: Array<[string, string, unknown]> = [
    ['/networks/create', 'null', null],
    ['/networks/create', 'array', []],
    ['/networks/create', 'Name number', { Name: 5 }],
    ['/networks/create', 'IPAM.Config item', { Name: uniq('n'), IPAM: { Config: [{ Subnet: 10 }] } }],
    ['/volumes/create', 'null', null],
    ['/volumes/create', 'Labels value', { Labels: { a: true } }],
    ['/volumes/create', 'DriverOpts', { DriverOpts: [] }],
    [`/containers/${id}/exec`, 'null', null],
    [`/containers/${id}/exec`, 'Cmd item', { Cmd: [1] }],
    [`/containers/${id}/exec`, 'Env', { Cmd: ['true'], Env: [{}] }],
    [`/exec/${ex.json.Id}/start`, 'array', []],
    [`/exec/${ex.json.Id}/start`, 'Detach string', { Detach: 'yes' }],
    ['/networks/bridge/connect', 'Container array', { Container: [] }],
    ['/networks/bridge/disconnect', 'number', 7],
    ['/auth', 'array', []],
    ['/auth', 'username number', { username: 1 }],
  ];
  for (const [path, what, body] of cases) {
    const r = await h.d.api('POST', `/v1.41${path}`, undefined, {
      raw: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(r.status, 400, `${path} ${what}: ${r.status} ${r.body}`);
    assert.match(r.json?.message ?? '', /invalid JSON|cannot unmarshal/, `${path} ${what}`);
  }
  const vols = await h.d.api('GET', '/v1.41/volumes');
  assert.equal(vols.json.Volumes?.length ?? 0, 0, 'a refused volume create made a volume');
  await rm(h.d, id);
});

test('labels over 256 KiB in all -> 400 (create, volume, network); nothing created', async () => {
  const big: Record<string, string> = {};
  for (let i = 0; i < 40; i++) big[`k${i}`] = 'v'.repeat(8 * 1024);
  const before = (await list(h.d)).length;
  const c = await h.d.api('POST', '/v1.41/containers/create', createBody({ cmd: ['true'], labels: big }));
  assert.equal(c.status, 400, c.body);
  assert.match(c.json?.message ?? '', /Labels: labels are \d+ bytes in all, more than the limit of 262144 bytes/);
  assert.equal((await list(h.d)).length, before);
  const v = await h.d.api('POST', '/v1.41/volumes/create', { Name: uniq('v'), Labels: big });
  assert.equal(v.status, 400, v.body);
  const n = await h.d.api('POST', '/v1.41/networks/create', { Name: uniq('n'), Labels: big });
  assert.equal(n.status, 400, n.body);
  // Just under the limit is fine.
  const ok: Record<string, string> = { a: 'v'.repeat(200 * 1024) };
  const id = await create(h.d, { cmd: ['true'], labels: ok });
  assert.equal((await inspect(h.d, id)).Config.Labels.a.length, 200 * 1024);
  await rm(h.d, id);
});

test('a JSON body over 4 MiB -> 413 before it is all read (with or without Content-Length); the daemon stays small', async () => {
  const before = (await list(h.d)).length;
  const huge = JSON.stringify({ ...createBody({ cmd: ['true'] }), Env: ['X=' + 'a'.repeat(5 * 1024 * 1024)] });
  const r = await h.d.api('POST', '/v1.41/containers/create', undefined, {
    raw: huge,
    headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(r.status, 413, `${r.status} ${r.body.slice(0, 200)}`);
  assert.match(r.json?.message ?? '', /request body too large: JSON bodies are limited to 4 MiB/);
  // Chunked: no Content-Length to refuse up front; the reader stops at the limit.
  const chunk = 'a'.repeat(1024 * 1024);
  const parts = [
    `POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  ];
  for (let i = 0; i < 6; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  const c = await raw(h.d, parts, 10, 10_000);
  assert.equal(c.status, 413, c.data.slice(0, 300));
  assert.equal((await list(h.d)).length, before);
  assert.equal((await h.d.api('GET', '/_ping')).status, 200);
  const rss = Number(
    /VmRSS:\s+(\d+)/.exec(spawnSync('cat', [`/proc/${h.d.pid}/status`], { encoding: 'utf8' }).stdout)?.[1] ?? 0,
  );
  assert.ok(rss > 0 && rss < 400 * 1024, `daemon RSS ${rss} kB`);
});

test('malformed URLs -> 400 with a message; unknown endpoints 404; no unhandled rejection', async () => {
  const mark = h.d.logSize();
  for (const path of [
    '//',
    '//containers/json',
    '/%E0%A4%A',
    '/images/%/json',
    '/v1.41/containers/%ZZ/json',
    '/containers/a%2/json',
    '*',
  ]) {
    const r = await raw(h.d, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    assert.equal(r.status, 400, `${path}: ${r.data}`);
    assert.match(jsonOf(r).message ?? '', /invalid request URL/, path);
  }
  const nf = await raw(h.d, [`GET /v1.41/nosuch/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
  assert.equal(nf.status, 404, nf.data);
  assert.equal(jsonOf(nf).message, 'page not found');
  assert.doesNotMatch(h.d.log(mark), /unhandled rejection/);
});

test('slowloris: headers sent a line at a time are cut after the headers timeout', async () => {
  const parts = ['GET /_ping HTTP/1.1\r\n'];
  for (let i = 0; i < 40; i++) parts.push(`X-Slow-${i}: a\r\n`);
  const r = await raw(h.d, parts, 200, 10_000);
  assert.notEqual(r.closedAfterMs, null, 'the daemon kept a slowloris connection open for 10 s');
  assert.ok(
    r.closedAfterMs! >= LIMIT_MS - 100 && r.closedAfterMs! < LIMIT_MS + 2000,
    `closed after ${r.closedAfterMs} ms`,
  );
  assert.doesNotMatch(r.data, /^HTTP\/1\.1 200/);
});

test('a JSON body sent too slowly -> 408 and the connection is closed; nothing created', async () => {
  const before = (await list(h.d)).length;
  const body = JSON.stringify(createBody({ cmd: ['true'] }));
  const head = `POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const parts = [head, ...body.match(/.{1,4}/g)!];
  const r = await raw(h.d, parts, 300, 10_000);
  assert.equal(r.status, 408, r.data);
  assert.match(jsonOf(r).message ?? '', /request timeout/);
  assert.notEqual(r.closedAfterMs, null);
  assert.ok(r.closedAfterMs! < LIMIT_MS + 2000, `closed after ${r.closedAfterMs} ms`);
  // A body that never comes, on an endpoint that does not read it, is cut too.
  for (const path of ['/v1.41/containers/prune', '/v1.41/containers/nosuch/start', '/v1.41/nosuch']) {
    const s = await raw(h.d, [`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`], 0, 10_000);
    assert.ok(s.status > 0, `${path}: no answer`);
    assert.notEqual(s.closedAfterMs, null, `${path}: a connection with a never-ending body stayed open`);
    assert.ok(s.closedAfterMs! < LIMIT_MS + 2000, `${path}: closed after ${s.closedAfterMs} ms`);
  }
  assert.equal((await list(h.d)).length, before);
});

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const r = await raw(h.d, ['GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'], 0, 10_000);
  assert.equal(r.status, 200, r.data);
  assert.notEqual(r.closedAfterMs, null, 'an idle connection stayed open 10 s');
  assert.ok(
    r.closedAfterMs! >= LIMIT_MS - 100 && r.closedAfterMs! < LIMIT_MS + 2000,
    `closed after ${r.closedAfterMs} ms`,
  );
});

test('streams outlive every limit: events, wait, logs -f, exec attach, and a slow archive upload', async () => {
  const quiet = 2 * LIMIT_MS + 1000;
  const id = await runDetached(h.d, {
    name: uniq('streams'),
    cmd: ['sh', '-c', `sleep ${Math.ceil(quiet / 1000) + 1}; echo late; sleep 600`],
  });
  // events: nothing for a while, then an event
  const ev = raw(h.d, ['GET /v1.41/events HTTP/1.1\r\nHost: x\r\n\r\n'], 0, quiet + 1500);
  const evName = uniq('evt');
  const evTimer = setTimeout(() => void create(h.d, { name: evName, cmd: ['true'] }), quiet);
  // wait: a container that exits after the limits
  const w = await runDetached(h.d, { name: uniq('waited'), cmd: ['sleep', String(Math.ceil(quiet / 1000))] });
  const waited = h.d.api('POST', `/v1.41/containers/${w}/wait`, undefined, { timeoutMs: quiet + 10_000 });
  // logs -f: the line comes after the limits
  const lg = raw(
    h.d,
    [`GET /v1.41/containers/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n`],
    0,
    quiet + 4000,
  );
  // exec attach: output after the limits
  const hj = await hijack(
    h.d.socket,
    'POST',
    `/v1.41/exec/${(await h.d.api('POST', `/v1.41/containers/${id}/exec`, { Cmd: ['sh', '-c', `sleep ${Math.ceil(quiet / 1000)}; echo hi`], AttachStdout: true, AttachStderr: true })).json.Id}/start`,
    { Detach: false, Tty: false },
    quiet + 10_000,
  );
  assert.equal(hj.status, 101);
  // upload: a tar sent in pieces over longer than the body timeout
  const dir = mkdtempSync('/tmp/cocon-upl-');
  try {
    writeFileSync(join(dir, 'f.txt'), 'x'.repeat(50_000));
    const tar = spawnSync('tar', ['-cf', '-', '-C', dir, 'f.txt']).stdout;
    const n = 8;
    const size = Math.ceil(tar.length / n);
    const pieces: string[] = [
      `PUT /v1.41/containers/${id}/archive?path=/tmp HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${tar.length}\r\nConnection: close\r\n\r\n`,
    ];
    for (let i = 0; i < n; i++) pieces.push(tar.subarray(i * size, (i + 1) * size).toString('latin1'));
    const up = await raw(
      h.d,
      pieces.map((p) => p),
      Math.ceil(quiet / n),
      quiet + 5000,
    );
    assert.equal(up.status, 200, up.data.slice(0, 300));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const size = await exec(h.d, id, ['wc', '-c', '/tmp/f.txt']);
  assert.match(size.stdout, /^50000 /);
  const out = demux(await hj.output);
  assert.equal(out.stdout, 'hi\n');
  const wr = await waited;
  assert.equal(wr.status, 200);
  assert.equal(wr.json.StatusCode, 0);
  const e = await ev;
  clearTimeout(evTimer);
  assert.equal(e.status, 200);
  assert.equal(e.closedAfterMs, null, `events stream closed after ${e.closedAfterMs} ms`);
  assert.ok(e.data.includes(evName), 'events stream cut before the event');
  const l = await lg;
  assert.match(l.data, /late/, 'logs -f cut before the late line');
  await rm(h.d, id);
  await rm(h.d, w);
  await rm(h.d, evName).catch(() => undefined);
});
