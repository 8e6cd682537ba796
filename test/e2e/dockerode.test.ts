// dockerode (npm), a widely used Node client of the Docker Engine API, against a real cocon daemon:
// containers (create, attach, start, logs, wait, remove, and docker.run), exec, images (list,
// inspect, tag, remove), networks (create, connect with aliases, inspect, disconnect, remove) and
// volumes (create, list with label filters, inspect, remove), unversioned and pinned to /v1.43.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { uniq } from '../helpers/daemon.js';
import { useBridgeDaemon } from '../integration/network-common.js';

const h = useBridgeDaemon('cdo', 21, 224);

const client = () => new Docker({ socketPath: h.d.socket });
const pinned = () => new Docker({ socketPath: h.d.socket, version: 'v1.43' });

/** Collects a stream's bytes until it ends. */
function collect(s: PassThrough): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    s.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

test('dockerode: version and ping', async () => {
  const docker = client();
  assert.equal(String(await docker.ping()), 'OK');
  const v = await pinned().version();
  assert.equal(v.ApiVersion, '1.43');
  assert.equal(v.Os, 'linux');
});

test('dockerode: create, attach, start, wait, logs, inspect, remove', async (t) => {
  const docker = client();
  const name = uniq('dode');
  const c = await docker.createContainer({
    name,
    Image: 'busybox',
    Cmd: ['sh', '-c', 'echo out-line; echo err-line >&2; exit 3'],
    Labels: { 'dockerode.test': '1' },
    HostConfig: { NetworkMode: 'none' },
  });
  t.after(() => c.remove({ force: true }).catch(() => undefined));
  const stream = await c.attach({ stream: true, stdout: true, stderr: true });
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  stream.on('end', () => {
    out.end();
    err.end();
  });
  const gotOut = collect(out);
  const gotErr = collect(err);
  await c.start();
  const w = await c.wait();
  assert.equal(w.StatusCode, 3);
  assert.equal(await gotOut, 'out-line\n');
  assert.equal(await gotErr, 'err-line\n');

  const logs = await c.logs({ stdout: true, stderr: true, follow: false });
  const lo = new PassThrough();
  const le = new PassThrough();
  const a = collect(lo);
  const b = collect(le);
  const src = new PassThrough();
  docker.modem.demuxStream(src, lo, le);
  src.on('end', () => {
    lo.end();
    le.end();
  });
  src.end(logs);
  assert.equal(await a, 'out-line\n');
  assert.equal(await b, 'err-line\n');

  const info = await c.inspect();
  assert.equal(info.Name, '/' + name);
  assert.equal(info.State.Status, 'exited');
  assert.equal(info.State.ExitCode, 3);
  const listed = await docker.listContainers({ all: true, filters: { label: ['dockerode.test=1'], name: [name] } });
  assert.deepEqual(
    listed.map((x) => x.Id),
    [c.id],
  );

  await c.remove();
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test('dockerode: docker.run collects the output; exec runs in a running container', async (t) => {
  const docker = pinned();
  // dockerode's run defaults to Tty: true (one raw stream, through a pty: \r\n); [out, err] needs Tty: false
  const tty = new PassThrough();
  const gotTty = collect(tty);
  const [r1, c1] = (await docker.run('busybox', ['echo', 'hello world'], tty, {
    HostConfig: { NetworkMode: 'none' },
  })) as [{ StatusCode: number }, Docker.Container];
  t.after(() => c1.remove({ force: true }).catch(() => undefined));
  assert.equal(r1.StatusCode, 0);
  assert.equal(await gotTty, 'hello world\r\n');
  const out = new PassThrough();
  const err = new PassThrough();
  const got = collect(out);
  const gotErr = collect(err);
  const [res, c] = (await docker.run('busybox', ['sh', '-c', 'echo hello world; echo oops >&2'], [out, err], {
    Tty: false,
    HostConfig: { NetworkMode: 'none' },
  })) as [{ StatusCode: number }, Docker.Container];
  t.after(() => c.remove({ force: true }).catch(() => undefined));
  assert.equal(res.StatusCode, 0);
  assert.equal(await got, 'hello world\n');
  assert.equal(await gotErr, 'oops\n');

  const live = await docker.createContainer({
    Image: 'busybox',
    Cmd: ['sleep', '60'],
    HostConfig: { NetworkMode: 'none' },
  });
  t.after(() => live.remove({ force: true }).catch(() => undefined));
  await live.start();
  const ex = await live.exec({ Cmd: ['sh', '-c', 'echo from-exec; exit 4'], AttachStdout: true, AttachStderr: true });
  const s = await ex.start({ hijack: true, stdin: false });
  const eo = new PassThrough();
  const ee = new PassThrough();
  docker.modem.demuxStream(s, eo, ee);
  s.on('end', () => {
    eo.end();
    ee.end();
  });
  assert.equal(await collect(eo), 'from-exec\n');
  const ei = await ex.inspect();
  assert.equal(ei.ExitCode, 4);
  assert.equal(ei.Running, false);
  await live.stop({ t: 1 });
  assert.equal((await live.inspect()).State.Running, false);
});

test('dockerode: images list, inspect, tag, remove', async () => {
  const docker = client();
  const images = await docker.listImages();
  const bb = images.find((i) => (i.RepoTags ?? []).includes('busybox:latest'));
  assert.ok(bb, `busybox not listed: ${JSON.stringify(images.map((i) => i.RepoTags))}`);
  const img = docker.getImage('busybox');
  const info = await img.inspect();
  assert.equal(info.Id, bb.Id);
  assert.equal(info.Os, 'linux');
  const repo = uniq('dodeimg');
  await img.tag({ repo, tag: 'v2' });
  const tagged = await docker.getImage(`${repo}:v2`).inspect();
  assert.equal(tagged.Id, info.Id);
  const filtered = await docker.listImages({ filters: { reference: [`${repo}:v2`] } });
  assert.deepEqual(
    filtered.map((i) => i.RepoTags),
    [[`${repo}:v2`]],
  );
  const removed = await docker.getImage(`${repo}:v2`).remove();
  assert.deepEqual(removed, [{ Untagged: `${repo}:v2` }]);
  await assert.rejects(docker.getImage(`${repo}:v2`).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  assert.equal((await img.inspect()).Id, info.Id, 'untagging a second name removed the image');
});

test('dockerode: networks create, connect with an alias (resolved by a peer), inspect, disconnect, remove', async (t) => {
  const docker = client();
  const netName = uniq('donet');
  const net = await docker.createNetwork({ Name: netName, Driver: 'bridge', Labels: { 'dockerode.test': '1' } });
  t.after(() => net.remove().catch(() => undefined));
  const listed = await docker.listNetworks({ filters: { label: ['dockerode.test=1'] } });
  assert.deepEqual(
    listed.map((n) => n.Name),
    [netName],
  );
  const peer = await docker.createContainer({
    Image: 'busybox',
    Cmd: ['sleep', '60'],
    HostConfig: { NetworkMode: netName },
  });
  t.after(() => peer.remove({ force: true }).catch(() => undefined));
  await peer.start();
  // a container on the default bridge, connected to the user network with an alias
  const srv2 = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '60'] });
  t.after(() => srv2.remove({ force: true }).catch(() => undefined));
  await srv2.start();
  await net.connect({ Container: srv2.id, EndpointConfig: { Aliases: ['db-alias'] } });
  const ni = await net.inspect();
  assert.ok(ni.Containers?.[srv2.id], `srv2 not in ${JSON.stringify(ni.Containers)}`);
  const ip = (await srv2.inspect()).NetworkSettings.Networks[netName].IPAddress;
  assert.match(ip, /^10\./);
  const ex = await peer.exec({ Cmd: ['nslookup', 'db-alias'], AttachStdout: true, AttachStderr: true });
  const s = await ex.start({ hijack: true, stdin: false });
  const o = new PassThrough();
  const e = new PassThrough();
  docker.modem.demuxStream(s, o, e);
  s.on('end', () => {
    o.end();
    e.end();
  });
  const [lookup] = await Promise.all([collect(o), collect(e)]);
  assert.ok(lookup.includes(ip), `nslookup db-alias from a peer: ${lookup}`);
  await net.disconnect({ Container: srv2.id });
  assert.equal((await srv2.inspect()).NetworkSettings.Networks[netName], undefined);
  await peer.remove({ force: true });
  await net.remove();
  await assert.rejects(net.inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
});

test('dockerode: volumes create, list with ANDed label filters, inspect, use, remove', async (t) => {
  const docker = client();
  const a = uniq('dovol');
  const b = uniq('dovol');
  t.after(async () => {
    for (const n of [a, b])
      await docker
        .getVolume(n)
        .remove({ force: true })
        .catch(() => undefined);
  });
  await docker.createVolume({ Name: a, Labels: { 'dockerode.vol': '1' } });
  await docker.createVolume({ Name: b, Labels: { 'dockerode.vol': '1', tier: 'db' } });
  const both = await docker.listVolumes({ filters: { label: ['dockerode.vol=1', 'tier=db'] } });
  assert.deepEqual(
    both.Volumes.map((v) => v.Name),
    [b],
  );
  const info = await docker.getVolume(a).inspect();
  assert.equal(info.Name, a);
  assert.equal(info.Driver, 'local');
  const out = new PassThrough();
  const err = new PassThrough();
  const got = collect(out);
  const [res, c] = (await docker.run('busybox', ['sh', '-c', 'echo kept > /v/f; cat /v/f'], [out, err], {
    Tty: false,
    HostConfig: { NetworkMode: 'none', Binds: [`${a}:/v`] },
  })) as [{ StatusCode: number }, Docker.Container];
  assert.equal(res.StatusCode, 0);
  assert.equal(await got, 'kept\n');
  await assert.rejects(docker.getVolume(a).remove(), (e: { statusCode?: number }) => e.statusCode === 409);
  await c.remove();
  await docker.getVolume(a).remove();
  await assert.rejects(docker.getVolume(a).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test("dockerode: filters in the map form ({label: {k: true}}) are ANDed; swarm calls get dockerd's 503; a followed log stream dropped midway leaves the daemon serving", async (t) => {
  const docker = client();
  const key = uniq('dof');
  const a = await docker.createContainer({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'while :; do echo tick; sleep 0.05; done'],
    Labels: { [key]: '1', tier: 'db' },
    HostConfig: { NetworkMode: 'none' },
  });
  const b = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], Labels: { [key]: '1' } });
  t.after(async () => {
    for (const c of [a, b]) await c.remove({ force: true }).catch(() => undefined);
  });
  // docker's older map form, as a string (dockerode sends strings as they are)
  const both = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: { [key]: true, 'tier=db': true } }),
  });
  assert.deepEqual(
    both.map((c) => c.Id),
    [a.id],
  );
  const one = await docker.listContainers({ all: true, filters: JSON.stringify({ label: { [key]: true } }) });
  assert.equal(one.length, 2);

  await assert.rejects(
    docker.swarmLeave({ force: true }),
    (e: { statusCode?: number; json?: { message?: string } }) => {
      assert.equal(e.statusCode, 503);
      assert.equal(e.json?.message, 'This node is not part of a swarm');
      return true;
    },
  );
  await assert.rejects(docker.listServices(), (e: { statusCode?: number }) => e.statusCode === 503);

  await a.start();
  const logs = (await a.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & {
    destroy(): void;
  };
  await new Promise<void>((resolve) => logs.once('data', () => resolve()));
  logs.destroy();
  for (let i = 0; i < 3; i++) {
    const s = (await a.logs({ follow: true, stdout: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
  }
  assert.equal(String(await docker.ping()), 'OK');
  assert.equal((await a.inspect()).State.Running, true);
  const st = await a.stats({ stream: false });
  assert.ok(st.memory_stats, 'the daemon still answers');
});
