// ImageService on a temporary data root with real GNU tar (needs root for numeric owners).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  rmSync,
  mkdirSync,
  writeFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  lstatSync,
  readlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { ImageService } from '../../src/images/service.js';
import { openDb, type DB } from '../../src/store/db.js';
import { EventBus } from '../../src/core/events.js';
import { resolveConfig } from '../../src/daemon/config.js';
import { statusOf } from '../../src/api/httpstatus.js';

let root: string;
let db: DB;
let svc: ImageService;
let events: EventBus;
let users: Record<string, Array<{ id: string; running: boolean }>> = {};

function makeTar(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(root, 'src-'));
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  const out = execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function status(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return { status: statusOf(e), message: (e as Error).message };
  }
  return { status: 0, message: '' };
}

function layerDirCount(): number {
  return readdirSync(join(root, 'overlay')).filter((e) => /^[a-f0-9]{64}$/.test(e)).length;
}
function blobCount(): number {
  return readdirSync(join(root, 'content/sha256')).length;
}

before(() => {
  root = mkdtempSync('/tmp/cocon-images-test-');
  db = openDb(join(root, 'cocon.db'));
  events = new EventBus();
  svc = new ImageService(
    resolveConfig({ dataRoot: root, execRoot: join(root, 'run') }),
    db,
    events,
    undefined,
    (id) => users[id] ?? [],
  );
});

after(() => {
  db.close();
  rmSync(root, { recursive: true, force: true });
});

