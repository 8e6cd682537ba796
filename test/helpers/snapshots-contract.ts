// The snapshotter contract suite (src/snapshots/snapshotter.ts): every snapshotter must pass it.
// Call snapshotterContract(name, factory) from a test file; each test gets a fresh snapshotter from
// the factory and mounts what it hands out on real temp dirs (root needed), then cleans up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  linkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import type { Snapshotter } from '../../src/snapshots/snapshotter.js';
import { chainId } from '../../src/snapshots/chain.js';
import { mountAll, unmount, type Mount } from '../../src/sys/mount.js';
import { Conflict, InvalidArgument, NotFound } from '../../src/core/errors.js';

export interface SnapshotterFixture {
  sn: Snapshotter;
  cleanup: () => Promise<void> | void;
}

export interface TarMember {
  name: string;
  type: string;
  linkname: string | null;
  content: string;
  mode: number;
}

export async function readTar(src: Readable): Promise<TarMember[]> {
  const x = extract();
  const out: TarMember[] = [];
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({
          name: h.name,
          type: h.type ?? 'file',
          linkname: h.linkname ?? null,
          content: Buffer.concat(chunks).toString(),
          mode: h.mode ?? 0,
        });
        next();
      });
      stream.on('error', reject);
    });
    x.on('finish', resolve);
    x.on('error', reject);
    src.on('error', reject);
  });
  src.pipe(x);
  await done;
  return out;
}

