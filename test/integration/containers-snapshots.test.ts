// Containers on the snapshotter, through the API of a real daemon: docker diff, export and cp of a
// stopped container, inspect's GraphDriver, a force-deleted image's layers kept for its container,
// and an install of before the snapshotter (upper/work under containers/<id>, overlay/holds.json)
// whose containers keep their data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import Database from 'better-sqlite3';
import { useDaemon, uniq, waitFor } from '../helpers/daemon.js';
import { create, start, wait, inspect, logs, rm } from '../helpers/containers.js';
import { readTar } from '../helpers/snapshots-contract.js';

const h = useDaemon({ busybox: true });

function layerDirs(): string[] {
  return readdirSync(join(h.d.dataRoot, 'overlay')).filter((x) => /^[a-f0-9]{64}$/.test(x));
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644 }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('docker diff, export and cp of a stopped container read and write its snapshot; inspect shows its dirs', async () => {
  const id = await create(h.d, {
    name: uniq('snap'),
    cmd: ['sh', '-c', 'echo hi > /tmp/new; rm /etc/group; mkdir /root/x'],
  });
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  const ch = await h.d.api('GET', `/containers/${id}/changes`);
  assert.equal(ch.status, 200);
  assert.deepEqual(ch.json, [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
    { Path: '/root', Kind: 0 },
    { Path: '/root/x', Kind: 1 },
    { Path: '/tmp', Kind: 0 },
    { Path: '/tmp/new', Kind: 1 },
  ]);
  const ex = await h.d.api('GET', `/containers/${id}/export`, undefined, { timeoutMs: 60_000 });
  assert.equal(ex.status, 200);
  const names = (await readTar(Readable.from([ex.raw]))).map((m) => m.name.replace(/^\.\//, '').replace(/\/$/, ''));
  assert.ok(
    names.includes('tmp/new') && names.includes('root/x') && names.includes('bin/busybox'),
    'export lacks the container files',
  );
  assert.ok(!names.includes('etc/group'), 'export shows a file the container deleted');
  // cp into the stopped container lands in its snapshot
  const put = await h.d.api('PUT', `/containers/${id}/archive?path=/tmp`, undefined, {
    raw: await tarOf({ copied: 'in\n' }),
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(put.status, 200, put.body);
  const after = await h.d.api('GET', `/containers/${id}/changes`);
  assert.ok(
    after.json.some((c: { Path: string; Kind: number }) => c.Path === '/tmp/copied' && c.Kind === 1),
    JSON.stringify(after.json),
  );
  const g = (await inspect(h.d, id)).GraphDriver;
  assert.equal(g.Name, 'overlay2');
  assert.ok(g.Data.UpperDir.startsWith(join(h.d.dataRoot, 'overlay/snapshots/')), g.Data.UpperDir);
  assert.ok(existsSync(join(g.Data.UpperDir, 'tmp/copied')), 'cp did not write the upper dir');
  assert.ok(
    g.Data.LowerDir.split(':').every((d: string) => existsSync(d)),
    g.Data.LowerDir,
  );
  assert.equal(g.Data.MergedDir, join(h.d.dataRoot, 'containers', id, 'rootfs'));
  await rm(h.d, id);
  assert.ok(!existsSync(g.Data.UpperDir), 'the snapshot outlived its container');
  assert.ok(!existsSync(join(g.Data.UpperDir, '..')), 'the snapshot dir outlived its container');
});

test('rmi -f of an image a stopped container uses: the container still starts; its layers go with it', async () => {
  const before = layerDirs().length;
  const imp = await h.d.api('POST', '/images/create?fromSrc=-&repo=snapheld&tag=1', undefined, {
    raw: await tarOf({ 'bin/placeholder': '' }),
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(imp.status, 200, imp.body);
  assert.equal(layerDirs().length, before + 1);
  // a one-layer image without a shell: busybox's static binary goes in by cp
  const id = await create(h.d, { image: 'snapheld:1', cmd: ['/bin/busybox', 'cat', '/bin/placeholder'] });
  const p = pack();
  p.entry({ name: 'busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  assert.equal(
    (await h.d.api('PUT', `/containers/${id}/archive?path=/bin`, undefined, { raw: Buffer.concat(chunks) })).status,
    200,
  );
  const del = await h.d.api('DELETE', '/images/snapheld:1?force=1');
  assert.equal(del.status, 200, del.body);
  assert.equal(layerDirs().length, before + 1, 'the layer of a force-deleted image in use was removed');
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  assert.equal((await logs(h.d, id)).stdout, '');
  await rm(h.d, id);
  // removing the container collects the layers of its deleted image in the background
  await waitFor('the layer of a force-deleted image goes with its last container', () => layerDirs().length === before);
});

test('an install of before the snapshotter: containers keep their upper dir and data; holds.json becomes rows', async () => {
  const id = await create(h.d, {
    name: uniq('old'),
    cmd: ['sh', '-c', 'cat /data.txt 2>/dev/null; echo run >> /data.txt'],
  });
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  const g = (await inspect(h.d, id)).GraphDriver.Data;
  const busyboxTop =
    (await h.d.api('GET', '/images/busybox/json')).json.RootFS.Layers.length === 1
      ? ((await h.d.api('GET', '/images/busybox/json')).json.RootFS.Layers[0] as string)
      : undefined;
  assert.ok(busyboxTop, 'busybox has one layer');
  await h.d.shutdown();
  // What an older daemon left: upper and work beside the rootfs, no snapshot row, holds in a file.
  const data = join(h.d.dataRoot, 'containers', id);
  renameSync(g.UpperDir, join(data, 'upper'));
  renameSync(g.WorkDir, join(data, 'work'));
  const fakeImage = 'sha256:' + 'f'.repeat(64);
  writeFileSync(join(h.d.dataRoot, 'overlay/holds.json'), JSON.stringify({ [fakeImage]: [busyboxTop] }));
  const db = new Database(join(h.d.dataRoot, 'cocon.db'));
  try {
    db.prepare('DELETE FROM snapshots WHERE key = ?').run(id);
  } finally {
    db.close();
  }
  mkdirSync(join(h.d.dataRoot, 'overlay/snapshots/leftover'), { recursive: true }); // a crash leftover: swept
  await h.d.restart();

  assert.ok(!existsSync(join(h.d.dataRoot, 'overlay/holds.json')), 'holds.json was not migrated');
  assert.ok(!existsSync(join(h.d.dataRoot, 'overlay/snapshots/leftover')), 'an unrecorded snapshot dir was not swept');
  const ro = new Database(join(h.d.dataRoot, 'cocon.db'), { readonly: true });
  try {
    assert.deepEqual(ro.prepare('SELECT chain_id FROM layer_holds WHERE holder = ?').all('image:' + fakeImage), [
      { chain_id: busyboxTop },
    ]);
    const row = ro.prepare('SELECT kind, parent, upper FROM snapshots WHERE key = ?').get(id) as {
      kind: string;
      parent: string;
      upper: string;
    };
    assert.deepEqual(row, { kind: 'active', parent: busyboxTop, upper: `../containers/${id}/upper` });
  } finally {
    ro.close();
  }
  const g2 = (await inspect(h.d, id)).GraphDriver.Data;
  assert.equal(g2.UpperDir, join(data, 'upper'));
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 0);
  assert.equal((await logs(h.d, id)).stdout, 'run\n', 'the container lost its data');
  assert.deepEqual((await h.d.api('GET', `/containers/${id}/changes`)).json, [{ Path: '/data.txt', Kind: 1 }]); // no /etc: the init layer holds the engine's mount points
  await rm(h.d, id);
  assert.ok(!existsSync(data), 'the adopted dirs outlived the container');
});
