// An unstable (sid) root: debootstrap --variant=minbase sid (about a minute), which reports its own
// Debian version ("forky/sid" or later), not the host's 12.x; apt inside works (the frozen mirror's
// sid Release has an expired Valid-Until: cocon notices at build time and tells apt to accept it).
// Needs debootstrap and the Debian mirror.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, run, type RunResult } from '../helpers/daemon.js';
import { mountsAnywhere } from '../helpers/chroot.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const DATA = mkdtempSync(join(BASE, 'chroot-sid-'));

function chroot(args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'chroot', '--data-root', DATA, ...args], { timeoutMs });
}

before(
  async () => {
    const t0 = Date.now();
    const r = await chroot(['create', 'unstable', '--suite', 'sid'], 600_000);
    assert.equal(r.code, 0, `create sid failed: ${r.stderr}`);
    console.log(`# debootstrap sid minbase amd64 via cocon chroot create: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  },
  { timeout: 900_000 },
); // debootstrap: about a minute, several on a busy machine

after(async () => {
  await chroot(['rm', '-f', 'unstable']);
  const left = mountsAnywhere(DATA);
  rmSync(DATA, { recursive: true, force: true });
  assert.deepEqual(left, []);
});

test('a sid root reports its own Debian version, and apt works inside', async () => {
  const v = await chroot([
    'run',
    'unstable',
    '--',
    'sh',
    '-c',
    'cat /etc/debian_version; . /etc/os-release; echo "$PRETTY_NAME"',
  ]);
  assert.equal(v.code, 0, v.stderr);
  const [ver, pretty] = v.stdout.trim().split('\n');
  assert.match(ver, /sid$/, `debian_version ${ver}`);
  assert.doesNotMatch(ver, /^12\./);
  assert.match(pretty, /sid/);
  const host = readFileSync('/etc/debian_version', 'utf8').trim();
  assert.notEqual(ver, host);
  const i = JSON.parse((await chroot(['inspect', 'unstable'])).stdout)[0];
  assert.equal(i.Suite, 'sid');
  assert.equal(i.DebianVersion, ver);
  const apt = await chroot(['run', 'unstable', '--', 'apt-get', 'update', '-q'], 180_000);
  assert.equal(apt.code, 0, apt.stdout + apt.stderr);
  assert.doesNotMatch(apt.stdout + apt.stderr, /is expired/);
  assert.deepEqual(mountsAnywhere(DATA), []);
});

test('suite validation: unknown suites and Ubuntu names are refused, nothing created', async () => {
  for (const s of ['jammy', 'bookwurm']) {
    const r = await chroot(['create', `x-${s}`, '--suite', s]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`unknown suite "${s}"`));
  }
  const names = readdirSync(join(DATA, 'chroots')).filter((n) => !n.startsWith('.'));
  assert.deepEqual(names, ['unstable']);
});
