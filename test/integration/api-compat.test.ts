// What real clients rely on (issue 13, API part): swarm endpoints answer as a dockerd outside a
// swarm (503, dockerd's messages) while unknown endpoints stay 404; API 1.43 is served and
// negotiated; label filters are ANDed for containers, images, volumes, networks and prune, in both
// JSON forms; POST /images/load takes a chunked body and answers a non-archive in dockerd's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdirSync } from 'node:fs';
import { uniq, waitFor, type Daemon, type Json, type ApiResponse } from '../helpers/daemon.js';
import { create, rm } from '../helpers/containers.js';
import { makeTar } from './registry-helpers.js';
import { useBridgeDaemon } from './network-common.js';

const h = useBridgeDaemon('cac', 20, 32);

const NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

test("swarm endpoints answer 503 with dockerd's messages; plugins/search 501; unknown endpoints stay 404", async () => {
  // trace swarm-not-active: leave -> "not part of a swarm", the manager endpoints -> "not a swarm manager"
  const leave = await h.d.api('POST', '/v1.41/swarm/leave?force=true');
  assert.equal(leave.status, 503);
  assert.equal(leave.body, '{"message":"This node is not part of a swarm"}\n');
  for (const [m, p] of [
    ['GET', '/swarm'],
    ['GET', '/nodes'],
    ['GET', '/services'],
    ['GET', '/tasks'],
    ['GET', '/secrets'],
    ['GET', '/configs'],
    ['GET', '/services/x'],
    ['POST', '/services/create'],
    ['DELETE', '/nodes/n1'],
    ['GET', '/tasks/t1/logs'],
    ['POST', '/secrets/create'],
    ['POST', '/configs/c1/update'],
    ['GET', '/swarm/unlockkey'],
    ['POST', '/swarm/update'],
  ] as const) {
    const r = await h.d.api(m, `/v1.41${p}`, m === 'POST' ? {} : undefined);
    assert.equal(r.status, 503, `${m} ${p} -> ${r.status} ${r.body}`);
    assert.equal(r.json.message, NOT_MANAGER, `${m} ${p}`);
    assert.equal(r.headers['api-version'], '1.43');
  }
  const init = await h.d.api('POST', '/v1.41/swarm/init', { ListenAddr: '0.0.0.0:2377' });
  assert.equal(init.status, 501, init.body);
  assert.match(init.json.message, /swarm mode is not supported/);
  // endpoints of docker's API that cocon does not serve: 501 naming what is missing
  for (const [m, p, msg] of [
    ['GET', '/plugins', /plugins are not supported/],
    ['GET', '/images/search?term=x', /image search is not supported/],
    ['GET', '/distribution/busybox/json', /distribution inspect/],
    ['POST', '/session', /BuildKit sessions/],
  ] as const) {
    const r = await h.d.api(m, `/v1.41${p}`);
    assert.equal(r.status, 501, `${m} ${p} -> ${r.status}`);
    assert.match(r.json.message, msg);
  }
  for (const p of ['/nosuchendpoint', '/swarm/nosuch', '/nodes/a/b/c']) {
    const r = await h.d.api('GET', `/v1.41${p}`);
    assert.equal(r.status, 404, `${p} -> ${r.status}`);
    assert.equal(r.body, '{"message":"page not found"}\n');
  }
});

test('API 1.43: /_ping and /version announce it, /v1.42 and /v1.43 prefixes are served, 1.44 is too new', async () => {
  const ping = await h.d.api('HEAD', '/_ping');
  assert.equal(ping.headers['api-version'], '1.43');
  const v = (await h.d.api('GET', '/version')).json;
  assert.equal(v.ApiVersion, '1.43');
  assert.equal(v.MinAPIVersion, '1.12');
  assert.equal(v.Components[0].Details.ApiVersion, '1.43');
  for (const p of ['/v1.42/version', '/v1.43/version', '/v1.43/containers/json', '/v1.43/_ping']) {
    const r = await h.d.api('GET', p);
    assert.equal(r.status, 200, `${p} -> ${r.status} ${r.body}`);
  }
  // 1.43's HostConfig.Annotations cannot be honoured yet: refused, nothing created
  const name = uniq('ann');
  const ann = await h.d.api('POST', `/v1.43/containers/create?name=${name}`, {
    Image: 'busybox',
    Cmd: ['true'],
    HostConfig: { Annotations: { 'a.b': 'c' } },
  });
  assert.equal(ann.status, 400, ann.body);
  assert.match(ann.json.message, /annotation is not supported/);
  assert.equal((await h.d.api('GET', `/containers/${name}/json`)).status, 404);
  const hi = await h.d.api('GET', '/v1.44/version');
  assert.equal(hi.status, 400);
  assert.equal(hi.json.message, 'client version 1.44 is too new. Maximum supported API version is 1.43');
});

