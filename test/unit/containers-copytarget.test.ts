// Which mount a docker cp path falls in (src/containers/copytarget.ts mountForPath), the daemon's
// detach keys (src/runtime/detachkeys.ts) and where the init layer goes (initlayer.ts): pure rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountForPath } from '../../src/containers/copytarget.js';
import { DetachMatcher, detachKeysFor } from '../../src/runtime/detachkeys.js';
import type { MountPoint } from '../../src/volumes/mounts.js';
import { overlayLowers, withInitLowerdir } from '../../src/containers/initlayer.js';
import type { Mount } from '../../src/sys/mount.js';

const m = (Destination: string, Type: MountPoint['Type'] = 'volume'): MountPoint => ({
  Type,
  Destination,
  Source: '',
  Mode: '',
  RW: true,
  Propagation: '',
});
const MOUNTS = [m('/vol1'), m('/data'), m('/data/inner', 'bind'), m('/tmpfs', 'tmpfs')];

test('mountForPath: the deepest mount holding the path, the rest below it; trailing / and /. kept', () => {
  const at = (p: string) => {
    const r = mountForPath(MOUNTS, p);
    return r && [r.mount.Destination, r.rest];
  };
  assert.deepEqual(at('/vol1'), ['/vol1', '/']);
  assert.deepEqual(at('/vol1/'), ['/vol1', '/']);
  assert.deepEqual(at('/vol1/.'), ['/vol1', '/.']);
  assert.deepEqual(at('/vol1/data.txt'), ['/vol1', '/data.txt']);
  assert.deepEqual(at('/vol1/dir/'), ['/vol1', '/dir/']);
  assert.deepEqual(at('/vol1/dir/.'), ['/vol1', '/dir/.']);
  assert.deepEqual(at('vol1/x'), ['/vol1', '/x'], 'relative to the container root');
  assert.deepEqual(at('/data/inner/f'), ['/data/inner', '/f']);
  assert.deepEqual(at('/data/innerx'), ['/data', '/innerx']);
  assert.deepEqual(at('/data/x/../inner/f'), ['/data/inner', '/f'], 'lexically normalised');
  assert.equal(at('/vol10/x'), null);
  assert.equal(at('/etc/passwd'), null);
  assert.equal(at('/vol1/../etc/passwd'), null, '.. climbs out of the mount, into the root');
  assert.deepEqual(at('/tmpfs/a'), ['/tmpfs', '/a']);
  assert.equal(mountForPath([m('/')], '/x'), null);
});

test("detach keys: default ctrl-p ctrl-q, docker's syntax, bad keys refused with dockerd's message", () => {
  assert.deepEqual(detachKeysFor(''), [16, 17]);
  assert.deepEqual(detachKeysFor(null), [16, 17]);
  assert.deepEqual(detachKeysFor('ctrl-x'), [24]);
  assert.deepEqual(detachKeysFor('ctrl-a,b,ctrl-@'), [1, 98, 0]);
  assert.throws(() => detachKeysFor('ctrl-'), /Invalid detach keys \(ctrl-\) provided/);
  assert.throws(
    () => detachKeysFor('ctrl-1'),
    (e: Error) => e.name === 'InvalidArgument',
  );
  const d = new DetachMatcher(detachKeysFor(''));
  assert.equal(d.feed(Buffer.from('ab\x10c')).toString(), 'ab\x10c', 'a partial match is passed on');
  assert.equal(d.detached, false);
  assert.equal(d.feed(Buffer.from('x\x10')).toString(), 'x', 'held back while it may still match');
  assert.equal(d.feed(Buffer.from('\x11rest')).length, 0);
  assert.equal(d.detached, true);
});

test('init layer: goes on top of the lower dirs of a writable overlay; binds and read-only views are left alone', () => {
  const rw: Mount = {
    type: 'overlay',
    source: 'overlay',
    options: ['lowerdir=/l/2:/l/1', 'upperdir=/u', 'workdir=/w'],
  };
  assert.deepEqual(overlayLowers([rw]), ['/l/2', '/l/1']);
  assert.deepEqual(withInitLowerdir([rw], '/c/init'), [
    { ...rw, options: ['lowerdir=/c/init:/l/2:/l/1', 'upperdir=/u', 'workdir=/w'] },
  ]);
  const bind: Mount = { type: 'bind', source: '/u', options: ['bind', 'rw'] };
  assert.equal(overlayLowers([bind]), null);
  assert.deepEqual(withInitLowerdir([bind], '/c/init'), [bind]);
  const view: Mount = { type: 'overlay', source: 'overlay', options: ['ro', 'lowerdir=/u:/l/1'] };
  assert.deepEqual(withInitLowerdir([view], '/c/init'), [view]);
});
