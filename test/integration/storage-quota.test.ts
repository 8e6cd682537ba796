// The brief's first point, for real: a daemon started with --storage-size keeps its data root on an
// xfs image of that size (loop-mounted, project quotas), so a container filling its disk stops
// with ENOSPC at that size while the host's root filesystem keeps its free space; the image is
// re-used and grown by later starts, never shrunk, and unmounted when the daemon stops.
// Per-container quotas (--storage-opt size=, test/integration/storage-quota-layer.test.ts) are loop
// ext4 images inside that data root: a daemon shutdown with no container running unmounts them and
// the data root, and the next start mounts them again on use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statfsSync, statSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { useDaemon, uniq, cli, docker, startDaemon, bootstrapBusybox } from '../helpers/daemon.js';
import { rm, runToEnd } from '../helpers/containers.js';

const MiB = 1024 * 1024;
const h = useDaemon({ busybox: true, args: ['--storage-size', '300M'] });

const mountOf = (path: string) =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[1] === path);
const hostFree = (path: string) => {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
};

test('--storage-size: the data root is an xfs loop mount with project quotas; info shows it', async () => {
  const m = mountOf(h.d.dataRoot);
  assert.ok(m, `data root ${h.d.dataRoot} is not a mount point`);
  assert.match(m!, /^\/dev\/loop\d+ \S+ xfs /);
  const img = `${h.d.dataRoot}.img`;
  assert.equal(statSync(img).size, 300 * MiB);
  const info = (await h.d.api('GET', '/v1.41/info')).json;
  const ds = Object.fromEntries(info.DriverStatus as Array<[string, string]>);
  assert.equal(ds['Backing Filesystem'], 'xfs');
  assert.equal(ds['Data Root Image'], img);
  // Project quotas where the kernel has them (CONFIG_XFS_QUOTA); info tells the truth either way.
  assert.equal(ds['Project Quotas'], String(/prjquota|pquota/.test(m!)));
  const df = (await h.d.api('GET', '/v1.41/system/df')).json;
  assert.equal(df.DataRoot.Filesystem, 'xfs');
  assert.ok(df.DataRoot.Size > 200 * MiB && df.DataRoot.Size <= 300 * MiB, String(df.DataRoot.Size));
  const out = await cli(h.d, ['system', 'df']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Data root: xfs on .*data\.img, .* used of /);
});

test('a container filling its disk stops with ENOSPC at --storage-size; the host root keeps its free space', async () => {
  const hostDir = dirname(h.d.root);
  const imgBlocks = statSync(`${h.d.dataRoot}.img`).blocks;
  const before = hostFree(hostDir);
  const r = await runToEnd(h.d, {
    name: uniq('fill'),
    cmd: ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=1000 2>&1; echo rc=$?; sync; echo size=$(stat -c %s /big)'],
  });
  assert.match(r.stderr + r.stdout, /No space left on device/);
  assert.match(r.stdout, /rc=1/);
  const written = Number(/size=(\d+)/.exec(r.stdout)?.[1] ?? 0);
  assert.ok(written > 150 * MiB && written < 300 * MiB, `dd wrote ${written} bytes: ${r.stdout} ${r.stderr}`);
  // The image was allocated in full at creation: the writes landed inside it, not on the host.
  assert.equal(statSync(`${h.d.dataRoot}.img`).blocks, imgBlocks);
  const lost = before - hostFree(hostDir);
  assert.ok(lost < 100 * MiB, `the host's filesystem lost ${lost} bytes`);
  await rm(h.d, r.id);
});

test('--storage-size: re-used and grown on a later start, never shrunk; the daemon stopping unmounts it', async () => {
  const args = ['--storage-size', '300M'];
  const d = await startDaemon({ args });
  try {
    const img = `${d.dataRoot}.img`;
    assert.equal((await d.api('POST', '/v1.41/volumes/create', { Name: 'keepme' })).status, 201);
    await d.shutdown();
    assert.equal(mountOf(d.dataRoot), undefined, 'the daemon left the data root mounted');
    args[1] = '400M';
    await d.restart();
    assert.equal(statSync(img).size, 400 * MiB, 'the image was not grown');
    const grown = statfsSync(d.dataRoot).blocks * statfsSync(d.dataRoot).bsize;
    assert.ok(grown > 300 * MiB, `the filesystem was not grown: ${grown} bytes`);
    assert.equal((await d.api('GET', '/v1.41/volumes/keepme')).status, 200, 'the volume did not survive');
    args[1] = '300M';
    await assert.rejects(d.restart(), /smaller than the existing data root image/);
    assert.equal(statSync(img).size, 400 * MiB);
    assert.equal(mountOf(d.dataRoot), undefined);
  } finally {
    await d.stop();
  }
});

test('--storage-opt size= on a --storage-size data root: its layer image lives there; shutdown unmounts both, a restart finds the file', async () => {
  const d = await startDaemon({ args: ['--storage-size', '300M', '--storage-opt', 'size=32m'] });
  try {
    await bootstrapBusybox(d);
    const name = uniq('qs');
    let r = await docker(d, ['run', '--name', name, 'busybox', 'sh', '-c', 'cat /k 2>/dev/null || echo kept > /k']);
    assert.equal(r.code, 0, r.stderr);
    const layer = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[1]?.startsWith(`${d.dataRoot}/overlay/snapshots/`));
    assert.equal(layer.length, 1, 'the container has no layer image mounted');
    assert.match(layer[0], / ext4 /);
    await d.shutdown();
    assert.equal(mountOf(d.dataRoot), undefined, 'the daemon left the data root mounted');
    await d.restart();
    r = await docker(d, ['start', '-a', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'kept\n');
    await assert.rejects(
      startDaemon({ args: ['--storage-size', '300M', '--storage-opt', 'size=1G'] }),
      /--storage-opt size=1073741824 is larger than the data root's filesystem/,
    );
  } finally {
    await d.stop();
  }
});
