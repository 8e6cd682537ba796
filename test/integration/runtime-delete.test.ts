// RuncDriver.deleteExited(): a container that exited under conmon is deleted without starting runc
// (its cgroups and state dir removed in-process), and every case where something of the container
// may still run goes to `runc delete --force`. Real conmon, runc and cgroups; no daemon.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { RuncDriver } from '../../src/runtime/runc.js';
import { createContainer } from '../../src/runtime/conmon.js';
import { waitFor, type Json } from '../helpers/daemon.js';

const RUNC = '/usr/sbin/runc';
const CONMON = '/usr/bin/conmon';
const base = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'rdel-'));
const runcRoot = join(base, 'runc');
const exits = join(base, 'exits');
const socks = join(base, 's');
for (const d of [runcRoot, exits, socks]) mkdirSync(d, { recursive: true });
const cgParent = `cocon-rdel-${process.pid}`;
const runc = new RuncDriver(RUNC, runcRoot);
/** A driver whose runtime always fails: deleteExited() succeeds with it only on its own fast path. */
const noRunc = new RuncDriver('/bin/false', runcRoot);
const made: string[] = [];

const rootfs = join(base, 'rootfs');
mkdirSync(join(rootfs, 'bin'), { recursive: true });
for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d));
cpSync('/bin/busybox', join(rootfs, 'bin/busybox'));
for (const a of ['true', 'sleep', 'sh']) symlinkSync('busybox', join(rootfs, 'bin', a));

after(() => {
  for (const id of made) spawnSync(RUNC, ['--root', runcRoot, 'delete', '--force', id]);
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    const p = join('/sys/fs/cgroup', ctl, cgParent);
    if (existsSync(p)) {
      for (const c of readdirSync(p, { withFileTypes: true }))
        if (c.isDirectory()) rmdirSync(join(p, c.name), { recursive: false });
      rmdirSync(p);
    }
  }
  rmSync(base, { recursive: true, force: true });
});

/** Whether pid runs (a zombie does not count). */
function isLive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function cgroupDirs(id: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((ctl) => join('/sys/fs/cgroup', ctl, cgParent, id))
    .filter((p) => existsSync(p));
}

/** A bundle for `args`; sharedPid leaves out the pid namespace (the container's processes are the host's). */
function bundle(id: string, args: string[], sharedPid = false): string {
  const b = join(base, id.slice(0, 12));
  mkdirSync(b);
  spawnSync(RUNC, ['spec', '--bundle', b]);
  const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as Json;
  spec.root = { path: rootfs, readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  delete spec.process.rlimits;
  spec.linux.cgroupsPath = `/${cgParent}/${id}`;
  if (sharedPid) spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
  writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
  return b;
}

/** Creates `args` under conmon as the daemon does; returns the id and its init pid. */
async function conmonCreate(args: string[], sharedPid = false): Promise<{ id: string; pid: number }> {
  const id = randomBytes(32).toString('hex');
  made.push(id);
  const b = bundle(id, args, sharedPid);
  const tmp = join(base, `t${id.slice(0, 8)}`);
  mkdirSync(tmp);
  const { pid } = await createContainer(
    { conmon: CONMON, runtime: RUNC, runtimeRoot: runcRoot, socketDir: socks },
    {
      id,
      uuid: id.slice(0, 32),
      name: id.slice(0, 12),
      bundle: b,
      logPath: join(b, 'ctr.log'),
      exitDir: exits,
      tty: false,
      stdin: false,
      leaveStdinOpen: false,
      tmpDir: tmp,
    },
  );
  return { id, pid };
}

test('an exited container goes without runc: its cgroups and state dir are removed', async () => {
  const { id, pid } = await conmonCreate(['/bin/true']);
  assert.ok(cgroupDirs(id).length > 0, 'runc made the container cgroups');
  await runc.start(id, pid);
  await waitFor('exit file', () => existsSync(join(exits, id)), 10_000);
  await noRunc.deleteExited(id); // would throw if it had to run the runtime
  assert.equal(existsSync(join(runcRoot, id)), false, 'state dir gone');
  assert.deepEqual(cgroupDirs(id), [], 'cgroup dirs gone');
  assert.equal((await runc.state(id)) === null, true, 'runc knows it no more');
  // nothing left: a second delete is a no-op
  await noRunc.deleteExited(id);
});

test('a created (not started) container is not taken for exited: runc deletes it and its init', async () => {
  const { id, pid } = await conmonCreate(['/bin/true']);
  await assert.rejects(noRunc.deleteExited(id), /runc delete/);
  assert.ok(existsSync(join(runcRoot, id)), 'the fast path left it to runc');
  await runc.deleteExited(id);
  assert.equal(existsSync(join(runcRoot, id)), false);
  assert.deepEqual(cgroupDirs(id), []);
  await waitFor('its init gone', () => !isLive(pid), 10_000);
});

test('a running container is killed and deleted by runc, never by the fast path', async () => {
  const { id, pid } = await conmonCreate(['/bin/sleep', '600']);
  await runc.start(id, pid);
  await assert.rejects(noRunc.deleteExited(id), /runc delete/);
  assert.ok(isLive(pid), 'still running');
  await runc.deleteExited(id);
  await waitFor('exit file', () => existsSync(join(exits, id)), 10_000);
  assert.equal(existsSync(join(runcRoot, id)), false);
  assert.deepEqual(cgroupDirs(id), []);
});

test('an exited container without its own pid namespace goes to runc (which kills what is left)', async () => {
  const { id, pid } = await conmonCreate(['/bin/true'], true);
  await runc.start(id, pid);
  await waitFor('exit file', () => existsSync(join(exits, id)), 10_000);
  await assert.rejects(noRunc.deleteExited(id), /runc delete/);
  await runc.deleteExited(id);
  assert.equal(existsSync(join(runcRoot, id)), false);
  assert.deepEqual(cgroupDirs(id), []);
});
