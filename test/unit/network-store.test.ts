// The network room's records in SQLite (src/network/store.ts), on a real database in a temp dir:
// networks and endpoints round-trip, and loading drops the endpoints of vanished containers and of
// removed networks (the containers table itself is never read).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { NetworkStore, type Endpoint, type NetworkRecord } from '../../src/network/store.js';

function net(id: string, name: string): NetworkRecord {
  return {
    Name: name,
    Id: id,
    Created: '2026-01-01T00:00:00.000000000Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.208.0.0/24', Gateway: '10.208.0.1' }] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: {},
    Labels: {},
  };
}
function ep(containerId: string, networkId: string): Endpoint {
  return {
    key: `${containerId}:${networkId}`,
    containerId,
    networkId,
    aliases: ['a'],
    ipv4Request: '',
    links: [],
    endpointId: '',
    ip: '',
    ifname: '',
    ports: [],
  };
}

test('networks and endpoints round-trip; stale endpoints are dropped on load', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cocon-netstore-'));
  const db = openDb(join(dir, 'cocon.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const s = new NetworkStore(db);
  s.saveNetwork(net('n1', 'front'));
  s.saveNetwork(net('n2', 'back'));
  s.saveNetwork({ ...net('n1', 'front2'), Labels: { x: 'y' } });
  assert.deepEqual(
    s
      .networks()
      .map((n) => [n.Id, n.Name, n.Labels])
      .sort(),
    [
      ['n1', 'front2', { x: 'y' }],
      ['n2', 'back', {}],
    ],
  );
  s.saveEndpoint(ep('c1', 'n1'));
  s.saveEndpoint(ep('c1', 'n2'));
  s.saveEndpoint(ep('gone', 'n1'));
  s.saveEndpoint({
    ...ep('c1', 'n1'),
    ip: '10.208.0.2',
    ports: [{ proto: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPort: 5353 }],
  });
  s.deleteNetwork('n2');
  const kept = s.endpoints(new Set(['c1']));
  assert.deepEqual(
    kept.map((e) => e.key),
    ['c1:n1'],
  );
  assert.equal(kept[0].ip, '10.208.0.2');
  assert.deepEqual(kept[0].ports, [{ proto: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPort: 5353 }]);
  // the dropped rows are gone from the table, not only from the answer
  assert.deepEqual(
    (db.prepare('SELECT key FROM endpoints').all() as Array<{ key: string }>).map((r) => r.key),
    ['c1:n1'],
  );
  s.deleteEndpoint('c1:n1');
  assert.deepEqual(s.endpoints(new Set(['c1'])), []);
});
