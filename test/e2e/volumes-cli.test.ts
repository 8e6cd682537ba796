// `docker volume ...` (the real docker CLI 28) and `cocon volume ...` against one cocon daemon: the
// same commands must print the same output (the docker CLI is the reference for what a client
// shows; "cocon" stands where docker says "docker") and exit with the same status.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon, docker, cli, uniq, type RunResult } from '../helpers/daemon.js';
import { create, rm } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

const norm = (s: string) => s.replace(/(?<![\w/.-])cocon(?![\w/.-])/g, 'docker');

async function both(args: string[]): Promise<{ d: RunResult; c: RunResult }> {
  const [d, c] = await Promise.all([docker(h.d, args), cli(h.d, args)]);
  return { d, c };
}

/** Runs args with both clients and asserts the same exit status, stdout and stderr. */
async function same(args: string[], expectCode = 0): Promise<RunResult> {
  const { d, c } = await both(args);
  const what = `volume ${args.join(' ')}\n docker: exit ${d.code} out ${JSON.stringify(d.stdout)} err ${JSON.stringify(d.stderr)}\n cocon:  exit ${c.code} out ${JSON.stringify(c.stdout)} err ${JSON.stringify(c.stderr)}`;
  assert.equal(d.code, expectCode, what);
  assert.equal(c.code, d.code, what);
  assert.equal(norm(c.stdout), d.stdout, what);
  assert.equal(norm(c.stderr), d.stderr, what);
  return d;
}

function cleanupVolumes(t: TestContext, names: string[]): void {
  t.after(async () => {
    for (const n of names)
      await h.d.api('DELETE', `/v1.41/volumes/${encodeURIComponent(n)}?force=1`).catch(() => undefined);
  });
}