test('restart honours ?signal= (API 1.42): a container that traps only USR1 restarts at once', async (t) => {
  const id = await create(h.d, {
    cmd: ['sh', '-c', 'trap "exit 0" USR1; while :; do sleep 0.1; done'],
    hostConfig: { NetworkMode: 'none' },
  });
  t.after(() => rm(h.d, id, true));
  assert.equal((await h.d.api('POST', `/v1.43/containers/${id}/start`)).status, 204);
  const t0 = Date.now();
  const r = await h.d.api('POST', `/v1.43/containers/${id}/restart?signal=USR1&t=30`, undefined, { timeoutMs: 40_000 });
  assert.equal(r.status, 204, r.body);
  assert.ok(Date.now() - t0 < 10_000, `restart took ${Date.now() - t0} ms: the signal was not sent`);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).json.State.Running, true);
});

const q = (f: unknown) => `filters=${encodeURIComponent(JSON.stringify(f))}`;

test('containers: several label filters are ANDed, in both JSON forms, for ps and prune', async (t) => {
  const mark = uniq('m');
  const onlyA = await create(h.d, { cmd: ['true'], labels: { [mark]: '', a: '1' } });
  const both = await create(h.d, { cmd: ['true'], labels: { [mark]: '', a: '1', b: 'x' } });
  const wrongB = await create(h.d, { cmd: ['true'], labels: { [mark]: '', a: '1', b: 'y' } });
  t.after(async () => {
    for (const id of [onlyA, both, wrongB]) await rm(h.d, id, true);
  });
  for (const f of [{ label: { [mark]: true, a: true, 'b=x': true } }, { label: [mark, 'a', 'b=x'] }]) {
    const r = await h.d.api('GET', `/v1.41/containers/json?all=1&${q(f)}`);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(
      r.json.map((c: Json) => c.Id),
      [both],
      JSON.stringify(f),
    );
  }
  const bOnly = await h.d.api('GET', `/containers/json?all=1&${q({ label: [mark, 'b'] })}`);
  assert.deepEqual(bOnly.json.map((c: Json) => c.Id).sort(), [both, wrongB].sort());
  assert.equal((await h.d.api('GET', `/containers/json?${q({ label: 'a' })}`)).status, 400);
  assert.equal((await h.d.api('GET', `/containers/json?${q({ label: { a: 'yes' } })}`)).status, 400);
  const pr = await h.d.api('POST', `/containers/prune?${q({ label: { [mark]: true, 'b=y': true } })}`);
  assert.equal(pr.status, 200, pr.body);
  assert.deepEqual(pr.json.ContainersDeleted, [wrongB]);
  assert.equal(
    (await h.d.api('GET', `/containers/${onlyA}/json`)).status,
    200,
    'prune with two labels removed a container with only one',
  );
});

test('images: label filters ANDed (list)', async (t) => {
  const layer = await makeTar([{ name: 'f.txt', data: 'x\n' }]);
  const made: string[] = [];
  t.after(async () => {
    for (const n of made) await h.d.api('DELETE', `/images/${n}?force=1`);
  });
  for (const [name, labels] of [
    ['lab-a', 'LABEL a=1'],
    ['lab-ab', 'LABEL a=1 b=x'],
  ] as const) {
    const r = await h.d.api(
      'POST',
      `/images/create?fromSrc=-&repo=${name}&tag=v1&changes=${encodeURIComponent(labels)}`,
      undefined,
      { raw: layer, headers: { 'Content-Type': 'application/x-tar' } },
    );
    assert.equal(r.status, 200, r.body);
    made.push(`${name}:v1`);
  }
  const tags = async (f: unknown) =>
    ((await h.d.api('GET', `/images/json?${q(f)}`)).json as Json[]).flatMap((i) => i.RepoTags).sort();
  assert.deepEqual(await tags({ label: { a: true, 'b=x': true } }), ['lab-ab:v1']);
  assert.deepEqual(await tags({ label: ['a=1', 'b=x'] }), ['lab-ab:v1']);
  assert.deepEqual(await tags({ label: ['a=1'] }), ['lab-a:v1', 'lab-ab:v1']);
});

