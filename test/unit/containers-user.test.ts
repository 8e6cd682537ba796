// Unit tests for containers/user.ts: docker's -u and --group-add against a container's passwd and group
// text (rules in core/users.ts, tested there too), and the container environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerUser, containerEnv, mergeEnv, parseEnvList, DEFAULT_PATH } from '../../src/containers/user.js';
import { InvalidArgument } from '../../src/core/errors.js';

// busybox-like files, plus a few users
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
  '# a comment',
  '',
  'app:x:1000:1000:App:/home/app:/bin/sh',
  'dup:x:1000:2000:Dup:/home/dup:/bin/sh',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'wheel:x:10:root',
  'audio:x:29:app',
  'video:x:44:app,root',
  'app:x:1000:',
  'staff:x:50:',
  'nogroup:x:65534:',
].join('\n');

test('"" is root with root\'s groups, primary gid first (docker: groups=0(root),10(wheel))', () => {
  assert.deepEqual(containerUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0, 10, 44], home: '/root' });
});

test('no passwd/group files: "" is 0:0, numeric ids pass, names fail', () => {
  assert.deepEqual(containerUser('', null, null), { uid: 0, gid: 0, additionalGids: [0], home: '/' });
  assert.deepEqual(containerUser('1234', null, null), { uid: 1234, gid: 0, additionalGids: [0], home: '/' });
  assert.deepEqual(containerUser('1234:5678', null, null), { uid: 1234, gid: 5678, additionalGids: [5678], home: '/' });
  assert.throws(() => containerUser('app', null, null), {
    message: 'unable to find user app: no matching entries in passwd file',
  });
  assert.throws(() => containerUser('1:staff', null, null), {
    message: 'unable to find group staff: no matching entries in group file',
  });
});

test('name: uid, primary gid and member groups from the files', () => {
  assert.deepEqual(containerUser('app', PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 29, 44],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('nobody', PASSWD, GROUP), {
    uid: 65534,
    gid: 65534,
    additionalGids: [65534],
    home: '/home',
  });
  assert.deepEqual(containerUser('root', PASSWD, GROUP).additionalGids, [0, 10, 44]);
});

test('numeric uid: known -> entry (first match wins); unknown -> gid 0, no groups', () => {
  assert.deepEqual(containerUser('1000', PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 29, 44],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('1', PASSWD, GROUP), { uid: 1, gid: 1, additionalGids: [1], home: '/usr/sbin' });
  assert.deepEqual(containerUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [0], home: '/' });
});

test("unknown name -> docker's error", () => {
  assert.throws(() => containerUser('ghost', PASSWD, GROUP), {
    message: 'unable to find user ghost: no matching entries in passwd file',
  });
  assert.throws(() => containerUser('ghost:0', PASSWD, GROUP), /unable to find user ghost/);
});

