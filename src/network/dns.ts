// The embedded DNS server of a user-defined network: a UDP server on the network's gateway
// address, port 53. It answers A queries (and AAAA on IPv6 networks) for the names, ids and
// aliases of the containers on that network (resolve() gives both families), answers other types
// of those names with no records, and relays every other query to the host's resolvers.
import { createSocket, type Socket } from 'node:dgram';
import { log } from '../core/log.js';
import { ip6ToBig } from './ipam.js';

export type Resolve = (name: string, peer: string) => string[] | null;

interface Question {
  name: string;
  type: number;
  cls: number;
  end: number;
}

export function parseQuestion(msg: Buffer): Question | null {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return null;
  let i = 12;
  const labels: string[] = [];
  while (i < msg.length) {
    const n = msg[i];
    if (n === 0) {
      i++;
      break;
    }
    if (n & 0xc0 || i + 1 + n > msg.length) return null;
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('latin1'));
    i += 1 + n;
  }
  if (i + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i), cls: msg.readUInt16BE(i + 2), end: i + 4 };
}

/** The addresses of `ips` (both families) a query of type `qtype` asks for: A (1), AAAA (28), ANY (255) both. */
export function recordsFor(qtype: number, ips: string[]): string[] {
  const v6 = (ip: string) => ip.includes(':');
  if (qtype === 1) return ips.filter((ip) => !v6(ip));
  if (qtype === 28) return ips.filter(v6);
  return qtype === 255 ? ips : [];
}

/** A response to `query` with the given A and AAAA records (by the address's family; rcode 0) or an error rcode. */
export function answer(query: Buffer, q: Question, ips: string[], rcode = 0): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(query.readUInt16BE(0), 0);
  head.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0080 | rcode, 2); // QR, opcode+RD kept, RA
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(ips.length, 6);
  const question = query.subarray(12, q.end);
  const rrs = ips.map((ip) => {
    const v6 = ip.includes(':');
    const rr = Buffer.alloc(v6 ? 28 : 16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(v6 ? 28 : 1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(600, 6);
    rr.writeUInt16BE(v6 ? 16 : 4, 10);
    if (v6) {
      const n = ip6ToBig(ip);
      for (let k = 0; k < 16; k++) rr[12 + k] = Number((n >> BigInt(8 * (15 - k))) & 0xffn);
    } else
      ip.split('.').forEach((b, k) => {
        rr[12 + k] = Number(b);
      });
    return rr;
  });
  return Buffer.concat([head, question, ...rrs]);
}

export class DnsServer {
  private sock?: Socket;
  private pending = new Map<string, { peer: { address: string; port: number }; timer: NodeJS.Timeout }>();
  private upstreamSock?: Socket;

  constructor(
    private readonly address: string,
    private readonly resolve: Resolve,
    private readonly upstream: (peer: string) => string[],
    private readonly port = 53,
  ) {}

  async start(): Promise<void> {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.on('message', (msg, peer) => this.onQuery(msg, peer));
    s.on('error', (e) => log.warn('dns server error', { address: this.address, error: e.message }));
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.bind(this.port, this.address, () => {
        s.off('error', rej);
        res();
      });
    });
    this.sock = s;
    const u = createSocket('udp4');
    u.on('message', (msg) => this.onUpstream(msg));
    u.on('error', () => {
      /* ignore */
    });
    await new Promise<void>((res) => u.bind(0, res));
    this.upstreamSock = u;
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    try {
      this.sock?.close();
    } catch {
      /* closed */
    }
    try {
      this.upstreamSock?.close();
    } catch {
      /* closed */
    }
    this.sock = undefined;
    this.upstreamSock = undefined;
  }

  private onQuery(msg: Buffer, peer: { address: string; port: number }): void {
    const q = parseQuestion(msg);
    if (!q || !this.sock) return;
    const ips = this.resolve(q.name.replace(/\.$/, ''), peer.address);
    if (ips) {
      this.sock.send(answer(msg, q, recordsFor(q.type, ips)), peer.port, peer.address);
      return;
    }
    const servers = this.upstream(peer.address);
    if (!servers.length || !this.upstreamSock) {
      this.sock.send(answer(msg, q, [], 2), peer.port, peer.address);
      return;
    }
    const key = String(msg.readUInt16BE(0));
    const timer = setTimeout(() => {
      this.pending.delete(key);
      this.sock?.send(answer(msg, q, [], 2), peer.port, peer.address);
    }, 3000);
    this.pending.set(key, { peer, timer });
    this.upstreamSock.send(msg, 53, servers[0]);
  }

  private onUpstream(msg: Buffer): void {
    if (msg.length < 2) return;
    const key = String(msg.readUInt16BE(0));
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
    this.sock?.send(msg, p.peer.port, p.peer.address);
  }
}
