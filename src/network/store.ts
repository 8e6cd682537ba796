// The network room's records and their SQL: networks (Docker's network JSON) and endpoints
// (container x network: aliases, --ip, --ip6, links, and while the container runs its address, interface
// and published ports). The tables are in src/store/db.ts; nothing else touches them.
import type { DB } from '../store/db.js';
import type { PortBinding } from './ports.js';

export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: {
    Driver: 'default';
    Options: Record<string, string> | null;
    Config: Array<{ Subnet: string; Gateway?: string; IPRange?: string }>;
  };
  Internal: boolean;
  Attachable: boolean;
  Ingress: false;
  ConfigFrom: { Network: '' };
  ConfigOnly: false;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface Endpoint {
  key: string; // container id + network id
  containerId: string;
  networkId: string;
  aliases: string[];
  ipv4Request: string; // IPAMConfig.IPv4Address
  /** IPAMConfig.IPv6Address (--ip6); absent in records of older cocon. */
  ipv6Request?: string;
  /** --mac-address (EndpointSettings.MacAddress or the old Config.MacAddress); absent: 02:42:<ip>. */
  macRequest?: string;
  links: string[]; // legacy --link name:alias (default bridge)
  /** Set while active (container running). */
  endpointId: string;
  ip: string;
  /** Set while active on an IPv6 network: the container's global IPv6 address. */
  ip6?: string;
  ifname: string;
  /** Set while active: the container's network namespace file (absent in records of older cocon: <exec-root>/netns/<container id>). */
  sandbox?: string;
  ports: PortBinding[];
}

export class NetworkStore {
  constructor(private readonly db: DB) {}

  networks(): NetworkRecord[] {
    return (this.db.prepare('SELECT record FROM networks').all() as Array<{ record: string }>).map(
      (row) => JSON.parse(row.record) as NetworkRecord,
    );
  }

  saveNetwork(n: NetworkRecord): void {
    this.db
      .prepare(
        'INSERT INTO networks (id, name, record) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record',
      )
      .run(n.Id, n.Name, JSON.stringify(n));
  }

  deleteNetwork(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  /** The endpoints, after dropping those of containers not in `containers` or of networks that no longer exist. */
  endpoints(containers: ReadonlySet<string>): Endpoint[] {
    this.db.prepare('DELETE FROM endpoints WHERE network_id NOT IN (SELECT id FROM networks)').run();
    const out: Endpoint[] = [];
    for (const row of this.db.prepare('SELECT record FROM endpoints').all() as Array<{ record: string }>) {
      const e = JSON.parse(row.record) as Endpoint;
      if (containers.has(e.containerId)) out.push(e);
      else this.deleteEndpoint(e.key);
    }
    return out;
  }

  saveEndpoint(e: Endpoint): void {
    this.db
      .prepare(
        'INSERT INTO endpoints (key, container_id, network_id, record) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET record = excluded.record',
      )
      .run(e.key, e.containerId, e.networkId, JSON.stringify(e));
  }

  deleteEndpoint(key: string): void {
    this.db.prepare('DELETE FROM endpoints WHERE key = ?').run(key);
  }
}
