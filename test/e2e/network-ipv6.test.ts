// IPv6 with the docker CLI, on a "host" of the test's own: the daemon runs in a network namespace
// wired by a veth pair to a second one, the "routed host" (2001:db8:77::2, a TCP server on 7000
// that prints who connected), so addresses, the ip6 nft table and net.ipv6.conf.all.forwarding
// change nothing outside the test. Shown: a dual-stack network (`--ipv6 --subnet v4 --subnet v6`)
// and its inspect; `--ip6` honoured and GlobalIPv6Address/IPv6Gateway/MacAddress in inspect;
// ping6 and TCP over IPv6 between containers by name (AAAA from the embedded DNS); outbound IPv6 to
// the routed host through NAT66 (it sees the host's address); ports published on [::1] and on the
// default [::] reached over IPv6 (from the routed host through DNAT, on the host's ::1 through the
// daemon's loopback proxy); --icc=false isolating IPv6 too; the default bridge with
// --ipv6 --fixed-cidr-v6; and network rm / daemon shutdown leaving no ip6 table, address or
// forwarding change behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { useDaemon, uniq, docker, waitFor } from '../helpers/daemon.js';
import { nftTableOf, routedHost, startNetnsServer } from '../integration/network-common.js';

const HOST_IP6 = '2001:db8:77::1';
const ROUTED_IP6 = '2001:db8:77::2';
const { HOST, ROUTED, inHost, tryIn } = routedHost('ipv6', `${HOST_IP6}/64 nodad`, `${ROUTED_IP6}/64 nodad`);
const forwardingBefore = inHost(['cat', '/proc/sys/net/ipv6/conf/all/forwarding']).trim();

const SERVER = `
require('net').createServer((s) => { console.log(JSON.stringify({ from: s.remoteAddress })); s.end('pong6\\n'); })
  .listen(7000, '${ROUTED_IP6}', () => console.log('ready'));
`;
const seen: Array<{ from: string }> = [];
let server: ChildProcess | undefined;

const h = useDaemon({
  busybox: true,
  netns: HOST,
  args: [
    '--ipv6',
    '--fixed-cidr-v6',
    'fd00:77:1::/64',
    '--bip',
    '10.87.0.1/24',
    '--default-address-pool',
    'base=10.88.0.0/16,size=24',
  ],
});
after(() => {
  server?.kill();
});