test('explicit group: name or gid replaces the primary gid; no member groups', () => {
  assert.deepEqual(containerUser('app:staff', PASSWD, GROUP), {
    uid: 1000,
    gid: 50,
    additionalGids: [50],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('app:50', PASSWD, GROUP), {
    uid: 1000,
    gid: 50,
    additionalGids: [50],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('1000:44', PASSWD, GROUP), {
    uid: 1000,
    gid: 44,
    additionalGids: [44],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('app:7777', PASSWD, GROUP), {
    uid: 1000,
    gid: 7777,
    additionalGids: [7777],
    home: '/home/app',
  });
  assert.deepEqual(containerUser('4242:4343', PASSWD, GROUP), {
    uid: 4242,
    gid: 4343,
    additionalGids: [4343],
    home: '/',
  });
  assert.deepEqual(containerUser('0:wheel', PASSWD, GROUP), { uid: 0, gid: 10, additionalGids: [10], home: '/root' });
  assert.throws(() => containerUser('app:nosuch', PASSWD, GROUP), {
    message: 'unable to find group nosuch: no matching entries in group file',
  });
});

test('":gid" keeps root and sets the group', () => {
  assert.deepEqual(containerUser(':staff', PASSWD, GROUP), { uid: 0, gid: 50, additionalGids: [50], home: '/root' });
});

test('ids out of range are refused', () => {
  assert.throws(() => containerUser('2147483648', PASSWD, GROUP), /range/);
  assert.throws(() => containerUser('1:2147483648', PASSWD, GROUP), /range/);
});

test('--group-add: names and numbers, appended after member groups, deduplicated', () => {
  assert.deepEqual(
    containerUser('app', PASSWD, GROUP, ['staff', '4000', 'staff', '29']).additionalGids,
    [1000, 29, 44, 50, 4000],
  );
  assert.throws(() => containerUser('app', PASSWD, GROUP, ['nosuch']), {
    message: 'Unable to find group nosuch: no matching entries in group file',
  });
  assert.deepEqual(containerUser('', null, null, ['77']).additionalGids, [0, 77]);
});

test('what cannot be resolved is InvalidArgument (a 400, never a 500)', () => {
  for (const bad of [
    () => containerUser('ghost', PASSWD, GROUP),
    () => containerUser('app:nosuch', PASSWD, GROUP),
    () => containerUser('2147483648', PASSWD, GROUP),
    () => containerUser('app', PASSWD, GROUP, ['nosuch']),
  ]) {
    assert.throws(bad, (e: unknown) => e instanceof InvalidArgument);
  }
});

test('a malformed passwd line is no user: not root, not anyone', () => {
  const pw = 'root:x:0:0:root:/root:/bin/sh\nevil:x::\nevil2:x:abc:0:x:/:/bin/sh\n';
  assert.throws(() => containerUser('evil', pw, null), /unable to find user evil/);
  assert.throws(() => containerUser('evil2', pw, null), /unable to find user evil2/);
});

test('mergeEnv: user overrides image by key, in place; new keys appended; bare names dropped', () => {
  assert.deepEqual(mergeEnv(['PATH=/img/bin', 'A=1', 'B=2'], ['B=20', 'C=3', 'A=10', 'NOEQ', 'D=x=y', 'E=']), [
    'PATH=/img/bin',
    'A=10',
    'B=20',
    'C=3',
    'D=x=y',
    'E=',
  ]);
  assert.deepEqual(mergeEnv([], []), []);
});

test('mergeEnv: a bare name unsets the key in the process env, and is kept as given in the stored Config.Env', () => {
  assert.deepEqual(mergeEnv(['PATH=/img/bin', 'Foo=image'], ['Foo', 'Other=one', 'Blank=']), [
    'PATH=/img/bin',
    'Other=one',
    'Blank=',
  ]);
  assert.deepEqual(mergeEnv(['PATH=/img/bin', 'Foo=image'], ['Foo', 'Other=one', 'Blank='], { keepBare: true }), [
    'PATH=/img/bin',
    'Foo',
    'Other=one',
    'Blank=',
  ]);
  assert.deepEqual(mergeEnv(['PATH=/img/bin'], ['Foo'], { keepBare: true }), ['PATH=/img/bin', 'Foo']);
  // an image's own bare entry is not the user's: dropped
  assert.deepEqual(mergeEnv(['Bare', 'A=1'], [], { keepBare: true }), ['A=1']);
  // the process env of a container whose Config.Env holds "Foo": no Foo at all
  assert.deepEqual(containerEnv({ imageEnv: [], userEnv: ['Foo', 'A=1'], hostname: 'h', tty: false }), [
    DEFAULT_PATH,
    'HOSTNAME=h',
    'A=1',
  ]);
});

test('parseEnvList', () => {
  const m = parseEnvList(['A=1', 'B=x=y', 'C', 'A=2']);
  assert.equal(m.get('A'), '2');
  assert.equal(m.get('B'), 'x=y');
  assert.equal(m.has('C'), true);
  assert.equal(m.get('C'), undefined);
});

test('containerEnv: PATH default, HOSTNAME, TERM for tty, image then user', () => {
  assert.deepEqual(containerEnv({ imageEnv: [], userEnv: [], hostname: 'abc123', tty: false }), [
    DEFAULT_PATH,
    'HOSTNAME=abc123',
  ]);
  assert.equal(DEFAULT_PATH, 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  assert.deepEqual(
    containerEnv({ imageEnv: ['PATH=/opt/bin', 'LANG=C.UTF-8'], userEnv: ['FOO=bar'], hostname: 'h', tty: true }),
    ['PATH=/opt/bin', 'HOSTNAME=h', 'TERM=xterm', 'LANG=C.UTF-8', 'FOO=bar'],
  );
  // the user may set TERM and HOSTNAME too
  assert.deepEqual(containerEnv({ imageEnv: [], userEnv: ['TERM=dumb', 'HOSTNAME=x'], hostname: 'h', tty: true }), [
    DEFAULT_PATH,
    'HOSTNAME=x',
    'TERM=dumb',
  ]);
  assert.deepEqual(containerEnv({ imageEnv: ['PATH=/img'], userEnv: ['PATH=/usr'], hostname: 'h', tty: false }), [
    'PATH=/usr',
    'HOSTNAME=h',
  ]);
});

test('containerEnv: --link variables after the defaults, overridable by the container env', () => {
  assert.deepEqual(
    containerEnv({
      imageEnv: ['A=1'],
      userEnv: ['DB_NAME=mine'],
      hostname: 'h',
      tty: false,
      linkEnv: ['DB_PORT=tcp://172.17.0.2:5432', 'DB_NAME=/web/db'],
    }),
    [DEFAULT_PATH, 'HOSTNAME=h', 'DB_PORT=tcp://172.17.0.2:5432', 'DB_NAME=mine', 'A=1'],
  );
});
