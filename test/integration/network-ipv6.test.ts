// IPv6 networks through the Engine API, on a "host" of the test's own (the daemon runs in a network
// namespace the test makes, so the IPv6 gateways, the ip6 nft table and net.ipv6.conf.all.forwarding
// change nothing outside): cocon's CLI `network create --ipv6` with a gateway per family; bad input refused with nothing half-written (no IPv6 subnet, an IPv6
// subnet without EnableIPv6, host bits, a foreign gateway, overlaps, --ip6 outside the subnet, on
// an IPv4-only network, on the default bridge, in use); POST /networks/{id}/connect with an
// IPv6Address on a running container (the address live at once, not "tentative"); a daemon restart
// keeping a running container's IPv6; network rm removing the ip6 table and giving forwarding back;
// IPv6 off in containers with no IPv6 network (as dockerd); the forwarding mark left by a SIGKILLed
// daemon: kept while its network may come back, acted on at the next start once none is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, uniq, docker, cli, startDaemon, waitFor, sleep } from '../helpers/daemon.js';
import { nftTableOf } from './network-common.js';

const base = mkdtempSync('/tmp/ipv6i-');
const HOST = join(base, 'host');
process.on('exit', () => {
  spawnSync('umount', [HOST]);
  rmSync(base, { recursive: true, force: true });
});
writeFileSync(HOST, '');
spawnSync('unshare', [`--net=${HOST}`, 'ip', 'link', 'set', 'lo', 'up']);
const inHost = (argv: string[]) => spawnSync('nsenter', [`--net=${HOST}`, ...argv], { encoding: 'utf8' });
const forwarding = () => inHost(['cat', '/proc/sys/net/ipv6/conf/all/forwarding']).stdout.trim();
const forwardingBefore = forwarding();
/** The mark cocon leaves in /run while forwarding is on because of it (per network namespace). */
const mark = () => `/run/cocon-ipv6-forwarding-was-off.${statSync(HOST).ino}`;

const h = useDaemon({
  busybox: true,
  netns: HOST,
  args: ['--bip', '10.97.0.1/24', '--default-address-pool', 'base=10.98.0.0/16,size=24'],
});

