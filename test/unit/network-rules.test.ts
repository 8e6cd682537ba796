// The network room's rule texts (src/network/rules.ts), asserted whole: the host nft table
// (masquerade, published ports, internal networks), a hub's ICC policy with icc on and off and
// --link flows, the DNS redirect of a container's namespace, and the `ip -batch` lines of hubs and
// endpoints. These are exactly what nft and ip get on stdin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DNS_ADDRESS,
  dnsRedirect,
  endpointLines,
  hostDeviceLines,
  hostTable,
  hubLines,
  hubPolicy,
  hubPortLines,
  linkDelLines,
  vethLines,
  addressLines,
} from '../../src/network/rules.js';
import { portRequests } from '../../src/network/ports.js';
import { normLink } from '../../src/network/links.js';

/** The fixed chains of the host table around the variable parts. */
function table(
  name: string,
  comment: string,
  parts: { ports?: string[]; post?: string[]; fwd?: string[]; raw?: string[] },
): string {
  const ind = (ls: string[] | undefined) => (ls ?? []).map((l) => `    ${l}`);
  return [
    `table ip ${name}`,
    `delete table ip ${name}`,
    `table ip ${name} {`,
    `  comment "${comment}"`,
    '  chain ports {',
    ...ind(parts.ports),
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...ind(parts.post),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...ind(parts.fwd),
    '  }',
    '  chain raw_prerouting {',
    '    type filter hook prerouting priority raw; policy accept;',
    ...ind(parts.raw),
    '  }',
    '}',
    '',
  ].join('\n');
}

