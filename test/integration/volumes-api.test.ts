// Volumes and mounts through the Docker Engine API on a real daemon (runc + conmon): the volume
// endpoints with docker's shapes and errors, and -v/--mount/--tmpfs/--volumes-from/VOLUME in
// containers (persistence, sharing, read-only binds, copy-up, quota, crash during copy-up).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
  chownSync,
  chmodSync,
  copyFileSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { useDaemon, uniq, run, type Daemon, type Json } from '../helpers/daemon.js';
import { create, start, wait, inspect, logs, rm, runDetached, exec } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

const VOLUME_KEYS = ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope'];
const MiB = 1024 * 1024;

// ---- helpers (every test registers its own cleanup with t.after: it runs even when it fails) ----

async function volCreate(d: Daemon, body: Json): Promise<Json> {
  const r = await d.api('POST', '/v1.41/volumes/create', body);
  assert.equal(r.status, 201, `volume create ${JSON.stringify(body)} -> ${r.status} ${r.body}`);
  return r.json;
}

async function volGet(d: Daemon, name: string): Promise<{ status: number; json: Json; body: string }> {
  return d.api('GET', `/v1.41/volumes/${encodeURIComponent(name)}`);
}

async function volNames(d: Daemon, filters?: Record<string, string[]>): Promise<string[]> {
  const q = filters ? `?filters=${encodeURIComponent(JSON.stringify(filters))}` : '';
  const r = await d.api('GET', `/v1.41/volumes${q}`);
  assert.equal(r.status, 200, r.body);
  return (r.json.Volumes as Json[]).map((v) => v.Name as string);
}

/** Removes the containers and volumes a test made, whatever happened (containers first). */
function janitor(t: TestContext): {
  ctr: (id: string) => string;
  vol: (name: string) => string;
  dir: (p: string) => string;
} {
  const ctrs: string[] = [];
  const vols: string[] = [];
  const dirs: string[] = [];
  t.after(async () => {
    for (const id of ctrs) await rm(h.d, id, true).catch(() => undefined);
    for (const v of vols)
      await h.d.api('DELETE', `/v1.41/volumes/${encodeURIComponent(v)}?force=1`).catch(() => undefined);
    for (const p of dirs) rmSync(p, { recursive: true, force: true });
  });
  return {
    ctr: (id) => {
      ctrs.push(id);
      return id;
    },
    vol: (name) => {
      vols.push(name);
      return name;
    },
    dir: (p) => {
      dirs.push(p);
      return p;
    },
  };
}

function hostTmp(prefix: string): string {
  return mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', `${prefix}-`));
}

/** Runs a container to its end with these mounts; it is removed afterwards (by the janitor). */
async function runWith(
  j: ReturnType<typeof janitor>,
  cmd: string[],
  hostConfig: Json,
  image = 'busybox',
  extra: Json = {},
): Promise<{ id: string; code: number; stdout: string; stderr: string }> {
  const id = j.ctr(await create(h.d, { name: uniq('vol'), cmd, image, hostConfig, extra }));
  await start(h.d, id);
  const code = await wait(h.d, id);
  const l = await logs(h.d, id);
  return { id, code, stdout: l.stdout, stderr: l.stderr };
}

async function createStatus(
  d: Daemon,
  hostConfig: Json,
  cmd = ['true'],
): Promise<{ status: number; message: string; id?: string }> {
  const r = await d.api('POST', `/v1.41/containers/create?name=${uniq('bad')}`, {
    Image: 'busybox',
    Cmd: cmd,
    HostConfig: { NetworkMode: 'default', ...hostConfig },
  });
  return { status: r.status, message: r.json?.message ?? r.body, id: r.json?.Id };
}

function mountsOfHost(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter(Boolean)
    .map((m) => m.replace(/\\040/g, ' '));
}

/** name -> "uid:gid:mode" for the entries of a host directory (lstat: links are not followed). */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const st = lstatSync(join(dir, f));
    out[f] =
      `${st.uid}:${st.gid}:${(st.mode & 0o7777).toString(8)}${st.isSymbolicLink() ? `->${readlinkSync(join(dir, f))}` : ''}`;
  }
  return out;
}

// Files runc creates in a volume mounted over /etc as mount points for /etc/hosts etc. (docker too).
const ETC_MOUNTPOINTS = new Set(['hosts', 'hostname', 'resolv.conf']);

// ---- a small image with owned files, a symlink and a VOLUME (imported through the API) ---------

