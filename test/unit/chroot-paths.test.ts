// Paths inside a root never lead outside it (symlinks are resolved as the kernel would after
// chroot), and the chroot store's name lock and atomic records. Temp dirs only; no root needed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existingInRoot as resolveInRoot } from '../../src/sys/rootpath.js';
import { ChrootStore } from '../../src/chroot/store.js';
import { ChrootManager } from '../../src/chroot/chroot.js';
import { EngineError } from '../../src/core/errors.js';

const T = mkdtempSync(join(tmpdir(), 'chroot-paths-'));
after(() => rmSync(T, { recursive: true, force: true }));

test('resolveInRoot keeps absolute and ../ symlinks inside the root', () => {
  const R = join(T, 'root');
  const outside = join(T, 'outside');
  mkdirSync(join(R, 'etc'), { recursive: true });
  mkdirSync(outside);
  symlinkSync('/etc', join(R, 'mnt')); // absolute: the root's /etc, not the host's
  symlinkSync('../../../../outside', join(R, 'up')); // climbs above the root: stops at /
  symlinkSync(outside, join(R, 'host')); // an absolute host path: taken inside the root
  assert.equal(resolveInRoot(R, '/mnt/x', 'dir'), join(R, 'etc/x'));
  assert.ok(existsSync(join(R, 'etc/x')));
  assert.equal(resolveInRoot(R, '/up/y', 'dir'), join(R, 'outside/y'));
  assert.equal(resolveInRoot(R, `/host/z`, 'file'), join(R, outside, 'z'));
  assert.deepEqual(readdirSync(outside), [], 'nothing was created outside the root');
  assert.equal(resolveInRoot(R, '/../../etc'), join(R, 'etc'));
  assert.equal(resolveInRoot(R, '/nonexistent/a'), undefined);
  assert.equal(resolveInRoot(R, '/'), R);
  symlinkSync('loop2', join(R, 'loop1'));
  symlinkSync('loop1', join(R, 'loop2'));
  assert.throws(() => resolveInRoot(R, '/loop1/x'), /too many levels/);
});

test('store: claiming a name twice is a Conflict; records are written atomically', () => {
  const s = new ChrootStore(join(T, 'data'));
  s.claim('a');
  assert.throws(
    () => s.claim('a'),
    (e: unknown) => e instanceof EngineError && e.kind === 'conflict' && /already exists/.test(e.message),
  );
  assert.equal(s.read('a'), undefined);
  s.write({ name: 'a', kind: 'jail', state: 'ready', created: new Date(0).toISOString(), arch: 'amd64' });
  assert.equal(s.get('a').kind, 'jail');
  assert.deepEqual(readdirSync(s.chrootDir('a')), ['chroot.json']);
  assert.throws(
    () => s.get('nope'),
    (e: unknown) => e instanceof EngineError && e.kind === 'not-found',
  );
  assert.throws(
    () => s.get('../a'),
    (e: unknown) => e instanceof EngineError && e.kind === 'not-found',
  );
  writeFileSync(join(s.dir, '.hidden'), '');
  assert.deepEqual(s.names(), ['a']);
});

test('debootstrap cache: entries listed with their metadata, pruned by key prefix', () => {
  const m = new ChrootManager(join(T, 'cachedata'));
  m.store.ensure();
  for (const k of ['sid-amd64-minbase-0123456789abcdef', 'bookworm-amd64-minbase-0123456789abcdef']) {
    writeFileSync(m.store.cacheTar(k), 'x'.repeat(10));
    writeFileSync(
      m.store.cacheMeta(k),
      JSON.stringify({ suite: k.split('-')[0], arch: 'amd64', variant: 'minbase', include: [] }),
    );
  }
  assert.deepEqual(
    m
      .cacheEntries()
      .map((e) => [e.key, e.suite, e.size])
      .sort(),
    [
      ['bookworm-amd64-minbase-0123456789abcdef', 'bookworm', 10],
      ['sid-amd64-minbase-0123456789abcdef', 'sid', 10],
    ],
  );
  assert.deepEqual(m.pruneCache(['sid-']), ['sid-amd64-minbase-0123456789abcdef']);
  assert.deepEqual(
    m.cacheEntries().map((e) => e.key),
    ['bookworm-amd64-minbase-0123456789abcdef'],
  );
  assert.deepEqual(m.pruneCache(), ['bookworm-amd64-minbase-0123456789abcdef']);
  assert.deepEqual(readdirSync(m.store.cacheDir), []);
});