test('volumes and networks: label filters ANDed (list and prune)', async (t) => {
  const mark = uniq('v');
  const vols = [`${mark}-a`, `${mark}-ab`];
  const nets = [`${mark}-na`, `${mark}-nab`];
  t.after(async () => {
    for (const v of vols) await h.d.api('DELETE', `/volumes/${v}?force=1`);
    for (const n of nets) await h.d.api('DELETE', `/networks/${n}`);
  });
  const lab = (i: number): Record<string, string> =>
    i === 0 ? { [mark]: '', a: '1' } : { [mark]: '', a: '1', b: 'x' };
  for (const [i, v] of vols.entries())
    assert.equal((await h.d.api('POST', '/volumes/create', { Name: v, Labels: lab(i) })).status, 201);
  for (const [i, n] of nets.entries()) {
    const r = await h.d.api('POST', '/networks/create', { Name: n, Labels: lab(i) });
    assert.equal(r.status, 201, r.body);
  }
  const volNames = async (f: unknown) =>
    ((await h.d.api('GET', `/volumes?${q(f)}`)).json.Volumes as Json[]).map((v) => v.Name).sort();
  const netNames = async (f: unknown) =>
    ((await h.d.api('GET', `/networks?${q(f)}`)).json as Json[]).map((n) => n.Name).sort();
  for (const f of [{ label: { [mark]: true, 'b=x': true } }, { label: [mark, 'b=x'] }]) {
    assert.deepEqual(await volNames(f), [vols[1]]);
    assert.deepEqual(await netNames(f), [nets[1]]);
  }
  assert.deepEqual(await volNames({ label: [mark] }), vols);
  assert.equal((await h.d.api('GET', `/networks?${q({ nope: ['1'] })}`)).json.message, "invalid filter 'nope'");
  // API 1.42+ prunes anonymous volumes only, unless all=true; 1.41 prunes every unused volume
  const v43 = await h.d.api('POST', `/v1.43/volumes/prune?${q({ label: { [mark]: true, 'b=x': true } })}`);
  assert.equal(v43.json.VolumesDeleted, null, 'API 1.43 pruned a named volume without all=true');
  const vp = await h.d.api('POST', `/v1.41/volumes/prune?${q({ label: { [mark]: true, 'b=x': true } })}`);
  assert.deepEqual(vp.json.VolumesDeleted, [vols[1]]);
  const vAll = await h.d.api('POST', `/v1.43/volumes/prune?${q({ label: [mark], all: ['true'] })}`);
  assert.deepEqual(vAll.json.VolumesDeleted, [vols[0]]);
  // an anonymous volume (a container's VOLUME) left by rm without -v: API 1.43 prunes it without all
  const ctr = await create(h.d, {
    cmd: ['true'],
    extra: { Volumes: { '/anon': {} } },
    hostConfig: { NetworkMode: 'none' },
  });
  const anonName = (await h.d.api('GET', `/containers/${ctr}/json`)).json.Mounts[0].Name as string;
  await rm(h.d, ctr, true);
  t.after(async () => {
    await h.d.api('DELETE', `/volumes/${anonName}`);
  });
  const va = await h.d.api('POST', '/v1.43/volumes/prune');
  assert.ok((va.json.VolumesDeleted ?? []).includes(anonName), `anonymous ${anonName} not pruned: ${va.body}`);
  const np = await h.d.api('POST', `/networks/prune?${q({ label: [mark, 'b=x'] })}`);
  assert.deepEqual(np.json.NetworksDeleted, [nets[1]]);
  assert.deepEqual(await volNames({ label: [mark] }), []);
  assert.deepEqual(await netNames({ label: [mark] }), [nets[0]]);
});

