// Content store and overlay snapshotter on a temp data root: atomic ingest, digest checks, layer apply.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { ContentStore, sha256Digest } from '../../src/content/store.js';
import { OverlaySnapshotter } from '../../src/snapshots/overlay.js';
import { chainIds } from '../../src/snapshots/chain.js';
import { openDb, type DB } from '../../src/store/db.js';
import { InvalidArgument, NotFound } from '../../src/core/errors.js';
import { LayerError } from '../../src/sys/tar/rules.js';

let root: string;
let db: DB;
let cs: ContentStore;
let snaps: OverlaySnapshotter;

before(() => {
  root = mkdtempSync('/tmp/cocon-content-test-');
  db = openDb(join(root, 'cocon.db'));
  cs = new ContentStore(join(root, 'content'));
  snaps = new OverlaySnapshotter(join(root, 'overlay'), db);
});
after(() => {
  db.close();
  rmSync(root, { recursive: true, force: true });
});

test('ingest, verify, read, delete', async () => {
  const data = Buffer.from('hello content');
  const d = sha256Digest(data);
  const r = await cs.ingest(Readable.from([data.subarray(0, 5), data.subarray(5)]), d);
  assert.deepEqual(r, { digest: d, size: data.length });
  assert.ok(cs.exists(d));
  assert.deepEqual(cs.readBytes(d), data);
  assert.equal(cs.size(d), data.length);
  // same content again: no error, one blob
  await cs.ingest(Readable.from([data]));
  assert.equal(readdirSync(cs.blobDir).length, 1);
  cs.delete(d);
  assert.ok(!cs.exists(d));
  assert.throws(() => cs.readBytes(d), NotFound);
  assert.equal(cs.putBytes('x'), sha256Digest('x'));
});

test('a digest mismatch leaves nothing', async () => {
  const wrong = sha256Digest('other');
  await assert.rejects(cs.ingest(Readable.from([Buffer.from('data')]), wrong), InvalidArgument);
  assert.ok(!cs.exists(wrong));
  assert.ok(!cs.exists(sha256Digest('data')));
  assert.deepEqual(readdirSync(cs.ingestDir), []);
});

test('an interrupted ingest never shows under a digest and is swept', async () => {
  const w = cs.begin();
  await w.write(Readable.from([Buffer.from('partial')]));
  assert.ok(!cs.exists(sha256Digest('partial')));
  assert.equal(readdirSync(cs.ingestDir).length, 1);
  cs.sweepIngests();
  assert.deepEqual(readdirSync(cs.ingestDir), []);
  // a failing source aborts cleanly
  const failing = new Readable({
    read() {
      this.destroy(new Error('boom'));
    },
  });
  await assert.rejects(cs.ingest(failing), /boom/);
  assert.deepEqual(readdirSync(cs.ingestDir), []);
});

test('the writer contract: append with backpressure, read back before commit, commit checks size and digest', async () => {
  const data = Buffer.alloc(3 << 20, 7);
  const d = sha256Digest(data);
  const w = cs.begin();
  for (let off = 0; off < data.length; off += 1 << 16) await w.append(data.subarray(off, off + (1 << 16)));
  assert.equal(w.size, data.length);
  assert.equal(w.digest(), d);
  assert.deepEqual(await w.head(4), data.subarray(0, 4));
  const back: Buffer[] = [];
  for await (const c of await w.open()) back.push(c as Buffer);
  assert.ok(Buffer.concat(back).equals(data), 'open() reads back what was appended');
  assert.ok(!cs.exists(d), 'nothing is visible before commit');
  await assert.rejects(w.append(Buffer.from('late')), /closed/);
  assert.deepEqual(await w.commit(d, data.length), { digest: d, size: data.length });
  assert.ok(cs.readBytes(d).equals(data));
  cs.delete(d);
  // a size that does not match is refused and leaves nothing
  const w2 = cs.begin();
  await w2.append(Buffer.from('short'));
  await assert.rejects(
    w2.commit(sha256Digest('short'), 6),
    (e: unknown) => e instanceof InvalidArgument && /unexpected commit size 5, expected 6/.test((e as Error).message),
  );
  assert.ok(!cs.exists(sha256Digest('short')));
  assert.deepEqual(readdirSync(cs.ingestDir), []);
});

function tarOf(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'src-'));
  for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
  const out = join(root, `t-${Math.random().toString(16).slice(2)}.tar`);
  execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', out, '.']);
  rmSync(dir, { recursive: true });
  return out;
}

test('layers: apply, share, stack, remove', async () => {
  const t1 = tarOf({ a: '1' });
  const t2 = tarOf({ b: '22' });
  const d1 = sha256Digest(readFileSync(t1));
  const d2 = sha256Digest(readFileSync(t2));
  const [c1, c2] = chainIds([d1, d2]);
  const a = await snaps.apply(t1, d1, undefined);
  assert.equal(a.created, true);
  assert.deepEqual(a.layer, { chainId: c1, diffId: d1, parent: null, size: 1 });
  assert.equal((await snaps.apply(t1, d1, undefined)).created, false);
  const b = await snaps.apply(t2, d2, c1);
  assert.equal(b.layer.chainId, c2);
  assert.equal(b.layer.parent, c1);
  assert.equal(readFileSync(join(snaps.diffDir(c2), 'b'), 'utf8'), '22');
  assert.deepEqual(snaps.get(c2), { chainId: c2, diffId: d2, parent: c1, size: 2 });
  // concurrent applies of the same new layer: one directory, one row
  const t3 = tarOf({ c: '333' });
  const d3 = sha256Digest(readFileSync(t3));
  const rs = await Promise.all([snaps.apply(t3, d3, undefined), snaps.apply(t3, d3, undefined)]);
  assert.equal(rs[0].layer.chainId, rs[1].layer.chainId);
  assert.ok(snaps.has(d3));
  snaps.remove(c2);
  assert.ok(!snaps.has(c2) && !existsSync(snaps.dir(c2)));
});

