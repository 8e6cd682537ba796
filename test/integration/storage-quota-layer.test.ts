// Per-container writable-layer quotas through the real docker CLI: `--storage-opt size=N` (and the
// daemon's default `--storage-opt size=N`) puts the container's overlay upper and work dirs on a sparse
// ext4 image of N bytes, loop-mounted under the data root (this kernel has no xfs project quotas).
// The writer gets ENOSPC and the host loses at most N; inspect shows StorageOpt; diff, cp and commit
// work on that layer; rm leaves no image, loop device or mount; bad sizes get docker's messages and
// create nothing; a create that fails half-way leaves nothing; a daemon restart (even after SIGKILL,
// even with the image unmounted as after a reboot) keeps running and stopped containers working, and
// sweeps the images, mounts and loop devices no container owns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, uniq, docker, startDaemon, run, bootstrapBusybox, type Daemon } from '../helpers/daemon.js';

const MiB = 1024 * 1024;
const h = useDaemon({ busybox: true });

const snapDir = (d: Daemon) => join(d.dataRoot, 'overlay', 'snapshots');

/** What quota layers a daemon has on the host: images in snapshots/, mounts and loop devices under the data root. */
function quotaState(d: Daemon): { images: string[]; mounts: string[]; loops: string[] } {
  const prefix = d.dataRoot + '/';
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[1]?.startsWith(snapDir(d) + '/') && f[2] === 'ext4')
    .map((f) => f[1]);
  const loops = readdirSync('/sys/block')
    .filter((n) => n.startsWith('loop'))
    .filter((n) => {
      try {
        return readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').startsWith(prefix);
      } catch {
        return false;
      }
    });
  const images = existsSync(snapDir(d)) ? readdirSync(snapDir(d)).filter((f) => f.endsWith('.img')) : [];
  return { images, mounts, loops };
}

const free = (path: string) => {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
};

/** `df -k /` inside a container: the size in bytes of the filesystem its writes land on. */
async function rootSize(d: Daemon, args: string[]): Promise<number> {
  const r = await docker(d, ['run', '--rm', ...args, 'busybox', 'df', '-k', '/']);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim().split('\n')[1].trim().split(/\s+/)[1]) * 1024;
}