let volImage: Promise<void> | undefined;
/** voltest:1 = busybox + /data/seed (1000:1000 0640), /data/sub (1000:1000 0750), /data/link -> seed; VOLUME /data. */
function volTestImage(d: Daemon): Promise<void> {
  volImage ??= (async () => {
    const work = hostTmp('volimg');
    try {
      const root = join(work, 'root');
      for (const p of ['bin', 'etc', 'data/sub', 'tmp', 'proc', 'sys', 'dev'])
        mkdirSync(join(root, p), { recursive: true });
      copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
      chmodSync(join(root, 'bin/busybox'), 0o755);
      for (const a of ['sh', 'ls', 'cat', 'stat', 'true', 'echo', 'touch', 'sleep', 'readlink'])
        symlinkSync('busybox', join(root, 'bin', a));
      writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n');
      writeFileSync(join(root, 'data/seed'), 'seeded by the image\n');
      chownSync(join(root, 'data/seed'), 1000, 1000);
      chmodSync(join(root, 'data/seed'), 0o640);
      chownSync(join(root, 'data/sub'), 1000, 1000);
      chmodSync(join(root, 'data/sub'), 0o750);
      symlinkSync('seed', join(root, 'data/link'));
      const tar = join(work, 'img.tar');
      const t = await run('tar', ['--numeric-owner', '-C', root, '-cf', tar, '.']);
      assert.equal(t.code, 0, t.stderr);
      const changes = ['VOLUME /data', 'CMD ["sh"]'].map((c) => `changes=${encodeURIComponent(c)}`).join('&');
      const r = await d.api('POST', `/v1.41/images/create?fromSrc=-&repo=voltest&tag=1&${changes}`, undefined, {
        raw: readFileSync(tar),
        headers: { 'Content-Type': 'application/x-tar' },
        timeoutMs: 120_000,
      });
      assert.equal(r.status, 200, r.body);
      assert.doesNotMatch(r.body, /errorDetail/, r.body);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  })();
  return volImage;
}

// =====================================================================================================
// volume endpoints
// =====================================================================================================

test("volume create -> inspect: docker's shape (CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope); create is idempotent", async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('v1'));
  const v = await volCreate(h.d, { Driver: 'local', Name: name });
  assert.deepEqual(Object.keys(v), VOLUME_KEYS);
  assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  assert.ok(Math.abs(Date.parse(v.CreatedAt) - Date.now()) < 60_000, `CreatedAt ${v.CreatedAt}`);
  assert.equal(v.Driver, 'local');
  assert.equal(v.Labels, null);
  assert.equal(v.Mountpoint, join(h.d.dataRoot, 'volumes', name, '_data'));
  assert.equal(v.Name, name);
  assert.equal(v.Options, null);
  assert.equal(v.Scope, 'local');
  assert.ok(statSync(v.Mountpoint).isDirectory(), 'the mountpoint exists on the host');
  const g = await volGet(h.d, name);
  assert.equal(g.status, 200);
  assert.deepEqual(g.json, v);
  // creating it again returns the same volume
  const again = await volCreate(h.d, { Driver: 'local', Name: name });
  assert.deepEqual(again, v);
  // labels and options are kept as given
  const lname = j.vol(uniq('vl'));
  const l = await volCreate(h.d, {
    Name: lname,
    Labels: { 'com.example.k': 'v', empty: '' },
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
  });
  assert.deepEqual(l.Labels, { 'com.example.k': 'v', empty: '' });
  assert.deepEqual(l.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  // no name: a generated 64-hex name
  const anon = await volCreate(h.d, { Driver: 'local' });
  j.vol(anon.Name);
  assert.match(anon.Name, /^[0-9a-f]{64}$/);
});

