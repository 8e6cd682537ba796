// Coexistence with the host's IPv6 firewall, on a "host" whose ip6tables FORWARD policy is DROP (as
// dockerd with ip6tables, or ufw, leave it). The daemon runs in a network namespace of the test's own
// (its "host"), wired by a veth pair to a second one, the "routed host" (2001:db8:66::2, a TCP server
// on 7000 printing who connected), so the policies set here touch nothing outside. Shown: outbound
// TCP over IPv6 from a container of a dual-stack network to the routed host (NAT66: it sees the
// host's address); a port published on [::] reached from the routed host over IPv6; cocon's chain
// in ip6tables holding only the IPv6 networks' devices (an IPv4-only network has none there);
// ip6tables-legacy DROP and an `ip6` nft table with policy drop handled too; the host flushing
// its ip6tables FORWARD and cocon restoring its jump; network rm and daemon shutdown removing every
// rule of cocon's while the host's policies and own rules stay exactly as they were.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { useDaemon, uniq, docker, waitFor } from '../helpers/daemon.js';
import { routedHost, sh, startNetnsServer } from './network-common.js';

const HOST_IP6 = '2001:db8:66::1';
const ROUTED_IP6 = '2001:db8:66::2';
const { HOST, ROUTED, inHost, tryIn, saved } = routedHost('hostfw6', `${HOST_IP6}/64 nodad`, `${ROUTED_IP6}/64 nodad`);
// the host's own IPv6 firewall: policy DROP (ip6tables-nft) and a rule of its own
inHost(['ip6tables', '-P', 'FORWARD', 'DROP']);
inHost(['ip6tables', '-A', 'FORWARD', '-i', 'vh', '-o', 'vh', '-j', 'ACCEPT']);
const before = saved('ip6tables-save');

const SERVER = `
require('net').createServer((s) => { console.log(JSON.stringify({ from: s.remoteAddress })); s.end('pong6\\n'); })
  .listen(7000, '${ROUTED_IP6}', () => console.log('ready'));
`;
const seen: Array<{ from: string }> = [];
let server: ChildProcess | undefined;

const h = useDaemon({
  busybox: true,
  netns: HOST,
  args: ['--bip', '10.67.0.1/24', '--default-address-pool', 'base=10.68.0.0/16,size=24'],
});
after(() => {
  server?.kill();
});

const chainName = () => `COCON-FORWARD-${createHash('sha256').update(h.d.dataRoot).digest('hex').slice(0, 8)}`;