async function ok(args: string[]): Promise<string> {
  const r = await docker(h.d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const HTTPD = 'mkdir -p /w && echo v6-ok > /w/index.html && exec httpd -f -p 80 -h /w';
/** An HTTP GET with busybox nc (busybox wget crashes on IPv6 literals). */
const get = (addr: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w3 ${addr} 80`;
/** curl on the host side (-g: IPv6 literals). */
const curl = (ns: string, url: string) => {
  const r = tryIn(ns, ['curl', '-gsS', '-m', '3', url]);
  return r.status === 0 ? r.stdout : '';
};
/** Shell that looks NAME's AAAA up in the embedded DNS and puts it in $A (busybox nslookup). */
const aaaa = (name: string) =>
  `A=$(nslookup -type=AAAA ${name} 2>/dev/null | awk '/^Address/ && $2 ~ /:/ && $2 !~ /#|:53$/ {print $2}' | tail -n1)`;

const net = uniq('v6net');
const icc = uniq('v6icc');

test('dual-stack network: inspect, --ip6, ping6 and TCP over IPv6 by name (AAAA), NAT66 to the routed host', async () => {
  // --ipv6 without an IPv6 subnet: dockerd 24's refusal (no default IPv6 pool)
  const noSub = await docker(h.d, ['network', 'create', '--ipv6', uniq('bad')]);
  assert.notEqual(noSub.code, 0);
  assert.match(noSub.stderr, /IPv6 address pool/);
  await ok(['network', 'create', '--ipv6', '--subnet', '10.88.5.0/24', '--subnet', 'fd00:77:5::/64', net]);
  const n = JSON.parse(await ok(['network', 'inspect', net]))[0];
  assert.equal(n.EnableIPv6, true);
  assert.deepEqual(n.IPAM.Config, [
    { Subnet: '10.88.5.0/24', Gateway: '10.88.5.1' },
    { Subnet: 'fd00:77:5::/64', Gateway: 'fd00:77:5::1' },
  ]);
  assert.match(await ok(['network', 'ls', '--format', '{{.Name}} {{.IPv6}}']), new RegExp(`${net} true`));
  // the host end of the bridge carries both gateways
  assert.match(inHost(['ip', '-6', 'addr']), /inet6 fd00:77:5::1\/64/);
  assert.equal(inHost(['cat', '/proc/sys/net/ipv6/conf/all/forwarding']).trim(), '1');

  const srv = uniq('srv');
  await ok(['run', '-d', '--name', srv, '--network', net, '--ip6', 'fd00:77:5::10', 'busybox', 'sh', '-c', HTTPD]);
  const ins = JSON.parse(await ok(['inspect', srv]))[0].NetworkSettings.Networks[net];
  assert.equal(ins.GlobalIPv6Address, 'fd00:77:5::10');
  assert.equal(ins.GlobalIPv6PrefixLen, 64);
  assert.equal(ins.IPv6Gateway, 'fd00:77:5::1');
  assert.equal(ins.IPAMConfig.IPv6Address, 'fd00:77:5::10');
  assert.equal(ins.IPAddress, '10.88.5.2');
  assert.equal(ins.MacAddress, '02:42:0a:58:05:02');
  const members = JSON.parse(await ok(['network', 'inspect', net]))[0].Containers;
  assert.equal(Object.values<{ IPv6Address: string }>(members)[0].IPv6Address, 'fd00:77:5::10/64');
  // the address is usable at once (nodad: no "tentative" wait), from another container, by name
  const out = await ok([
    'run',
    '--rm',
    '--network',
    net,
    'busybox',
    'sh',
    '-c',
    `${aaaa(srv)}; echo "aaaa=$A"; ip -6 addr show dev eth0 | grep -c tentative; ping6 -c1 -W3 $A >/dev/null && echo ping6-ok; ${get('$A')}`,
  ]);
  assert.match(out, /aaaa=fd00:77:5::10\n/);
  assert.match(out, /^0$/m);
  assert.match(out, /ping6-ok/);
  assert.match(out, /v6-ok/);
  // dynamic IPv6 addresses: the next free one after ::10's predecessor (::2 is the first)
  const dyn = await ok(['run', '--rm', '--network', net, 'busybox', 'ip', '-6', 'addr', 'show', 'dev', 'eth0']);
  assert.match(dyn, /inet6 fd00:77:5::2\/64 scope global/);

  // outbound IPv6 to the routed host, masqueraded (NAT66) to the host's address
  server = await startNetnsServer(ROUTED, SERVER, seen);
  const nat = await ok(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `echo hi | nc -w3 ${ROUTED_IP6} 7000`]);
  assert.match(nat, /pong6/);
  assert.deepEqual(
    seen.map((s) => s.from),
    [HOST_IP6],
  );
  assert.match(
    inHost(['nft', 'list', 'table', 'ip6', nftTableOf(h.d.dataRoot)]),
    /ip6 saddr fd00:77:5::\/64 oifname != "\S+" masquerade/,
  );
  await ok(['rm', '-f', srv]);
});

test('published ports over IPv6: [::1]:P and the default -p P:80 on both families', async () => {
  const web = uniq('web6');
  await ok([
    'run',
    '-d',
    '--name',
    web,
    '--network',
    net,
    '-p',
    '[::1]:8081:80',
    '-p',
    '8082:80',
    'busybox',
    'sh',
    '-c',
    HTTPD,
  ]);
  const ports = JSON.parse(await ok(['inspect', web]))[0].NetworkSettings.Ports['80/tcp'];
  assert.deepEqual(ports, [
    { HostIp: '::1', HostPort: '8081' },
    { HostIp: '0.0.0.0', HostPort: '8082' },
    { HostIp: '::', HostPort: '8082' },
  ]);
  const loop = await waitFor('[::1]:8081 from the host', () => curl(HOST, 'http://[::1]:8081/'));
  assert.equal(loop, 'v6-ok\n');
  const routed = await waitFor('[host]:8082 from the routed host over IPv6', () =>
    curl(ROUTED, `http://[${HOST_IP6}]:8082/`),
  );
  assert.equal(routed, 'v6-ok\n');
  // the default binding on the host itself: [::1] (the loopback proxy) and 127.0.0.1 (nft DNAT)
  assert.equal(await waitFor('[::1]:8082 from the host', () => curl(HOST, 'http://[::1]:8082/')), 'v6-ok\n');
  assert.equal(await waitFor('127.0.0.1:8082 from the host', () => curl(HOST, 'http://127.0.0.1:8082/')), 'v6-ok\n');
  assert.match(await ok(['port', web]), /80\/tcp -> \[::\]:8082/);
  await ok(['rm', '-f', web]);
});

