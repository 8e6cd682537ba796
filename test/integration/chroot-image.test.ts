// `chroot create --from-image` with several layers: the layers (top first, as GraphDriver gives
// them) are merged through a read-only overlay mount in a private mount namespace, so whiteouts
// hide lower files; one layer is copied as is. Drives ChrootManager directly with hand-made layer
// directories (the CLI path through the daemon is in chroot-debian.test.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, run } from '../helpers/daemon.js';
import { ChrootManager } from '../../src/chroot/chroot.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const T = mkdtempSync(join(BASE, 'chroot-image-'));
after(() => rmSync(T, { recursive: true, force: true }));

test('layers merge with whiteouts applied; the result runs', async () => {
  const l1 = join(T, 'l1');
  const l2 = join(T, 'l2');
  mkdirSync(join(l1, 'bin'), { recursive: true });
  mkdirSync(join(l1, 'etc'));
  copyFileSync('/bin/busybox', join(l1, 'bin/busybox'));
  symlinkSync('busybox', join(l1, 'bin/sh'));
  writeFileSync(join(l1, 'etc/a'), 'a\n');
  writeFileSync(join(l1, 'etc/b'), 'b\n');
  mkdirSync(join(l2, 'etc'), { recursive: true });
  writeFileSync(join(l2, 'etc/b'), 'b2\n');
  writeFileSync(join(l2, 'new'), 'n\n');
  assert.equal((await run('mknod', [join(l2, 'etc/a'), 'c', '0', '0'])).code, 0); // overlay whiteout: deletes /etc/a
  const data = join(T, 'data');
  const m = new ChrootManager(data);
  const rec = await m.createFromImage('img2', {
    image: 'test:two-layers',
    id: 'sha256:0',
    arch: 'amd64',
    layersTopFirst: [l2, l1],
  });
  assert.equal(rec.kind, 'image');
  const root = m.store.rootDir('img2');
  assert.equal(existsSync(join(root, 'etc/a')), false, 'the whiteout did not apply');
  assert.equal(readFileSync(join(root, 'etc/b'), 'utf8'), 'b2\n');
  assert.equal(readFileSync(join(root, 'new'), 'utf8'), 'n\n');
  assert.ok(existsSync(join(root, 'bin/busybox')));
  assert.equal(
    readFileSync('/proc/self/mounts', 'utf8').includes('cocon-chroot-src'),
    false,
    'the overlay leaked into the host namespace',
  );
  const r = await run(process.execPath, [
    '--',
    CLI_MAIN,
    'chroot',
    '--data-root',
    data,
    'run',
    'img2',
    '--',
    '/bin/sh',
    '-c',
    'cat /etc/b; ls /etc',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], 'b2');
  assert.doesNotMatch(r.stdout, /^a$/m);
  // one layer: copied as is
  const one = await m.createFromImage('img1', {
    image: 'test:one',
    id: 'sha256:1',
    arch: 'amd64',
    layersTopFirst: [l1],
  });
  assert.equal(one.state, 'ready');
  assert.equal(readFileSync(join(m.store.rootDir('img1'), 'etc/a'), 'utf8'), 'a\n');
  // a layer directory that is not on this host: a clear error, nothing created
  await assert.rejects(
    m.createFromImage('img3', { image: 'remote:x', id: 'sha256:2', arch: 'amd64', layersTopFirst: ['/no/such/layer'] }),
    /not on this host/,
  );
  assert.equal(m.store.exists('img3'), false);
  await m.rm('img2');
  await m.rm('img1');
  assert.deepEqual(m.store.names(), []);
});