async function ok(args: string[]): Promise<string> {
  const r = await docker(h.d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const devOf = async (net: string) =>
  `cbr-${(await ok(['network', 'inspect', '-f', '{{.Id}}', net])).trim().slice(0, 11)}`;

/** TCP over IPv6 from a container of `net` to the routed host; what came back. */
async function probe(net: string): Promise<string> {
  const r = await docker(
    h.d,
    ['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `echo hi | nc -w3 ${ROUTED_IP6} 7000 || echo no-answer`],
    {
      timeoutMs: 60_000,
    },
  );
  return r.stdout + r.stderr;
}

const net6 = uniq('fw6');
const net4 = uniq('fw4');

test('ip6tables FORWARD policy DROP: outbound TCP over IPv6 (NAT66) and a port published on [::] reached from the routed host', async () => {
  server = await startNetnsServer(ROUTED, SERVER, seen);
  await ok(['network', 'create', '--ipv6', '--subnet', '10.68.5.0/24', '--subnet', 'fd00:66:5::/64', net6]);
  await ok(['network', 'create', net4]);
  const dev6 = await devOf(net6);
  const dev4 = await devOf(net4);
  // cocon's chain in ip6tables, reached by one tagged jump; only the IPv6 network's device is there
  const fwd = inHost(['ip6tables', '-S', 'FORWARD']);
  assert.match(fwd, /^-P FORWARD DROP$/m);
  assert.match(fwd, /^-A FORWARD -i vh -o vh -j ACCEPT$/m);
  assert.ok(fwd.includes(`-A FORWARD -m comment --comment "cocon:${h.d.dataRoot}" -j ${chainName()}`), fwd);
  const chain = inHost(['ip6tables', '-S', chainName()]);
  assert.ok(chain.includes(`-A ${chainName()} -i ${dev6} -j ACCEPT`), chain);
  assert.ok(chain.includes(`-o ${dev6} -m conntrack --ctstate DNAT -j ACCEPT`), chain);
  assert.ok(!chain.includes(dev4), chain);
  // the IPv4 policy is ACCEPT here: nothing of cocon's in iptables
  assert.doesNotMatch(inHost(['iptables-save']), /COCON/);
  assert.match(h.d.log(), /target":"ip6tables-nft"|ip6tables-nft/);

  const out = await probe(net6);
  assert.match(out, /pong6/);
  assert.deepEqual([...new Set(seen.map((s) => s.from))], [HOST_IP6]);

  const web = uniq('web6');
  await ok([
    'run',
    '-d',
    '--name',
    web,
    '--network',
    net6,
    '-p',
    '8086:80',
    'busybox',
    'sh',
    '-c',
    'mkdir -p /w && echo published6 > /w/index.html && exec httpd -f -p 80 -h /w',
  ]);
  const got = await waitFor('the published port over IPv6 from the routed host', () => {
    const r = tryIn(ROUTED, ['curl', '-gsS', '-m', '3', `http://[${HOST_IP6}]:8086/`]);
    return r.status === 0 ? r.stdout : '';
  });
  assert.equal(got, 'published6\n');
  // narrow: the container's address reached directly (routed, not published) is still dropped by the host's policy
  inHost(['ip', '-6', 'route', 'show']); // the host routes fd00:66:5::/64 to its bridge
  sh(['nsenter', `--net=${ROUTED}`, 'ip', '-6', 'route', 'replace', 'fd00:66:5::/64', 'via', HOST_IP6]);
  const ip6 = (
    await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net6}").GlobalIPv6Address}}`, web])
  ).trim();
  assert.match(ip6, /^fd00:66:5::/);
  const direct = tryIn(ROUTED, ['curl', '-gsS', '-m', '2', `http://[${ip6}]/`], 4000);
  assert.notEqual(direct.status, 0, `reached ${ip6} directly: ${direct.stdout}`);
  await ok(['rm', '-f', web]);
});

test("the host flushes ip6tables' FORWARD: cocon notices and restores its jump", async () => {
  const mark = h.d.logSize();
  const jump = ['FORWARD', '-m', 'comment', '--comment', `cocon:${h.d.dataRoot}`, '-j', chainName()];
  inHost(['ip6tables', '-F', 'FORWARD']);
  await waitFor('the jump restored', () => tryIn(HOST, ['ip6tables', '-C', ...jump]).status === 0, 10_000);
  assert.match(h.d.log(mark), /the host firewall changed and lost cocon's accept rules; restored them/);
  inHost(['ip6tables', '-A', 'FORWARD', '-i', 'vh', '-o', 'vh', '-j', 'ACCEPT']); // the host's rule back, as it was
  seen.length = 0;
  assert.match(await probe(net6), /pong6/);
});

test('ip6tables-legacy DROP and an `ip6` nft table with policy drop get the IPv6 devices too, and lose them when the policy is accept again', async () => {
  const dev6 = await devOf(net6);
  inHost(['ip6tables-legacy', '-P', 'FORWARD', 'DROP']);
  inHost(
    ['nft', '-f', '-'],
    'table ip6 host6 {\n chain forward {\n  type filter hook forward priority 0; policy drop;\n  iifname "vh" oifname "vh" accept\n }\n}\n',
  );
  try {
    await waitFor(
      "cocon's chain in ip6 host6",
      () => tryIn(HOST, ['nft', 'list', 'table', 'ip6', 'host6']).stdout.includes(`jump ${chainName()}`),
      10_000,
    );
    assert.match(inHost(['nft', 'list', 'table', 'ip6', 'host6']), new RegExp(`iifname "${dev6}" accept`));
    // legacy is checked on a slow timer; a network change triggers a check at once
    const n2 = uniq('fw6b');
    await ok(['network', 'create', n2]);
    await ok(['network', 'rm', n2]);
    assert.ok(inHost(['ip6tables-legacy', '-S', chainName()]).includes(`-i ${dev6} -j ACCEPT`));
    seen.length = 0;
    assert.match(await probe(net6), /pong6/);
    inHost(['nft', 'add', 'chain', 'ip6', 'host6', 'forward', '{ policy accept; }']);
    await waitFor(
      "cocon's chain gone from ip6 host6",
      () => !tryIn(HOST, ['nft', 'list', 'table', 'ip6', 'host6']).stdout.includes('COCON'),
      10_000,
    );
    assert.match(inHost(['nft', 'list', 'table', 'ip6', 'host6']), /iifname "vh" oifname "vh" accept/);
  } finally {
    tryIn(HOST, ['nft', 'delete', 'table', 'ip6', 'host6']);
    tryIn(HOST, ['ip6tables-legacy', '-P', 'FORWARD', 'ACCEPT']);
  }
  const n3 = uniq('fw6c');
  await ok(['network', 'create', n3]);
  await ok(['network', 'rm', n3]);
  assert.doesNotMatch(inHost(['ip6tables-legacy-save']), /COCON|cocon:/);
});

test('network rm of the last IPv6 network removes the ip6tables rules; daemon shutdown leaves the host as it was', async () => {
  await ok(['network', 'rm', net6]);
  assert.doesNotMatch(inHost(['ip6tables-save']), /COCON|cocon:/);
  assert.equal(saved('ip6tables-save'), before);
  // an IPv6 network again, then shutdown with no container running: everything goes
  await ok(['network', 'create', '--ipv6', '--subnet', '10.68.6.0/24', '--subnet', 'fd00:66:6::/64', uniq('fw6d')]);
  assert.match(inHost(['ip6tables-save']), /COCON/);
  await h.d.shutdown();
  assert.doesNotMatch(inHost(['ip6tables-save']), /COCON|cocon:/);
  assert.doesNotMatch(inHost(['iptables-save']), /COCON|cocon:/);
  assert.equal(saved('ip6tables-save'), before);
  assert.match(inHost(['ip6tables', '-S', 'FORWARD']), /^-P FORWARD DROP$/m);
});