test('--icc=false isolates containers over IPv6 too', async () => {
  await ok([
    'network',
    'create',
    '--ipv6',
    '--subnet',
    '10.88.6.0/24',
    '--subnet',
    'fd00:77:6::/64',
    '-o',
    'com.docker.network.bridge.enable_icc=false',
    icc,
  ]);
  const srv = uniq('isrv');
  await ok(['run', '-d', '--name', srv, '--network', icc, 'busybox', 'sh', '-c', HTTPD]);
  const a = JSON.parse(await ok(['inspect', srv]))[0].NetworkSettings.Networks[icc].GlobalIPv6Address;
  assert.equal(a, 'fd00:77:6::2');
  const out = await ok([
    'run',
    '--rm',
    '--network',
    icc,
    'busybox',
    'sh',
    '-c',
    `ping6 -c1 -W2 ${a} >/dev/null && echo ping6-passed; ${get(a)} || echo v6-blocked`,
  ]);
  assert.doesNotMatch(out, /ping6-passed|v6-ok/);
  assert.match(out, /v6-blocked/);
  // the gateway (the uplink) still answers: only container-to-container is cut
  const gw = await ok([
    'run',
    '--rm',
    '--network',
    icc,
    'busybox',
    'sh',
    '-c',
    'ping6 -c1 -W2 fd00:77:6::1 >/dev/null && echo gw-ok',
  ]);
  assert.match(gw, /gw-ok/);
  await ok(['rm', '-f', srv]);
});

test('default bridge with --ipv6 --fixed-cidr-v6', async () => {
  const b = JSON.parse(await ok(['network', 'inspect', 'bridge']))[0];
  assert.equal(b.EnableIPv6, true);
  assert.deepEqual(b.IPAM.Config[1], { Subnet: 'fd00:77:1::/64', Gateway: 'fd00:77:1::1' });
  const c = uniq('dflt');
  await ok(['run', '-d', '--name', c, 'busybox', 'sleep', '60']);
  const ns = JSON.parse(await ok(['inspect', c]))[0].NetworkSettings;
  assert.equal(ns.GlobalIPv6Address, 'fd00:77:1::2');
  assert.equal(ns.GlobalIPv6PrefixLen, 64);
  assert.equal(ns.IPv6Gateway, 'fd00:77:1::1');
  assert.equal(ns.Networks.bridge.GlobalIPv6Address, 'fd00:77:1::2');
  const out = await ok(['exec', c, 'sh', '-c', 'ping6 -c1 -W2 fd00:77:1::1 >/dev/null && echo gw6-ok']);
  assert.match(out, /gw6-ok/);
  await ok(['rm', '-f', c]);
});

test('network rm and daemon shutdown leave no ip6 table, address or forwarding change', async () => {
  const left = (await ok(['ps', '-aq'])).split('\n').filter(Boolean);
  if (left.length) await ok(['rm', '-f', ...left]);
  await ok(['network', 'rm', net, icc]);
  const addrs = inHost(['ip', '-6', 'addr']);
  assert.doesNotMatch(addrs, /fd00:77:5::|fd00:77:6::/);
  assert.doesNotMatch(inHost(['ip', '-6', 'route']), /fd00:77:5::|fd00:77:6::/);
  const table = inHost(['nft', 'list', 'table', 'ip6', nftTableOf(h.d.dataRoot)]);
  assert.doesNotMatch(table, /fd00:77:5::|fd00:77:6::/);
  await h.d.shutdown();
  assert.notEqual(tryIn(HOST, ['nft', 'list', 'table', 'ip6', nftTableOf(h.d.dataRoot)]).status, 0);
  assert.equal(inHost(['cat', '/proc/sys/net/ipv6/conf/all/forwarding']).trim(), forwardingBefore);
});
