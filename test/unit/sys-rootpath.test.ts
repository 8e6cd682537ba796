// The in-root path resolver (src/sys/rootpath.ts walkInRoot): a missing tail kept as written, a
// symlink past a missing component still resolved inside the root, the last link followed only
// when asked, a file on the way refused. Temp dirs only; no root needed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot, walkInRoot } from '../../src/sys/rootpath.js';
import { RootPathError } from '../../src/sys/saferoot.js';

const T = mkdtempSync(join(tmpdir(), 'sys-rootpath-'));
after(() => rmSync(T, { recursive: true, force: true }));

test('walkInRoot: missing tails, links after a missing component, followLast, files on the way', () => {
  const R = join(T, 'root');
  mkdirSync(join(R, 'etc'), { recursive: true });
  writeFileSync(join(R, 'etc', 'f'), 'x');
  symlinkSync('/etc', join(R, 'link'));
  assert.deepEqual(walkInRoot(R, '/etc/new/deeper'), {
    rel: 'etc/new/deeper',
    host: join(R, 'etc/new/deeper'),
    exists: false,
  });
  assert.deepEqual(walkInRoot(R, 'link/f'), { rel: 'etc/f', host: join(R, 'etc/f'), exists: true });
  // 'missing/..' climbs back; the link after it is still resolved in the root, not handed out as a host symlink
  assert.deepEqual(walkInRoot(R, '/missing/../link'), { rel: 'etc', host: join(R, 'etc'), exists: true });
  assert.equal(resolveInRoot(R, '/link', false), join(R, 'link'));
  assert.equal(resolveInRoot(R, '/link', true), join(R, 'etc'));
  assert.throws(
    () => walkInRoot(R, '/etc/f/under'),
    (e) => e instanceof RootPathError && e.code === 'ENOTDIR',
  );
});
