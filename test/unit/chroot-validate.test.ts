// Pure rules of the chroot manager: input validation, parsers, the run script, the tiny ELF32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  archOfMachine,
  cacheKey,
  chrootUser,
  cleanInnerPath,
  parseBind,
  parseElfHeader,
  parseEnv,
  parseInclude,
  parseLdd,
  tinyElf32Uname,
  validateArch,
  validateMirror,
  validateName,
  validateSuite,
  validateVariant,
} from '../../src/chroot/validate.js';
import { EngineError } from '../../src/core/errors.js';
import { parseGroup, parsePasswd } from '../../src/core/users.js';
import { jailUser } from '../../src/chroot/chroot.js';
import { buildRunScript } from '../../src/sys/chroot.js';

const SCRIPTS = ['sid', 'bookworm', 'trixie', 'testing', 'unstable', 'jammy'];
const bad = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof EngineError && e.kind === 'invalid-argument' && re.test(e.message));
};

test('names', () => {
  assert.equal(validateName('dev-1.x_y'), 'dev-1.x_y');
  bad(() => validateName('.cache'), /invalid chroot name/);
  bad(() => validateName('a/b'), /invalid chroot name/);
  bad(() => validateName(''), /invalid chroot name/);
  bad(() => validateName('x'.repeat(65)), /invalid chroot name/);
});

test('suites: Debian ones with a debootstrap script; forky through sid', () => {
  assert.equal(validateSuite('bookworm', SCRIPTS), 'bookworm');
  assert.equal(validateSuite('sid', SCRIPTS), 'sid');
  assert.equal(validateSuite('forky', SCRIPTS), 'sid');
  bad(() => validateSuite('jammy', SCRIPTS), /unknown suite "jammy"/);
  bad(() => validateSuite('nosuch', SCRIPTS), /unknown suite "nosuch"/);
  bad(() => validateSuite('bullseye', SCRIPTS), /no script/);
});

test('architectures, variants, packages, mirrors', () => {
  assert.equal(validateArch('i386'), 'i386');
  bad(() => validateArch('x86'), /unknown architecture "x86"/);
  assert.equal(validateVariant('minbase'), 'minbase');
  bad(() => validateVariant('tiny'), /unknown variant/);
  assert.deepEqual(parseInclude(['vim,less', 'less', ' curl ']), ['curl', 'less', 'vim']);
  bad(() => parseInclude(['Bad_Name']), /invalid package name/);
  assert.equal(validateMirror('http://deb.debian.org/debian'), 'http://deb.debian.org/debian');
  bad(() => validateMirror('deb.debian.org'), /invalid mirror/);
  assert.equal(archOfMachine(3, 32), 'i386');
  assert.equal(archOfMachine(62, 64), 'amd64');
});

test('cache key depends on suite/arch/variant/include/mirror only, include order-free', () => {
  const a = cacheKey({
    suite: 'bookworm',
    arch: 'amd64',
    variant: 'minbase',
    include: ['b', 'a'],
    mirror: 'http://m/debian/',
  });
  const b = cacheKey({
    suite: 'bookworm',
    arch: 'amd64',
    variant: 'minbase',
    include: ['a', 'b'],
    mirror: 'http://m/debian',
  });
  assert.equal(a, b);
  assert.match(a, /^bookworm-amd64-minbase-[0-9a-f]{16}$/);
  assert.notEqual(
    a,
    cacheKey({ suite: 'bookworm', arch: 'i386', variant: 'minbase', include: ['a', 'b'], mirror: 'http://m/debian' }),
  );
});

test('--bind: absolute paths, ro/rw, no ".." and not over /', () => {
  assert.deepEqual(parseBind('/srv/data:/data'), { host: '/srv/data', inner: '/data', readonly: false });
  assert.deepEqual(parseBind('/srv/data:/mnt//x/:ro'), { host: '/srv/data', inner: '/mnt/x', readonly: true });
  bad(() => parseBind('data:/data'), /host path "data" must be absolute/);
  bad(() => parseBind('/data:data'), /must be absolute/);
  bad(() => parseBind('/data:/a/../b'), /must not contain/);
  bad(() => parseBind('/data:/'), /cannot bind over/);
  bad(() => parseBind('/data'), /expected HOST:PATH/);
  bad(() => parseBind('/data:/x:rx'), /mode must be ro or rw/);
  assert.equal(cleanInnerPath('/a/./b/', 'x'), '/a/b');
});

test('--env', () => {
  assert.deepEqual(parseEnv(['A=1', 'B=', 'HOMEX'], { HOMEX: 'h' }), { A: '1', B: '', HOMEX: 'h' });
  bad(() => parseEnv(['1A=x'], {}), /bad variable name/);
});