async function ok(args: string[]): Promise<string> {
  const r = await docker(h.d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const create = (name: string, body: Record<string, unknown>) =>
  h.d.api('POST', '/networks/create', { Name: name, ...body });
const names = async () => ((await h.d.api('GET', '/networks')).json as Array<{ Name: string }>).map((n) => n.Name);

const v6 = uniq('v6');
const v4 = uniq('v4');

test('POST /networks/create with IPv6: bad input refused, nothing half-written', async () => {
  const cases: Array<[Record<string, unknown>, number, RegExp]> = [
    [{ EnableIPv6: true }, 403, /non-overlapping IPv6 address pool/],
    [{ EnableIPv6: true, IPAM: { Config: [{ Subnet: '10.98.40.0/24' }] } }, 403, /IPv6 address pool/],
    [{ IPAM: { Config: [{ Subnet: 'fd00:97:1::/64' }] } }, 400, /without --ipv6/],
    [{ EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:97:1::5/64' }] } }, 400, /host bits set/],
    [
      { EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:97:1::/64', Gateway: 'fd00:97:2::1' }] } },
      400,
      /not in subnet/,
    ],
    [
      { EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:97:1::/64' }, { Subnet: 'fd00:97:2::/64' }] } },
      400,
      /at most one IPv6 subnet/,
    ],
    [
      { EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:97:1::/64', IPRange: 'fd00:97:1::/80' }] } },
      400,
      /ip-range/,
    ],
  ];
  for (const [body, status, msg] of cases) {
    const name = uniq('bad');
    const r = await create(name, body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.body}`);
    assert.match(r.json.message, msg);
    assert.ok(!(await names()).includes(name));
  }
  const good = await create(v6, {
    EnableIPv6: true,
    IPAM: { Config: [{ Subnet: '10.98.7.0/24' }, { Subnet: 'fd00:97:7::/64', Gateway: 'fd00:97:7::fe' }] },
  });
  assert.equal(good.status, 201, good.body);
  const n = (await h.d.api('GET', `/networks/${v6}`)).json;
  assert.equal(n.EnableIPv6, true);
  assert.deepEqual(n.IPAM.Config, [
    { Subnet: '10.98.7.0/24', Gateway: '10.98.7.1' },
    { Subnet: 'fd00:97:7::/64', Gateway: 'fd00:97:7::fe' },
  ]);
  assert.notEqual(forwarding(), '0');
  const overlap = await create(uniq('ov'), { EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:97:7:0:1::/80' }] } });
  assert.equal(overlap.status, 403, overlap.body);
  assert.match(overlap.json.message, /Pool overlaps/);
  assert.equal((await create(v4, {})).status, 201);
  // cocon's CLI pairs --gateway with the subnet of its family, as docker's does by containment
  const viaCli = uniq('cli6');
  const made = await cli(h.d, [
    'network',
    'create',
    '--ipv6',
    '--subnet',
    '10.98.8.0/24',
    '--subnet',
    'fd00:97:8::/64',
    '--gateway',
    'fd00:97:8::fe',
    viaCli,
  ]);
  assert.equal(made.code, 0, made.stderr);
  assert.deepEqual((await h.d.api('GET', `/networks/${viaCli}`)).json.IPAM.Config, [
    { Subnet: '10.98.8.0/24', Gateway: '10.98.8.1' },
    { Subnet: 'fd00:97:8::/64', Gateway: 'fd00:97:8::fe' },
  ]);
  assert.equal((await h.d.api('DELETE', `/networks/${viaCli}`)).status, 204);
});

test('--ip6 and POST /networks/{id}/connect with an IPv6Address: checked, honoured, live at once', async () => {
  const refused: Array<[string[], RegExp]> = [
    [['--network', v6, '--ip6', 'fd00:97:8::5'], /no configured subnet/],
    [['--network', v6, '--ip6', 'fd00:97:7::fe'], /reserved/],
    [['--network', v6, '--ip6', 'not-an-ip'], /invalid IPv6 address/],
    [['--network', v4, '--ip6', 'fd00:97:7::5'], /has no IPv6/],
    [['--ip6', 'fd00:97:7::5'], /user defined networks only/],
    [['--network', v4, '-p', '[::1]:8090:80'], /has no IPv6/],
  ];
  for (const [flags, msg] of refused) {
    const r = await docker(h.d, ['create', ...flags, 'busybox', 'true']);
    assert.notEqual(r.code, 0, flags.join(' '));
    assert.match(r.stderr, msg);
  }
  const c = uniq('c6');
  await ok(['run', '-d', '--name', c, '--network', v4, 'busybox', 'sleep', '300']);
  const bad = await h.d.api('POST', `/networks/${v6}/connect`, {
    Container: c,
    EndpointConfig: { IPAMConfig: { IPv6Address: 'fd00:97:9::1' } },
  });
  assert.equal(bad.status, 400, bad.body);
  const r = await h.d.api('POST', `/networks/${v6}/connect`, {
    Container: c,
    EndpointConfig: { IPAMConfig: { IPv6Address: 'fd00:97:7::77' } },
  });
  assert.equal(r.status, 200, r.body);
  const ep = (await h.d.api('GET', `/containers/${c}/json`)).json.NetworkSettings.Networks[v6];
  assert.equal(ep.GlobalIPv6Address, 'fd00:97:7::77');
  assert.equal(ep.GlobalIPv6PrefixLen, 64);
  assert.equal(ep.IPv6Gateway, 'fd00:97:7::fe');
  assert.equal(ep.MacAddress, `02:42:0a:62:07:02`);
  const addr = await ok(['exec', c, 'ip', '-6', 'addr', 'show', 'dev', 'eth1']);
  assert.match(addr, /inet6 fd00:97:7::77\/64 scope global/);
  assert.doesNotMatch(addr, /tentative/);
  assert.match(await ok(['exec', c, 'ping6', '-c1', '-W2', 'fd00:97:7::fe']), /1 packets received/);
  // the address is taken: a second container asking for it gets docker's conflict at start
  const dup = await docker(h.d, ['run', '--rm', '--network', v6, '--ip6', 'fd00:97:7::77', 'busybox', 'true']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /Address already in use/);
  // hosts file of the container names its IPv6 address too
  assert.match(await ok(['exec', c, 'cat', '/etc/hosts']), /fd00:97:7::77\t/);
});

test('a daemon restart keeps a running container on its IPv6 address, the ip6 table back in place', async () => {
  const c = uniq('r6');
  await ok(['run', '-d', '--name', c, '--network', v6, 'busybox', 'sleep', '300']);
  const before = (await h.d.api('GET', `/containers/${c}/json`)).json.NetworkSettings.Networks[v6].GlobalIPv6Address;
  await h.d.shutdown();
  await h.d.restart();
  const after = (await h.d.api('GET', `/containers/${c}/json`)).json.NetworkSettings.Networks[v6].GlobalIPv6Address;
  assert.equal(after, before);
  assert.match(inHost(['nft', 'list', 'table', 'ip6', nftTableOf(h.d.dataRoot)]).stdout, /fd00:97:7::\/64/);
  assert.match(await ok(['exec', c, 'ping6', '-c1', '-W2', 'fd00:97:7::fe']), /1 packets received/);
});

test('IPv6 off on IPv4-only networks as dockerd 20.10 leaves it (all.disable_ipv6=1, no ::1); on for IPv6 networks; --sysctl wins; joining an IPv6 network turns it on', async () => {
  const cat =
    'for i in all default lo eth0; do echo $i $(cat /proc/sys/net/ipv6/conf/$i/disable_ipv6); done; ip -6 addr';
  // IPv4-only user network and the default bridge, pooled and fresh sandboxes alike (three runs: the pool's two, then a new one)
  for (const net of [v4, v4, v4, 'bridge']) {
    const out = await ok(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', cat]);
    assert.match(out, /^all 1\ndefault 1\nlo 1\neth0 1\n$/, `${net}: ${out}`);
  }
  // --network none: IPv6 off too (runc makes that namespace: a sysctl in the spec)
  assert.match(await ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', cat]), /^all 1\ndefault 1\nlo 1\n/);
  // the user's sysctl wins, as with dockerd
  const user = await ok([
    'run',
    '--rm',
    '--network',
    v4,
    '--sysctl',
    'net.ipv6.conf.all.disable_ipv6=0',
    'busybox',
    'sh',
    '-c',
    cat,
  ]);
  assert.match(user, /^all 0\ndefault 0\nlo 0\neth0 0\n/);
  assert.match(user, /inet6 ::1\/128/);
  // an IPv6 network: lo and eth0 keep IPv6
  const six = await ok(['run', '--rm', '--network', v6, 'busybox', 'sh', '-c', cat]);
  assert.match(six, /lo 0\neth0 0\n/);
  assert.match(six, /inet6 ::1\/128/);
  assert.match(six, /inet6 fd00:97:7::\w+\/64 scope global/);
  // an IPv4-only container joining an IPv6 network (running, then at start): that link has IPv6
  const c = uniq('j6');
  await ok(['run', '-d', '--name', c, '--network', v4, 'busybox', 'sleep', '300']);
  await ok(['network', 'connect', v6, c]);
  const joined = await ok([
    'exec',
    c,
    'sh',
    '-c',
    'cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 /proc/sys/net/ipv6/conf/eth1/disable_ipv6; ip -6 addr show dev eth1',
  ]);
  assert.match(joined, /^1\n0\n/);
  assert.match(joined, /inet6 fd00:97:7::\w+\/64 scope global/);
  assert.match(await ok(['exec', c, 'ping6', '-c1', '-W2', 'fd00:97:7::fe']), /1 packets received/);
  const d = uniq('j6s');
  await ok(['create', '--name', d, '--network', v4, 'busybox', 'sleep', '300']);
  await ok(['network', 'connect', v6, d]);
  await ok(['start', d]);
  assert.match(
    await ok(['exec', d, 'ip', '-6', 'addr', 'show', 'dev', 'eth1']),
    /inet6 fd00:97:7::\w+\/64 scope global/,
  );
  assert.match(await ok(['exec', d, 'ping6', '-c1', '-W2', 'fd00:97:7::fe']), /1 packets received/);
  await ok(['rm', '-f', c, d]);
});

test('an IPv6 address reused by a new container with another MAC: the others reach it at once (its unsolicited neighbour advertisement, ndisc_notify)', async () => {
  const n = uniq('na6');
  await ok(['network', 'create', '--ipv6', '--subnet', '10.98.11.0/24', '--subnet', 'fd00:97:11::/64', n]);
  try {
    const a = uniq('na');
    const b = uniq('nb');
    await ok(['run', '-d', '--name', a, '--network', n, 'busybox', 'sleep', '300']);
    await ok(['run', '-d', '--name', b, '--network', n, '--ip6', 'fd00:97:11::50', 'busybox', 'sleep', '300']);
    assert.match(await ok(['exec', a, 'ping6', '-c1', '-W2', 'fd00:97:11::50']), /1 packets received/);
    const before = await ok(['exec', a, 'ip', '-6', 'neigh', 'show', 'fd00:97:11::50']);
    assert.match(before, /REACHABLE|DELAY|STALE/);
    await ok(['rm', '-f', b]);
    const c = uniq('nc');
    await ok([
      'run',
      '-d',
      '--name',
      c,
      '--network',
      n,
      '--ip',
      '10.98.11.77',
      '--ip6',
      'fd00:97:11::50',
      'busybox',
      'sleep',
      '300',
    ]);
    const mac = (await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${n}").MacAddress}}`, c])).trim();
    assert.equal(mac, '02:42:0a:62:0b:4d');
    assert.ok(!before.includes(mac), before);
    // at once: one try with a 1 s wait, where a stale entry would send it to the old MAC for up to ~35 s
    const r = await docker(h.d, ['exec', a, 'ping6', '-c1', '-W1', 'fd00:97:11::50']);
    assert.match(
      r.stdout,
      /1 packets received/,
      `${r.stdout}${r.stderr}\n${await ok(['exec', a, 'ip', '-6', 'neigh'])}`,
    );
    assert.match(await ok(['exec', a, 'ip', '-6', 'neigh', 'show', 'fd00:97:11::50']), new RegExp(mac));
    assert.equal((await ok(['exec', c, 'cat', '/proc/sys/net/ipv6/conf/all/ndisc_notify'])).trim(), '1');
    await ok(['rm', '-f', a, c]);
  } finally {
    const left = (await ok(['ps', '-aq', '--filter', `network=${n}`])).split('\n').filter(Boolean);
    if (left.length) await docker(h.d, ['rm', '-f', ...left]);
    await docker(h.d, ['network', 'rm', n]);
  }
});

test('network rm: the ip6 table, the gateway address and the forwarding change go', async () => {
  const left = (await ok(['ps', '-aq'])).split('\n').filter(Boolean);
  if (left.length) await ok(['rm', '-f', ...left]);
  await ok(['network', 'rm', v6, v4]);
  assert.notEqual(inHost(['nft', 'list', 'table', 'ip6', nftTableOf(h.d.dataRoot)]).status, 0);
  assert.doesNotMatch(inHost(['ip', '-6', 'addr']).stdout, /fd00:97:/);
  assert.doesNotMatch(inHost(['ip', '-6', 'route']).stdout, /fd00:97:/);
  assert.equal(forwarding(), forwardingBefore);
});

test("a SIGKILLed daemon's forwarding mark: kept while its IPv6 network may come back, forwarding off again at the next start once no cocon IPv6 network is left", async () => {
  assert.equal(forwarding(), '0', 'the test host starts with forwarding off');
  // a second daemon on the same host with an IPv6 network, killed with no chance to clean up
  const b = await startDaemon({
    netns: HOST,
    args: ['--bip', '10.96.0.1/24', '--default-address-pool', 'base=10.96.128.0/17,size=24'],
  });
  try {
    const r = await b.api('POST', '/networks/create', {
      Name: uniq('k6'),
      EnableIPv6: true,
      IPAM: { Config: [{ Subnet: '10.96.200.0/24' }, { Subnet: 'fd00:96:1::/64' }] },
    });
    assert.equal(r.status, 201, r.body);
    assert.equal(forwarding(), '1');
    assert.ok(existsSync(mark()), mark());
    await b.kill9();
    assert.equal(forwarding(), '1');
    // the other daemon restarts: the killed one's data root is still there (it may come back), so forwarding stays on
    await h.d.shutdown();
    await h.d.restart();
    await waitFor('the sweep at start', () => /network: ready/.test(h.d.log()), 10_000);
    await sleep(500);
    assert.equal(forwarding(), '1');
    assert.ok(existsSync(mark()));
    // its data root goes: the next start sweeps its ip6 table and, the mark being cocon's, turns forwarding off
    rmSync(b.dataRoot, { recursive: true, force: true });
    const from = h.d.logSize();
    await h.d.shutdown();
    await h.d.restart();
    await waitFor('forwarding off again', () => forwarding() === '0', 10_000);
    assert.ok(!existsSync(mark()));
    assert.match(h.d.log(from), /removed stale nft table.*cocon_/);
    assert.match(
      h.d.log(from),
      /turned net.ipv6.conf.all.forwarding off again \(no IPv6 network left; after a vanished daemon\)/,
    );
    assert.notEqual(inHost(['nft', 'list', 'table', 'ip6', nftTableOf(b.dataRoot)]).status, 0);
  } finally {
    await b.stop().catch(() => undefined);
    spawnSync('nsenter', [`--net=${HOST}`, 'nft', 'delete', 'table', 'ip6', nftTableOf(b.dataRoot)]);
    spawnSync('nsenter', [`--net=${HOST}`, 'nft', 'delete', 'table', 'ip', nftTableOf(b.dataRoot)]);
  }
});

test('a SIGKILLed daemon with an IPv6 network: its restart keeps forwarding on (the network is still there), network rm then turns it off', async () => {
  const n = uniq('k6b');
  await ok(['network', 'create', '--ipv6', '--subnet', '10.98.9.0/24', '--subnet', 'fd00:97:9::/64', n]);
  assert.equal(forwarding(), '1');
  assert.ok(existsSync(mark()));
  await h.d.kill9();
  assert.equal(forwarding(), '1');
  await h.d.restart();
  assert.equal(forwarding(), '1');
  assert.ok(existsSync(mark()));
  await ok(['network', 'rm', n]);
  assert.equal(forwarding(), '0');
  assert.ok(!existsSync(mark()));
});