test('volume create: prints the name; labels and --opt reach the daemon the same way from both clients', async (t) => {
  const tag = uniq('vc');
  const names = [`${tag}-d`, `${tag}-c`, `${tag}-d2`, `${tag}-c2`];
  cleanupVolumes(t, names);
  const d = await docker(h.d, ['volume', 'create', names[0]]);
  const c = await cli(h.d, ['volume', 'create', names[1]]);
  assert.equal(d.stdout, `${names[0]}\n`, d.stderr);
  assert.equal(c.stdout, `${names[1]}\n`, c.stderr);
  const flags = [
    '--label',
    'tier=db',
    '--label',
    'bare',
    '-o',
    'type=tmpfs',
    '--opt',
    'device=tmpfs',
    '-o',
    'o=size=1m,uid=0',
    '-d',
    'local',
  ];
  assert.equal((await docker(h.d, ['volume', 'create', ...flags, names[2]])).code, 0);
  assert.equal((await cli(h.d, ['volume', 'create', ...flags, names[3]])).code, 0);
  const dv = (await h.d.api('GET', `/v1.41/volumes/${names[2]}`)).json;
  const cv = (await h.d.api('GET', `/v1.41/volumes/${names[3]}`)).json;
  assert.deepEqual(cv.Labels, dv.Labels);
  assert.deepEqual(cv.Options, dv.Options);
  assert.deepEqual(dv.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=0' });
  // no name: a generated one, printed
  const anonD = await docker(h.d, ['volume', 'create']);
  const anonC = await cli(h.d, ['volume', 'create']);
  for (const r of [anonD, anonC]) {
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    names.push(r.stdout.trim());
  }
});

test('volume create errors: illegal name, unknown driver', async () => {
  await same(['volume', 'create', 'a/b'], 1);
  await same(['volume', 'create', '-d', 'nosuchdriver', uniq('vd')], 1);
});

test('volume ls: table, -q, filters, --format (custom, table, json)', async (t) => {
  const tag = uniq('vls').replace(/-/g, '');
  const names = [`${tag}a`, `${tag}b`, `${tag}c`];
  cleanupVolumes(t, names);
  // one label per volume: docker joins .Labels in Go's random map order
  await h.d.api('POST', '/v1.41/volumes/create', { Name: names[0], Labels: { tier: 'db' } });
  await h.d.api('POST', '/v1.41/volumes/create', { Name: names[1], Labels: { tier: 'web' } });
  await h.d.api('POST', '/v1.41/volumes/create', { Name: names[2] });
  const id = await create(h.d, { name: uniq('lsuser'), cmd: ['true'], hostConfig: { Binds: [`${names[2]}:/data`] } });
  t.after(() => rm(h.d, id, true));
  const f = ['-f', `name=${tag}`];
  const table = await same(['volume', 'ls', ...f]);
  assert.equal(
    table.stdout,
    `DRIVER    VOLUME NAME\nlocal     ${names[0]}\nlocal     ${names[1]}\nlocal     ${names[2]}\n`,
  );
  assert.equal((await same(['volume', 'ls', '-q', ...f])).stdout, names.map((n) => `${n}\n`).join(''));
  assert.equal((await same(['volume', 'ls', '-q', ...f, '-f', 'dangling=true'])).stdout, `${names[0]}\n${names[1]}\n`);
  assert.equal((await same(['volume', 'ls', '-q', ...f, '--filter', 'dangling=false'])).stdout, `${names[2]}\n`);
  assert.equal((await same(['volume', 'ls', '-q', ...f, '-f', 'label=tier=db'])).stdout, `${names[0]}\n`);
  await same(['volume', 'ls', ...f, '--format', '{{.Name}} {{.Driver}} {{.Scope}} [{{.Labels}}] {{.Label "tier"}}']);
  await same(['volume', 'ls', ...f, '--format', 'table {{.Name}}\t{{.Mountpoint}}\t{{.Labels}}']);
  await same(['volume', 'ls', ...f, '--format', 'json']);
  await same(['volume', 'ls', ...f, '--format', '{{json .}}']);
  await same(['volume', 'ls', '-f', 'name=nothing-matches-this']);
  await same(['volume', 'ls', '-f', 'novalue'], 125);
});

test("volume inspect: the daemon's JSON, -f templates, and a missing volume", async (t) => {
  const name = uniq('vin');
  cleanupVolumes(t, [name]);
  await h.d.api('POST', '/v1.41/volumes/create', { Name: name, Labels: { k: 'v' } });
  const r = await same(['volume', 'inspect', name]);
  const parsed = JSON.parse(r.stdout);
  assert.equal(parsed.length, 1);
  assert.deepEqual(Object.keys(parsed[0]), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  assert.equal(
    (await same(['volume', 'inspect', '-f', '{{.Mountpoint}}', name])).stdout,
    `${h.d.dataRoot}/volumes/${name}/_data\n`,
  );
  await same(['volume', 'inspect', '--format', '{{json .Labels}} {{.Scope}}', name]);
  await same(['volume', 'inspect', 'nosuchvolume'], 1);
  await same(['volume', 'inspect', name, 'nosuchvolume'], 1);
});

test('volume rm: prints each name; in use -> 409 message and exit 1; missing; -f', async (t) => {
  const a = uniq('vrm');
  const b = uniq('vrm');
  const busy = uniq('vrm');
  cleanupVolumes(t, [a, b, busy]);
  for (const n of [a, b, busy]) await h.d.api('POST', '/v1.41/volumes/create', { Name: n });
  const id = await create(h.d, { name: uniq('rmuser'), cmd: ['true'], hostConfig: { Binds: [`${busy}:/data`] } });
  t.after(() => rm(h.d, id, true));
  const d = await docker(h.d, ['volume', 'rm', a]);
  const c = await cli(h.d, ['volume', 'rm', b]);
  assert.deepEqual([d.code, d.stdout, d.stderr], [0, `${a}\n`, '']);
  assert.deepEqual([c.code, c.stdout, c.stderr], [0, `${b}\n`, '']);
  const inUse = await same(['volume', 'rm', busy], 1);
  assert.equal(inUse.stderr, `Error response from daemon: remove ${busy}: volume is in use - [${id}]\n`);
  await same(['volume', 'rm', 'nosuchvolume'], 1);
  await same(['volume', 'rm', '-f', 'nosuchvolume']);
});

test('volume prune -f: the same report from both clients', async (t) => {
  // nothing else in this daemon may be unused while this runs: keep a container on the others
  const tag = uniq('vpr').replace(/-/g, '');
  const keep = `${tag}keep`;
  cleanupVolumes(t, [keep]);
  await h.d.api('POST', '/v1.41/volumes/create', { Name: keep });
  const id = await create(h.d, { name: uniq('pruser'), cmd: ['true'], hostConfig: { Binds: [`${keep}:/data`] } });
  t.after(() => rm(h.d, id, true));
  await h.d.api('POST', '/v1.41/volumes/prune'); // whatever earlier tests left
  const mk = async () => {
    for (const s of ['x', 'y']) await h.d.api('POST', '/v1.41/volumes/create', { Name: `${tag}${s}` });
  };
  await mk();
  // API 1.42+: without -a only anonymous volumes go; these are named
  const named = await docker(h.d, ['volume', 'prune', '-f']);
  assert.equal(named.stdout, 'Total reclaimed space: 0B\n', named.stderr);
  const d = await docker(h.d, ['volume', 'prune', '-f', '-a']);
  await mk();
  const c = await cli(h.d, ['volume', 'prune', '-f', '-a']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(d.stdout, `Deleted Volumes:\n${tag}x\n${tag}y\n\nTotal reclaimed space: 0B\n`);
  assert.equal(c.stdout, d.stdout);
  assert.equal((await h.d.api('GET', `/v1.41/volumes/${keep}`)).status, 200);
  // nothing left to prune
  await same(['volume', 'prune', '-f']);
});