async function bytesOf(src: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Mounts `mounts` on a temp dir for the length of fn, always unmounting. */
export async function withMount<T>(mounts: Mount[], fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync('/tmp/cocon-snap-mnt-');
  try {
    await mountAll(mounts, dir);
    try {
      return await fn(dir);
    } finally {
      await unmount(dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** prepare -> write -> diff -> commit under the chain id of the diff's digest; returns the chain id. */
export async function makeLayer(
  sn: Snapshotter,
  key: string,
  parent: string | undefined,
  write: (dir: string) => void,
): Promise<{ chain: string; tar: Buffer }> {
  await withMount(await sn.prepare(key, parent), write);
  const tar = await bytesOf(await sn.diff(key));
  const diffId = 'sha256:' + createHash('sha256').update(tar).digest('hex');
  const chain = chainId(parent, diffId);
  const info = await sn.commit(chain, key, { diffId });
  assert.deepEqual(info, { kind: 'committed', name: chain, parent: parent ?? null });
  return { chain, tar };
}

function writesFail(dir: string): boolean {
  try {
    writeFileSync(join(dir, 'nope'), 'x');
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

export function snapshotterContract(name: string, factory: () => Promise<SnapshotterFixture>): void {
  const withSn = (fn: (sn: Snapshotter) => Promise<void>) => async () => {
    const f = await factory();
    try {
      await fn(f.sn);
    } finally {
      await f.cleanup();
    }
  };

  test(
    `${name}: prepare on nothing is writable; usage counts what was written; commit makes a layer and ends the key`,
    withSn(async (sn) => {
      const mounts = await sn.prepare('base', undefined);
      assert.ok(mounts.length > 0);
      assert.deepEqual(sn.stat('base'), { kind: 'active', name: 'base', parent: null });
      await withMount(mounts, (d) => {
        writeFileSync(join(d, 'hello'), 'x'.repeat(5000));
        mkdirSync(join(d, 'etc'));
        writeFileSync(join(d, 'etc/conf'), 'a=1\n');
      });
      const u = await sn.usage('base');
      assert.ok(u.size >= 5004, `usage size ${u.size}`);
      assert.ok(u.inodes >= 3, `usage inodes ${u.inodes}`);
      const members = await readTar(await sn.diff('base'));
      assert.deepEqual(
        members.map((m) => m.name),
        ['etc/', 'etc/conf', 'hello'],
      );
      assert.equal(members.find((m) => m.name === 'etc/conf')?.content, 'a=1\n');
      const tar = await bytesOf(await sn.diff('base'));
      const diffId = 'sha256:' + createHash('sha256').update(tar).digest('hex');
      await sn.commit(diffId, 'base', { diffId });
      assert.deepEqual(sn.stat(diffId), { kind: 'committed', name: diffId, parent: null });
      assert.throws(() => sn.stat('base'), NotFound);
      assert.ok((await sn.usage(diffId)).size >= 5004);
      // what was committed is what a view of it shows
      await withMount(await sn.view('v', diffId), (d) => {
        assert.equal(readFileSync(join(d, 'etc/conf'), 'utf8'), 'a=1\n');
        assert.deepEqual(readdirSync(d).sort(), ['etc', 'hello']);
      });
      await sn.remove('v');
      await sn.remove(diffId);
      assert.throws(() => sn.stat(diffId), NotFound);
    }),
  );

  test(
    `${name}: a view is read-only, so is a read-only mount of an active snapshot; an active one is writable`,
    withSn(async (sn) => {
      const { chain: l1 } = await makeLayer(sn, 'l1', undefined, (d) => writeFileSync(join(d, 'f'), 'one'));
      const { chain: l2 } = await makeLayer(sn, 'l2', l1, (d) => writeFileSync(join(d, 'g'), 'two'));
      for (const parent of [undefined, l1, l2]) {
        const key = `view-${parent ? parent.slice(7, 15) : 'empty'}`;
        await withMount(await sn.view(key, parent), (d) => {
          assert.ok(writesFail(d), `a view on ${parent ?? 'nothing'} is writable`);
          if (parent === l2)
            assert.equal(readFileSync(join(d, 'g'), 'utf8') + readFileSync(join(d, 'f'), 'utf8'), 'twoone');
        });
        assert.equal(sn.stat(key).kind, 'view');
        await assert.rejects(sn.commit(l1, key, { diffId: l1 }), InvalidArgument);
        await sn.remove(key);
      }
      await sn.prepare('rw', l2);
      await withMount(await sn.mounts('rw'), (d) => writeFileSync(join(d, 'new'), 'n'));
      await withMount(await sn.mounts('rw', { readonly: true }), (d) => {
        assert.ok(writesFail(d), 'a read-only mount of an active snapshot is writable');
        assert.deepEqual(readdirSync(d).sort(), ['f', 'g', 'new']);
      });
      await sn.remove('rw');
    }),
  );

  test(
    `${name}: diff carries deletions as .wh. files and a recreated directory as opaque; changes agree`,
    withSn(async (sn) => {
      const { chain: base } = await makeLayer(sn, 'base', undefined, (d) => {
        writeFileSync(join(d, 'a'), 'a');
        writeFileSync(join(d, 'keep'), 'old');
        mkdirSync(join(d, 'd'));
        writeFileSync(join(d, 'd/x'), 'x');
        writeFileSync(join(d, 'd/y'), 'y');
        mkdirSync(join(d, 'd2'));
        writeFileSync(join(d, 'd2/f'), 'f');
        writeFileSync(join(d, 'd2/g'), 'g');
      });
      await withMount(await sn.prepare('top', base), (d) => {
        unlinkSync(join(d, 'a'));
        writeFileSync(join(d, 'keep'), 'new');
        rmSync(join(d, 'd'), { recursive: true });
        mkdirSync(join(d, 'd'));
        writeFileSync(join(d, 'd/z'), 'z');
        unlinkSync(join(d, 'd2/f'));
        writeFileSync(join(d, 'added'), 'hi');
        symlinkSync('/keep', join(d, 'sym'));
        linkSync(join(d, 'added'), join(d, 'hard'));
        writeFileSync(join(d, 'hosts'), 'runtime');
      });
      const members = await readTar(await sn.diff('top', { hide: ['/hosts'] }));
      const byName = new Map(members.map((m) => [m.name, m]));
      assert.deepEqual(
        members.map((m) => m.name),
        ['.wh.a', 'added', 'd/', 'd/.wh..wh..opq', 'd/z', 'd2/', 'd2/.wh.f', 'hard', 'keep', 'sym'],
      );
      assert.equal(byName.get('.wh.a')!.type, 'file');
      assert.equal(byName.get('.wh.a')!.content, '');
      assert.equal(byName.get('d/.wh..wh..opq')!.type, 'file');
      assert.equal(byName.get('keep')!.content, 'new');
      assert.equal(byName.get('sym')!.type, 'symlink');
      assert.equal(byName.get('sym')!.linkname, '/keep');
      assert.equal(byName.get('hard')!.type, 'link');
      assert.equal(byName.get('hard')!.linkname, 'added');
      const changes = await sn.changes('top', { hide: ['/hosts'] });
      assert.deepEqual(changes, [
        { Path: '/a', Kind: 2 },
        { Path: '/added', Kind: 1 },
        { Path: '/d', Kind: 0 },
        { Path: '/d/x', Kind: 2 },
        { Path: '/d/y', Kind: 2 },
        { Path: '/d/z', Kind: 1 },
        { Path: '/d2', Kind: 0 },
        { Path: '/d2/f', Kind: 2 },
        { Path: '/hard', Kind: 1 },
        { Path: '/keep', Kind: 0 },
        { Path: '/sym', Kind: 1 },
      ]);
      // without hide, the runtime file is there
      assert.ok((await readTar(await sn.diff('top'))).some((m) => m.name === 'hosts'));
      // committed, the layer deletes and hides on top of its parent as the tar says
      const tar = await bytesOf(await sn.diff('top'));
      const diffId = 'sha256:' + createHash('sha256').update(tar).digest('hex');
      const top = chainId(base, diffId);
      await sn.commit(top, 'top', { diffId });
      await withMount(await sn.view('look', top), (d) => {
        assert.ok(!existsSync(join(d, 'a')));
        assert.deepEqual(readdirSync(join(d, 'd')), ['z']);
        assert.deepEqual(readdirSync(join(d, 'd2')), ['g']);
        assert.equal(readFileSync(join(d, 'keep'), 'utf8'), 'new');
      });
      await sn.remove('look');
    }),
  );

  test(
    `${name}: removing a parent in use is refused (Conflict) until its children are gone`,
    withSn(async (sn) => {
      const { chain: l1 } = await makeLayer(sn, 'l1', undefined, (d) => writeFileSync(join(d, 'f'), '1'));
      await sn.prepare('ctr', l1);
      await assert.rejects(sn.remove(l1), Conflict);
      await sn.remove('ctr');
      await sn.view('ro', l1);
      await assert.rejects(sn.remove(l1), Conflict);
      await sn.remove('ro');
      const { chain: l2 } = await makeLayer(sn, 'l2', l1, (d) => writeFileSync(join(d, 'g'), '2'));
      await assert.rejects(sn.remove(l1), Conflict);
      await sn.remove(l2);
      await sn.remove(l1);
      assert.throws(() => sn.stat(l1), NotFound);
    }),
  );

  test(
    `${name}: errors are the typed ones`,
    withSn(async (sn) => {
      const { chain: l1 } = await makeLayer(sn, 'l1', undefined, (d) => writeFileSync(join(d, 'f'), '1'));
      const missing = 'sha256:' + '0'.repeat(64);
      await assert.rejects(sn.prepare('bad/key', undefined), InvalidArgument);
      await assert.rejects(sn.prepare('../up', undefined), InvalidArgument);
      await assert.rejects(sn.prepare('k', missing), NotFound);
      await assert.rejects(sn.view('k', missing), NotFound);
      assert.throws(() => sn.stat('k'), NotFound, 'a failed prepare left a snapshot');
      await sn.prepare('k', l1);
      await assert.rejects(sn.prepare('k', l1), Conflict);
      await assert.rejects(sn.view('k', l1), Conflict);
      await assert.rejects(sn.mounts('nope'), NotFound);
      await assert.rejects(sn.mounts(l1), InvalidArgument);
      await assert.rejects(sn.diff('nope'), NotFound);
      await assert.rejects(sn.diff(l1), InvalidArgument);
      await assert.rejects(sn.changes(l1), InvalidArgument);
      await assert.rejects(sn.commit(missing, 'nope', { diffId: missing }), NotFound);
      await assert.rejects(
        sn.commit(missing, 'k', { diffId: missing }),
        InvalidArgument,
        'a name that is not the chain id',
      );
      await assert.rejects(sn.commit(chainId(l1, missing), 'k', { diffId: 'not-a-digest' }), InvalidArgument);
      // committing under the name of a layer that exists: Conflict, the active snapshot stays
      await sn.prepare('same', undefined);
      await assert.rejects(sn.commit(l1, 'same', { diffId: l1 }), Conflict);
      assert.equal(sn.stat('same').kind, 'active');
      await assert.rejects(sn.remove('nope'), NotFound);
      await assert.rejects(sn.usage('nope'), NotFound);
      await sn.remove('k');
      await sn.remove('same');
    }),
  );
}