/** POST with a chunked body (no Content-Length), as the docker CLI and docker-py send loads. */
function postChunked(d: Daemon, path: string, chunks: Buffer[]): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: d.socket,
        method: 'POST',
        path,
        headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' },
      },
      (res) => {
        const got: Buffer[] = [];
        res.on('data', (c: Buffer) => got.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(got);
          const body = raw.toString('utf8');
          let json: Json;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body, json });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('no answer')));
    (async () => {
      for (const c of chunks) {
        req.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
      req.end();
    })().catch(reject);
  });
}

test("POST /images/load: a chunked body loads; a non-archive gets dockerd's errorDetail shape", async () => {
  const save = await h.d.api('GET', '/images/get?names=busybox');
  assert.equal(save.status, 200);
  const pieces: Buffer[] = [];
  for (let i = 0; i < save.raw.length; i += 300_000) pieces.push(save.raw.subarray(i, i + 300_000));
  const r = await postChunked(h.d, '/v1.43/images/load?quiet=1', pieces);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['content-length'], undefined);
  assert.match(r.body, /"stream":"Loaded image: busybox:latest\\n"/);

  // trace load-invalid: 200, then one JSON message with errorDetail and error, nothing half-written
  const garbage = await postChunked(h.d, '/v1.41/images/load?quiet=1', [
    Buffer.from('\xca\x05 not a tar'.repeat(10), 'latin1'),
  ]);
  assert.equal(garbage.status, 200);
  assert.match(garbage.headers['content-type'] ?? '', /application\/json/);
  const lines = garbage.body
    .split('\r\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 1, garbage.body);
  assert.equal(typeof lines[0].errorDetail.message, 'string');
  assert.equal(lines[0].error, lines[0].errorDetail.message);
  assert.deepEqual(
    readdirSync(h.d.dataRoot).filter((x) => x.startsWith('tmp-load-')),
    [],
  );
});

// Endpoints the compatibility table lists as supported that no other test exercised, through the
// real docker CLI (the client a user has): pause/unpause, diff, export, system df, events filters.
test('docker pause/unpause, diff, export, system df, events --filter label (ANDed) through the docker CLI', async (t) => {
  const { docker } = await import('../helpers/daemon.js');
  const name = uniq('cov');
  const mark = uniq('ev');
  const run = await docker(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '--network',
    'none',
    '-l',
    `${mark}=1`,
    '-l',
    'two=x',
    'busybox',
    'sh',
    '-c',
    'echo data > /made.txt; while :; do sleep 0.2; done',
  ]);
  assert.equal(run.code, 0, run.stderr);
  t.after(async () => {
    await docker(h.d, ['rm', '-f', name]);
  });
  const id = run.stdout.trim();

  assert.equal((await docker(h.d, ['pause', name])).code, 0);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).json.State.Status, 'paused');
  const sleeping = (await docker(h.d, ['top', name])).stdout; // top works on a paused container
  assert.match(sleeping, /sh -c/);
  assert.equal((await docker(h.d, ['unpause', name])).code, 0);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).json.State.Status, 'running');

  const diff = await docker(h.d, ['diff', name]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /^A \/made\.txt$/m);
  assert.doesNotMatch(
    diff.stdout,
    /^C \/etc$/m,
    'diff lists /etc for the hosts/resolv.conf mount points the engine made',
  );

  const exp = await h.d.api('GET', `/containers/${id}/export`);
  assert.equal(exp.status, 200);
  assert.ok(
    exp.raw.includes(Buffer.from('made.txt')) && exp.raw.includes(Buffer.from('data\n')),
    'export has the new file',
  );
  assert.ok(exp.raw.includes(Buffer.from('bin/busybox')), 'export has the image files');

  const df = await docker(h.d, ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
  assert.equal(df.code, 0, df.stderr);
  assert.match(df.stdout, /^Images [1-9]/m);
  assert.match(df.stdout, /^Containers [1-9]/m);

  // events of this container only, by two labels (ANDed): a label the container lacks gives none
  const since = Math.floor(Date.now() / 1000) - 60;
  const until = Math.floor(Date.now() / 1000) + 1;
  await new Promise((r) => setTimeout(r, 1100));
  const both = await docker(h.d, [
    'events',
    '--since',
    String(since),
    '--until',
    String(until),
    '--filter',
    `label=${mark}=1`,
    '--filter',
    'label=two=x',
    '--format',
    '{{.Action}}',
  ]);
  assert.equal(both.code, 0, both.stderr);
  for (const a of ['create', 'start', 'pause', 'unpause'])
    assert.match(both.stdout, new RegExp(`^${a}$`, 'm'), both.stdout);
  const none = await docker(h.d, [
    'events',
    '--since',
    String(since),
    '--until',
    String(until),
    '--filter',
    `label=${mark}=1`,
    '--filter',
    'label=absent',
    '--format',
    '{{.Action}}',
  ]);
  assert.equal(none.stdout, '', 'label filters ORed in events');
});

