// The warm sandbox pool (src/network/pool.ts) with a real daemon: containers on the default bridge
// and on a user network get pre-made namespaces, each handed out once (a container that rewrites its
// namespace leaves nothing to the next one), and the unused ones are gone after a shutdown; after a
// kill -9 the next start deletes the orphans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniq, cli, waitFor, type Daemon } from '../helpers/daemon.js';
import { netTag, useBridgeDaemon } from './network-common.js';

const tag = netTag;
const h = useBridgeDaemon('cnp', 97, 160);

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await cli(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `cocon ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The namespace files mounted under the daemon's netns directory that are sandboxes (sb-*). */
function sandboxMounts(): string[] {
  const dir = join(h.d.execRoot, 'netns') + '/';
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(dir + 'sb-'));
}

/** Waits until the sandbox mounts satisfy pred; returns them. */
async function waitMounts(what: string, pred: (m: string[]) => boolean): Promise<string[]> {
  return (await waitFor(what, () => {
    const m = sandboxMounts();
    return pred(m) ? m : undefined;
  }))!;
}

const sandboxOf = async (name: string) =>
  JSON.parse(await ok(h.d, ['inspect', name]))[0].NetworkSettings.SandboxKey as string;

test('the default bridge is served from the pool; every sandbox is used once', async () => {
  const warm = await waitMounts('a warm sandbox', (m) => m.length >= 1);
  const a = uniq('pa');
  await ok(h.d, ['run', '-d', '--name', a, 'busybox', 'sleep', '300']);
  const sa = await sandboxOf(a);
  assert.ok(warm.includes(sa), `${sa} is one of the warm sandboxes ${warm.join(' ')}`);
  // it works: address of --bip, MAC 02:42:<ip>, default route through the gateway, the gateway answers
  const out = await ok(h.d, [
    'exec',
    a,
    'sh',
    '-c',
    `ip -o -4 addr show eth0; ip link show eth0; ip route; ping -c1 -W3 10.${tag}.97.1`,
  ]);
  assert.match(out, new RegExp(`inet 10\\.${tag}\\.97\\.\\d+/24`));
  assert.match(out, /link\/ether 02:42:0a:/);
  assert.match(out, new RegExp(`default via 10\\.${tag}\\.97\\.1 dev eth0`));
  assert.match(out, /1 packets received/);
  await ok(h.d, ['rm', '-f', a]);
  assert.ok(!existsSync(sa), 'the removed container took its namespace with it');
  assert.ok(!sandboxMounts().includes(sa));
  const b = uniq('pb');
  await ok(h.d, ['run', '-d', '--name', b, 'busybox', 'sleep', '300']);
  assert.notEqual(await sandboxOf(b), sa, 'a namespace is never handed out twice');
  await ok(h.d, ['rm', '-f', b]);
});

test('attack: a container that rewrites its namespace leaves nothing to the containers after it', async () => {
  // NET_ADMIN: extra addresses, a link, a route, a sysctl and an nft table in its own namespace
  const mark = `10.${tag}.250.77`;
  await ok(h.d, [
    'run',
    '--rm',
    '--cap-add',
    'NET_ADMIN',
    'busybox',
    'sh',
    '-c',
    `ip addr add ${mark}/32 dev lo && ip addr add ${mark}/32 dev eth0 && ip link add dummy7 type dummy 2>/dev/null; ip route add 10.${tag}.251.0/24 dev eth0 && echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter; true`,
  ]);
  for (let i = 0; i < 4; i++) {
    const out = await ok(h.d, ['run', '--rm', 'busybox', 'sh', '-c', 'ip addr; ip route; ip link']);
    assert.ok(!out.includes(mark), `a later container sees the earlier one's address:\n${out}`);
    assert.ok(!out.includes(`10.${tag}.251.0`), `a later container sees the earlier one's route:\n${out}`);
    assert.ok(!out.includes('dummy7'), out);
    assert.equal(out.match(/inet /g)?.length, 2, `lo and eth0 only:\n${out}`);
  }
});

test('user networks get pooled sandboxes too, with the embedded DNS redirect', async () => {
  const net = uniq('pnet');
  await ok(h.d, ['network', 'create', net]);
  try {
    // the default bridge's pool (two deep) is full and nothing runs: these are its
    const bridgePool = await waitMounts('the default pool full', (m) => m.length === 2);
    const a = uniq('ua');
    await ok(h.d, ['run', '-d', '--name', a, '--network', net, 'busybox', 'sleep', '300']);
    const sa = await sandboxOf(a);
    // the first start on a network warms its pool; the next ones take from it
    const before = await waitMounts('warm sandboxes of the user network', (ms) =>
      ms.some((m) => m !== sa && !bridgePool.includes(m)),
    );
    const b = uniq('ub');
    await ok(h.d, ['run', '-d', '--name', b, '--network', net, 'busybox', 'sleep', '300']);
    assert.ok(before.includes(await sandboxOf(b)), 'the second container came from the pool');
    const out = await ok(h.d, ['exec', b, 'sh', '-c', `cat /etc/resolv.conf; nslookup ${a} 127.0.0.11`]);
    assert.match(out, /nameserver 127\.0\.0\.11/);
    const ipA = JSON.parse(await ok(h.d, ['inspect', a]))[0].NetworkSettings.Networks[net].IPAddress as string;
    assert.ok(out.includes(ipA), `the pooled container resolves ${a} to ${ipA}:\n${out}`);
    await ok(h.d, ['rm', '-f', a, b]);
  } finally {
    await cli(h.d, ['network', 'rm', net]);
  }
});

test('shutdown deletes the unused sandboxes; after kill -9 the next start deletes the orphans', async () => {
  await waitMounts('a warm sandbox', (m) => m.length >= 1);
  await h.d.shutdown();
  assert.deepEqual(sandboxMounts(), [], 'no sandbox left mounted after a clean shutdown');
  await h.d.restart();
  const left = await waitMounts('warm sandboxes again', (m) => m.length >= 2);
  await h.d.kill9();
  assert.ok(sandboxMounts().length >= 2, 'a killed daemon leaves its pool');
  await h.d.restart();
  await waitMounts('the orphans deleted', (m) => left.every((p) => !m.includes(p)));
  for (const p of left) assert.ok(!existsSync(p), `${p} is gone`);
  // and the daemon still starts containers
  assert.match(await ok(h.d, ['run', '--rm', 'busybox', 'echo', 'up']), /up/);
});
