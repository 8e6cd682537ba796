// The network options a docker user passes, through the real docker CLI: network create with the
// mtu option (applied to the container's eth0), --internal, -d host refused; run with --ip,
// --network-alias, a MAC address (through the API: the CLI sends it only to API 1.44 daemons), --dns/--dns-search/--dns-option, --add-host host-gateway;
// network connect --alias/--ip, --link-local-ip refused clearly; disconnect -f; network prune.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniq, docker, type Daemon } from '../helpers/daemon.js';
import { netTag, useBridgeDaemon } from '../integration/network-common.js';

const tag = netTag;
const h = useBridgeDaemon('cno', 96, 160);

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await docker(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
async function fails(d: Daemon, args: string[], msg: RegExp): Promise<void> {
  const r = await docker(d, args, { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail:\n${r.stdout}`);
  assert.match(r.stderr, msg);
}

test('network create: -d host and -d null refused as docker does; the mtu option reaches eth0; bad mtu refused', async () => {
  await fails(h.d, ['network', 'create', '-d', 'host', uniq('h')], /only one instance of "host" network is allowed/);
  await fails(h.d, ['network', 'create', '-d', 'null', uniq('h')], /only one instance of "null" network is allowed/);
  await fails(
    h.d,
    ['network', 'create', '-o', 'com.docker.network.driver.mtu=abc', uniq('m')],
    /invalid MTU number: abc/,
  );
  await fails(
    h.d,
    ['network', 'create', '--subnet', `10.${tag}.97.0/24`, '--aux-address', `x=10.${tag}.97.9`, uniq('a')],
    /AuxiliaryAddresses .* not supported/,
  );
  const net = uniq('mtu');
  await ok(h.d, ['network', 'create', '-o', 'com.docker.network.driver.mtu=1400', net]);
  assert.equal(await ok(h.d, ['run', '--rm', '--network', net, 'busybox', 'cat', '/sys/class/net/eth0/mtu']), '1400\n');
  assert.equal(
    await ok(h.d, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.driver.mtu"}}', net]),
    '1400\n',
  );
  await ok(h.d, ['network', 'rm', net]);
});

test('run --ip, --mac-address, --network-alias on a user network; --dns, --dns-search, --dns-option, --add-host host-gateway', async () => {
  const net = uniq('opt');
  const c = uniq('c');
  await ok(h.d, ['network', 'create', '--subnet', `10.${tag}.98.0/24`, net]);
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    c,
    '--network',
    net,
    '--ip',
    `10.${tag}.98.50`,
    '--network-alias',
    'db',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.equal(
    await ok(h.d, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c]),
    `10.${tag}.98.50\n`,
  );
  // MAC addresses: docker CLI 28 sends --mac-address only to API 1.44 daemons (cocon speaks 1.41), so through
  // the API as API 1.44 clients send it: EndpointsConfig[net].MacAddress
  for (const [mac, body] of [
    [
      '02:42:ac:11:00:98',
      {
        HostConfig: { NetworkMode: net },
        NetworkingConfig: { EndpointsConfig: { [net]: { MacAddress: '02:42:ac:11:00:98' } } },
      },
    ],
  ] as const) {
    const m = uniq('mac');
    const cr = await h.d.api('POST', `/containers/create?name=${m}`, {
      Image: 'busybox',
      Cmd: ['sleep', '300'],
      ...body,
    });
    assert.equal(cr.status, 201, cr.body);
    await ok(h.d, ['start', m]);
    assert.equal(await ok(h.d, ['exec', m, 'cat', '/sys/class/net/eth0/address']), `${mac}\n`);
    assert.match(
      await ok(h.d, ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}', m]),
      new RegExp(`^${mac}$`, 'm'),
    );
    await ok(h.d, ['rm', '-f', m]);
  }
  const bad = await h.d.api('POST', '/containers/create', {
    Image: 'busybox',
    HostConfig: { NetworkMode: net },
    NetworkingConfig: { EndpointsConfig: { [net]: { MacAddress: '01:00:5e:00:00:01' } } },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /invalid MAC address: 01:00:5e:00:00:01 is a multicast address/);
  assert.match(
    await ok(h.d, ['run', '--rm', '--network', net, 'busybox', 'nslookup', 'db']),
    new RegExp(`Address: 10\\.${tag}\\.98\\.50`),
  );
  await fails(
    h.d,
    ['run', '--rm', '--network', net, '--ip', '10.1.2.3', 'busybox', 'true'],
    /no configured subnet or ip-range contain the IP address 10\.1\.2\.3/,
  );
  const files = await ok(h.d, [
    'run',
    '--rm',
    '--dns',
    '192.0.2.53',
    '--dns-search',
    'example.test',
    '--dns-option',
    'ndots:3',
    '--add-host',
    'hostgw:host-gateway',
    '--add-host',
    'other:192.0.2.7',
    'busybox',
    'sh',
    '-c',
    'cat /etc/resolv.conf /etc/hosts',
  ]);
  assert.match(files, /^nameserver 192\.0\.2\.53$/m);
  assert.match(files, /^search example\.test$/m);
  assert.match(files, /^options ndots:3$/m);
  assert.match(files, new RegExp(`^10\\.${tag}\\.96\\.1\\thostgw$`, 'm'));
  assert.match(files, /^192\.0\.2\.7\tother$/m);
  await ok(h.d, ['rm', '-f', c]);
  await ok(h.d, ['network', 'rm', net]);
});

test('network connect --alias/--ip to a running container; --link-local-ip refused; disconnect -f; --internal; network prune', async () => {
  const a = uniq('na');
  const b = uniq('nb');
  const c = uniq('c');
  await ok(h.d, ['network', 'create', '--subnet', `10.${tag}.99.0/24`, a]);
  await ok(h.d, ['network', 'create', '--internal', b]);
  await ok(h.d, ['run', '-d', '--name', c, 'busybox', 'sleep', '300']);
  await ok(h.d, ['network', 'connect', '--alias', 'cache', '--ip', `10.${tag}.99.77`, a, c]);
  assert.match(
    await ok(h.d, ['run', '--rm', '--network', a, 'busybox', 'nslookup', 'cache']),
    new RegExp(`Address: 10\\.${tag}\\.99\\.77`),
  );
  assert.match(await ok(h.d, ['exec', c, 'ip', '-4', 'addr']), new RegExp(`inet 10\\.${tag}\\.99\\.77/24`));
  await fails(
    h.d,
    ['network', 'connect', '--link-local-ip', '169.254.9.9', b, c],
    /link-local addresses .* not supported by cocon/,
  );
  await ok(h.d, ['network', 'disconnect', '-f', a, c]);
  assert.doesNotMatch(await ok(h.d, ['exec', c, 'ip', '-4', 'addr']), new RegExp(`10\\.${tag}\\.99\\.77`));
  // internal: no way out, not even to the gateway's other networks
  const out = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    b,
    'busybox',
    'sh',
    '-c',
    `ip route; ping -c1 -W1 10.${tag}.96.1 >/dev/null 2>&1 && echo reached || echo isolated`,
  ]);
  assert.doesNotMatch(out, /default/);
  assert.match(out, /isolated/);
  assert.equal(await ok(h.d, ['network', 'inspect', '-f', '{{.Internal}}', b]), 'true\n');
  await ok(h.d, ['rm', '-f', c]);
  const pruned = await ok(h.d, ['network', 'prune', '-f']);
  assert.match(pruned, new RegExp(`^${a}$`, 'm'));
  assert.match(pruned, new RegExp(`^${b}$`, 'm'));
  const ls = await ok(h.d, ['network', 'ls', '--format', '{{.Name}}']);
  assert.doesNotMatch(ls, new RegExp(`^(${a}|${b})$`, 'm'));
  assert.match(ls, /^bridge$/m);
});
