// Pure rules of chroot profiles: the built-in ones, the profile file parser, and the merge of the
// host's passwd/group into a root's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_PROFILES,
  accountLinesFor,
  builtinProfile,
  isProfilePath,
  mergeAccounts,
  parseProfile,
} from '../../src/chroot/profile.js';
import { EngineError } from '../../src/core/errors.js';

const bad = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof EngineError && e.kind === 'invalid-argument' && re.test(e.message));
};

test('built-in profiles', () => {
  assert.deepEqual(
    BUILTIN_PROFILES.default.binds.map((b) => b.inner),
    ['/home', '/tmp'],
  );
  assert.deepEqual(
    BUILTIN_PROFILES.default.copies.map((c) => c.inner),
    ['/etc/hosts', '/etc/resolv.conf'],
  );
  assert.deepEqual(
    BUILTIN_PROFILES.default.merges.map((c) => c.inner),
    ['/etc/passwd', '/etc/group'],
  );
  assert.equal(
    BUILTIN_PROFILES.minimal.binds.length +
      BUILTIN_PROFILES.minimal.copies.length +
      BUILTIN_PROFILES.minimal.merges.length,
    0,
  );
  assert.equal(BUILTIN_PROFILES.minimal.devpts, 'private');
  assert.equal(builtinProfile('minimal').name, 'minimal');
  bad(() => builtinProfile('desktop'), /unknown profile "desktop"/);
  assert.equal(isProfilePath('./p'), true);
  assert.equal(isProfilePath('minimal'), false);
});

test('profile files: bind, copy, merge, devpts, comments', () => {
  const p = parseProfile(
    't',
    `# a profile
bind /home
bind /srv/data /data ro   # read-only
bind /srv/x /x rw
copy /etc/resolv.conf
copy /etc/motd.cocon /etc/motd
merge /etc/passwd
devpts private
`,
  );
  assert.deepEqual(p.binds, [
    { host: '/home', inner: '/home', readonly: false },
    { host: '/srv/data', inner: '/data', readonly: true },
    { host: '/srv/x', inner: '/x', readonly: false },
  ]);
  assert.deepEqual(p.copies, [
    { host: '/etc/resolv.conf', inner: '/etc/resolv.conf' },
    { host: '/etc/motd.cocon', inner: '/etc/motd' },
  ]);
  assert.deepEqual(p.merges, [{ host: '/etc/passwd', inner: '/etc/passwd' }]);
  assert.equal(p.devpts, 'private');
  assert.equal(parseProfile('e', '').devpts, 'host');
});

test('profile files: every bad line is refused with its number', () => {
  bad(() => parseProfile('t', '\nmount /x'), /line 2: unknown directive "mount"/);
  bad(() => parseProfile('t', 'bind home'), /line 1: "bind" needs an absolute host path/);
  bad(() => parseProfile('t', 'bind /a /'), /cannot bind over the chroot's \//);
  bad(() => parseProfile('t', 'bind /a /b ro extra'), /expected "bind HOST \[INNER\] \[ro\]"/);
  bad(() => parseProfile('t', 'bind /a rx'), /unexpected "rx"/);
  bad(() => parseProfile('t', 'bind /a /b/../../etc'), /must not contain ".."/);
  bad(() => parseProfile('t', 'copy /a b'), /copy target "b" must be an absolute path/);
  bad(() => parseProfile('t', 'copy'), /expected "copy HOST \[INNER\]"/);
  bad(() => parseProfile('t', 'copy etc'), /needs an absolute host path/);
  bad(() => parseProfile('t', 'merge /etc/shadow'), /only \/etc\/passwd and \/etc\/group can be merged/);
  bad(() => parseProfile('t', 'devpts shared'), /expected "devpts host" or "devpts private"/);
});

test("mergeAccounts: host entries win, the root keeps its others, clashes of id drop the root's", () => {
  const host = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n';
  const root =
    'root:x:0:0:root:/root:/bin/sh\nmysql:x:100:101::/nonexistent:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n# note\n';
  assert.equal(
    mergeAccounts(host, root),
    'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nmysql:x:100:101::/nonexistent:/bin/false\n# note\n',
  );
  assert.equal(mergeAccounts(host, ''), host);
  // idempotent
  assert.equal(mergeAccounts(host, mergeAccounts(host, root)), mergeAccounts(host, root));
});

test('accountLinesFor: the host user and its primary group, only what the root lacks', () => {
  const hp = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
  const hg = 'root:x:0:\nnogroup:x:65534:\n';
  assert.deepEqual(accountLinesFor('nobody', hp, hg, 'root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n'), {
    passwd: 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    group: 'nogroup:x:65534:',
  });
  assert.deepEqual(accountLinesFor('nobody', hp, hg, 'nobody:x:65534:65534::/:/bin/sh\n', 'nogroup:x:65534:\n'), {});
  assert.equal(accountLinesFor('ghost', hp, hg, '', ''), undefined);
});