test('host table with no network: the chains alone, replaced whole', () => {
  assert.equal(
    hostTable('cocon_ab12cd34', 'cocon:/var/lib/cocon', [], []),
    table('cocon_ab12cd34', 'cocon:/var/lib/cocon', {}),
  );
  assert.match(hostTable('t', 'c', [], []), /^table ip t\ndelete table ip t\ntable ip t \{\n/);
});

test('host table: masquerade out of each bridge, loopback guard, masquerade off', () => {
  const text = hostTable(
    't',
    'cocon:/d',
    [
      { device: 'cocon0', subnet: '10.200.0.0/24', internal: false, masquerade: true },
      { device: 'cbr-0123456789a', subnet: '10.208.1.0/24', internal: false, masquerade: false },
    ],
    [],
  );
  assert.equal(
    text,
    table('t', 'cocon:/d', {
      post: [
        'ip saddr 127.0.0.0/8 oifname "cocon0" masquerade',
        'ip saddr 10.200.0.0/24 oifname != "cocon0" masquerade',
        'ip saddr 127.0.0.0/8 oifname "cbr-0123456789a" masquerade',
      ],
      raw: ['iifname "cocon0" ip daddr 127.0.0.0/8 drop', 'iifname "cbr-0123456789a" ip daddr 127.0.0.0/8 drop'],
    }),
  );
});

test('host table: an internal network gets forward drops both ways and no masquerade out', () => {
  const text = hostTable(
    't',
    'c',
    [{ device: 'cbr-int', subnet: '10.208.2.0/24', internal: true, masquerade: true }],
    [],
  );
  assert.equal(
    text,
    table('t', 'c', {
      post: ['ip saddr 127.0.0.0/8 oifname "cbr-int" masquerade'],
      fwd: ['iifname "cbr-int" oifname != "cbr-int" drop', 'oifname "cbr-int" iifname != "cbr-int" drop'],
      raw: ['iifname "cbr-int" ip daddr 127.0.0.0/8 drop'],
    }),
  );
  assert.doesNotMatch(text, /10\.208\.2\.0\/24/);
});

test('host table: published ports, tcp and udp, on all addresses or one host address', () => {
  const text = hostTable(
    't',
    'c',
    [],
    [
      { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, ip: '10.200.0.2', containerPort: 80 },
      { proto: 'udp', hostIp: '0.0.0.0', hostPort: 5353, ip: '10.200.0.2', containerPort: 53 },
      { proto: 'tcp', hostIp: '127.0.0.1', hostPort: 9000, ip: '10.200.0.3', containerPort: 9000 },
    ],
  );
  assert.equal(
    text,
    table('t', 'c', {
      ports: [
        'tcp dport 8080 dnat to 10.200.0.2:80',
        'udp dport 5353 dnat to 10.200.0.2:53',
        'ip daddr 127.0.0.1 tcp dport 9000 dnat to 10.200.0.3:9000',
      ],
    }),
  );
});

test('host table: a host port range asks for one port; the rule names the port that was bound', () => {
  const [q] = portRequests({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8000-8010' }] }, false, undefined);
  assert.deepEqual(q, { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostLo: 8000, hostHi: 8010 });
  const text = hostTable(
    't',
    'c',
    [],
    [{ proto: q.proto, hostIp: q.hostIp, hostPort: 8003, ip: '10.200.0.5', containerPort: q.containerPort }],
  );
  assert.match(text, /\n {4}ip daddr 127\.0\.0\.1 tcp dport 8003 dnat to 10\.200\.0\.5:80\n/);
  assert.doesNotMatch(text, /dport \d+-\d+/);
});

test('ip6 host table: NAT66 out of IPv6 bridges, internal drops, ports on IPv6 host addresses, ::1 left to the loopback proxy', () => {
  const text = hostTable(
    't',
    'cocon:/d',
    [
      { device: 'cbr-v6', subnet: 'fd00:77:5::/64', internal: false, masquerade: true },
      { device: 'cbr-int6', subnet: 'fd00:77:6::/64', internal: true, masquerade: true },
      { device: 'cbr-nomasq', subnet: 'fd00:77:7::/64', internal: false, masquerade: false },
    ],
    [
      { proto: 'tcp', hostIp: '::', hostPort: 8082, ip: 'fd00:77:5::2', containerPort: 80 },
      { proto: 'udp', hostIp: '2001:db8::1', hostPort: 5353, ip: 'fd00:77:5::2', containerPort: 53 },
    ],
    'ip6',
  );
  assert.equal(
    text,
    [
      'table ip6 t',
      'delete table ip6 t',
      'table ip6 t {',
      '  comment "cocon:/d"',
      '  chain ports {',
      '    tcp dport 8082 dnat to [fd00:77:5::2]:80',
      '    ip6 daddr 2001:db8::1 udp dport 5353 dnat to [fd00:77:5::2]:53',
      '  }',
      '  chain prerouting {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      '    fib daddr type local jump ports',
      '  }',
      '  chain output {',
      '    type nat hook output priority -100; policy accept;',
      '    fib daddr type local ip6 daddr != ::1 jump ports',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip6 saddr ::1 oifname "cbr-v6" masquerade',
      '    ip6 saddr fd00:77:5::/64 oifname != "cbr-v6" masquerade',
      '    ip6 saddr ::1 oifname "cbr-int6" masquerade',
      '    ip6 saddr ::1 oifname "cbr-nomasq" masquerade',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      '    iifname "cbr-int6" oifname != "cbr-int6" drop',
      '    oifname "cbr-int6" iifname != "cbr-int6" drop',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  // the IPv4 table keeps its own form (no ip6 words, the loopback guard of route_localnet)
  assert.doesNotMatch(hostTable('t', 'c', [], []), /ip6/);
});

const HUB_HEAD = [
  'table bridge cocon',
  'delete table bridge cocon',
  'table bridge cocon {',
  '  chain forward {',
  '    type filter hook forward priority filter; policy accept;',
];
const HUB_TAIL = ['  }', '}', ''];

test('hub policy, icc on: an empty accepting chain (an earlier icc=false policy is replaced)', () => {
  assert.equal(hubPolicy(true, []), [...HUB_HEAD, ...HUB_TAIL].join('\n'));
  // flows do not matter with icc on
  assert.equal(hubPolicy(true, [{ from: '10.0.0.2', to: '10.0.0.3', exposed: ['80/tcp'] }]), hubPolicy(true, []));
});

test('hub policy, icc off: uplink passes, containers are cut off from each other', () => {
  assert.equal(
    hubPolicy(false, []),
    [
      ...HUB_HEAD,
      '    iifname "up0" accept',
      '    oifname "up0" accept',
      '    ether type ip drop',
      '    ether type ip6 drop',
      ...HUB_TAIL,
    ].join('\n'),
  );
});

test('hub policy, icc off with --link: the linked tcp/udp exposed ports pass both ways, sctp and others do not', () => {
  const text = hubPolicy(false, [
    { from: '10.0.0.2', to: '10.0.0.3', exposed: ['5432/tcp', '53/udp', '80', '9/sctp'] },
  ]);
  assert.equal(
    text,
    [
      ...HUB_HEAD,
      '    iifname "up0" accept',
      '    oifname "up0" accept',
      '    ether type ip ip saddr 10.0.0.2 ip daddr 10.0.0.3 tcp dport 5432 accept',
      '    ether type ip ip saddr 10.0.0.3 ip daddr 10.0.0.2 tcp sport 5432 accept',
      '    ether type ip ip saddr 10.0.0.2 ip daddr 10.0.0.3 udp dport 53 accept',
      '    ether type ip ip saddr 10.0.0.3 ip daddr 10.0.0.2 udp sport 53 accept',
      '    ether type ip ip saddr 10.0.0.2 ip daddr 10.0.0.3 tcp dport 80 accept',
      '    ether type ip ip saddr 10.0.0.3 ip daddr 10.0.0.2 tcp sport 80 accept',
      '    ether type ip drop',
      '    ether type ip6 drop',
      ...HUB_TAIL,
    ].join('\n'),
  );
  assert.doesNotMatch(text, /sctp/);
  // the accepts come before the drops (nft evaluates in order)
  assert.ok(text.indexOf('dport 5432 accept') < text.indexOf('ether type ip drop'));
});

test('hub policy of an IPv6 network, icc off: neighbour discovery passes, --link flows open IPv6 too, the rest dropped', () => {
  const text = hubPolicy(
    false,
    [{ from: '10.0.0.2', to: '10.0.0.3', from6: 'fd00::2', to6: 'fd00::3', exposed: ['5432/tcp'] }],
    true,
  );
  assert.equal(
    text,
    [
      ...HUB_HEAD,
      '    iifname "up0" accept',
      '    oifname "up0" accept',
      '    ether type ip6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
      '    ether type ip ip saddr 10.0.0.2 ip daddr 10.0.0.3 tcp dport 5432 accept',
      '    ether type ip ip saddr 10.0.0.3 ip daddr 10.0.0.2 tcp sport 5432 accept',
      '    ether type ip6 ip6 saddr fd00::2 ip6 daddr fd00::3 tcp dport 5432 accept',
      '    ether type ip6 ip6 saddr fd00::3 ip6 daddr fd00::2 tcp sport 5432 accept',
      '    ether type ip drop',
      '    ether type ip6 drop',
      ...HUB_TAIL,
    ].join('\n'),
  );
  // no IPv6 network: no neighbour-discovery exception; icc on: nothing at all
  assert.doesNotMatch(hubPolicy(false, []), /icmpv6/);
  assert.equal(hubPolicy(true, [], true), hubPolicy(true, []));
});

test('hub policy, icc off: a link whose target exposes nothing opens nothing', () => {
  assert.equal(hubPolicy(false, [{ from: '10.0.0.2', to: '10.0.0.3', exposed: [] }]), hubPolicy(false, []));
});

test('DNS redirect: 127.0.0.11:53 (udp and tcp) to the gateway, loopback sources rewritten to the container', () => {
  assert.equal(DNS_ADDRESS, '127.0.0.11');
  assert.equal(
    dnsRedirect('10.208.1.1', '10.208.1.7'),
    [
      'table ip cocon_dns',
      'delete table ip cocon_dns',
      'table ip cocon_dns {',
      '  chain output {',
      '    type nat hook output priority -100; policy accept;',
      '    ip daddr 127.0.0.11 udp dport 53 dnat to 10.208.1.1:53',
      '    ip daddr 127.0.0.11 tcp dport 53 dnat to 10.208.1.1:53',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority 100; policy accept;',
      '    ip saddr 127.0.0.0/8 ip daddr 10.208.1.1 snat to 10.208.1.7',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  // a pooled namespace, made before its address is known: masquerade to the interface's address
  assert.equal(
    dnsRedirect('10.208.1.1'),
    dnsRedirect('10.208.1.1', '10.208.1.7').replace('snat to 10.208.1.7', 'masquerade'),
  );
});

test('endpoint lines: veth into the hub, MAC, address, up; default route only when given', () => {
  const base = {
    ifname: 'eth0',
    peer: 'v0123456789ab',
    hub: '/run/cocon/netns/net-abc',
    mac: '02:42:0a:c8:00:02',
    cidr: '10.200.0.2/24',
  };
  const common = [
    'link add eth0 type veth peer name v0123456789ab netns /run/cocon/netns/net-abc',
    'link set dev eth0 addrgenmode none',
    'link set dev eth0 address 02:42:0a:c8:00:02',
    'addr add 10.200.0.2/24 dev eth0',
    'link set eth0 up',
  ];
  assert.deepEqual(endpointLines({ ...base, gateway: '10.200.0.1' }), [
    ...common,
    'route add default via 10.200.0.1 dev eth0',
  ]);
  assert.deepEqual(endpointLines(base), common);
  // a pooled namespace: the veth half first (no address, down), the address half when a container takes it
  assert.deepEqual(vethLines(base), common.slice(0, 2));
  assert.deepEqual(addressLines(base), common.slice(2));
  assert.deepEqual(vethLines({ ...base, mtu: 1400 }), [
    'link add name eth0 mtu 1400 type veth peer name v0123456789ab mtu 1400 netns /run/cocon/netns/net-abc',
    'link set dev eth0 addrgenmode none',
  ]);
  assert.deepEqual(hubPortLines('v0123456789ab'), ['link set v0123456789ab master br0', 'link set v0123456789ab up']);
});

test('endpoint lines on an IPv6 network: the IPv6 address once the link is up (announced), its default route after the IPv4 one', () => {
  const e = {
    ifname: 'eth0',
    mac: '02:42:0a:58:05:02',
    cidr: '10.88.5.2/24',
    cidr6: 'fd00:77:5::2/64',
    gateway: '10.88.5.1',
    gateway6: 'fd00:77:5::1',
  };
  assert.deepEqual(addressLines(e), [
    'link set dev eth0 address 02:42:0a:58:05:02',
    'addr add 10.88.5.2/24 dev eth0',
    'link set eth0 up',
    'addr add fd00:77:5::2/64 dev eth0',
    'route add default via 10.88.5.1 dev eth0',
    'route add ::/0 via fd00:77:5::1 dev eth0',
  ]);
  // a secondary network (no default route): the address only
  assert.deepEqual(addressLines({ ...e, gateway: undefined }), [
    'link set dev eth0 address 02:42:0a:58:05:02',
    'addr add 10.88.5.2/24 dev eth0',
    'link set eth0 up',
    'addr add fd00:77:5::2/64 dev eth0',
  ]);
  assert.deepEqual(hostDeviceLines('cbr-x', '10.88.5.1/24', 'cocon:/d', 'fd00:77:5::1/64'), [
    'addr add 10.88.5.1/24 dev cbr-x',
    'addr add fd00:77:5::1/64 dev cbr-x nodad',
    'link set dev cbr-x alias cocon:/d',
    'link set dev cbr-x up',
  ]);
});

test('hub and uplink lines; link deletion', () => {
  assert.deepEqual(hubLines('cocon0', 4242), [
    'link set lo up',
    'link add br0 type bridge',
    'link set br0 up',
    'link add up0 type veth peer name cocon0 netns 4242',
    'link set up0 master br0',
    'link set up0 up',
  ]);
  assert.deepEqual(hostDeviceLines('cocon0', '10.200.0.1/24', 'cocon:/var/lib/cocon'), [
    'addr add 10.200.0.1/24 dev cocon0',
    'link set dev cocon0 alias cocon:/var/lib/cocon',
    'link set dev cocon0 up',
  ]);
  assert.deepEqual(linkDelLines(['eth1', 'cbr-x']), ['link del dev eth1', 'link del dev cbr-x']);
  assert.deepEqual(linkDelLines([]), []);
});

test('--link forms normalise to name:alias', () => {
  assert.equal(normLink('db'), 'db:db');
  assert.equal(normLink('db:pg'), 'db:pg');
  assert.equal(normLink('/db:/web/pg'), 'db:pg');
});
