// Prune through the real docker CLI: container, network, volume, image and system prune with
// docker's filters (until, label, label!) and a truthful SpaceReclaimed (a container's writable
// layer and logs, a volume's contents).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon, docker, uniq } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

const ok = async (args: string[]) => {
  const r = await docker(h.d, args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('container prune: label, label! and until filters; SpaceReclaimed counts the writable layer', async () => {
  const big = uniq('big'),
    keep = uniq('keep'),
    young = uniq('young');
  await ok([
    'run',
    '--name',
    big,
    '--label',
    'tier=junk',
    'busybox',
    'dd',
    'if=/dev/zero',
    'of=/blob',
    'bs=1024',
    'count=2048',
  ]);
  await ok(['run', '--name', keep, '--label', 'tier=keep', 'busybox', 'true']);
  const out = await ok(['container', 'prune', '-f', '--filter', 'label=tier', '--filter', 'label!=tier=keep']);
  assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n/);
  const m = /Total reclaimed space: ([\d.]+)MB/.exec(out);
  assert.ok(m && Number(m[1]) >= 2, out);
  assert.equal((await docker(h.d, ['inspect', big])).code, 1);
  assert.equal((await docker(h.d, ['inspect', keep])).code, 0);
  // until: only what was created before the given time.
  await ok(['run', '--name', young, '--label', 'tier=keep', 'busybox', 'true']);
  const none = await ok(['container', 'prune', '-f', '--filter', 'until=1h']);
  assert.doesNotMatch(none, /Deleted Containers/);
  const bad = await docker(h.d, ['container', 'prune', '-f', '--filter', 'until=yesterday-ish']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter 'until=yesterday-ish'/);
  await ok(['rm', keep, young]);
});

test('network and volume prune: label filters; volume SpaceReclaimed is its contents', async () => {
  const n1 = uniq('pn'),
    n2 = uniq('pn');
  await ok(['network', 'create', '--label', 'p=1', n1]);
  await ok(['network', 'create', n2]);
  const out = await ok(['network', 'prune', '-f', '--filter', 'label=p=1']);
  assert.match(out, new RegExp(`Deleted Networks:\\n${n1}\\n`));
  assert.equal((await docker(h.d, ['network', 'inspect', n2])).code, 0);
  assert.equal((await docker(h.d, ['network', 'inspect', n1])).code, 1);
  await ok(['network', 'rm', n2]);
  const v = uniq('pv');
  await ok(['volume', 'create', '--label', 'p=1', v]);
  await ok(['run', '--rm', '-v', `${v}:/d`, 'busybox', 'dd', 'if=/dev/zero', 'of=/d/x', 'bs=1024', 'count=1024']);
  const vo = await ok(['volume', 'prune', '-a', '-f', '--filter', 'label=p=1']); // API 1.42+: named volumes need -a
  assert.match(vo, new RegExp(`Deleted Volumes:\\n${v}\\n`));
  assert.match(vo, /Total reclaimed space: 1\.0\d*MB/);
});

test('system prune -f: stopped containers, unused networks, dangling images; the build cache step answers', async () => {
  const c = uniq('sp'),
    n = uniq('spn');
  await ok(['run', '--name', c, 'busybox', 'true']);
  await ok(['network', 'create', n]);
  const out = await ok(['system', 'prune', '-f']);
  assert.match(out, /Deleted Containers:/);
  assert.match(out, new RegExp(`Deleted Networks:\\n${n}\\n`));
  assert.match(out, /Total reclaimed space:/);
  assert.equal((await docker(h.d, ['inspect', c])).code, 1);
  assert.equal((await docker(h.d, ['image', 'inspect', 'busybox'])).code, 0, 'a tagged image is not dangling');
});
