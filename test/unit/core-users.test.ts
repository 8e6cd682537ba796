// Unit tests for core/users.ts: the one passwd/group parser and `--user` resolver (containers and
// chroots both use it), malformed lines included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroup, parsePasswd, resolveGroupAdd, resolveUser, UserLookupError } from '../../src/core/users.js';

const PASSWD = parsePasswd(
  [
    'root:x:0:0:root:/root:/bin/sh',
    'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
    '# a comment',
    '',
    'app:x:1000:1000:App:/home/app:',
    'dup:x:1000:2000:Dup:/home/dup:/bin/sh',
  ].join('\n'),
);
const GROUP = parseGroup('root:x:0:\nwheel:x:10:root\naudio:x:29:app\nvideo:x:44:app,root\napp:x:1000:\nstaff:x:50:\n');

test('parsePasswd: fields, defaults for an empty home or shell, comments and blank lines skipped', () => {
  assert.equal(PASSWD.length, 4);
  assert.deepEqual(PASSWD[0], { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' });
  assert.deepEqual(PASSWD[2], { name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/bin/sh' });
  assert.deepEqual(parsePasswd('x:x:5:6:::\r\n'), [{ name: 'x', uid: 5, gid: 6, home: '/', shell: '/bin/sh' }]);
});

test('parsePasswd skips malformed lines: they never become uid 0 (or any user)', () => {
  const text = [
    'short:x:1', // too few fields
    'noids:x:::gecos:/home:/bin/sh', // empty uid and gid
    'words:x:abc:0:g:/:/bin/sh', // uid not a number
    'neg:x:-1:0:g:/:/bin/sh', // negative
    'hex:x:0x10:0:g:/:/bin/sh', // not decimal
    'big:x:99999999999:0:g:/:/bin/sh', // out of range
    ':x:7:7:g:/:/bin/sh', // no name
    'ok:x:7:7:g:/:/bin/sh',
  ].join('\n');
  assert.deepEqual(
    parsePasswd(text).map((u) => u.name),
    ['ok'],
  );
  for (const name of ['short', 'noids', 'words', 'neg', 'hex', 'big']) {
    assert.throws(() => resolveUser(name, parsePasswd(text), []), UserLookupError, name);
  }
  // uid 0 resolves to no malformed line either
  assert.deepEqual(resolveUser('0', parsePasswd(text), []), {
    uid: 0,
    gid: 0,
    groups: [0],
    name: undefined,
    home: '/',
  });
});

test('parseGroup: members split and trimmed; malformed lines skipped', () => {
  assert.deepEqual(
    GROUP.find((g) => g.name === 'video'),
    { name: 'video', gid: 44, members: ['app', 'root'] },
  );
  assert.deepEqual(parseGroup('g:x:5: a , b,\nbad:x:5\nbad2:x:five:a\n:x:6:\n'), [
    { name: 'g', gid: 5, members: ['a', 'b'] },
  ]);
});

test("resolveUser: names, uids, groups, docker's rules", () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP), {
    uid: 0,
    gid: 0,
    groups: [0, 10, 44],
    name: 'root',
    home: '/root',
  });
  assert.deepEqual(resolveUser('app', PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    groups: [1000, 29, 44],
    name: 'app',
    home: '/home/app',
  });
  assert.deepEqual(resolveUser('1000', PASSWD, GROUP).name, 'app'); // first match wins
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, groups: [0], name: undefined, home: '/' });
  assert.deepEqual(resolveUser('app:staff', PASSWD, GROUP), {
    uid: 1000,
    gid: 50,
    groups: [50],
    name: 'app',
    home: '/home/app',
  });
  assert.deepEqual(resolveUser('app:7777', PASSWD, GROUP).groups, [7777]);
  assert.deepEqual(resolveUser(':wheel', PASSWD, GROUP), {
    uid: 0,
    gid: 10,
    groups: [10],
    name: 'root',
    home: '/root',
  });
  assert.throws(() => resolveUser('ghost', PASSWD, GROUP), {
    message: 'unable to find user ghost: no matching entries in passwd file',
  });
  assert.throws(() => resolveUser('app:nosuch', PASSWD, GROUP), {
    message: 'unable to find group nosuch: no matching entries in group file',
  });
  assert.throws(() => resolveUser('2147483648', PASSWD, GROUP), {
    message: 'uids and gids must be in range 0-2147483647',
  });
  assert.throws(() => resolveUser('1:2147483648', PASSWD, GROUP), UserLookupError);
});

test('resolveGroupAdd: names and numbers, deduplicated; unknown names refused', () => {
  assert.deepEqual(resolveGroupAdd(['staff', '4000', 'staff', '29'], GROUP), [50, 4000, 29]);
  assert.deepEqual(resolveGroupAdd(['77'], []), [77]);
  assert.throws(() => resolveGroupAdd(['nosuch'], GROUP), {
    message: 'Unable to find group nosuch: no matching entries in group file',
  });
});
