// Which tool builds a Debian root, and the command lines cocon gives debootstrap and mmdebstrap
// (src/sys/debootstrap.ts): pure functions, no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseBuilder,
  debootstrapArgs,
  failureMessage,
  mmdebstrapArgs,
  UNSAFE_IO_FILE,
  type DebootstrapOpts,
} from '../../src/sys/debootstrap.js';

const base: DebootstrapOpts = {
  suite: 'bookworm',
  script: 'bookworm',
  arch: 'amd64',
  variant: 'minbase',
  include: [],
  mirror: 'http://deb.debian.org/debian',
  target: '/data/chroots/x/root',
  foreign: false,
};

test('chooseBuilder: mmdebstrap for host-architecture roots when installed, debootstrap otherwise', () => {
  assert.equal(chooseBuilder({ suite: 'bookworm', native: true, haveMmdebstrap: true }), 'mmdebstrap');
  assert.equal(chooseBuilder({ suite: 'bookworm', native: true, haveMmdebstrap: false }), 'debootstrap');
  // other architectures (emulated, or i386 as native32) stay on debootstrap
  assert.equal(chooseBuilder({ suite: 'bookworm', native: false, haveMmdebstrap: true }), 'debootstrap');
  assert.equal(
    chooseBuilder({ suite: 'bookworm', native: true, haveMmdebstrap: true, override: 'debootstrap' }),
    'debootstrap',
  );
  assert.equal(chooseBuilder({ suite: 'bookworm', native: true, haveMmdebstrap: true, override: '' }), 'mmdebstrap');
  for (const suite of ['sid', 'forky', 'trixie', 'stable', 'testing'])
    assert.equal(chooseBuilder({ suite, native: true, haveMmdebstrap: true }), 'mmdebstrap');
  // before bookworm: no usr-is-merged, debootstrap keeps merging /usr as before
  for (const suite of ['bullseye', 'buster', 'stretch', 'jessie', 'oldoldstable']) {
    assert.equal(chooseBuilder({ suite, native: true, haveMmdebstrap: true }), 'debootstrap');
  }
});

test('debootstrapArgs: variant, include, foreign, suite script', () => {
  assert.deepEqual(debootstrapArgs('/usr/sbin/debootstrap', base), [
    '/usr/sbin/debootstrap',
    '--arch=amd64',
    '--variant=minbase',
    'bookworm',
    base.target,
    base.mirror,
  ]);
  assert.deepEqual(
    debootstrapArgs('/d', { ...base, variant: 'default', include: ['less', 'vim'], foreign: true, arch: 'arm64' }),
    ['/d', '--arch=arm64', '--include=less,vim', '--foreign', 'bookworm', base.target, base.mirror],
  );
  assert.deepEqual(debootstrapArgs('/d', { ...base, suite: 'forky', script: 'sid' }).slice(-4), [
    'forky',
    base.target,
    base.mirror,
    '/usr/share/debootstrap/scripts/sid',
  ]);
});

test('mmdebstrapArgs: mode root, same variant set, includes, mirror; unsafe-io and apt lists as debootstrap leaves them', () => {
  const a = mmdebstrapArgs('/usr/bin/mmdebstrap', { ...base, include: ['less', 'vim'] });
  assert.equal(a[0], '/usr/bin/mmdebstrap');
  assert.ok(a.includes('--mode=root'));
  assert.ok(a.includes('--format=directory'));
  assert.ok(a.includes('--architectures=amd64'));
  assert.ok(a.includes('--variant=minbase'));
  assert.ok(a.includes('--include=less,vim'));
  assert.ok(a.includes('--skip=cleanup/apt/lists'));
  assert.ok(a.includes('--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr'));
  assert.ok(
    a.some((x) => x.startsWith('--setup-hook=') && x.includes(UNSAFE_IO_FILE) && x.includes('force-unsafe-io')),
  );
  assert.ok(a.some((x) => x.startsWith('--customize-hook=') && x.includes('99mmdebstrap')));
  assert.deepEqual(a.slice(-3), ['bookworm', base.target, base.mirror]);
  // debootstrap's default variant (Priority: important) is mmdebstrap's "debootstrap"
  assert.ok(mmdebstrapArgs('/m', { ...base, variant: 'default' }).includes('--variant=debootstrap'));
  assert.ok(mmdebstrapArgs('/m', { ...base, variant: 'buildd' }).includes('--variant=buildd'));
  assert.ok(!mmdebstrapArgs('/m', base).some((x) => x.startsWith('--include')));
  // the suite goes to apt as is (no debootstrap script): forky stays forky
  assert.deepEqual(mmdebstrapArgs('/m', { ...base, suite: 'forky', script: 'sid' }).slice(-3), [
    'forky',
    base.target,
    base.mirror,
  ]);
  assert.throws(() => mmdebstrapArgs('/m', { ...base, foreign: true }), /foreign/);
  assert.throws(() => mmdebstrapArgs('/m', { ...base, variant: 'fakechroot' }), /variant/);
});

test('failureMessage: the E: lines of the tool that failed, else its last lines', () => {
  const tail = [
    'I: running apt-get update...',
    'E: Failed to fetch http://x/dists/nope/InRelease  404  Not Found',
    'E: apt-get update failed',
  ];
  assert.equal(
    failureMessage(tail, 1, 'mmdebstrap'),
    'mmdebstrap failed (exit 1): E: Failed to fetch http://x/dists/nope/InRelease  404  Not Found; E: apt-get update failed',
  );
  assert.equal(failureMessage(['a', 'b'], 2), 'debootstrap failed (exit 2): a; b');
  assert.equal(failureMessage([], 3, 'mmdebstrap'), 'mmdebstrap failed (exit 3): no output');
});