test('--user resolves names, groups and supplementary groups from the root', () => {
  const pw = parsePasswd(
    'root:x:0:0:root:/root:/bin/bash\nwww:x:33:33:www:/var/www:/usr/sbin/nologin\nbob:x:1000:1000::/home/bob:/bin/bash\n',
  );
  const gr = parseGroup('root:x:0:\nwww:x:33:\nbob:x:1000:\naudio:x:29:bob\nvideo:x:44:bob,www\n');
  assert.deepEqual(chrootUser('bob', pw, gr), {
    uid: 1000,
    gid: 1000,
    groups: [1000, 29, 44],
    name: 'bob',
    home: '/home/bob',
  });
  assert.deepEqual(chrootUser('www:audio', pw, gr), { uid: 33, gid: 29, groups: [29], name: 'www', home: '/var/www' });
  assert.deepEqual(chrootUser('4242:4343', pw, gr), {
    uid: 4242,
    gid: 4343,
    groups: [4343],
    name: undefined,
    home: '/',
  });
  bad(() => chrootUser('nobody', pw, gr), /unable to find user nobody/);
  bad(() => chrootUser('bob:nogroup', pw, gr), /unable to find group nogroup/);
  // docker's rules (core/users.ts): an unknown numeric uid runs with gid 0; chroots cap ids at 65535
  assert.deepEqual(chrootUser('4242', pw, gr), { uid: 4242, gid: 0, groups: [0], name: undefined, home: '/' });
  bad(() => chrootUser('70000', pw, gr), /at most 65535/);
  bad(() => chrootUser('bob:70000', pw, gr), /at most 65535/);
  // a malformed line is no user (it once resolved as uid 0)
  bad(() => chrootUser('evil', parsePasswd('evil:x::\n'), gr), /unable to find user evil/);
});

test('jail users', () => {
  const pw = 'root:x:0:0::/:/bin/sh\nwww-data:x:33:33::/:/bin/sh\nu:x:10000:10000::/:/bin/sh\n';
  assert.deepEqual(jailUser('www-data', pw, ''), { name: 'www-data', uid: 33, gid: 33 });
  assert.deepEqual(jailUser('ftp', pw, ''), { name: 'ftp', uid: 10001, gid: 10001 });
  assert.deepEqual(jailUser('web:2000:2001', pw, ''), { name: 'web', uid: 2000, gid: 2001 });
  assert.deepEqual(jailUser('3000', pw, ''), { name: 'jail', uid: 3000, gid: 3000 });
  bad(() => jailUser('0', pw, ''), /must not be root/);
  bad(() => jailUser('Bad Name', pw, ''), /invalid --user/);
});

test('ldd output', () => {
  const out = `\tlinux-vdso.so.1 (0x00007ffc3a5f2000)
\tlibresolv.so.2 => /lib/x86_64-linux-gnu/libresolv.so.2 (0x00007f0b1c8e0000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0b1c6ff000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0b1c90c000)
`;
  assert.deepEqual(parseLdd(out), {
    static: false,
    paths: ['/lib/x86_64-linux-gnu/libresolv.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'],
    missing: [],
  });
  assert.deepEqual(parseLdd('\tnot a dynamic executable\n'), { static: true, paths: [], missing: [] });
  assert.deepEqual(parseLdd('\tlibfoo.so.1 => not found\n').missing, ['libfoo.so.1']);
});

test('the tiny ELF32 is a 32-bit i386 executable', () => {
  const b = tinyElf32Uname();
  const h = parseElfHeader(b);
  assert.deepEqual(h, { elfClass: 32, type: 2, machine: 3 });
  assert.equal(b.subarray(0, 8).toString('hex'), '7f454c4601010100');
  assert.equal(parseElfHeader(Buffer.from('#!/bin/sh\n')), undefined);
});

test('run script: mounts only inside the private namespace, quoted paths, user drop, no fork', () => {
  const s = buildRunScript({
    root: "/var/lib/cocon/chroots/it's/root",
    mode: 'native',
    systemMounts: true,
    binds: [{ host: '/srv/x', target: "/var/lib/cocon/chroots/it's/root/mnt", readonly: true }],
    user: { uid: 1000, gid: 1000, groups: [1000, 29] },
    noNewPrivs: false,
    workdir: '/tmp',
    env: { PATH: '/bin', A: "x'y" },
  });
  assert.match(s, /^set -eu\n/);
  assert.match(s, /mount -t proc -o nosuid,nodev,noexec proc '\/var\/lib\/cocon\/chroots\/it'\\''s\/root\/proc'/);
  assert.match(s, /mount --bind \/dev\/pts '[^']*'\\''s\/root\/dev\/pts'/);
  assert.match(s, /mount -o remount,bind,ro '.*\/mnt'/);
  assert.match(
    s,
    /exec setpriv --regid=1000 --groups=1000,29 env -i 'PATH=\/bin' 'A=x'\\''y' unshare '--root=.*' '--wd=\/tmp' --setuid=1000 -- "\$@"\n$/,
  );
  assert.doesNotMatch(s, /binfmt/);
  const e = buildRunScript({
    root: '/r',
    mode: 'emulated',
    binfmt: ':q:M::\\x7fELF:\\xff:/usr/bin/qemu-i386-static:F',
    systemMounts: true,
    binds: [],
    noNewPrivs: true,
    workdir: '/',
    env: {},
  });
  assert.match(e, /mount -t binfmt_misc binfmt_misc \/proc\/sys\/fs\/binfmt_misc/);
  assert.match(e, /mount --rbind \/proc '\/r\/proc'/);
  assert.doesNotMatch(e, /mknod/);
  assert.match(e, /exec setpriv --no-new-privs env -i unshare/);
  const j = buildRunScript({
    root: '/j',
    mode: 'native32',
    systemMounts: false,
    binds: [],
    noNewPrivs: true,
    user: { uid: 5, gid: 6, groups: [6] },
    workdir: '/',
    env: {},
  });
  assert.doesNotMatch(j, /mount/);
  assert.match(j, /exec setarch i686 setpriv --no-new-privs --regid=6 --groups=6/);
  assert.throws(() =>
    buildRunScript({
      root: '/r',
      mode: 'native',
      systemMounts: false,
      binds: [{ host: '/x', target: '/elsewhere', readonly: false }],
      noNewPrivs: false,
      workdir: '/',
      env: {},
    }),
  );
});
