// Pure rules of a snapshot's difference (src/snapshots/changes.ts): upper-dir entries -> docker diff's
// change list and the members of the OCI layer tar (whiteouts, opaque markers, hidden mount points).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  changesOf,
  layerMembers,
  tarName,
  whiteoutPath,
  type ParentLookup,
  type UpperEntry,
} from '../../src/snapshots/changes.js';

function parentOf(tree: Record<string, string[]>): ParentLookup {
  const all = new Set<string>();
  for (const [dir, names] of Object.entries(tree))
    for (const n of names) all.add(dir === '/' ? '/' + n : `${dir}/${n}`);
  return { has: (p) => all.has(p), children: (p) => tree[p] ?? [] };
}

const e = (path: string, type: UpperEntry['type'] = 'file', opaque = false): UpperEntry => ({ path, type, opaque });

const parent = parentOf({ '/': ['etc', 'd', 'a'], '/etc': ['passwd', 'group'], '/d': ['x', 'y'] });

test('whiteout names and tar names', () => {
  assert.equal(whiteoutPath('/a'), '/.wh.a');
  assert.equal(whiteoutPath('/etc/group'), '/etc/.wh.group');
  assert.equal(tarName('/etc', true), 'etc/');
  assert.equal(tarName('/etc/passwd', false), 'etc/passwd');
});

test('changes: added, modified, deleted by whiteout, hidden by an opaque directory', () => {
  const entries = [
    e('/a', 'whiteout'),
    e('/d', 'dir', true),
    e('/d/x'),
    e('/d/z'),
    e('/etc', 'dir'),
    e('/etc/group', 'whiteout'),
    e('/etc/passwd'),
    e('/new'),
  ];
  assert.deepEqual(changesOf(entries, parent), [
    { Path: '/a', Kind: 2 },
    { Path: '/d', Kind: 0 },
    { Path: '/d/y', Kind: 2 },
    { Path: '/d/x', Kind: 0 },
    { Path: '/d/z', Kind: 1 },
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
    { Path: '/etc/passwd', Kind: 0 },
    { Path: '/new', Kind: 1 },
  ]);
});

test('hide leaves out what the snapshot added there, never a modification or a deletion', () => {
  const entries = [e('/etc', 'dir'), e('/etc/hosts'), e('/etc/passwd'), e('/etc/group', 'whiteout'), e('/proc', 'dir')];
  const hide = ['/etc/hosts', '/etc/passwd', '/etc/group', '/proc'];
  assert.deepEqual(changesOf(entries, parent, { hide }), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/passwd', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
  ]);
  assert.deepEqual(
    layerMembers(entries, parent, { hide }).map((m) => m.path),
    ['/etc', '/etc/passwd', '/etc/.wh.group'],
  );
});

test('layer members: the opaque marker follows its directory, whiteouts replace the deleted entry', () => {
  const entries = [e('/a', 'whiteout'), e('/d', 'dir', true), e('/d/z'), e('/l', 'symlink')];
  assert.deepEqual(
    layerMembers(entries, parent).map((m) => [m.kind, m.path]),
    [
      ['whiteout', '/.wh.a'],
      ['entry', '/d'],
      ['opaque', '/d/.wh..wh..opq'],
      ['entry', '/d/z'],
      ['entry', '/l'],
    ],
  );
  // an opaque directory the parent never had still says so (its content is new either way)
  assert.deepEqual(
    layerMembers([e('/n', 'dir', true)], parent).map((m) => m.path),
    ['/n', '/n/.wh..wh..opq'],
  );
  assert.deepEqual(changesOf([e('/n', 'dir', true)], parent), [{ Path: '/n', Kind: 1 }]);
});

test('a parent directory in the upper dir only for hidden mount points is left out (docker diff without C /etc)', () => {
  const hide = ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];
  const only = [e('/etc', 'dir'), e('/etc/hosts'), e('/etc/resolv.conf'), e('/made')];
  assert.deepEqual(changesOf(only, parent, { hide }), [{ Path: '/made', Kind: 1 }]);
  // with a real change beside them, the directory is listed again
  assert.deepEqual(changesOf([e('/etc', 'dir'), e('/etc/hosts'), e('/etc/passwd')], parent, { hide }), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/passwd', Kind: 0 },
  ]);
  assert.deepEqual(changesOf([e('/etc', 'dir'), e('/etc/hosts'), e('/etc/group', 'whiteout')], parent, { hide }), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
  ]);
  // a directory the snapshot added is an addition, whatever it holds
  assert.deepEqual(changesOf([e('/n', 'dir'), e('/n/hosts')], parent, { hide: ['/n/hosts'] }), [
    { Path: '/n', Kind: 1 },
  ]);
});
