// A small warm pool of network sandboxes, so that a container's start only addresses its interface.
// A sandbox is a network namespace bound to a file `sb-<12 hex>` under the namespaces directory,
// with lo up and eth0 (no address, down) whose veth peer already sits in one network's hub, plugged
// into the bridge, and an `ip -batch -` already running inside it, waiting for its lines. Making one
// costs a new namespace, a veth pair and three fork/execs (the slow part: 20 ms and more on this
// machine, far more under load); taking one costs nothing, and the container's connect only feeds
// the waiting ip its lines (MAC, address, up, route): no process is made on the start path.
//
// Rules: a sandbox is handed out once and never comes back (the container's teardown deletes it),
// so no namespace carries anything of an earlier user. Pools are per network, `perNetwork` deep,
// for at most `maxNetworks` networks (the least recently used is dropped); they refill in the
// background, one sandbox at a time, after warm() and after each take(). A failed refill stops
// that network's refilling until the next take() (no busy loop on a broken host). close() (daemon
// shutdown) and drop() (network removal) delete the unused sandboxes; a daemon that died leaves
// them to the next start's sweep of unreferenced `sb-*` files (NetworkService.init).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { log } from '../core/log.js';
import { WaitingIpBatch, deleteNetns, setupNetns } from '../sys/net.js';
import { hubPortLines, vethLines } from './rules.js';

/** What a sandbox of one network needs: its hub, the veth MTU, and an nft script for the namespace (the DNS redirect). */
export interface SandboxSpec {
  /** The network's id (the pool's key). */
  key: string;
  /** The hub namespace file. */
  hub: string;
  mtu?: number;
  /** Applied inside the new namespace with route_localnet on (user networks' DNS redirect). */
  nft?: string;
  /** An IPv4-only network: IPv6 off in the namespace (net.ipv6.conf.all.disable_ipv6=1, as dockerd). */
  ipv6Off?: boolean;
}

export interface Sandbox {
  /** The namespace file (the container's SandboxKey). */
  path: string;
  /** The endpoint id the sandbox was made for: its first 12 hex digits name the peer in the hub (`v<12>`). */
  endpointId: string;
  /** The spec it was made with (a take() of a changed network is refused). */
  spec: SandboxSpec;
  /** Runs `ip -batch` lines inside the sandbox without making a process (once). */
  batch: WaitingIpBatch;
}

/** A new sandbox file name under dir. */
export function sandboxPath(dir: string): string {
  return join(dir, `sb-${randomBytes(6).toString('hex')}`);
}

/** The hub-side veth name of an endpoint. */
export function hubLinkName(endpointId: string): string {
  return `v${endpointId.slice(0, 12)}`;
}

/** Makes one sandbox for spec (namespace, veth into the hub, the peer on the bridge, the nft script); nothing left on failure. */
export async function makeSandbox(dir: string, spec: SandboxSpec): Promise<Sandbox> {
  const endpointId = randomBytes(32).toString('hex');
  const path = sandboxPath(dir);
  const peer = hubLinkName(endpointId);
  await setupNetns(
    path,
    ['link set lo up', ...vethLines({ ifname: 'eth0', peer, hub: spec.hub, mtu: spec.mtu })],
    [{ netns: spec.hub, lines: hubPortLines(peer) }],
    spec.nft,
    { off: spec.ipv6Off, notify: true },
  );
  return { path, endpointId, spec, batch: new WaitingIpBatch(path) };
}

/** Deletes an unused sandbox (its waiting ip ends first). */
async function discard(sb: Sandbox): Promise<void> {
  sb.batch.cancel();
  await deleteNetns(sb.path).catch(() => undefined);
}

interface NetPool {
  spec: SandboxSpec;
  ready: Sandbox[];
  filling: Promise<void> | null;
  failed: boolean;
  used: number;
}

export class SandboxPool {
  private readonly pools = new Map<string, NetPool>();
  private closed = false;
  private tick = 0;
  constructor(
    private readonly dir: string,
    private readonly perNetwork = 2,
    private readonly maxNetworks = 3,
  ) {}

  /** Keeps sandboxes of this network ready (refills in the background). */
  warm(spec: SandboxSpec): void {
    if (this.closed || this.perNetwork <= 0) return;
    let p = this.pools.get(spec.key);
    if (p && !sameSpec(p.spec, spec)) {
      this.drop(spec.key).catch(() => undefined);
      p = undefined;
    }
    if (!p) {
      p = { spec, ready: [], filling: null, failed: false, used: ++this.tick };
      this.pools.set(spec.key, p);
      this.evict();
    }
    p.used = ++this.tick;
    p.failed = false;
    this.fill(p);
  }

  /** A ready sandbox of this network, removed from the pool for good (refilled behind it), or undefined. */
  take(spec: SandboxSpec): Sandbox | undefined {
    const p = this.pools.get(spec.key);
    const sb = p && sameSpec(p.spec, spec) ? p.ready.shift() : undefined;
    this.warm(spec);
    return sb;
  }

  /** Resolves once the network's pool is full or its refilling stopped (benchmarks, tests). */
  async settled(key: string): Promise<void> {
    for (let p = this.pools.get(key); p?.filling; p = this.pools.get(key)) await p.filling;
  }

  /** Unused sandboxes per network (inspection, tests). */
  size(key: string): number {
    return this.pools.get(key)?.ready.length ?? 0;
  }

  /** The network is going (or changed): its unused sandboxes are deleted. */
  async drop(key: string): Promise<void> {
    const p = this.pools.get(key);
    if (!p) return;
    this.pools.delete(key);
    await p.filling?.catch(() => undefined);
    await Promise.all(p.ready.splice(0).map(discard));
  }

  /** Daemon shutdown: no more refills, every unused sandbox deleted. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.keys()].map((k) => this.drop(k)));
  }

  private evict(): void {
    while (this.pools.size > this.maxNetworks) {
      const lru = [...this.pools.values()].reduce((a, b) => (b.used < a.used ? b : a));
      void this.drop(lru.spec.key);
    }
  }

  private fill(p: NetPool): void {
    if (p.filling || p.failed || this.closed || p.ready.length >= this.perNetwork) return;
    p.filling = (async () => {
      while (!this.closed && !p.failed && this.pools.get(p.spec.key) === p && p.ready.length < this.perNetwork) {
        try {
          const sb = await makeSandbox(this.dir, p.spec);
          if (this.closed || this.pools.get(p.spec.key) !== p) await discard(sb);
          else p.ready.push(sb);
        } catch (e) {
          p.failed = true;
          log.warn('network: making a pooled sandbox failed', { network: p.spec.key, error: (e as Error).message });
        }
      }
    })().finally(() => {
      p.filling = null;
    });
  }
}

function sameSpec(a: SandboxSpec, b: SandboxSpec): boolean {
  return a.key === b.key && a.hub === b.hub && a.mtu === b.mtu && a.nft === b.nft && !!a.ipv6Off === !!b.ipv6Off;
}
