// Pure network logic: CIDR arithmetic, address allocation, subnet picking, MACs, port requests and
// their inspect/ps shapes, the embedded DNS wire format, docker's link variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocate,
  allocate6,
  bigToIp6,
  checkMac,
  cidr6String,
  contains6,
  ip6ToBig,
  isIPv6,
  overlaps6,
  parseCidr6,
  cidrString,
  contains,
  intToIp,
  ipToInt,
  macFor,
  overlaps,
  parseCidr,
  parsePool,
  pickSubnet,
} from '../../src/network/ipam.js';
import { inspectPorts, portRequests, psPorts } from '../../src/network/ports.js';
import { answer, parseQuestion, recordsFor } from '../../src/network/dns.js';
import { linkEnv } from '../../src/network/links.js';
import type { ContainerRecord } from '../../src/containers/types.js';

test('CIDR parsing, containment and overlap', () => {
  const c = parseCidr('10.1.2.3/24');
  assert.equal(cidrString(c), '10.1.2.0/24');
  assert.equal(intToIp(c.host), '10.1.2.3');
  assert.ok(contains(c, ipToInt('10.1.2.254')));
  assert.ok(!contains(c, ipToInt('10.1.3.1')));
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.200.0.0/24')));
  assert.ok(!overlaps(parseCidr('10.1.0.0/24'), parseCidr('10.1.1.0/24')));
  assert.throws(() => parseCidr('10.1.2/24'), /invalid CIDR/);
  assert.throws(() => parseCidr('10.1.2.300/24'), /invalid IP/);
  assert.throws(() => ipToInt('1.2.3'), /invalid IP/);
  assert.equal(intToIp(ipToInt('255.255.255.255')), '255.255.255.255');
});

test('allocation skips network, gateway, broadcast and used addresses; honours ip-range; exhausts', () => {
  const s = parseCidr('10.9.0.0/29');
  const gw = ipToInt('10.9.0.1');
  assert.equal(intToIp(allocate(s, gw, new Set())!), '10.9.0.2');
  assert.equal(intToIp(allocate(s, gw, new Set([ipToInt('10.9.0.2'), ipToInt('10.9.0.3')]))!), '10.9.0.4');
  assert.equal(intToIp(allocate(s, gw, new Set(), parseCidr('10.9.0.4/30'))!), '10.9.0.4');
  const all = new Set([2, 3, 4, 5, 6].map((i) => ipToInt(`10.9.0.${i}`)));
  assert.equal(allocate(s, gw, all), null);
});

test('subnet picking avoids taken ranges and starts at the given candidate', () => {
  const pool = parsePool('base=10.208.0.0/12,size=24');
  assert.equal(pool.size, 24);
  assert.equal(cidrString(pickSubnet([pool], [])!), '10.208.0.0/24');
  assert.equal(cidrString(pickSubnet([pool], [parseCidr('10.208.0.0/23')])!), '10.208.2.0/24');
  assert.equal(cidrString(pickSubnet([pool], [], 5)!), '10.208.5.0/24');
  assert.equal(pickSubnet([parsePool('base=10.1.0.0/24,size=24')], [parseCidr('10.0.0.0/8')]), null);
  assert.throws(() => parsePool('size=24'), /invalid default address pool/);
});

test('docker MACs from addresses', () => {
  assert.equal(macFor(ipToInt('172.17.0.5')), '02:42:ac:11:00:05');
});

test('MAC addresses a container may be given: six hex bytes, unicast', () => {
  checkMac('02:42:ac:11:00:02');
  checkMac('AA:bb:CC:dd:EE:f0');
  assert.throws(() => checkMac('02:42:ac:11:00'), /invalid MAC address: 02:42:ac:11:00$/);
  assert.throws(() => checkMac('02-42-ac-11-00-02'), /invalid MAC address/);
  assert.throws(() => checkMac('02:42:ac:11:00:0g'), /invalid MAC address/);
  assert.throws(() => checkMac('01:00:5e:00:00:01'), /is a multicast address/);
  assert.throws(() => checkMac('ff:ff:ff:ff:ff:ff'), /is a multicast address/);
});