test('bootstrap busybox twice gives the same id; rootfs is usable', async () => {
  const a = await svc.bootstrapBusybox();
  const b = await svc.bootstrapBusybox();
  assert.equal(a, b);
  assert.match(a, /^sha256:[a-f0-9]{64}$/);
  const img = svc.get('busybox');
  assert.equal(img.id, a);
  assert.deepEqual(svc.get('busybox:latest').config.Cmd, ['sh']);
  assert.deepEqual(img.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  assert.equal(svc.get(a.slice(7, 19)).id, a);
  assert.equal(svc.get(a).id, a);
  assert.deepEqual(svc.repoTags(a), ['busybox:latest']);
  assert.equal(svc.count(), 1);
  const [dir] = svc.layerDirs(img);
  assert.ok(lstatSync(join(dir, 'bin/busybox')).isFile());
  assert.equal(readlinkSync(join(dir, 'bin/sh')), 'busybox');
  assert.match(readFileSync(join(dir, 'etc/passwd'), 'utf8'), /^nobody:x:65534:65534:/m);
  assert.equal(lstatSync(join(dir, 'bin/busybox')).uid, 0);
  assert.equal(lstatSync(join(dir, 'tmp')).mode & 0o7777, 0o1777);
  // the content store holds the config blob under the image id and the layer under its diff id
  assert.ok(existsSync(join(root, 'content/sha256', a.slice(7))));
  assert.ok(existsSync(join(root, 'content/sha256', img.diffIds[0].slice(7))));
  const cfg = JSON.parse(readFileSync(join(root, 'content/sha256', a.slice(7)), 'utf8'));
  assert.deepEqual(cfg.rootfs, { type: 'layers', diff_ids: img.diffIds });
  assert.equal(cfg.architecture, 'amd64');
  assert.equal(cfg.os, 'linux');
  const ins = svc.inspect('busybox');
  assert.deepEqual(ins.RootFS, { Type: 'layers', Layers: img.diffIds });
  assert.equal((ins.GraphDriver as { Name: string }).Name, 'overlay2');
  const h = svc.history('busybox');
  assert.equal(h.length, 1);
  assert.equal(h[0].Id, a);
  assert.deepEqual(h[0].Tags, ['busybox:latest']);
});

test('unknown images: 404 with docker wording', async () => {
  assert.deepEqual(await status(Promise.resolve().then(() => svc.get('nosuchimage'))), {
    status: 404,
    message: 'No such image: nosuchimage:latest',
  });
  assert.deepEqual(await status(svc.remove('nosuchimage:latest')), {
    status: 404,
    message: 'No such image: nosuchimage:latest',
  });
  assert.equal((await status(Promise.resolve().then(() => svc.get('NoSuch')))).status, 400);
});

test('import a tar with changes, gzip too; shared layers stored once', async () => {
  const tar = makeTar({ 'hello.txt': 'hello\n', 'etc/app.conf': 'x=1\n' });
  const id = await svc.import(Readable.from([tar]), {
    repo: 'imported:v1',
    fromSrc: '-',
    changes: [
      'ENV A=1 B=2',
      'CMD ["/hello"]',
      'WORKDIR /srv',
      'LABEL k=v',
      'EXPOSE 80',
      'USER nobody',
      'STOPSIGNAL SIGTERM',
    ],
  });
  const img = svc.get('imported:v1');
  assert.equal(img.id, id);
  assert.deepEqual(img.config.Env, ['A=1', 'B=2']);
  assert.deepEqual(img.config.Cmd, ['/hello']);
  assert.equal(img.config.WorkingDir, '/srv');
  assert.deepEqual(img.config.Labels, { k: 'v' });
  assert.equal(img.comment, 'Imported from -');
  assert.equal(readFileSync(join(svc.layerDirs(img)[0], 'hello.txt'), 'utf8'), 'hello\n');
  const layers = layerDirCount();
  // same content, gzip-compressed, another tag: same diff id, layer stored once
  const id2 = await svc.import(Readable.from([gzipSync(tar)]), {
    repo: 'imported',
    tag: 'gz',
    fromSrc: '-',
    message: 'from gzip',
  });
  assert.deepEqual(svc.get('imported:gz').diffIds, img.diffIds);
  assert.notEqual(id2, id);
  assert.equal(layerDirCount(), layers);
  // list filters
  const refs = svc
    .list({ filters: { reference: ['imported'] } })
    .flatMap((i) => i.RepoTags)
    .sort();
  assert.deepEqual(refs, ['imported:gz', 'imported:v1']);
  assert.deepEqual(
    svc.list({ filters: { label: ['k=v'] } }).map((i) => i.Id),
    [id],
  );
  assert.equal(svc.list({ filters: { dangling: ['true'] } }).length, 0);
  // remove one, the shared layer stays
  const out = await svc.remove('imported:gz');
  assert.deepEqual(out, [{ Untagged: 'imported:gz' }, { Deleted: id2 }]);
  assert.equal(layerDirCount(), layers);
});

test('tag, untag, remove like docker', async () => {
  const id = svc.get('imported:v1').id;
  await svc.tag('imported:v1', 'docker.io/library/other', 'x');
  await svc.tag(id.slice(7, 19), 'localhost:5000/a/b');
  assert.deepEqual(svc.repoTags(id), ['imported:v1', 'localhost:5000/a/b:latest', 'other:x']);
  assert.equal(svc.list({ filters: { reference: ['other'] } })[0].RepoTags!.join(), 'other:x');
  // one of several tags: only untags
  assert.deepEqual(await svc.remove('other:x'), [{ Untagged: 'other:x' }]);
  // by id with several tags: must be forced
  const c = await status(svc.remove(id.slice(7, 19)));
  assert.equal(c.status, 409);
  assert.equal(
    c.message,
    `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
  );
  // in use by a stopped container, by name with one tag left
  await svc.remove('localhost:5000/a/b');
  users[id] = [{ id: 'c0ffee000000111122223333444455556666777788889999aaaabbbbccccdddd', running: false }];
  const u = await status(svc.remove('imported:v1'));
  assert.equal(u.status, 409);
  assert.equal(
    u.message,
    `conflict: unable to remove repository reference "imported:v1" (must force) - container c0ffee000000 is using its referenced image ${id.slice(7, 19)}`,
  );
  const byId = await status(svc.remove(id));
  assert.equal(
    byId.message,
    `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container c0ffee000000`,
  );
  users[id] = [{ id: 'c0ffee000000111122223333444455556666777788889999aaaabbbbccccdddd', running: true }];
  // forced by name while running: untagged, image stays dangling
  assert.deepEqual(await svc.remove('imported:v1', true), [{ Untagged: 'imported:v1' }]);
  assert.equal(svc.get(id).id, id);
  assert.deepEqual(
    svc.list({ filters: { dangling: ['true'] } }).map((i) => [i.Id, i.RepoTags]),
    [[id, ['<none>:<none>']]],
  );
  const hard = await status(svc.remove(id, true));
  assert.match(hard.message, /cannot be forced\) - image is being used by running container c0ffee000000/);
  users = {};
  const before = layerDirCount();
  const out = await svc.remove(id);
  assert.deepEqual(out.slice(0, 1), [{ Deleted: id }]);
  assert.equal(out.length, 2); // image + its (no longer shared) layer
  assert.equal(layerDirCount(), before - 1);
  assert.equal((await status(Promise.resolve().then(() => svc.get(id)))).status, 404);
});

test('bad tar or bad change: clear error, nothing recorded, nothing left', async () => {
  const images = svc.count();
  const layers = layerDirCount();
  const blobs = blobCount();
  const garbage = await status(
    svc.import(Readable.from([Buffer.from('this is not a tar archive at all\n'.repeat(100))]), {
      repo: 'bad',
      fromSrc: '-',
    }),
  );
  assert.equal(garbage.status, 400);
  assert.match(garbage.message, /invalid tar archive/);
  const empty = await status(svc.import(Readable.from([Buffer.alloc(0)]), { repo: 'bad', fromSrc: '-' }));
  assert.equal(empty.status, 400);
  const evil = execFileSync('python3', [
    '-c',
    `
import tarfile, io, sys
t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|')
for n in ['ok.txt', '../escape.txt']:
    ti = tarfile.TarInfo(n); ti.size = 1; t.addfile(ti, io.BytesIO(b'x'))
t.close()`,
  ]);
  const dots = await status(svc.import(Readable.from([evil]), { repo: 'bad', fromSrc: '-' }));
  assert.equal(dots.status, 400);
  assert.match(dots.message, /\.\./);
  const symlinkEscape = execFileSync('python3', [
    '-c',
    `
import tarfile, io, sys
t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|')
ti = tarfile.TarInfo('link'); ti.type = tarfile.SYMTYPE; ti.linkname = '${root}/outside'; t.addfile(ti)
ti = tarfile.TarInfo('link/evil'); ti.size = 1; t.addfile(ti, io.BytesIO(b'x'))
t.close()`,
  ]);
  mkdirSync(join(root, 'outside'));
  const esc = await status(svc.import(Readable.from([symlinkEscape]), { repo: 'bad', fromSrc: '-' }));
  assert.equal(esc.status, 400);
  assert.deepEqual(readdirSync(join(root, 'outside')), []);
  const change = await status(
    Promise.resolve().then(() =>
      svc.import(Readable.from([makeTar({ a: 'b' })]), { repo: 'bad', changes: ['RUN rm -rf /'] }),
    ),
  );
  assert.deepEqual(change, { status: 400, message: 'run is not a valid change command' });
  const ref = await status(
    Promise.resolve().then(() => svc.import(Readable.from([makeTar({ a: 'b' })]), { repo: 'Bad' })),
  );
  assert.equal(ref.status, 400);
  assert.equal(svc.count(), images);
  assert.equal(layerDirCount(), layers);
  assert.equal(blobCount(), blobs);
  assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
  assert.deepEqual(readdirSync(join(root, 'overlay/.tmp')), []);
  assert.equal((await status(Promise.resolve().then(() => svc.get('bad')))).status, 404);
});

test('events: import, tag, untag, delete', async () => {
  const seen: string[] = [];
  events.on('event', (e: { Type: string; Action: string }) => {
    if (e.Type === 'image') seen.push(e.Action);
  });
  await svc.import(Readable.from([makeTar({ e: 'v' })]), { repo: 'ev', fromSrc: '-' });
  await svc.remove('ev');
  assert.deepEqual(seen, ['import', 'tag', 'untag', 'delete']);
});

test('prune: dangling by default, unused with dangling=false', async () => {
  const a = await svc.import(Readable.from([makeTar({ p: '1' })]), { repo: 'prune-a', fromSrc: '-' });
  await svc.import(Readable.from([makeTar({ p: '2' })]), { repo: 'prune-a', fromSrc: '-' }); // a now dangles
  const keep = await svc.import(Readable.from([makeTar({ p: '3' })]), {
    repo: 'prune-keep',
    fromSrc: '-',
    changes: ['LABEL keep=yes'],
  });
  const r = await svc.prune();
  assert.deepEqual(r.ImagesDeleted![0], { Deleted: a });
  assert.equal(r.SpaceReclaimed, 1);
  assert.deepEqual(await svc.prune(), { ImagesDeleted: null, SpaceReclaimed: 0 });
  const busybox = svc.get('busybox').id;
  users[busybox] = [{ id: 'f'.repeat(64), running: true }];
  const all = await svc.prune({ dangling: ['false'], 'label!': ['keep=yes'] });
  assert.ok(all.ImagesDeleted!.some((d) => 'Untagged' in d && d.Untagged === 'prune-a:latest'));
  assert.equal(svc.get('prune-keep').id, keep);
  assert.equal(svc.get('busybox').id, busybox);
  users = {};
});

test('force-deleting an image a stopped container uses keeps its layers until the container is gone', async () => {
  const id = await svc.import(Readable.from([makeTar({ held: 'yes' })]), { repo: 'held', fromSrc: '-' });
  const img = svc.get(id);
  const ctr = 'e'.repeat(64);
  users[id] = [{ id: ctr, running: false }];
  const out = await svc.remove(id, true);
  assert.deepEqual(out, [{ Untagged: 'held:latest' }, { Deleted: id }]);
  assert.ok(existsSync(svc.layerDirs(img)[0]), 'layer kept for the container');
  assert.deepEqual(await svc.gcLayers(), []);
  users = {};
  assert.deepEqual(await svc.gcLayers(), [img.chainIds[0]]);
  assert.ok(!existsSync(svc.layerDirs(img)[0]));
});