test('--storage-opt size=64m: the writer gets ENOSPC, the host loses at most 64m, inspect shows it, rm leaves nothing', async () => {
  const d = h.d;
  const before = quotaState(d);
  const hostFree = free(d.dataRoot);
  const name = uniq('q');
  const r = await docker(d, [
    'run',
    '--name',
    name,
    '--storage-opt',
    'size=64m',
    'busybox',
    'sh',
    '-c',
    'dd if=/dev/zero of=/big bs=1M count=200 2>&1; echo rc=$?; sync; echo size=$(stat -c %s /big)',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /No space left on device/);
  assert.match(r.stdout, /rc=1/);
  const written = Number(/size=(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(written > 50 * MiB && written <= 64 * MiB, `dd wrote ${written} bytes`);
  const lost = hostFree - free(d.dataRoot);
  assert.ok(lost < 70 * MiB, `the host's filesystem lost ${lost} bytes`);
  const hc = JSON.parse((await docker(d, ['inspect', '-f', '{{json .HostConfig.StorageOpt}}', name])).stdout);
  assert.deepEqual(hc, { size: '64m' });
  const during = quotaState(d);
  assert.equal(during.images.length, before.images.length + 1);
  assert.equal(during.mounts.length, before.mounts.length + 1);
  assert.equal(during.loops.length, before.loops.length + 1);
  const rm = await docker(d, ['rm', name]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(quotaState(d), before, 'rm left an image, a mount or a loop device');
  assert.ok(hostFree - free(d.dataRoot) < 8 * MiB, 'the image file still takes host space');
});

test('df in a quota container shows its size; without one, the data root; size=0 is no quota', async () => {
  const plain = await rootSize(h.d, []);
  const q = await rootSize(h.d, ['--storage-opt', 'size=48m']);
  assert.ok(q > 40 * MiB && q <= 48 * MiB, `size=48m: df says ${q}`);
  assert.equal(await rootSize(h.d, ['--storage-opt', 'size=0']), plain);
  assert.ok(plain > 48 * MiB, `plain: ${plain}`);
});

test('docker diff, cp (running and stopped) and commit work on a quota layer', async () => {
  const d = h.d;
  const name = uniq('qd');
  const img = `qimg${uniq('')}`;
  const tmp = join(d.root, 'cp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'in.txt'), 'from the host\n');
  try {
    let r = await docker(d, [
      'run',
      '-d',
      '--name',
      name,
      '--storage-opt',
      'size=32m',
      'busybox',
      'sh',
      '-c',
      'echo hello > /made.txt; rm /bin/ls; sleep 300',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await run('sh', ['-c', 'sleep 0.5']);
    r = await docker(d, ['diff', name]);
    assert.match(r.stdout, /^A \/made\.txt$/m);
    assert.match(r.stdout, /^D \/bin\/ls$/m);
    assert.equal((await docker(d, ['cp', join(tmp, 'in.txt'), `${name}:/in.txt`])).code, 0);
    assert.equal((await docker(d, ['exec', name, 'cat', '/in.txt'])).stdout, 'from the host\n');
    assert.equal((await docker(d, ['stop', '-t', '0', name])).code, 0);
    r = await docker(d, ['cp', `${name}:/made.txt`, join(tmp, 'out.txt')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(tmp, 'out.txt'), 'utf8'), 'hello\n');
    r = await docker(d, ['commit', name, img]);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, ['run', '--rm', img, 'sh', '-c', 'cat /made.txt /in.txt; test -e /bin/ls || echo no-ls']);
    assert.equal(r.stdout, 'hello\nfrom the host\nno-ls\n', r.stderr);
  } finally {
    await docker(d, ['rm', '-f', name]);
    await docker(d, ['rmi', img]);
  }
});

test("bad sizes are refused with docker's messages (exit 125) and create nothing", async () => {
  const d = h.d;
  const before = quotaState(d);
  const ps = (await docker(d, ['ps', '-aq'])).stdout;
  const cases: Array<[string, RegExp]> = [
    ['size=abc', /invalid size: 'abc'/],
    ['size=10x', /invalid suffix: 'x'/],
    ['size=-5m', /invalid size: '-5m'/],
    ['size=100k', /--storage-opt size=100k is too small: a writable layer needs at least 1MiB/],
    ['size=1P', /--storage-opt size=1P is larger than the data root's filesystem/],
    ['quota=1g', /Unknown option quota/],
  ];
  for (const [opt, msg] of cases) {
    const r = await docker(d, ['run', '--rm', '--storage-opt', opt, 'busybox', 'true']);
    assert.equal(r.code, 125, `${opt}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, msg, opt);
  }
  const r = await docker(d, ['create', '--storage-opt', 'size', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /invalid storage option/);
  assert.equal((await docker(d, ['ps', '-aq'])).stdout, ps, 'a refused run left a container');
  assert.deepEqual(quotaState(d), before);
});

test('a create that fails after its quota layer was made leaves no image, mount or loop device', async () => {
  const d = h.d;
  const before = quotaState(d);
  const ps = (await docker(d, ['ps', '-aq'])).stdout;
  // the volume is made after the writable layer, and refused: the layer must go again
  const r = await docker(d, [
    'run',
    '--rm',
    '--storage-opt',
    'size=16m',
    '--mount',
    `type=volume,src=${uniq('v')},dst=/data,volume-opt=colour=blue`,
    'busybox',
    'true',
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /invalid option key: "colour"/);
  assert.equal((await docker(d, ['ps', '-aq'])).stdout, ps);
  assert.deepEqual(quotaState(d), before);
});

test('a create whose quota image cannot be mounted (e2fsck fails) leaves nothing; the daemon default applies', async () => {
  // A daemon whose e2fsck reports an uncorrectable filesystem: the image is made and formatted, then
  // the mount step fails. Its default quota is 24m, so even a plain `docker run` goes that way.
  const bin = join(h.d.root, 'fakebin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'e2fsck'), '#!/bin/sh\necho "e2fsck: pretend corruption" >&2\nexit 8\n');
  chmodSync(join(bin, 'e2fsck'), 0o755);
  const d = await startDaemon({ args: ['--storage-opt', 'size=24m'], env: { PATH: `${bin}:${process.env.PATH}` } });
  try {
    await bootstrapBusybox(d);
    const r = await docker(d, ['run', '--rm', 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /pretend corruption/);
    assert.equal((await docker(d, ['ps', '-aq'])).stdout, '');
    assert.deepEqual(quotaState(d), { images: [], mounts: [], loops: [] });
    // size=0 opts out of the default: no image, no fsck, it runs
    const ok = await docker(d, ['run', '--rm', '--storage-opt', 'size=0', 'busybox', 'true']);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await d.stop();
  }
});

test('daemon default --storage-opt size=: every container gets it unless it gives its own; bad defaults stop the daemon', async () => {
  const d = await startDaemon({ args: ['--storage-opt', 'size=24m'] });
  try {
    await bootstrapBusybox(d);
    const def = await rootSize(d, []);
    assert.ok(def > 18 * MiB && def <= 24 * MiB, `default: df says ${def}`);
    const own = await rootSize(d, ['--storage-opt', 'size=40m']);
    assert.ok(own > 32 * MiB && own <= 40 * MiB, `own: df says ${own}`);
    const r = await docker(d, ['run', '--rm', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/f bs=1M count=100 2>&1']);
    assert.match(r.stdout, /No space left on device/);
    // dockerd shows a driver default nowhere in the container's HostConfig: neither does cocon
    const id = (await docker(d, ['create', 'busybox', 'true'])).stdout.trim();
    assert.equal((await docker(d, ['inspect', '-f', '{{json .HostConfig.StorageOpt}}', id])).stdout.trim(), 'null');
    await docker(d, ['rm', id]);
    assert.deepEqual(quotaState(d), { images: [], mounts: [], loops: [] });
  } finally {
    await d.stop();
  }
  await assert.rejects(
    startDaemon({ args: ['--storage-opt', 'size=abc'] }),
    /--storage-opt size=abc: invalid size: 'abc'/,
  );
  await assert.rejects(startDaemon({ args: ['--storage-opt', 'size=4k'] }), /too small/);
});

test('restart after SIGKILL: a running quota container keeps its limit, a stopped one (image unmounted as after a reboot) starts; leftovers are swept', async () => {
  const d = await startDaemon();
  const live = uniq('ql');
  const stopped = uniq('qs');
  try {
    await bootstrapBusybox(d);
    let r = await docker(d, ['run', '-d', '--name', live, '--storage-opt', 'size=16m', 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, [
      'run',
      '--name',
      stopped,
      '--storage-opt',
      'size=16m',
      'busybox',
      'sh',
      '-c',
      'cat /k 2>/dev/null || echo kept > /k',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await d.kill9();
    // A reboot would unmount the stopped container's layer: do that to it (the one no overlay of a
    // running rootfs has its upperdir in).
    const mounted = quotaState(d).mounts;
    assert.equal(mounted.length, 2);
    const overlays = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[2] === 'overlay');
    const unmounted = mounted.filter((m) => !overlays.some((l) => l.includes(`upperdir=${m}/fs`)));
    assert.equal(unmounted.length, 1, `layers of no running container: ${unmounted}`);
    assert.equal((await run('umount', unmounted)).code, 0);
    // Leftovers of a crash: an image mounted on a dir no snapshot owns, and a loop device set up
    // on an image without a mount.
    const orphan = join(snapDir(d), 'deadbeefdeadbeefdeadbeef');
    mkdirSync(orphan);
    assert.equal((await run('truncate', ['-s', '8M', `${orphan}.img`])).code, 0);
    assert.equal((await run('mkfs.ext4', ['-q', `${orphan}.img`])).code, 0);
    assert.equal((await run('mount', ['-o', 'loop', `${orphan}.img`, orphan])).code, 0);
    assert.equal((await run('truncate', ['-s', '8M', `${orphan}2.img`])).code, 0);
    const lo = await run('losetup', ['-f', '--show', `${orphan}2.img`]);
    assert.equal(lo.code, 0, lo.stderr);
    assert.equal(quotaState(d).loops.length, 3);
    await d.restart();
    const after = quotaState(d);
    assert.equal(after.images.length, 2, `images: ${after.images}`);
    assert.deepEqual(
      after.mounts,
      mounted.filter((m) => !unmounted.includes(m)),
    );
    assert.equal(after.loops.length, 1, `loops: ${after.loops}`);
    assert.equal(existsSync(orphan), false);
    r = await docker(d, ['start', '-a', stopped]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'kept\n', 'the stopped container lost its file');
    assert.equal(quotaState(d).mounts.length, 2, "the stopped container's layer was not mounted again");
    r = await docker(d, ['diff', stopped]);
    assert.match(r.stdout, /^A \/k$/m);
    // the running one still writes into its own 16m
    r = await docker(d, ['exec', live, 'sh', '-c', 'dd if=/dev/zero of=/f bs=1M count=100 2>&1; echo rc=$?']);
    assert.match(r.stdout, /No space left on device/);
    assert.match(r.stdout, /rc=1/);
    assert.equal((await docker(d, ['rm', '-f', live, stopped])).code, 0);
    assert.deepEqual(quotaState(d), { images: [], mounts: [], loops: [] });
  } finally {
    await d.stop();
  }
});