test('IPv6 text forms parse; the canonical form is RFC 5952', () => {
  assert.equal(ip6ToBig('::'), 0n);
  assert.equal(ip6ToBig('::1'), 1n);
  assert.equal(ip6ToBig('fd00:0:0:0:0:0:0:2'), ip6ToBig('fd00::2'));
  assert.equal(bigToIp6(ip6ToBig('FD00:0DB8:0000:0000:0000:0000:0000:0001')), 'fd00:db8::1');
  assert.equal(bigToIp6(ip6ToBig('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1'); // the first longest run
  assert.equal(bigToIp6(ip6ToBig('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1'); // one zero group stays
  assert.equal(bigToIp6(ip6ToBig('::ffff:10.1.2.3')), '::ffff:a01:203');
  assert.equal(bigToIp6(0n), '::');
  for (const bad of [
    '',
    ':',
    '1::2::3',
    'fd00::g',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '::1.2.3.256',
    '10.0.0.1',
  ])
    assert.equal(isIPv6(bad), false, bad);
  assert.equal(isIPv6('fe80::1'), true);
});

test('IPv6 CIDRs: parsing, containment, overlap', () => {
  const c = parseCidr6('fd00:12:34::5/64');
  assert.equal(cidr6String(c), 'fd00:12:34::/64');
  assert.equal(c.host, ip6ToBig('fd00:12:34::5'));
  assert.ok(contains6(c, ip6ToBig('fd00:12:34::ffff')));
  assert.ok(!contains6(c, ip6ToBig('fd00:12:35::1')));
  assert.ok(overlaps6(c, parseCidr6('fd00:12::/32')));
  assert.ok(!overlaps6(c, parseCidr6('fd00:12:35::/64')));
  assert.throws(() => parseCidr6('fd00::/129'), /invalid CIDR/);
  assert.throws(() => parseCidr6('fd00::'), /invalid CIDR/);
  assert.throws(() => parseCidr6('10.0.0.0/8'), /invalid/);
});

test('IPv6 allocation: in order from ::1, skipping the subnet address, the gateway and used ones; exhausts', () => {
  const c = parseCidr6('fd00:1::/64');
  const gw = ip6ToBig('fd00:1::1');
  assert.equal(bigToIp6(allocate6(c, gw, new Set())!), 'fd00:1::2');
  assert.equal(bigToIp6(allocate6(c, gw, new Set([ip6ToBig('fd00:1::2')]))!), 'fd00:1::3');
  const small = parseCidr6('fd00:1::/126'); // ::0 (subnet), ::1 gw, ::2, ::3
  assert.equal(allocate6(small, gw, new Set([ip6ToBig('fd00:1::2'), ip6ToBig('fd00:1::3')])), null);
  assert.equal(bigToIp6(allocate6(small, ip6ToBig('fd00:1::3'), new Set())!), 'fd00:1::1');
});

test('port requests: bindings, ranges, random ports, -P, bad input', () => {
  const r = portRequests(
    {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '90': [{ HostIp: '', HostPort: '9000-9010' }],
    },
    true,
    { '80/tcp': {}, '443/tcp': {} },
  );
  assert.deepEqual(r, [
    // (JavaScript lists the integer-like key "90" first)
    { proto: 'tcp', containerPort: 90, hostIp: '0.0.0.0', hostLo: 9000, hostHi: 9010, anyHost: true },
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostLo: 8080, hostHi: 8080, anyHost: true },
    { proto: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostLo: 0, hostHi: 0 },
    { proto: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostLo: 0, hostHi: 0, anyHost: true },
  ]);
  assert.throws(() => portRequests({ '99999/tcp': [{}] }, false, {}), /invalid port/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: 'x' }] }, false, {}), /invalid host port/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] }, false, {}), /invalid host IP/);
});

test('port requests on IPv6 host addresses: [::1], ::, canonical form; bad ones refused', () => {
  const r = portRequests(
    {
      '80/tcp': [
        { HostIp: '[::1]', HostPort: '8081' },
        { HostIp: '::', HostPort: '8082' },
      ],
      '81/tcp': [{ HostIp: 'FD00:0::5', HostPort: '81' }],
    },
    false,
    {},
  );
  assert.deepEqual(r, [
    { proto: 'tcp', containerPort: 80, hostIp: '::1', hostLo: 8081, hostHi: 8081 },
    { proto: 'tcp', containerPort: 80, hostIp: '::', hostLo: 8082, hostHi: 8082 },
    { proto: 'tcp', containerPort: 81, hostIp: 'fd00::5', hostLo: 81, hostHi: 81 },
  ]);
  assert.throws(
    () => portRequests({ '80/tcp': [{ HostIp: 'fd00:::1', HostPort: '1' }] }, false, {}),
    /invalid host IP/,
  );
});

