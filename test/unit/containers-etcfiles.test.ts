// A bridged container's /etc/hosts and /etc/resolv.conf (src/containers/etcfiles.ts), rendered from
// what its networks hand back (NetFiles) and its own --hostname/--domainname/--add-host/--dns*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOSTS_HEAD, hostsFile, resolvConf } from '../../src/containers/etcfiles.js';
import type { ContainerRecord } from '../../src/containers/types.js';

function rec(config: Record<string, unknown>, hostConfig: Record<string, unknown> = {}): ContainerRecord {
  return { name: 'web', config: { Hostname: 'abc123', ...config }, hostConfig } as unknown as ContainerRecord;
}

test('hosts: loopback names, --add-host (host-gateway = primary gateway), links, then each address', () => {
  const r = rec({}, { ExtraHosts: ['gw:host-gateway', 'db.local:10.9.9.9'] });
  const text = hostsFile(r, {
    addresses: ['10.200.0.3', '10.208.1.4'],
    gateway: '10.200.0.1',
    links: [{ ip: '10.200.0.2', names: ['pg', '0123456789ab', 'db'] }],
  });
  assert.equal(
    text,
    HOSTS_HEAD +
      '10.200.0.1\tgw\n10.9.9.9\tdb.local\n10.200.0.2\tpg 0123456789ab db\n10.200.0.3\tabc123\n10.208.1.4\tabc123\n',
  );
  assert.ok(HOSTS_HEAD.startsWith('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'));
});

test('hosts: --domainname gives the fully qualified name first', () => {
  assert.equal(
    hostsFile(rec({ Hostname: 'h', Domainname: 'example.org' }), {
      addresses: ['10.0.0.2'],
      gateway: '10.0.0.1',
      links: [],
    }),
    HOSTS_HEAD + '10.0.0.2\th.example.org h\n',
  );
});

const HOST = { nameservers: ['127.0.0.53', '192.168.1.1', '::1'], search: ['lan'], options: ['edns0'] };

test("resolv.conf: the network's DNS server wins over --dns; search and options from the container, else the host", () => {
  assert.equal(
    resolvConf(rec({}, { Dns: ['1.1.1.1'] }), '127.0.0.11', HOST),
    'nameserver 127.0.0.11\nsearch lan\noptions edns0\n',
  );
  assert.equal(
    resolvConf(rec({}, { DnsSearch: ['corp'], DnsOptions: ['ndots:2'] }), '127.0.0.11', HOST),
    'nameserver 127.0.0.11\nsearch corp\noptions ndots:2\n',
  );
});

test("resolv.conf without a network DNS: --dns, else the host's reachable nameservers, else Google's", () => {
  assert.equal(
    resolvConf(rec({}, { Dns: ['1.1.1.1', '9.9.9.9'] }), undefined, HOST),
    'nameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch lan\noptions edns0\n',
  );
  assert.equal(resolvConf(rec({}), undefined, HOST), 'nameserver 192.168.1.1\nsearch lan\noptions edns0\n');
  assert.equal(
    resolvConf(rec({}), undefined, { nameservers: ['127.0.0.53'], search: [], options: [] }),
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\n',
  );
});