test('resize of a tty container reaches its terminal (stty size); unknown container and exec ids 404', async (t) => {
  const id = await create(h.d, {
    cmd: ['sh', '-c', 'sleep 1.5; stty size; sleep 30'],
    tty: true,
    hostConfig: { NetworkMode: 'none' },
  });
  t.after(() => rm(h.d, id, true));
  assert.equal((await h.d.api('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await h.d.api('POST', `/containers/${id}/resize?h=40&w=100`)).status, 200);
  await waitFor(
    'the container sees its new size',
    async () => (await h.d.api('GET', `/containers/${id}/logs?stdout=1`)).body.includes('40 100'),
    10_000,
  );
  assert.equal((await h.d.api('POST', `/exec/nosuch${uniq()}/resize?h=1&w=1`)).status, 404);
  assert.equal((await h.d.api('POST', `/containers/nosuch${uniq()}/resize?h=1&w=1`)).status, 404);
});

test('ps filters network, volume, publish, expose, is-task select containers (no longer ignored); networks dangling', async (t) => {
  const mark = uniq('pf');
  const net = `${mark}-net`;
  const vol = `${mark}-vol`;
  assert.equal((await h.d.api('POST', '/networks/create', { Name: net })).status, 201);
  t.after(async () => {
    await h.d.api('DELETE', `/networks/${net}`);
    await h.d.api('DELETE', `/volumes/${vol}?force=1`);
  });
  const a = await create(h.d, {
    cmd: ['sleep', '30'],
    labels: { [mark]: '' },
    extra: { ExposedPorts: { '80/tcp': {}, '53/udp': {} } },
    hostConfig: {
      NetworkMode: net,
      Binds: [`${vol}:/data`],
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });
  const b = await create(h.d, { cmd: ['true'], labels: { [mark]: '' }, hostConfig: { NetworkMode: 'none' } });
  t.after(async () => {
    await rm(h.d, a, true);
    await rm(h.d, b, true);
  });
  const ids = async (f: Record<string, string[]>) => {
    const r = await h.d.api('GET', `/containers/json?all=1&${q({ label: [mark], ...f })}`);
    assert.equal(r.status, 200, r.body);
    return (r.json as Json[]).map((c) => c.Id).sort();
  };
  assert.deepEqual(await ids({}), [a, b].sort());
  assert.deepEqual(await ids({ network: [net] }), [a]);
  assert.deepEqual(await ids({ network: ['none'] }), [b]);
  assert.deepEqual(await ids({ volume: [vol] }), [a]);
  assert.deepEqual(await ids({ volume: ['/data'] }), [a]);
  assert.deepEqual(await ids({ publish: ['80'] }), [a]);
  assert.deepEqual(await ids({ publish: ['79-81/tcp'] }), [a]);
  assert.deepEqual(await ids({ publish: ['80/udp'] }), []);
  assert.deepEqual(await ids({ expose: ['53/udp'] }), [a]);
  assert.deepEqual(await ids({ 'is-task': ['true'] }), []);
  assert.deepEqual(await ids({ 'is-task': ['false'] }), [a, b].sort());
  assert.equal((await h.d.api('GET', `/containers/json?all=1&${q({ publish: ['http'] })}`)).status, 400);
  // networks: dangling = no running container attached (predefined networks never dangle)
  const nets = async (f: Record<string, string[]>) =>
    ((await h.d.api('GET', `/networks?${q(f)}`)).json as Json[]).map((n) => n.Name);
  assert.deepEqual(await nets({ name: [net], dangling: ['true'] }), [net]);
  assert.ok(!(await nets({ dangling: ['true'] })).includes('bridge'));
  assert.equal((await h.d.api('POST', `/containers/${a}/start`)).status, 204);
  assert.deepEqual(await nets({ name: [net], dangling: ['true'] }), []);
  assert.deepEqual(await nets({ name: [net], dangling: ['false'] }), [net]);
});