test('volume create refuses illegal names (400) and unknown drivers; GET of an unknown volume is 404', async (t) => {
  const j = janitor(t);
  for (const bad of ['a/b', 'has space', '-x', 'x', 'a@b']) {
    const r = await h.d.api('POST', '/v1.41/volumes/create', { Name: bad, Driver: 'local' });
    assert.equal(r.status, 400, `${bad}: ${r.status} ${r.body}`);
    assert.equal(
      r.json.message,
      `create ${bad}: "${bad}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  const drv = await h.d.api('POST', '/v1.41/volumes/create', { Name: j.vol(uniq('vd')), Driver: 'nosuchdriver' });
  assert.equal(drv.status, 404, drv.body);
  assert.match(drv.json.message, /plugin "nosuchdriver" not found/);
  const opt = await h.d.api('POST', '/v1.41/volumes/create', { Name: j.vol(uniq('vo')), DriverOpts: { bogus: '1' } });
  assert.equal(opt.status, 400, opt.body);
  const nf = await volGet(h.d, 'nosuchvolume');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.message, 'get nosuchvolume: no such volume');
  // a bad name in a container's -v is a 400 from create, and no container is left
  const c = await createStatus(h.d, { Binds: ['a@b:/data'] });
  assert.equal(c.status, 400, c.message);
  assert.match(c.message, /"a@b" includes invalid characters for a local volume name/);
});

test('volume ls: filters dangling, name, label, driver; unknown filters are 400', async (t) => {
  const j = janitor(t);
  const tag = uniq('ls').replace(/-/g, '');
  const a = j.vol(`${tag}a`);
  const b = j.vol(`${tag}b`);
  const used = j.vol(`${tag}used`);
  await volCreate(h.d, { Name: a, Labels: { tier: 'db', [`${tag}.k`]: '1' } });
  await volCreate(h.d, { Name: b, Labels: { tier: 'web' } });
  await volCreate(h.d, { Name: used });
  j.ctr(await create(h.d, { name: uniq('user'), cmd: ['true'], hostConfig: { Binds: [`${used}:/data`] } }));
  const mine = (names: string[]) => names.filter((n) => n.startsWith(tag)).sort();
  assert.deepEqual(mine(await volNames(h.d)), [a, b, used].sort());
  assert.deepEqual(mine(await volNames(h.d, { name: [tag] })), [a, b, used].sort());
  assert.deepEqual(mine(await volNames(h.d, { name: [`${tag}u`] })), [used]);
  assert.deepEqual(mine(await volNames(h.d, { dangling: ['true'] })), [a, b].sort());
  assert.deepEqual(mine(await volNames(h.d, { dangling: ['false'] })), [used]);
  assert.deepEqual(mine(await volNames(h.d, { label: ['tier'] })), [a, b].sort());
  assert.deepEqual(mine(await volNames(h.d, { label: ['tier=db'] })), [a]);
  assert.deepEqual(mine(await volNames(h.d, { label: ['tier=db', `${tag}.k=1`] })), [a]);
  assert.deepEqual(mine(await volNames(h.d, { label: ['tier=nope'] })), []);
  assert.deepEqual(mine(await volNames(h.d, { driver: ['local'] })), [a, b, used].sort());
  assert.deepEqual(mine(await volNames(h.d, { driver: ['other'] })), []);
  const r = await h.d.api('GET', `/v1.41/volumes?filters=${encodeURIComponent('{"colour":["red"]}')}`);
  assert.equal(r.status, 400, r.body);
  const list = await h.d.api('GET', '/v1.41/volumes');
  assert.deepEqual(Object.keys(list.json), ['Volumes', 'Warnings']);
});

test('volume rm: 204; 409 "volume is in use - [id]" while a container uses it; 404 unknown; -f of unknown is 204', async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('rm'));
  await volCreate(h.d, { Name: name });
  const id = j.ctr(await runDetached(h.d, { name: uniq('inuse'), hostConfig: { Binds: [`${name}:/data`] } }));
  const busy = await h.d.api('DELETE', `/v1.41/volumes/${name}`);
  assert.equal(busy.status, 409, busy.body);
  assert.equal(busy.json.message, `remove ${name}: volume is in use - [${id}]`);
  const busyForced = await h.d.api('DELETE', `/v1.41/volumes/${name}?force=1`);
  assert.equal(busyForced.status, 409, `force does not remove a volume a running container uses: ${busyForced.body}`);
  assert.equal((await volGet(h.d, name)).status, 200);
  await rm(h.d, id, true);
  const ok = await h.d.api('DELETE', `/v1.41/volumes/${name}`);
  assert.equal(ok.status, 204, ok.body);
  assert.equal(ok.body, '');
  assert.equal((await volGet(h.d, name)).status, 404);
  assert.ok(!existsSync(join(h.d.dataRoot, 'volumes', name)), 'the volume directory is gone');
  const nf = await h.d.api('DELETE', '/v1.41/volumes/nosuchvolume');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.message, 'get nosuchvolume: no such volume');
  const nff = await h.d.api('DELETE', '/v1.41/volumes/nosuchvolume?force=1');
  assert.equal(nff.status, 204, nff.body);
});

test('volume prune removes the unused volumes only and lists them', async (t) => {
  const j = janitor(t);
  const u1 = j.vol(uniq('pr'));
  const u2 = j.vol(uniq('pr'));
  const used = j.vol(uniq('pr'));
  for (const n of [u1, u2, used]) await volCreate(h.d, { Name: n });
  writeFileSync(join(h.d.dataRoot, 'volumes', u1, '_data', 'f'), 'x'.repeat(10_000));
  j.ctr(await create(h.d, { name: uniq('keep'), cmd: ['true'], hostConfig: { Binds: [`${used}:/data`] } }));
  const r = await h.d.api('POST', '/v1.41/volumes/prune');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(Object.keys(r.json).sort(), ['SpaceReclaimed', 'VolumesDeleted']);
  assert.equal(typeof r.json.SpaceReclaimed, 'number');
  const deleted: string[] = r.json.VolumesDeleted ?? [];
  assert.ok(deleted.includes(u1) && deleted.includes(u2), `deleted ${JSON.stringify(deleted)}`);
  assert.ok(!deleted.includes(used), 'a volume a container refers to is kept');
  assert.equal((await volGet(h.d, u1)).status, 404);
  assert.equal((await volGet(h.d, used)).status, 200);
  const again = await h.d.api('POST', '/v1.41/volumes/prune');
  assert.ok(!(again.json.VolumesDeleted ?? []).includes(used));
});

test('volume create and rm are events (Type volume, Actor.ID the name, driver attribute)', async (t) => {
  const j = janitor(t);
  const since = Math.floor(Date.now() / 1000) - 1;
  const name = j.vol(uniq('ev'));
  await volCreate(h.d, { Name: name });
  assert.equal((await h.d.api('DELETE', `/v1.41/volumes/${name}`)).status, 204);
  await new Promise((r) => setTimeout(r, 1100));
  const r = await h.d.api('GET', `/v1.41/events?since=${since}&until=${Math.floor(Date.now() / 1000)}`, undefined, {
    timeoutMs: 10_000,
  });
  assert.equal(r.status, 200);
  const mine = r.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.Type === 'volume' && e.Actor?.ID === name);
  assert.deepEqual(
    mine.map((e) => [e.Action, e.Actor.Attributes.driver]),
    [
      ['create', 'local'],
      ['destroy', 'local'],
    ],
  );
});

// =====================================================================================================
// volumes in containers
// =====================================================================================================

test('a named volume: Mounts in inspect as docker shows them; data survives the container and a daemon restart', async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('keep'));
  const w = await runWith(j, ['sh', '-c', 'echo persisted > /data/f; echo done'], { Binds: [`${name}:/data`] });
  assert.equal(w.code, 0, w.stderr);
  const c = await inspect(h.d, w.id);
  assert.deepEqual(c.Mounts, [
    {
      Type: 'volume',
      Name: name,
      Source: join(h.d.dataRoot, 'volumes', name, '_data'),
      Destination: '/data',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    },
  ]);
  assert.equal((await volGet(h.d, name)).status, 200, 'docker run -v name:/path creates the volume');
  await rm(h.d, w.id, false);
  assert.equal((await volGet(h.d, name)).status, 200, 'the volume outlives its container');
  await h.d.restart();
  const g = await volGet(h.d, name);
  assert.equal(g.status, 200, 'the volume survives a daemon restart');
  assert.equal(g.json.Name, name);
  const r = await runWith(j, ['cat', '/data/f'], { Binds: [`${name}:/data`] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'persisted\n');
});

test("two running containers sharing a volume see each other's writes at once", async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('share'));
  const a = j.ctr(await runDetached(h.d, { name: uniq('sa'), hostConfig: { Binds: [`${name}:/shared`] } }));
  const b = j.ctr(
    await runDetached(h.d, {
      name: uniq('sb'),
      hostConfig: { Mounts: [{ Type: 'volume', Source: name, Target: '/s2' }] },
    }),
  );
  const w = await exec(h.d, a, ['sh', '-c', 'echo from-a > /shared/note']);
  assert.equal(w.code, 0, w.stderr);
  const r = await exec(h.d, b, ['cat', '/s2/note']);
  assert.equal(r.stdout, 'from-a\n');
  const w2 = await exec(h.d, b, ['sh', '-c', 'echo from-b >> /s2/note']);
  assert.equal(w2.code, 0, w2.stderr);
  assert.equal((await exec(h.d, a, ['cat', '/shared/note'])).stdout, 'from-a\nfrom-b\n');
  assert.equal(readFileSync(join(h.d.dataRoot, 'volumes', name, '_data', 'note'), 'utf8'), 'from-a\nfrom-b\n');
});

test('bind mounts: rw writes reach the host; :ro gives the writer EROFS; inspect shows them as docker does', async (t) => {
  const j = janitor(t);
  const dir = j.dir(hostTmp('bind'));
  writeFileSync(join(dir, 'hostfile.txt'), 'from the host\n');
  const rw = await runWith(j, ['sh', '-c', 'cat /data/hostfile.txt; echo from-ctr > /data/out'], {
    Binds: [`${dir}:/data`],
  });
  assert.equal(rw.code, 0, rw.stderr);
  assert.equal(rw.stdout, 'from the host\n');
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'from-ctr\n');
  const ro = await runWith(j, ['sh', '-c', 'ls /data; touch /data/new'], { Binds: [`${dir}:/data:ro`] });
  assert.equal(ro.code, 1);
  assert.equal(ro.stdout, 'hostfile.txt\nout\n');
  assert.match(ro.stderr, /touch: \/data\/new: Read-only file system/);
  assert.ok(!existsSync(join(dir, 'new')));
  const c = await inspect(h.d, ro.id);
  assert.deepEqual(c.Mounts, [
    { Type: 'bind', Source: dir, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' },
  ]);
  // --mount type=bind,readonly
  const m = await runWith(j, ['sh', '-c', 'echo x > /d/y'], {
    Mounts: [{ Type: 'bind', Source: dir, Target: '/d', ReadOnly: true }],
  });
  assert.equal(m.code, 1);
  assert.match(m.stderr, /Read-only file system/);
});

test('local driver options: type=none,o=bind,device=DIR writes into DIR (kept by volume rm); type=tmpfs lives as long as its user', async (t) => {
  const j = janitor(t);
  const dir = j.dir(hostTmp('dev'));
  const b = j.vol(uniq('obind'));
  await volCreate(h.d, { Name: b, DriverOpts: { type: 'none', o: 'bind', device: dir } });
  const r = await runWith(j, ['sh', '-c', 'echo via-volume > /data/f; cat /data/f'], { Binds: [`${b}:/data`] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'via-volume\n');
  const mp = join(h.d.dataRoot, 'volumes', b, '_data');
  await rm(h.d, r.id, false);
  assert.ok(!mountsOfHost().includes(mp), 'the bind is undone when no container uses the volume');
  assert.equal((await h.d.api('DELETE', `/v1.41/volumes/${b}`)).status, 204);
  assert.deepEqual(readdirSync(dir), ['f'], 'removing the volume leaves the device directory alone');
  const tv = j.vol(uniq('otmp'));
  await volCreate(h.d, { Name: tv, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
  const m = await runWith(j, ['sh', '-c', 'grep " /data " /proc/mounts; echo x > /data/f'], { Binds: [`${tv}:/data`] });
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /^tmpfs \/data tmpfs rw,.*size=1024k/);
  assert.deepEqual(
    readdirSync(join(h.d.dataRoot, 'volumes', tv, '_data')),
    [],
    'the tmpfs went away with its container',
  );
});

test('-v with a single host file', async (t) => {
  const j = janitor(t);
  const dir = j.dir(hostTmp('file'));
  writeFileSync(join(dir, 'motd'), 'hello file\n');
  const r = await runWith(j, ['sh', '-c', 'cat /etc/motd /x/y/motd; echo more >> /etc/motd'], {
    Binds: [`${join(dir, 'motd')}:/etc/motd:ro`, `${join(dir, 'motd')}:/x/y/motd`],
  });
  assert.equal(r.stdout, 'hello file\nhello file\n');
  assert.match(r.stderr, /Read-only file system/);
  assert.equal(readFileSync(join(dir, 'motd'), 'utf8'), 'hello file\n');
});

test("-v creates a missing host directory; --mount type=bind refuses it with docker's error", async (t) => {
  const j = janitor(t);
  const base = j.dir(hostTmp('mk'));
  const missing = join(base, 'a', 'b');
  const r = await runWith(j, ['sh', '-c', 'echo made > /data/f'], { Binds: [`${missing}:/data`] });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(statSync(missing).isDirectory(), '-v made the host directory');
  assert.equal(readFileSync(join(missing, 'f'), 'utf8'), 'made\n');
  const gone = join(base, 'nope');
  const c = await createStatus(h.d, { Mounts: [{ Type: 'bind', Source: gone, Target: '/data' }] });
  assert.equal(c.status, 400, c.message);
  assert.equal(c.message, `invalid mount config for type "bind": bind source path does not exist: ${gone}`);
  assert.ok(!existsSync(gone), '--mount did not create it');
});

test('bad mount specs are 400 at create: relative path, .., /proc, /sys, duplicates', async () => {
  const cases: Array<[Json, RegExp]> = [
    [{ Binds: ['./rel:/data'] }, /"\.\/rel" includes invalid characters for a local volume name.*use absolute path/],
    [{ Binds: ['/tmp/../etc:/data'] }, /must not contain '\.\.'/],
    [{ Binds: ['/tmp:/proc'] }, /mounting over \/proc is not allowed/],
    [{ Binds: ['/tmp:/sys/fs'] }, /mounting over \/sys is not allowed/],
    [{ Mounts: [{ Type: 'tmpfs', Target: '/proc' }] }, /mounting over \/proc is not allowed/],
    [{ Tmpfs: { '/sys': '' } }, /mounting over \/sys is not allowed/],
    [{ Binds: ['/tmp:/data', '/var:/data'] }, /Duplicate mount point: \/data/],
    [{ Binds: ['/tmp:data'] }, /mount path must be absolute/],
  ];
  for (const [hc, re] of cases) {
    const c = await createStatus(h.d, hc);
    assert.equal(c.status, 400, `${JSON.stringify(hc)} -> ${c.status} ${c.message}`);
    assert.match(c.message, re, JSON.stringify(hc));
  }
});

test('copy-up: busybox /etc into an empty named volume keeps files, owners and modes; nocopy stays empty; a bind never copies', async (t) => {
  const j = janitor(t);
  // the image's /etc as a container sees it without a volume
  const ref = await runWith(
    j,
    ['sh', '-c', 'cd /etc && for f in passwd group; do stat -c "%n %u:%g:%a" $f; done; cat passwd'],
    {},
  );
  assert.equal(ref.code, 0, ref.stderr);
  const name = j.vol(uniq('etc'));
  const r = await runWith(j, ['cat', '/etc/passwd'], { Binds: [`${name}:/etc`] });
  assert.equal(r.code, 0, r.stderr);
  const mp = join(h.d.dataRoot, 'volumes', name, '_data');
  const have = listing(mp);
  for (const line of ref.stdout.split('\n').slice(0, 2)) {
    const [f, own] = line.split(' ');
    assert.equal(have[f], own, `${f} in the volume: ${have[f]} (image: ${own})`);
  }
  assert.equal(r.stdout, ref.stdout.split('\n').slice(2).join('\n'), 'the container reads the copied passwd');
  assert.equal(readFileSync(join(mp, 'passwd'), 'utf8'), r.stdout);
  assert.deepEqual(
    Object.keys(have)
      .filter((f) => !ETC_MOUNTPOINTS.has(f))
      .sort(),
    ['group', 'passwd'],
  );
  // the volume is not empty any more: a second container does not copy again (its changes stay)
  writeFileSync(join(mp, 'passwd'), 'changed\n');
  const again = await runWith(j, ['cat', '/etc/passwd'], { Binds: [`${name}:/etc`] });
  assert.equal(again.stdout, 'changed\n');
  // nocopy: the volume stays empty
  const nc = j.vol(uniq('nc'));
  const n = await runWith(j, ['ls', '/etc'], { Binds: [`${nc}:/etc:nocopy`] });
  assert.equal(n.code, 0, n.stderr);
  const ncHave = readdirSync(join(h.d.dataRoot, 'volumes', nc, '_data')).filter((f) => !ETC_MOUNTPOINTS.has(f));
  assert.deepEqual(ncHave, [], 'nocopy copied nothing');
  // --mount volume-nocopy too
  const nc2 = j.vol(uniq('nc'));
  await runWith(j, ['true'], {
    Mounts: [{ Type: 'volume', Source: nc2, Target: '/etc', VolumeOptions: { NoCopy: true } }],
  });
  assert.deepEqual(
    readdirSync(join(h.d.dataRoot, 'volumes', nc2, '_data')).filter((f) => !ETC_MOUNTPOINTS.has(f)),
    [],
  );
  // a bind over /etc: the host dir gets no image content
  const dir = j.dir(hostTmp('bindetc'));
  const b = await runWith(j, ['ls', '/etc'], { Binds: [`${dir}:/etc`] });
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(
    readdirSync(dir).filter((f) => !ETC_MOUNTPOINTS.has(f)),
    [],
    'a bind never copies',
  );
});

test('copy-up keeps owners, modes and symlinks; an image VOLUME gets an anonymous volume; rm -v removes it, a plain rm keeps it', async (t) => {
  const j = janitor(t);
  await volTestImage(h.d);
  const img = await h.d.api('GET', '/v1.41/images/voltest:1/json');
  assert.deepEqual(img.json.Config.Volumes, { '/data': {} });
  // image VOLUME /data -> an anonymous volume with the image's content
  const a = await runWith(
    j,
    ['sh', '-c', 'stat -c "%n %u:%g:%a" /data/seed /data/sub; readlink /data/link; cat /data/link'],
    {},
    'voltest:1',
  );
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, '/data/seed 1000:1000:640\n/data/sub 1000:1000:750\nseed\nseeded by the image\n');
  const c = await inspect(h.d, a.id);
  assert.equal(c.Mounts.length, 1);
  const m = c.Mounts[0];
  assert.equal(m.Type, 'volume');
  assert.match(m.Name, /^[0-9a-f]{64}$/);
  assert.equal(m.Destination, '/data');
  assert.equal(m.Driver, 'local');
  assert.equal(m.RW, true);
  j.vol(m.Name);
  const mp = join(h.d.dataRoot, 'volumes', m.Name, '_data');
  assert.deepEqual(listing(mp), { link: '0:0:777->seed', seed: '1000:1000:640', sub: '1000:1000:750' });
  // rm -v removes the anonymous volume
  const del = await h.d.api('DELETE', `/v1.41/containers/${a.id}?v=1`);
  assert.equal(del.status, 204, del.body);
  assert.equal((await volGet(h.d, m.Name)).status, 404, 'rm -v removed the anonymous volume');
  assert.ok(!existsSync(mp));
  // -v /anon (anonymous, no image VOLUME there) and a plain rm: the volume stays
  const b = await runWith(j, ['sh', '-c', 'echo kept > /anon/f'], { Binds: ['/anon'] }, 'voltest:1');
  assert.equal(b.code, 0, b.stderr);
  const bm = (await inspect(h.d, b.id)).Mounts as Json[];
  const anon = bm.find((x) => x.Destination === '/anon');
  const dataVol = bm.find((x) => x.Destination === '/data');
  assert.ok(anon && dataVol, JSON.stringify(bm));
  j.vol(anon.Name);
  j.vol(dataVol.Name);
  const plain = await h.d.api('DELETE', `/v1.41/containers/${b.id}`);
  assert.equal(plain.status, 204, plain.body);
  assert.equal((await volGet(h.d, anon.Name)).status, 200, 'a plain rm keeps anonymous volumes');
  assert.equal(readFileSync(join(h.d.dataRoot, 'volumes', anon.Name, '_data', 'f'), 'utf8'), 'kept\n');
  // --rm (AutoRemove) removes them like rm -v
  const auto = j.ctr(
    await create(h.d, { name: uniq('auto'), cmd: ['true'], image: 'voltest:1', hostConfig: { AutoRemove: true } }),
  );
  const autoVol = ((await inspect(h.d, auto)).Mounts as Json[])[0].Name as string;
  j.vol(autoVol);
  await start(h.d, auto);
  await wait(h.d, auto, 'removed');
  for (let i = 0; i < 50 && (await volGet(h.d, autoVol)).status === 200; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal((await volGet(h.d, autoVol)).status, 404, '--rm removed the anonymous volume');
  // a named volume over the image VOLUME path: no anonymous volume, content copied into the named one
  const named = j.vol(uniq('ovr'));
  const n = await runWith(j, ['cat', '/data/seed'], { Binds: [`${named}:/data`] }, 'voltest:1');
  assert.equal(n.stdout, 'seeded by the image\n');
  const nm = (await inspect(h.d, n.id)).Mounts as Json[];
  assert.deepEqual(
    nm.map((x) => x.Name),
    [named],
  );
  // rm -v never removes a named volume
  await h.d.api('DELETE', `/v1.41/containers/${n.id}?v=1`);
  assert.equal((await volGet(h.d, named)).status, 200);
});

test('--volumes-from sees the same volumes and binds; :ro makes them read-only', async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('vf'));
  const dir = j.dir(hostTmp('vfb'));
  const src = j.ctr(
    await create(h.d, {
      name: uniq('vsrc'),
      cmd: ['sh', '-c', 'echo x > /data/f; echo cfg > /cfg/c'],
      hostConfig: { Binds: [`${name}:/data`, `${dir}:/cfg`] },
    }),
  );
  await start(h.d, src);
  assert.equal(await wait(h.d, src), 0);
  const r = await runWith(j, ['sh', '-c', 'cat /data/f /cfg/c; echo more > /data/g'], { VolumesFrom: [src] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'x\ncfg\n');
  assert.equal(readFileSync(join(h.d.dataRoot, 'volumes', name, '_data', 'g'), 'utf8'), 'more\n');
  const mounts = ((await inspect(h.d, r.id)).Mounts as Json[]).map((m) => [
    m.Type,
    m.Name ?? m.Source,
    m.Destination,
    m.RW,
  ]);
  assert.deepEqual(
    mounts.sort(),
    [
      ['bind', dir, '/cfg', true],
      ['volume', name, '/data', true],
    ].sort(),
  );
  const ro = await runWith(j, ['sh', '-c', 'cat /data/f; touch /data/h'], { VolumesFrom: [`${src}:ro`] });
  assert.equal(ro.code, 1);
  assert.equal(ro.stdout, 'x\n');
  assert.match(ro.stderr, /Read-only file system/);
  // the volume is in use by both containers now
  const busy = await h.d.api('DELETE', `/v1.41/volumes/${name}`);
  assert.equal(busy.status, 409, busy.body);
  const unknown = await createStatus(h.d, { VolumesFrom: ['nosuchcontainer'] });
  assert.equal(unknown.status, 404, unknown.message);
});

test('--tmpfs: a tmpfs with its options inside; nothing left after a restart of the container', async (t) => {
  const j = janitor(t);
  const id = j.ctr(
    await create(h.d, {
      name: uniq('tmpfs'),
      cmd: ['sh', '-c', 'grep " /scratch " /proc/mounts; ls /scratch; echo hi > /scratch/f; cat /scratch/f'],
      hostConfig: { Tmpfs: { '/scratch': 'size=1m,mode=750' } },
    }),
  );
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  let l = await logs(h.d, id);
  const line = l.stdout.split('\n')[0];
  assert.match(line, /^tmpfs \/scratch tmpfs rw,/);
  assert.match(line, /size=1024k/);
  assert.match(line, /mode=750/);
  assert.match(l.stdout, /\nhi\n$/);
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  l = await logs(h.d, id);
  // the second run listed an empty /scratch: the first run's file is gone
  const runs = l.stdout.split(/^tmpfs /m).filter(Boolean);
  assert.equal(runs.length, 2, l.stdout);
  assert.equal(runs[1].split('\n').slice(1).join('\n'), 'hi\n', `second run: ${runs[1]}`);
  assert.ok(!mountsOfHost().some((m) => m.endsWith('/scratch')), 'no tmpfs on the host');
  const c = await inspect(h.d, id);
  assert.deepEqual(c.HostConfig.Tmpfs, { '/scratch': 'size=1m,mode=750' });
  // --mount type=tmpfs, read-only
  const ro = await runWith(j, ['sh', '-c', 'touch /t/x'], {
    Mounts: [{ Type: 'tmpfs', Target: '/t', ReadOnly: true }],
  });
  assert.equal(ro.code, 1);
  assert.match(ro.stderr, /Read-only file system/);
});

test('quota: a --opt size=8m volume gives the writer ENOSPC; the host spends no more than the quota', async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('quota'));
  const v = await volCreate(h.d, { Name: name, Driver: 'local', DriverOpts: { size: '8m' } });
  assert.deepEqual(v.Options, { size: '8m' });
  const volDir = join(h.d.dataRoot, 'volumes', name);
  const du = async () => Number((await run('du', ['-sk', volDir])).stdout.split('\t')[0]) * 1024;
  const free = () => {
    const s = statfsSync(h.d.dataRoot);
    return s.bavail * s.bsize;
  };
  const duBefore = await du();
  const freeBefore = free();
  const r = await runWith(
    j,
    [
      'sh',
      '-c',
      'df -k /data | tail -1; dd if=/dev/zero of=/data/big bs=1M count=20 2>&1; echo rc=$?; ls -l /data/big',
    ],
    { Binds: [`${name}:/data`] },
  );
  const freeAfter = free();
  const duAfter = await du();
  assert.match(r.stdout, /No space left on device/, r.stdout + r.stderr);
  assert.match(r.stdout, /rc=1\n/);
  const dfLine = r.stdout.split('\n')[0].trim().split(/\s+/);
  const total = Number(dfLine[1]) * 1024;
  assert.ok(total > 4 * MiB && total <= 8 * MiB, `df inside: ${r.stdout.split('\n')[0]}`);
  const size = Number(/\s(\d+)\s+\w{3}\s+\d+\s+[\d:]+\s+\/data\/big/.exec(r.stdout)?.[1]);
  assert.ok(size > 0 && size <= 8 * MiB, `the file stopped at the quota: ${size}`);
  // on the host: the volume's backing file grew by at most its size, never by the 20 MB asked for
  assert.ok(duAfter <= 8 * MiB + MiB, `the volume takes ${duAfter} bytes on the host (before: ${duBefore})`);
  const stray = await run('find', [h.d.root, '-xdev', '-name', 'big']);
  assert.equal(stray.stdout, '', "the written file exists only inside the volume's own filesystem");
  t.diagnostic(
    `host free space of the data root: ${freeBefore} -> ${freeAfter} (${((freeBefore - freeAfter) / MiB).toFixed(2)} MiB used; the volume's image holds ${((duAfter - duBefore) / MiB).toFixed(2)} MiB)`,
  );
  // the loop mount is released once no running container uses the volume, and rm frees the space
  const mp = join(volDir, '_data');
  const busy = await h.d.api('DELETE', `/v1.41/volumes/${name}`);
  assert.equal(busy.status, 409, 'the stopped container still refers to it');
  await rm(h.d, r.id, false);
  assert.ok(!mountsOfHost().includes(mp), 'the loop mount is gone after the container stopped');
  const loops = await run('losetup', ['-j', join(volDir, 'disk.img')]);
  assert.equal(loops.stdout.trim(), '', 'no loop device left');
  assert.equal((await h.d.api('DELETE', `/v1.41/volumes/${name}`)).status, 204);
  assert.ok(!existsSync(volDir));
  const finalDelta = freeBefore - free();
  t.diagnostic(
    `after volume rm the data root's free space differs from before by ${(finalDelta / MiB).toFixed(2)} MiB`,
  );
  // copy-up lands inside the quota filesystem (its lost+found does not count as content)
  const etc = j.vol(uniq('qetc'));
  await volCreate(h.d, { Name: etc, DriverOpts: { size: '4m' } });
  const e = await runWith(j, ['sh', '-c', 'cat /etc/passwd; ls /etc; df -k /etc | tail -1'], {
    Binds: [`${etc}:/etc`],
  });
  assert.equal(e.code, 0, e.stderr);
  const lines = e.stdout.split('\n');
  assert.deepEqual(lines.slice(0, 2), [
    'root:x:0:0:root:/root:/bin/sh',
    'nobody:x:65534:65534:nobody:/home:/bin/false',
  ]);
  assert.ok(lines.includes('group') && lines.includes('lost+found'), e.stdout);
  assert.ok(
    Number(
      lines
        .find((l) => /^\/dev\/loop\d+\s/.test(l))
        ?.trim()
        .split(/\s+/)[1],
    ) <= 4096,
    `a 4m filesystem over /etc: ${e.stdout}`,
  );
});

test('a daemon crash during copy-up: the half-copied volume is wiped and copied again on the next start', async (t) => {
  const j = janitor(t);
  const name = j.vol(uniq('crash'));
  await volCreate(h.d, { Name: name });
  const mp = join(h.d.dataRoot, 'volumes', name, '_data');
  // a copy cut short: the record says 'copying', the directory holds a partial copy plus junk
  await h.d.shutdown();
  try {
    const db = new Database(join(h.d.dataRoot, 'cocon.db'));
    try {
      const row = db.prepare('SELECT record FROM volumes WHERE name = ?').get(name) as { record: string } | undefined;
      assert.ok(row, 'the volume record is in the db');
      const rec = JSON.parse(row.record);
      rec.copyState = 'copying';
      db.prepare('UPDATE volumes SET record = ? WHERE name = ?').run(JSON.stringify(rec), name);
    } finally {
      db.close();
    }
    writeFileSync(join(mp, 'passwd'), 'root:x:0:0:half');
    writeFileSync(join(mp, 'junk'), 'junk');
    mkdirSync(join(mp, 'junkdir/deeper'), { recursive: true });
  } finally {
    await h.d.restart();
  }
  const r = await runWith(j, ['cat', '/etc/passwd'], { Binds: [`${name}:/etc`] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  assert.deepEqual(
    readdirSync(mp)
      .filter((f) => !ETC_MOUNTPOINTS.has(f))
      .sort(),
    ['group', 'passwd'],
  );
  // once complete, the record says so
  const db = new Database(join(h.d.dataRoot, 'cocon.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT record FROM volumes WHERE name = ?').get(name) as { record: string };
    assert.equal(JSON.parse(row.record).copyState, 'done');
  } finally {
    db.close();
  }
});
