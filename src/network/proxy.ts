// The userland proxy of ports published on the host's IPv6 loopback, as dockerd's docker-proxy:
// Linux drops a packet from ::1 that would leave through another device (IPv6 has no
// route_localnet), so the nft DNAT that serves 127.0.0.1 cannot serve [::1]. For each TCP port
// published on `::1` or `::` the daemon listens on [::1]:port and pipes each connection to the
// container's address; the ip6 table leaves ::1 alone. Started at connect, stopped at disconnect,
// started again by the daemon's init for containers that kept running.
import { createConnection, createServer, type Server } from 'node:net';
import { log } from '../core/log.js';

export interface LoopbackForward {
  hostPort: number;
  /** The container's address and port. */
  ip: string;
  containerPort: number;
}

export class LoopbackProxies {
  private readonly byOwner = new Map<string, Server[]>();

  /** Listens for `owner` (a container id) on [::1] for each forward; throws (nothing left listening) when one cannot. */
  async start(owner: string, forwards: LoopbackForward[]): Promise<void> {
    this.stop(owner);
    const servers: Server[] = [];
    try {
      for (const f of forwards) {
        const srv = createServer((c) => {
          const up = createConnection({ host: f.ip, port: f.containerPort });
          c.pipe(up).pipe(c);
          const end = () => {
            c.destroy();
            up.destroy();
          };
          c.on('error', end);
          up.on('error', end);
        });
        await new Promise<void>((res, rej) => {
          srv.once('error', rej);
          srv.listen({ host: '::1', port: f.hostPort, ipv6Only: true, exclusive: true }, () => {
            srv.off('error', rej);
            res();
          });
        });
        srv.on('error', (e) => log.warn('network: loopback proxy error', { port: f.hostPort, error: e.message }));
        servers.push(srv);
      }
    } catch (e) {
      for (const s of servers) s.close();
      throw e;
    }
    if (servers.length) this.byOwner.set(owner, servers);
  }

  stop(owner: string): void {
    for (const s of this.byOwner.get(owner) ?? []) s.close();
    this.byOwner.delete(owner);
  }

  close(): void {
    for (const k of [...this.byOwner.keys()]) this.stop(k);
  }
}