test('a bad tar records nothing and leaves no directory', async () => {
  const bad = join(root, 'bad.tar');
  writeFileSync(bad, 'garbage'.repeat(300));
  const d = sha256Digest(readFileSync(bad));
  const before = readdirSync(join(snaps.root, 'snapshots')).sort();
  await assert.rejects(snaps.apply(bad, d, undefined), LayerError); // the safe extractor, no GNU tar
  assert.equal(snaps.get(d), undefined);
  assert.ok(!existsSync(snaps.dir(d)));
  // the active snapshot it was extracted into is gone with its files
  assert.deepEqual(readdirSync(join(snaps.root, 'snapshots')).sort(), before);
  assert.deepEqual(readdirSync(snaps.tmpRoot), []);
});

test('applyWith: the applier writes into the mounts of an active snapshot prepared on the parent, then it is committed', async () => {
  const t1 = tarOf({ base: 'b' });
  const d1 = sha256Digest(readFileSync(t1));
  const [c1] = chainIds([d1]);
  await snaps.apply(t1, d1, undefined);
  const layer = Buffer.from('child layer');
  const d2 = sha256Digest(layer);
  const [, c2] = chainIds([d1, d2]);
  const seen: Array<{ type: string; options: string[] }> = [];
  const r = await snaps.applyWith(d2, c1, async (mounts) => {
    seen.push(...mounts);
    // the snapshot exists while it is filled: its parent cannot go meanwhile
    assert.throws(() => snaps.removeNow(c1), /parent of 1 other snapshot/);
    const upper = mounts[0].options.find((o) => o.startsWith('upperdir='))!.slice(9);
    writeFileSync(join(upper, 'child'), 'c');
  });
  assert.equal(r.created, true);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].type, 'overlay');
  assert.ok(seen[0].options.includes(`lowerdir=${snaps.diffDir(c1)}`), JSON.stringify(seen));
  assert.deepEqual(snaps.get(c2), { chainId: c2, diffId: d2, parent: c1, size: 1 });
  assert.equal(readFileSync(join(snaps.diffDir(c2), 'child'), 'utf8'), 'c');
  assert.deepEqual(readdirSync(snaps.diffDir(c2)), ['child'], 'the layer holds only what the applier wrote');
  // a base layer's applier gets a writable bind of the empty snapshot
  const base = Buffer.from('another base');
  const seenBase: string[] = [];
  await snaps.applyWith(sha256Digest(base), undefined, async (mounts) => {
    seenBase.push(mounts[0].type, ...mounts[0].options);
  });
  assert.deepEqual(seenBase, ['bind', 'bind', 'rw']);
  // a layer whose parent is still being applied (a pull's concurrent layers) is extracted meanwhile
  // and committed on its parent once that is; when the parent fails, nothing of it is left
  const p1 = Buffer.from('pending parent');
  const k1 = Buffer.from('early child');
  const [cp, ck] = chainIds([sha256Digest(p1), sha256Digest(k1)]);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const parentDone = gate.then(() => snaps.applyWith(sha256Digest(p1), undefined, async () => undefined));
  const child = snaps.applyWith(
    sha256Digest(k1),
    cp,
    async (mounts) => {
      assert.equal(mounts[0].type, 'bind', 'extracted on nothing while the parent is pending');
      writeFileSync(join(mounts[0].source, 'early'), 'e');
      release();
    },
    { parentPending: parentDone },
  );
  const done = await child;
  assert.equal(done.layer.chainId, ck);
  assert.deepEqual(snaps.stat(ck), { kind: 'committed', name: ck, parent: cp });
  assert.equal(readFileSync(join(snaps.diffDir(ck), 'early'), 'utf8'), 'e');
  const k2 = Buffer.from('orphan child');
  const before2 = readdirSync(join(snaps.root, 'snapshots')).length;
  await assert.rejects(
    snaps.applyWith(sha256Digest(k2), chainIds([sha256Digest(Buffer.from('never'))])[0], async () => undefined, {
      parentPending: Promise.reject(new Error('parent layer failed')),
    }),
    /parent layer failed/,
  );
  assert.equal(readdirSync(join(snaps.root, 'snapshots')).length, before2);
  snaps.removeNow(ck);
  snaps.removeNow(cp);
  // an apply interrupted by a crash leaves an extract-* snapshot: the next start's sweep removes it
  await snaps.prepare('extract-crashed', c1);
  const dirs = readdirSync(join(snaps.root, 'snapshots')).length;
  snaps.sweep();
  assert.throws(() => snaps.stat('extract-crashed'), NotFound);
  assert.equal(readdirSync(join(snaps.root, 'snapshots')).length, dirs - 1);
  snaps.removeNow(c2);
  snaps.removeNow(c1); // nothing is built on it any more
});