test('inspect and ps shapes of ports', () => {
  const bound = [{ proto: 'tcp' as const, containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }];
  assert.deepEqual(inspectPorts(bound, { '80/tcp': {}, '81/tcp': {} }), {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
    '81/tcp': null,
  });
  assert.deepEqual(psPorts(bound, { '81/tcp': {} }), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 81, Type: 'tcp' },
  ]);
});

test('embedded DNS: question parsing and A answers', () => {
  // id 0x1234, RD, one question: srv.  A IN
  const q = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x73, 0x72, 0x76, 0, 0, 1, 0, 1]);
  const pq = parseQuestion(q)!;
  assert.deepEqual({ name: pq.name, type: pq.type, cls: pq.cls }, { name: 'srv', type: 1, cls: 1 });
  const a = answer(q, pq, ['10.0.0.7']);
  assert.equal(a.readUInt16BE(0), 0x1234);
  assert.equal(a.readUInt16BE(2) & 0x8000, 0x8000);
  assert.equal(a.readUInt16BE(6), 1);
  assert.deepEqual([...a.subarray(a.length - 4)], [10, 0, 0, 7]);
  const nx = answer(q, pq, [], 2);
  assert.equal(nx.readUInt16BE(2) & 0xf, 2);
  assert.equal(parseQuestion(Buffer.alloc(5)), null);
});

test('embedded DNS: AAAA answers on IPv6 networks; A, AAAA and ANY pick their family', () => {
  const ips = ['10.0.0.7', 'fd00:77:5::10'];
  assert.deepEqual(recordsFor(1, ips), ['10.0.0.7']);
  assert.deepEqual(recordsFor(28, ips), ['fd00:77:5::10']);
  assert.deepEqual(recordsFor(255, ips), ips);
  assert.deepEqual(recordsFor(28, ['10.0.0.7']), []); // an IPv4-only container: no AAAA, no error
  assert.deepEqual(recordsFor(15, ips), []);
  // srv. AAAA IN
  const q = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x73, 0x72, 0x76, 0, 0, 28, 0, 1]);
  const pq = parseQuestion(q)!;
  assert.equal(pq.type, 28);
  const a = answer(q, pq, recordsFor(pq.type, ips));
  assert.equal(a.readUInt16BE(6), 1);
  const rr = a.subarray(q.length);
  assert.equal(rr.length, 28);
  assert.equal(rr.readUInt16BE(2), 28); // TYPE AAAA
  assert.equal(rr.readUInt16BE(10), 16); // RDLENGTH
  assert.equal(bigToIp6(BigInt(`0x${rr.subarray(12).toString('hex')}`)), 'fd00:77:5::10');
  // ANY: both records, A then AAAA
  const any = answer(q, pq, ips);
  assert.equal(any.readUInt16BE(6), 2);
  assert.equal(any.length, q.length + 16 + 28);
});

test("link variables are docker's", () => {
  const target = {
    name: 'db',
    config: { ExposedPorts: { '5432/tcp': {}, '80/tcp': {} }, Env: ['PATH=/bin', 'PGDATA=/data'] },
  } as unknown as ContainerRecord;
  assert.deepEqual(linkEnv('pg', 'web', target, '10.0.0.9'), [
    'PG_NAME=/web/pg',
    'PG_PORT=tcp://10.0.0.9:80',
    'PG_PORT_80_TCP=tcp://10.0.0.9:80',
    'PG_PORT_80_TCP_ADDR=10.0.0.9',
    'PG_PORT_80_TCP_PORT=80',
    'PG_PORT_80_TCP_PROTO=tcp',
    'PG_PORT_5432_TCP=tcp://10.0.0.9:5432',
    'PG_PORT_5432_TCP_ADDR=10.0.0.9',
    'PG_PORT_5432_TCP_PORT=5432',
    'PG_PORT_5432_TCP_PROTO=tcp',
    'PG_ENV_PGDATA=/data',
  ]);
});
