// The network room: docker's bridge networks for the container lifecycle (NetworkHooks) and the
// /networks API.
//
// Layout on the host, per bridge network (the default "bridge" and each user network):
//   - a "hub" network namespace (<exec-root>/netns/net-<id12>) holding the Linux bridge br0 and
//     the container-side veths; inside it, ICC policy as an nft bridge-family table. The hub keeps
//     the bridged traffic away from the host's own br_netfilter/iptables FORWARD rules (a dockerd's
//     "policy drop" on this host would otherwise drop container-to-container packets) and dies,
//     with every link in it, when its bind mount goes.
//   - a veth pair hub:up0 <-> host:<device> (device = --bridge / bridge.name option / cbr-<id11>)
//     carrying the gateway address; the host routes and NATs for the subnet through it.
//   - one nft table `ip cocon_<hash of data root>` on the host: masquerade out, DNAT of published
//     ports (prerouting and output, so 127.0.0.1 works: route_localnet on the device plus a
//     masquerade of loopback sources), forward drops for internal networks. Rewritten whole, in one
//     transaction, whenever it changes. While an IPv6 network exists, its twin `ip6 cocon_<hash>`
//     does the same for the IPv6 subnets (NAT66, ports published on IPv6 host addresses) and
//     net.ipv6.conf.all.forwarding is on (see ipv6Forwarding()).
//   - IPv6 networks (EnableIPv6, a second IPAM config with the IPv6 subnet): the host device also
//     carries the IPv6 gateway, each container its IPv6 address (no DAD in its namespace: usable at
//     once; announced by an unsolicited neighbour advertisement, so a reused address's new MAC is
//     learnt by the other containers at once).
//   - user networks: an embedded DNS server (dns.ts) on the gateway address, port 53; containers
//     reach it as docker's 127.0.0.11 (DNAT + SNAT in their own namespace, route_localnet there).
// Per container: a namespace ("sandbox", <exec-root>/netns/sb-<12 hex>, its SandboxKey) with lo and
// eth0 (veth into the hub), its address, MAC 02:42:<ip> and default route. The sandbox comes from a
// warm pool of the primary network (pool.ts: made in the background, handed out once) when one is
// ready, else it is made on the spot. Stopping releases it in the background (the veth dies with
// the namespace); the addresses stay held until it is gone.
//
// Split: rules.ts renders every nft and `ip` text (pure), store.ts owns the networks/endpoints SQL,
// src/sys runs the tools. The containers service owns containers' hosts and resolv.conf: connect()
// hands back addresses, link entries and the DNS server (NetFiles), and a running container that
// joins a network is told through ContainerDirectory.joinedNetwork.
//
// Lifecycle: init() (daemon start: GC stale tables of vanished data roots, restore hubs, the nft
// table and DNS) -> validate (create) -> connect (start) -> disconnect (stop) -> remove (rm).
// Errors: InvalidArgument (400), NotFound (404), Forbidden (403), Conflict (409).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EventBus } from '../core/events.js';
import type { ContainerRecord } from '../containers/types.js';
import { Conflict, Forbidden, InvalidArgument, NotFound } from '../core/errors.js';
import { log } from '../core/log.js';
import { NoNetwork, type ConnectResult, type ContainerDirectory, type NetworkHooks } from './types.js';
import {
  allocate,
  allocate6,
  bigToIp6,
  cidr6String,
  contains6,
  ip6ToBig,
  isIPv6,
  overlaps6,
  parseCidr6,
  type Cidr6,
  checkMac,
  cidrString,
  contains,
  intToIp,
  ipToInt,
  isIPv4,
  macFor,
  overlaps,
  parseCidr,
  parsePool,
  pickSubnet,
  type Cidr,
  type Pool,
} from './ipam.js';
import { inspectPorts, portRequests, psPorts, type PortBinding, type PortRequest } from './ports.js';
import { DnsServer } from './dns.js';
import { linkEnv, normLink } from './links.js';
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
  addressLines,
  type LinkFlow,
} from './rules.js';
import { SandboxPool, hubLinkName, sandboxPath, type SandboxSpec } from './pool.js';
import type { Endpoint, NetworkRecord, NetworkStore } from './store.js';
import {
  createHub,
  hostLinkExists,
  localnetNft,
  setupNetns,
  configureNetns,
  netnsIpv6Sysctls,
  type Ipv6Sysctls,
  deleteNetns,
  hostLinks,
  hostRoutes,
  ipBatch,
  ipBatchForce,
  linkExists,
  netnsAlive,
  portFree,
  sysctl,
  hostResolvConf,
  ipv6ForwardingOn,
  ipv6ForwardingRestore,
  ipv6ForwardingMarked,
} from '../sys/net.js';
import { nftApply, nftDeleteTable, nftTableComment, nftTables } from '../sys/nft.js';
import { HostFirewall } from './hostfw.js';
import { LoopbackProxies, type LoopbackForward } from './proxy.js';

export type { NetworkRecord } from './store.js';

export interface NetworkConfig {
  dataRoot: string;
  execRoot: string;
  /** --bridge: host-side device of the default bridge. */
  bridge?: string;
  /** --bip: gateway address and subnet of the default bridge (10.1.0.1/24). */
  bip?: string;
  /** --icc (default true). */
  icc?: boolean;
  /** --default-address-pool base=CIDR,size=N */
  defaultAddressPool?: string;
  /** --iptables (default true): NAT and port publishing rules. */
  iptables?: boolean;
  /** Warm sandboxes kept per network (pool.ts); 0 turns the pool off. Default 2. */
  sandboxPool?: number;
  /** --ipv6: IPv6 on the default bridge, with --fixed-cidr-v6 its subnet. */
  ipv6?: boolean;
  fixedCidrV6?: string;
}

const DEFAULT_DATA_ROOT = '/var/lib/cocon';
const ENDPOINT_EMPTY = {
  IPAMConfig: null,
  Links: null,
  Aliases: null,
  NetworkID: '',
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  MacAddress: '',
  DriverOpts: null,
};

function nowNano(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export class NetworkService implements NetworkHooks {
  private readonly nets = new Map<string, NetworkRecord>();
  private readonly eps = new Map<string, Endpoint>();
  private readonly dns = new Map<string, DnsServer>();
  private readonly reservedPorts = new Set<string>();
  /** "<network id>:<ip>" of endpoints whose namespace is still being torn down. */
  private readonly draining = new Set<string>();
  private readonly teardowns = new Map<string, Promise<void>>();
  private iccChanged = false;
  /** Set by shutdown(). */
  private stopping = false;
  /** No ip6 table of ours exists (known once a rewrite removed it; unknown at start). */
  private ip6TableGone = false;
  private readonly none = new NoNetwork();
  private nftChain: Promise<void> = Promise.resolve();
  private hubChains = new Map<string, Promise<void>>();
  private readonly hash: string;
  readonly table: string;
  private readonly nsDir: string;
  private readonly pools: Pool[];
  private readonly iptables: boolean;
  private readonly rootTag: string;
  /** Accept rules for the bridges in the host's own forward chains (dockerd, ufw, firewalld hosts). */
  private readonly hostfw: HostFirewall;
  /** Pre-made namespaces with a veth into a hub: a start only addresses one. */
  private readonly pool: SandboxPool;
  /** Ports published on [::1] / [::], served on the IPv6 loopback by the daemon (docker-proxy's job). */
  private readonly proxies = new LoopbackProxies();
  constructor(
    private readonly cfg: NetworkConfig,
    private readonly store: NetworkStore,
    private readonly containers: ContainerDirectory,
    private readonly events?: EventBus,
  ) {
    this.hash = createHash('sha256').update(cfg.dataRoot).digest('hex');
    this.table = `cocon_${this.hash.slice(0, 8)}`;
    this.nsDir = join(cfg.execRoot, 'netns');
    this.pools = [parsePool(cfg.defaultAddressPool ?? 'base=10.208.0.0/12,size=24')];
    this.iptables = cfg.iptables !== false;
    this.rootTag = `cocon:${cfg.dataRoot}`;
    this.hostfw = new HostFirewall(`COCON-FORWARD-${this.hash.slice(0, 8)}`, this.rootTag, 'cocon_');
    this.pool = new SandboxPool(this.nsDir, cfg.sandboxPool ?? 2);
  }

  // ---- daemon start -----------------------------------------------------------------------------

  async init(): Promise<void> {
    const t0 = performance.now();
    mkdirSync(this.nsDir, { recursive: true, mode: 0o700 });
    if (this.iptables) sysctl('net.ipv4.ip_forward', '1');
    for (const n of this.store.networks()) this.nets.set(n.Id, n);
    if (!this.byName('none')) this.saveNet(this.builtin('none', 'null'));
    if (!this.byName('host')) this.saveNet(this.builtin('host', 'host'));
    await this.ensureDefaultBridge();
    // Endpoints: drop those of containers that no longer exist; release those whose namespace died.
    for (const e of this.store.endpoints(new Set(this.containers.all().map((r) => r.id)))) this.eps.set(e.key, e);
    const fresh = new Set<string>();
    for (const n of this.nets.values()) if (n.Driver === 'bridge' && (await this.ensureHub(n))) fresh.add(n.Id);
    for (const e of this.eps.values()) {
      if (e.ip && !netnsAlive(e.sandbox ?? this.nsPath(e.containerId))) {
        this.releaseEndpoint(e);
      }
    }
    // Sandboxes no running container holds: a dead daemon's pool, teardowns it did not finish.
    const held = new Set([...this.eps.values()].filter((e) => e.ip && e.sandbox).map((e) => e.sandbox!));
    const orphans = readdirSync(this.nsDir)
      .filter((f) => f.startsWith('sb-'))
      .map((f) => join(this.nsDir, f))
      .filter((p) => !held.has(p));
    await this.applyNft();
    for (const e of this.eps.values())
      if (e.ip && e.ports.length)
        await this.proxies
          .start(e.containerId, this.loopbackForwards(e))
          .catch((err: Error) =>
            log.warn('network: loopback proxy did not start', { id: e.containerId, error: err.message }),
          );
    if (this.iptables) await this.hostfw.start(this.routedDevices(), this.routedDevices(true));
    // a daemon killed before it could give forwarding back left its mark in /run: with no IPv6 network left, off again now
    if (this.iptables) await this.releaseIpv6Forwarding('at start');
    for (const n of this.nets.values()) {
      if (n.Driver !== 'bridge') continue;
      // a new hub has no policy yet; a kept one may hold rules of an earlier --icc
      if (!this.icc(n) || (!fresh.has(n.Id) && this.iccChanged)) await this.applyHubPolicy(n, true);
      if (!this.isDefault(n)) await this.startDns(n);
    }
    log.debug('network: ready', {
      ms: Math.round(performance.now() - t0),
      table: this.table,
      bridge: this.defaultDevice(),
    });
    // Off the start path: other daemons' leftovers, our orphaned sandboxes, then the default bridge's warm pool.
    void this.gcStale().catch((e: Error) =>
      log.warn('network: sweeping stale cocon tables failed', { error: e.message }),
    );
    void Promise.all(orphans.map((p) => deleteNetns(p).catch(() => undefined))).then(() => {
      const n = this.byName('bridge');
      if (n && this.isDefault(n)) this.pool.warm(this.sandboxSpec(n));
    });
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.proxies.close();
    for (const d of this.dns.values()) d.close();
    this.dns.clear();
    await this.pool.close();
    await Promise.all([...this.teardowns.values()]);
    await this.nftChain.catch(() => undefined);
    // Running containers outlive the daemon and keep their routes (like the nft table); with none, nothing of ours stays in the host's firewall.
    const idle = [...this.eps.values()].every((e) => !e.ip);
    await this.hostfw.stop(idle);
    // with no container running, the IPv6 rules and the forwarding cocon turned on go too (the next start puts them back)
    if (idle && this.iptables && [...this.nets.values()].some((n) => this.subnet6(n))) {
      await nftApply(`table ip6 ${this.table}\ndelete table ip6 ${this.table}\n`).catch(() => undefined);
      await this.releaseIpv6Forwarding().catch(() => undefined);
    }
  }

  /** Host devices of the bridges whose routed traffic the host's firewall must let pass (with `v6`, of the IPv6 ones). */
  private routedDevices(v6 = false): string[] {
    return [...this.nets.values()]
      .filter((n) => n.Driver === 'bridge' && !n.Internal && (!v6 || this.subnet6(n)))
      .map((n) => this.device(n));
  }

  /** Tables and host links of cocon daemons whose data root is gone (test daemons swept away). */
  private async gcStale(): Promise<void> {
    let staleIpv6 = false;
    for (const t of await nftTables()) {
      if (!t.name.startsWith('cocon_') || t.name === this.table) continue;
      const c = await nftTableComment(t.family, t.name);
      const m = /^cocon:(.+)$/.exec(c);
      if (m && !existsSync(m[1])) {
        await nftDeleteTable(t.family, t.name);
        log.info('network: removed stale nft table', { table: t.name, dataRoot: m[1] });
        if (t.family === 'ip6') staleIpv6 = true;
      }
    }
    // that daemon's IPv6 network was what kept forwarding on
    if (staleIpv6 && this.iptables) await this.releaseIpv6Forwarding('after a vanished daemon');
    const stale = (await hostLinks()).filter((l) => l.alias?.startsWith('cocon:') && !existsSync(l.alias.slice(6)));
    await ipBatchForce(linkDelLines(stale.map((l) => l.name)));
    if (this.iptables) await this.hostfw.sweepStale((tag) => existsSync(tag.slice('cocon:'.length)));
  }

  private builtin(name: string, driver: 'null' | 'host'): NetworkRecord {
    return {
      Name: name,
      Id: randomBytes(32).toString('hex'),
      Created: nowNano(),
      Scope: 'local',
      Driver: driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: {},
      Labels: {},
    };
  }

  private defaultDevice(): string {
    if (this.cfg.bridge) return this.cfg.bridge;
    return this.cfg.dataRoot === DEFAULT_DATA_ROOT ? 'cocon0' : `cocon${this.hash.slice(0, 6)}`;
  }

  private async ensureDefaultBridge(): Promise<void> {
    const device = this.defaultDevice();
    if (device.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(device)) throw new Error(`invalid bridge name: ${device}`);
    let n = this.byName('bridge');
    let subnet: string;
    let gateway: string;
    // The host's routes matter only when a subnet is to be picked or re-checked (not with a live hub).
    const live =
      !!n && !!v4conf(n) && n.Options['com.docker.network.bridge.name'] === device && netnsAlive(this.hubPath(n));
    const taken = this.cfg.bip || live ? [] : await this.takenSubnets(n?.Id, device);
    if (this.cfg.bip) {
      const c = parseCidr(this.cfg.bip);
      if (c.host === c.base || c.len > 30)
        throw new Error(`--bip ${this.cfg.bip}: give the gateway address with its prefix, e.g. 10.99.0.1/24`);
      subnet = cidrString(c);
      gateway = intToIp(c.host);
    } else if (n && v4conf(n) && !taken.some((t) => overlaps(t, parseCidr(v4conf(n!)!.Subnet)))) {
      subnet = v4conf(n)!.Subnet;
      gateway = v4conf(n)!.Gateway ?? intToIp(parseCidr(subnet).base + 1);
    } else {
      const start = this.cfg.dataRoot === DEFAULT_DATA_ROOT ? 0 : parseInt(this.hash.slice(0, 6), 16) % 2048;
      const c = pickSubnet([{ base: { base: ipToInt('10.200.0.0'), len: 13 }, size: 24 }], taken, start);
      if (!c) throw new Error('no free subnet for the default bridge: give one with --bip');
      subnet = cidrString(c);
      gateway = intToIp(c.base + 1);
    }
    // --ipv6 --fixed-cidr-v6: dockerd 24 has no default IPv6 pool, and neither has cocon
    let conf6: { Subnet: string; Gateway: string } | undefined;
    if (this.cfg.fixedCidrV6 && !this.cfg.ipv6) throw new Error('--fixed-cidr-v6 needs --ipv6');
    if (this.cfg.ipv6) {
      if (!this.cfg.fixedCidrV6)
        throw new Error('--ipv6 needs --fixed-cidr-v6 (the IPv6 subnet of the default bridge, e.g. fd00:1::/64)');
      const c = parseCidr6(this.cfg.fixedCidrV6);
      if (c.len > 126) throw new Error(`--fixed-cidr-v6 ${this.cfg.fixedCidrV6}: the prefix is too long`);
      conf6 = { Subnet: cidr6String(c), Gateway: bigToIp6(c.base + 1n) };
    }
    const icc = this.cfg.icc !== false;
    const options = {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': String(icc),
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': device,
      'com.docker.network.driver.mtu': '1500',
    };
    if (!n) n = { ...this.builtin('bridge', 'null'), Driver: 'bridge' };
    this.iccChanged =
      n.Options['com.docker.network.bridge.enable_icc'] !== undefined &&
      n.Options['com.docker.network.bridge.enable_icc'] !== String(icc);
    const changed =
      v4conf(n)?.Subnet !== subnet ||
      v4conf(n)?.Gateway !== gateway ||
      v6conf(n)?.Subnet !== conf6?.Subnet ||
      n.Options['com.docker.network.bridge.name'] !== device;
    if (changed && n.Options['com.docker.network.bridge.name']) await this.dropHub(n);
    n.IPAM = {
      Driver: 'default',
      Options: null,
      Config: [{ Subnet: subnet, Gateway: gateway }, ...(conf6 ? [conf6] : [])],
    };
    n.EnableIPv6 = !!conf6;
    n.Options = options;
    this.saveNet(n);
  }

  /** Subnets in use: other networks' and the host's routes (except the device's own). */
  private async takenSubnets(exceptId?: string, exceptDevice?: string): Promise<Cidr[]> {
    const out: Cidr[] = [];
    for (const r of await hostRoutes()) {
      if (exceptDevice && r.dev === exceptDevice) continue;
      if ([...this.nets.values()].some((n) => n.Id !== exceptId && this.device(n) === r.dev)) continue;
      try {
        const c = parseCidr(r.dst);
        if (c.len > 0) out.push(c);
      } catch {
        /* not v4 */
      }
    }
    for (const n of this.nets.values()) if (n.Id !== exceptId && v4conf(n)) out.push(parseCidr(v4conf(n)!.Subnet));
    out.push(parseCidr('172.17.0.0/16')); // a dockerd's default bridge beside cocon
    return out;
  }

  // ---- lookups ----------------------------------------------------------------------------------

  private byName(name: string): NetworkRecord | undefined {
    for (const n of this.nets.values()) if (n.Name === name) return n;
    return undefined;
  }

  /** A network by full id, name or unique id prefix. */
  find(ref: string): NetworkRecord {
    const byId = this.nets.get(ref);
    if (byId) return byId;
    const byName = this.byName(ref);
    if (byName) return byName;
    const hits = [...this.nets.values()].filter((n) => n.Id.startsWith(ref));
    if (hits.length === 1 && ref.length > 0) return hits[0];
    if (hits.length > 1)
      throw new NotFound(`network ${ref} is ambiguous (${hits.length} matches found based on ID prefix)`);
    throw new NotFound(`network ${ref} not found`);
  }

  private isDefault(n: NetworkRecord): boolean {
    return n.Name === 'bridge' && n.Options['com.docker.network.bridge.default_bridge'] === 'true';
  }
  private device(n: NetworkRecord): string {
    return n.Options['com.docker.network.bridge.name'] ?? `cbr-${n.Id.slice(0, 11)}`;
  }
  private icc(n: NetworkRecord): boolean {
    return n.Options['com.docker.network.bridge.enable_icc'] !== 'false';
  }
  /** com.docker.network.driver.mtu, when the network has one other than the kernel's 1500. */
  private mtu(n: NetworkRecord): number | undefined {
    const m = Number(n.Options['com.docker.network.driver.mtu'] ?? 1500);
    return m && m !== 1500 ? m : undefined;
  }
  /** The endpoint's MAC: --mac-address, else docker's 02:42 + the IPv4 address (also on IPv6 networks, as dockerd). */
  private mac(e: Endpoint): string {
    return e.macRequest || macFor(ipToInt(e.ip));
  }
  private hubPath(n: NetworkRecord): string {
    return join(this.nsDir, `net-${n.Id.slice(0, 12)}`);
  }
  /** Where cocon before the sandbox pool kept a container's namespace (records without `sandbox`). */
  private nsPath(containerId: string): string {
    return join(this.nsDir, containerId);
  }
  /** The container's network namespace file (its SandboxKey). */
  private sandboxOf(containerId: string): string {
    return this.epsOf(containerId).find((e) => e.ip && e.sandbox)?.sandbox ?? this.nsPath(containerId);
  }
  /** What a pooled sandbox of n holds: a veth into n's hub and, on user networks, the DNS redirect. */
  private sandboxSpec(n: NetworkRecord): SandboxSpec {
    return {
      key: n.Id,
      hub: this.hubPath(n),
      mtu: this.mtu(n),
      nft: this.dns.has(n.Id) ? dnsRedirect(intToIp(this.subnet(n).gw)) : undefined,
      ipv6Off: !this.subnet6(n),
    };
  }
  private subnet(n: NetworkRecord): Cidr & { gw: number } {
    const conf = v4conf(n)!;
    const c = parseCidr(conf.Subnet);
    return { base: c.base, len: c.len, gw: ipToInt(conf.Gateway ?? intToIp(c.base + 1)) };
  }
  /** The IPv6 subnet and gateway of an IPv6 network, else null. */
  private subnet6(n: NetworkRecord): (Cidr6 & { gw: bigint }) | null {
    const conf = n.EnableIPv6 ? v6conf(n) : undefined;
    if (!conf) return null;
    const c = parseCidr6(conf.Subnet);
    return { base: c.base, len: c.len, gw: conf.Gateway ? ip6ToBig(conf.Gateway) : c.base + 1n };
  }

  private netOfMode(mode: string): NetworkRecord | null {
    if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return null;
    return this.find(mode === 'default' ? 'bridge' : mode);
  }

  private epsOf(containerId: string): Endpoint[] {
    return [...this.eps.values()].filter((e) => e.containerId === containerId);
  }
  private active(n: NetworkRecord): Endpoint[] {
    return [...this.eps.values()].filter((e) => e.networkId === n.Id && e.ip);
  }

  // ---- persistence ------------------------------------------------------------------------------

  private saveNet(n: NetworkRecord): void {
    this.store.saveNetwork(n);
    this.nets.set(n.Id, n);
  }

  private saveEp(e: Endpoint): void {
    this.store.saveEndpoint(e);
    this.eps.set(e.key, e);
  }

  private deleteEp(e: Endpoint): void {
    this.store.deleteEndpoint(e.key);
    this.eps.delete(e.key);
  }

  // ---- hubs, nft --------------------------------------------------------------------------------

  /** Creates the network's hub unless it is alive; true when it made a new one. */
  private async ensureHub(n: NetworkRecord): Promise<boolean> {
    const hub = this.hubPath(n);
    const dev = this.device(n);
    const s = this.subnet(n);
    const s6 = this.subnet6(n);
    if (s6 && this.iptables) this.ipv6Forwarding(true);
    if (netnsAlive(hub) && hostLinkExists(dev)) return false;
    await createHub(
      hub,
      dev,
      hubLines(dev, process.pid, this.mtu(n)),
      hostDeviceLines(dev, `${intToIp(s.gw)}/${s.len}`, this.rootTag, s6 ? `${bigToIp6(s6.gw)}/${s6.len}` : undefined),
      !!s6,
    );
    return true;
  }

  /**
   * IPv6 routing needs net.ipv6.conf.all.forwarding (dockerd turns it on too, and leaves it on).
   * cocon turns it on with its first IPv6 network and, when it was the one that turned it on,
   * off again once no cocon daemon on the host has an IPv6 network left (no `ip6 cocon_*` table).
   */
  private ipv6Forwarding(on: boolean, when = ''): void {
    if (on ? ipv6ForwardingOn() : ipv6ForwardingRestore())
      log.info(
        `network: turned net.ipv6.conf.all.forwarding ${on ? 'on for IPv6 networks' : `off again (no IPv6 network left${when ? `; ${when}` : ''})`}`,
      );
  }

  /**
   * After an IPv6 network went (or at start, or once a vanished daemon's table was swept): forwarding
   * off again when cocon turned it on (its mark in /run, which survives a SIGKILLed daemon) and no
   * daemon on the host has an IPv6 network (see ipv6Forwarding).
   */
  private async releaseIpv6Forwarding(when = ''): Promise<void> {
    if (!this.stopping && [...this.nets.values()].some((n) => this.subnet6(n))) return;
    if (!ipv6ForwardingMarked()) return;
    if ((await nftTables()).some((t) => t.family === 'ip6' && t.name.startsWith('cocon_'))) return;
    this.ipv6Forwarding(false, when);
  }

  private async dropHub(n: NetworkRecord): Promise<void> {
    await this.pool.drop(n.Id);
    const dev = this.device(n);
    await ipBatchForce(linkDelLines([dev]));
    await deleteNetns(this.hubPath(n));
  }

  /** Serialises full rewrites of the host table; each rewrite renders the state at its turn. */
  private applyNft(): Promise<void> {
    if (!this.iptables) return Promise.resolve();
    const next = this.nftChain
      .catch(() => undefined)
      .then(async () => {
        const v6 = this.renderNft6();
        await nftApply(this.renderNft() + v6);
        // the ip6 table's removal is written once (at start, or after the last IPv6 network), not with every rewrite
        this.ip6TableGone = !v6 || v6.endsWith(`delete table ip6 ${this.table}\n`);
      });
    this.nftChain = next;
    // the host firewall follows the set of bridges (a no-op unless it changed)
    return next.then(() => this.hostfw.setDevices(this.routedDevices(), this.routedDevices(true)));
  }

  /** The host table for the current state: every bridge network, every published port of a running container. */
  renderNft(): string {
    const bridges = [...this.nets.values()]
      .filter((n) => n.Driver === 'bridge')
      .map((n) => ({
        device: this.device(n),
        subnet: v4conf(n)!.Subnet,
        internal: n.Internal,
        masquerade: n.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
      }));
    const forwards = [...this.eps.values()]
      .filter((e) => e.ip)
      .flatMap((e) => e.ports.filter((p) => !isIPv6(p.hostIp)).map((p) => ({ ...p, ip: e.ip })));
    return hostTable(this.table, this.rootTag, bridges, forwards);
  }

  /** The host's ip6 table while an IPv6 network exists (NAT66, ports on IPv6 host addresses), else its removal ('' once it is gone). */
  renderNft6(): string {
    const nets = [...this.nets.values()].filter((n) => n.Driver === 'bridge' && this.subnet6(n));
    if (!nets.length) return this.ip6TableGone ? '' : `table ip6 ${this.table}\ndelete table ip6 ${this.table}\n`;
    const bridges = nets.map((n) => ({
      device: this.device(n),
      subnet: cidr6String(this.subnet6(n)!),
      internal: n.Internal,
      masquerade: n.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
    }));
    const forwards = [...this.eps.values()]
      .filter((e) => e.ip6)
      .flatMap((e) => e.ports.filter((p) => isIPv6(p.hostIp)).map((p) => ({ ...p, ip: e.ip6! })));
    return hostTable(this.table, this.rootTag, bridges, forwards, 'ip6');
  }

  /** ICC policy of one network, in its hub: with enable_icc=false only --link flows pass. */
  renderHubPolicy(n: NetworkRecord): string {
    const flows: LinkFlow[] = [];
    if (!this.icc(n)) {
      for (const e of this.active(n)) {
        for (const l of e.links) {
          const target = this.linkTarget(l)?.r;
          if (!target) continue;
          const te = this.epsOf(target.id).find((x) => x.networkId === n.Id && x.ip);
          if (!te) continue;
          flows.push({
            from: e.ip,
            to: te.ip,
            ...(e.ip6 && te.ip6 ? { from6: e.ip6, to6: te.ip6 } : {}),
            exposed: Object.keys(target.config.ExposedPorts ?? {}),
          });
        }
      }
    }
    return hubPolicy(this.icc(n), flows, !!this.subnet6(n));
  }

  private applyHubPolicy(n: NetworkRecord, force = false): Promise<void> {
    if (this.icc(n) && !force) return Promise.resolve();
    const prev = this.hubChains.get(n.Id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => nftApply(this.renderHubPolicy(n), this.hubPath(n)));
    this.hubChains.set(n.Id, next);
    return next;
  }

  private async startDns(n: NetworkRecord): Promise<void> {
    if (this.dns.has(n.Id)) return;
    const gw = intToIp(this.subnet(n).gw);
    const srv = new DnsServer(
      gw,
      (name, peer) => this.resolveName(n, name, peer),
      (peer) => this.upstreamFor(n, peer),
    );
    try {
      await srv.start();
      this.dns.set(n.Id, srv);
    } catch (e) {
      log.warn('network: embedded DNS did not start', { network: n.Name, address: gw, error: (e as Error).message });
    }
  }

  /** Where the embedded DNS sends other names: the asking container's --dns, else the host's resolvers. */
  private upstreamFor(n: NetworkRecord, peer: string): string[] {
    const asker = this.active(n).find((e) => e.ip === peer);
    const dns = asker ? this.containers.tryLookup(asker.containerId)?.hostConfig.Dns : undefined;
    return dns?.length ? dns : hostResolvConf().nameservers.filter((s) => !s.startsWith('127.'));
  }

  /** Names on every user network of the asking container (found by its address on n), else on n. */
  private resolveName(n: NetworkRecord, name: string, peer?: string): string[] | null {
    const q = name.toLowerCase();
    const out: string[] = [];
    const asker = peer ? this.active(n).find((e) => e.ip === peer) : undefined;
    const nets = asker
      ? this.epsOf(asker.containerId)
          .filter((e) => e.ip && this.dns.has(e.networkId))
          .map((e) => this.nets.get(e.networkId)!)
      : [n];
    for (const e of nets.flatMap((x) => this.active(x))) {
      const r = this.containers.tryLookup(e.containerId);
      if (!r) continue;
      const names = [
        r.name,
        r.id.slice(0, 12),
        r.config.Hostname,
        ...e.aliases,
        ...e.links.map((l) => l.split(':')[1] ?? ''),
      ].map((x) => x.toLowerCase());
      if ((names.includes(q) || (q.length >= 12 && r.id.startsWith(q))) && !out.includes(e.ip)) {
        out.push(e.ip);
        if (e.ip6) out.push(e.ip6);
      }
    }
    return out.length ? out : null;
  }

  // ---- NetworkHooks -----------------------------------------------------------------------------

  validate(r: ContainerRecord, networkingConfig: unknown): void {
    const mode = r.hostConfig.NetworkMode || 'default';
    if (r.config.MacAddress && (mode === 'host' || mode.startsWith('container:')))
      throw new InvalidArgument('conflicting options: mac-address and the network mode');
    if (mode.startsWith('container:')) {
      const other = this.containers.tryLookup(mode.slice('container:'.length));
      if (!other) throw new NotFound(`No such container: ${mode.slice('container:'.length)}`);
      if (r.hostConfig.PortBindings && Object.keys(r.hostConfig.PortBindings).length)
        throw new InvalidArgument('conflicting options: port publishing and the container type network mode');
      return;
    }
    if (mode === 'host' || mode === 'none') {
      if (mode === 'none' && r.hostConfig.PortBindings && Object.keys(r.hostConfig.PortBindings).length) {
        /* docker ignores them */
      }
      return;
    }
    const n = this.netOfMode(mode)!;
    if (n.Driver !== 'bridge') return;
    const ec = (networkingConfig as { EndpointsConfig?: Record<string, EndpointConfig> } | null)?.EndpointsConfig ?? {};
    const conf = ec[mode] ?? ec[n.Name] ?? ec[n.Id] ?? Object.values(ec)[0] ?? {};
    const aliases = (conf.Aliases ?? []).filter(Boolean);
    const ip = conf.IPAMConfig?.IPv4Address ?? '';
    const ip6 = conf.IPAMConfig?.IPv6Address ?? '';
    const mac = checkEndpointConfig(conf) || ((r.config as { MacAddress?: string }).MacAddress ?? '');
    if (mac) checkMac(mac);
    if (this.isDefault(n)) {
      if (ip || ip6) throw new InvalidArgument('user specified IP address is supported on user defined networks only');
      if (aliases.length)
        throw new InvalidArgument('network-scoped alias is supported only for containers in user defined networks');
    }
    if (ip) this.checkIp(n, ip);
    if (ip6) this.checkIp6(n, ip6);
    const reqs = portRequests(
      r.hostConfig.PortBindings,
      !!r.hostConfig.PublishAllPorts,
      r.config.ExposedPorts as Record<string, unknown> | undefined,
    );
    const v6host = reqs.find((q) => isIPv6(q.hostIp) && q.hostIp !== '::');
    if (v6host && !this.subnet6(n))
      throw new InvalidArgument(
        `cannot publish a port on the IPv6 address ${v6host.hostIp}: network ${n.Name} has no IPv6 (create it with --ipv6)`,
      );
    const links = (r.hostConfig.Links as string[] | null | undefined) ?? [];
    for (const l of links) {
      const [name, alias] = l.split(':');
      if (!name) throw new InvalidArgument(`invalid link: ${l}`);
      if (!this.containers.tryLookup(name.replace(/^\//, '')))
        throw new InvalidArgument(`could not get container for ${name.replace(/^\//, '')}`);
      void alias;
    }
    this.saveEp({
      key: `${r.id}:${n.Id}`,
      containerId: r.id,
      networkId: n.Id,
      aliases,
      ipv4Request: ip,
      ...(ip6 ? { ipv6Request: ip6 } : {}),
      macRequest: mac || undefined,
      links: links.map(normLink),
      endpointId: '',
      ip: '',
      ifname: '',
      ports: [],
    });
  }

  private checkIp(n: NetworkRecord, ip: string): void {
    if (!isIPv4(ip)) throw new InvalidArgument(`invalid IPv4 address: ${ip}`);
    const s = this.subnet(n);
    const range = v4conf(n)!.IPRange ? parseCidr(v4conf(n)!.IPRange!) : null;
    const v = ipToInt(ip);
    if (!contains(s, v) || (range && !contains(range, v)))
      throw new InvalidArgument(`no configured subnet or ip-range contain the IP address ${ip}`);
    if (v === s.gw || v === s.base || v === s.base + 2 ** (32 - s.len) - 1)
      throw new InvalidArgument(`IP address ${ip} is reserved in network ${n.Name}`);
  }

  private checkIp6(n: NetworkRecord, ip: string): void {
    if (!isIPv6(ip)) throw new InvalidArgument(`invalid IPv6 address: ${ip}`);
    const s = this.subnet6(n);
    if (!s) throw new InvalidArgument(`network ${n.Name} has no IPv6 (create it with --ipv6 and an IPv6 --subnet)`);
    const v = ip6ToBig(ip);
    if (!contains6(s, v)) throw new InvalidArgument(`no configured subnet or ip-range contain the IP address ${ip}`);
    if (v === s.gw || v === s.base) throw new InvalidArgument(`IP address ${ip} is reserved in network ${n.Name}`);
  }

  private linkTarget(link: string): { r: ContainerRecord; alias: string } | null {
    const [name, alias] = link.split(':');
    const r = this.containers.tryLookup(name);
    return r ? { r, alias: alias || name } : null;
  }

  async connect(r: ContainerRecord): Promise<ConnectResult> {
    const mode = r.hostConfig.NetworkMode || 'default';
    if (mode === 'host') return {};
    if (mode === 'none') return {};
    if (mode.startsWith('container:')) {
      const other = this.containers.tryLookup(mode.slice('container:'.length));
      if (!other) throw new NotFound(`No such container: ${mode.slice('container:'.length)}`);
      if (!other.state.Running) throw new Conflict(`cannot join network of a non running container: ${other.id}`);
      const p = this.sandboxOf(other.id);
      if (!netnsAlive(p))
        throw new Conflict(`cannot join network of container ${other.name}: it has no network namespace of its own`);
      return { netnsPath: p };
    }
    const primary = this.netOfMode(mode)!;
    const t0 = performance.now();
    await this.teardowns.get(r.id);
    // Endpoints: the primary one (created at validate; made here for containers created before) and any connected later.
    if (!this.eps.has(`${r.id}:${primary.Id}`)) {
      this.saveEp({
        key: `${r.id}:${primary.Id}`,
        containerId: r.id,
        networkId: primary.Id,
        aliases: [],
        ipv4Request: '',
        links: ((r.hostConfig.Links as string[] | null) ?? []).map(normLink),
        endpointId: '',
        ip: '',
        ifname: '',
        ports: [],
      });
    }
    const eps = this.epsOf(r.id)
      .filter((e) => this.nets.has(e.networkId))
      .sort((a, b) => (a.networkId === primary.Id ? -1 : b.networkId === primary.Id ? 1 : 0));
    // stale from an unclean stop
    const stale = eps.find((e) => e.ip)?.sandbox ?? this.nsPath(r.id);
    for (const e of eps) if (e.ip) this.releaseEndpoint(e);
    if (existsSync(stale)) await deleteNetns(stale);
    let ns = '';
    const env: string[] = [];
    const links: Array<{ ip: string; names: string[] }> = [];
    let reserved: string[] = [];
    try {
      // 1. addresses and ports (nothing on the host yet: a busy port fails cleanly)
      eps.forEach((e, i) => {
        this.allocateAddress(e, this.nets.get(e.networkId)!);
        e.ifname = `eth${i}`;
        e.endpointId = randomBytes(32).toString('hex');
      });
      const pe = eps[0];
      const reqs = portRequests(
        r.hostConfig.PortBindings,
        !!r.hostConfig.PublishAllPorts,
        r.config.ExposedPorts as Record<string, unknown> | undefined,
      );
      // IPv6 host addresses only for a container with IPv6 (validate refused the others; :: alone is dropped, as before)
      const asked = reqs.filter((q) => pe.ip6 || !isIPv6(q.hostIp));
      ({ bound: pe.ports, reserved } = await this.bindPorts(asked));
      // no host address: 0.0.0.0 and, with IPv6, :: on the same port (dockerd's two bindings)
      if (pe.ip6) pe.ports = pe.ports.flatMap((b, i) => (asked[i].anyHost ? [b, { ...b, hostIp: '::' }] : [b]));
      // links (legacy, default bridge)
      for (const l of pe.links) {
        const t = this.linkTarget(l);
        const te = t?.r.state.Running ? this.epsOf(t.r.id).find((x) => x.networkId === primary.Id && x.ip) : undefined;
        if (!t || !te)
          throw new InvalidArgument(
            `Cannot link to a non running container: /${l.split(':')[0]} AS /${r.name}/${l.split(':')[1] ?? l.split(':')[0]}`,
          );
        env.push(...linkEnv(t.alias, r.name, t.r, te.ip));
        links.push({ ip: te.ip, names: [t.alias, t.r.id.slice(0, 12), t.r.name] });
      }
      // 2. the namespace with its links: a pooled one of the primary network (its eth0 only needs
      // addressing), else a new one
      const dnsEp = this.dnsEndpoint(eps);
      const spec = this.sandboxSpec(primary);
      const sb = this.pool.take(spec);
      if (sb) {
        pe.endpointId = sb.endpointId;
        const rest = eps.slice(1);
        try {
          await sb.batch.run(addressLines(this.ifaceConf(pe, primary, true)));
          // more networks at start, or the DNS of a secondary one: one more job
          if (rest.length)
            await configureNetns(
              sb.path,
              rest.flatMap((e) => this.ifaceLines(e, this.nets.get(e.networkId)!, false)),
              rest.map((e) => ({ netns: this.hubPath(this.nets.get(e.networkId)!), lines: hubPortLines(hubLink(e)) })),
              dnsEp && dnsEp !== pe ? this.dnsRules(dnsEp) : undefined,
              // a sandbox of an IPv4-only network joining an IPv6 one: IPv6 back on for lo and the links made now
              !pe.ip6 && rest.some((e) => e.ip6) ? { on: ['default', 'lo'], notify: true } : undefined,
            );
          ns = sb.path;
        } catch (err) {
          log.warn('network: a pooled sandbox failed, making a new one', { id: r.id, error: (err as Error).message });
          await deleteNetns(sb.path).catch(() => undefined);
          pe.endpointId = randomBytes(32).toString('hex');
        }
      }
      if (!ns) {
        const fresh = sandboxPath(this.nsDir);
        const lines = ['link set lo up'];
        for (const e of eps) lines.push(...this.ifaceLines(e, this.nets.get(e.networkId)!, e === pe));
        await setupNetns(
          fresh,
          lines,
          eps.map((e) => ({ netns: this.hubPath(this.nets.get(e.networkId)!), lines: hubPortLines(hubLink(e)) })),
          dnsEp ? this.dnsRules(dnsEp) : undefined,
          this.ipv6Sysctls(eps),
        );
        ns = fresh;
      }
      for (const e of eps) {
        e.sandbox = ns;
        this.saveEp(e);
      }
      // 3. rules
      if (pe.ports.length) await this.applyNft();
      // An IPv6 address may come back with another MAC (the MAC follows the IPv4 address): the daemon's
      // namespace, which routes to the container (NAT66, the [::1] proxy), must not keep the old
      // neighbour entry, which stays REACHABLE for up to 45 s (IPv4 needs nothing: same address, same MAC).
      const v6 = eps.filter((e) => e.ip6).map((e) => `neigh flush to ${e.ip6}`);
      if (v6.length) await ipBatchForce(v6);
      await this.proxies.start(r.id, this.loopbackForwards(pe));
      await Promise.all(
        eps
          .map((e) => this.nets.get(e.networkId)!)
          .filter((n) => !this.icc(n))
          .map((n) => this.applyHubPolicy(n)),
      );
    } catch (e) {
      this.proxies.stop(r.id);
      for (const ep of eps) this.releaseEndpoint(ep);
      if (ns) await deleteNetns(ns).catch(() => undefined);
      if (eps[0]?.ports.length) {
        eps[0].ports = [];
        await this.applyNft().catch(() => undefined);
      }
      throw e;
    } finally {
      for (const k of reserved) this.reservedPorts.delete(k);
    }
    for (const e of eps)
      this.events?.publish('network', 'connect', e.networkId, {
        container: r.id,
        name: this.nets.get(e.networkId)!.Name,
        type: 'bridge',
      });
    log.debug('network: connected', {
      id: r.id,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      ips: eps.map((e) => e.ip).join(','),
    });
    const files = {
      addresses: eps.flatMap((e) => (e.ip6 ? [e.ip, e.ip6] : [e.ip])),
      gateway: intToIp(this.subnet(primary).gw),
      links,
      dnsServer: this.dnsEndpoint(eps) ? DNS_ADDRESS : undefined,
    };
    return { netnsPath: ns, files, env };
  }

  /**
   * IPv6 in a new sandbox, as dockerd 20.10 leaves it: with no IPv6 network, net.ipv6.conf.all.disable_ipv6=1
   * (lo has no ::1, eth0 no IPv6); a user's `--sysctl net.ipv6.conf.all.disable_ipv6=0` still wins
   * (runc writes it later). The links of IPv6 networks keep IPv6 on. New IPv6 addresses are announced (ndisc_notify).
   */
  private ipv6Sysctls(eps: Endpoint[]): Ipv6Sysctls | undefined {
    return { off: !eps.some((e) => e.ip6), notify: true };
  }

  private ifaceLines(e: Endpoint, n: NetworkRecord, primary: boolean): string[] {
    return endpointLines(this.ifaceConf(e, n, primary));
  }

  private ifaceConf(e: Endpoint, n: NetworkRecord, primary: boolean) {
    const s = this.subnet(n);
    const s6 = this.subnet6(n);
    return {
      ifname: e.ifname,
      peer: hubLink(e),
      hub: this.hubPath(n),
      mac: this.mac(e),
      cidr: `${e.ip}/${s.len}`,
      gateway: primary && !n.Internal ? intToIp(s.gw) : undefined,
      ...(e.ip6 && s6 ? { cidr6: `${e.ip6}/${s6.len}`, gateway6: bigToIp6(s6.gw) } : {}),
      mtu: this.mtu(n),
    };
  }

  private allocateAddress(e: Endpoint, n: NetworkRecord): void {
    const s = this.subnet(n);
    const used = new Set(this.active(n).map((x) => ipToInt(x.ip)));
    const draining = [...this.draining].filter((k) => k.startsWith(n.Id + ':')).map((k) => k.slice(n.Id.length + 1));
    for (const a of draining) if (isIPv4(a)) used.add(ipToInt(a));
    this.allocateAddress6(e, n, draining);
    if (e.ipv4Request) {
      this.checkIp(n, e.ipv4Request);
      if (used.has(ipToInt(e.ipv4Request)))
        throw new Conflict(`Address already in use: ${e.ipv4Request} on network ${n.Name}`);
      e.ip = e.ipv4Request;
      return;
    }
    const range = v4conf(n)!.IPRange ? parseCidr(v4conf(n)!.IPRange!) : undefined;
    const ip = allocate(s, s.gw, used, range);
    if (ip === null)
      throw new Conflict(`no available IPv4 addresses on this network's address pools: ${n.Name} (${n.Id})`);
    e.ip = intToIp(ip);
  }

  /** The endpoint's IPv6 address on an IPv6 network: --ip6, else the lowest free one. */
  private allocateAddress6(e: Endpoint, n: NetworkRecord, draining: string[]): void {
    const s6 = this.subnet6(n);
    delete e.ip6;
    if (!s6) {
      if (e.ipv6Request) this.checkIp6(n, e.ipv6Request);
      return;
    }
    const used = new Set(
      this.active(n)
        .filter((x) => x.ip6)
        .map((x) => ip6ToBig(x.ip6!)),
    );
    for (const a of draining) if (isIPv6(a)) used.add(ip6ToBig(a));
    if (e.ipv6Request) {
      this.checkIp6(n, e.ipv6Request);
      if (used.has(ip6ToBig(e.ipv6Request)))
        throw new Conflict(`Address already in use: ${e.ipv6Request} on network ${n.Name}`);
      e.ip6 = bigToIp6(ip6ToBig(e.ipv6Request));
      return;
    }
    const ip = allocate6(s6, s6.gw, used);
    if (ip === null)
      throw new Conflict(`no available IPv6 addresses on this network's address pools: ${n.Name} (${n.Id})`);
    e.ip6 = bigToIp6(ip);
  }

  private releaseEndpoint(e: Endpoint): void {
    e.ip = '';
    delete e.ip6;
    e.endpointId = '';
    e.ports = [];
    e.ifname = '';
    delete e.sandbox;
    if (this.eps.has(e.key)) this.saveEp(e);
  }

  /** Picks and checks host ports (ranges, random ones); throws without leaving anything bound. */
  private async bindPorts(reqs: PortRequest[]): Promise<{ bound: PortBinding[]; reserved: string[] }> {
    const bound: PortBinding[] = [];
    const reserved: string[] = [];
    const ours = new Set<string>();
    for (const e of this.eps.values()) for (const p of e.ports) ours.add(`${p.proto}:${p.hostPort}`);
    const taken = (proto: string, port: number) =>
      ours.has(`${proto}:${port}`) || this.reservedPorts.has(`${proto}:${port}`);
    const reserve = (proto: string, port: number) => {
      const k = `${proto}:${port}`;
      this.reservedPorts.add(k);
      reserved.push(k);
      ours.add(k);
    };
    try {
      for (const q of reqs) {
        const proto = q.proto === 'udp' ? 'udp' : 'tcp';
        let port = 0;
        if (q.hostLo === 0) {
          const start = 32768 + Math.floor(Math.random() * (60999 - 32768));
          for (let k = 0; k < 200 && !port; k++) {
            const p = 32768 + ((start - 32768 + k) % (60999 - 32768));
            if (taken(proto, p)) continue;
            reserve(proto, p);
            if (await portFree(q.hostIp, p, proto)) port = p;
          }
          if (!port) throw new Conflict('no free host port for a random binding');
        } else {
          for (let p = q.hostLo; p <= q.hostHi && !port; p++) {
            if (taken(proto, p)) continue;
            reserve(proto, p);
            if (await portFree(q.hostIp, p, proto)) port = p;
          }
          if (!port) {
            const what = q.hostLo === q.hostHi ? `${q.hostIp}:${q.hostLo}` : `${q.hostIp}:${q.hostLo}-${q.hostHi}`;
            throw new Conflict(
              `driver failed programming external connectivity on endpoint: Bind for ${what} failed: port is already allocated`,
            );
          }
        }
        bound.push({ proto: q.proto, containerPort: q.containerPort, hostIp: q.hostIp, hostPort: port });
      }
    } catch (e) {
      for (const k of reserved) this.reservedPorts.delete(k);
      throw e;
    }
    return { bound, reserved };
  }

  /** The TCP ports of e published on [::1] or [::] (the loopback proxy's, see proxy.ts). */
  private loopbackForwards(e: Endpoint): LoopbackForward[] {
    if (!e.ip6) return [];
    return e.ports
      .filter((p) => p.proto === 'tcp' && (p.hostIp === '::1' || p.hostIp === '::'))
      .map((p) => ({ hostPort: p.hostPort, ip: e.ip6!, containerPort: p.containerPort }));
  }

  /** The endpoint whose network's embedded DNS the container uses (its first user network). */
  private dnsEndpoint(eps: Endpoint[]): Endpoint | undefined {
    return eps.find((e) => e.ip && this.dns.has(e.networkId));
  }

  /** The DNS redirect of a container whose embedded DNS is e's network's. */
  private dnsRules(e: Endpoint): string {
    return dnsRedirect(intToIp(this.subnet(this.nets.get(e.networkId)!).gw), e.ip);
  }

  /**
   * Releases the container's endpoints at once (addresses stay held until the namespace is gone);
   * the namespace, rules and policies go in the background, off the stop/rm path. A later connect
   * or remove of the same container waits for it.
   */
  async disconnect(r: ContainerRecord): Promise<void> {
    this.proxies.stop(r.id);
    const eps = this.epsOf(r.id).filter((e) => e.ip);
    const ns = this.sandboxOf(r.id);
    if (!eps.length && !existsSync(ns)) return;
    const hadPorts = eps.some((e) => e.ports.length);
    const nets = eps.map((e) => this.nets.get(e.networkId)).filter((n): n is NetworkRecord => !!n);
    const held = eps.flatMap((e) => [`${e.networkId}:${e.ip}`, ...(e.ip6 ? [`${e.networkId}:${e.ip6}`] : [])]);
    for (const k of held) this.draining.add(k);
    for (const e of eps) this.releaseEndpoint(e);
    const prev = this.teardowns.get(r.id) ?? Promise.resolve();
    const job = prev
      .then(async () => {
        try {
          if (existsSync(ns)) await deleteNetns(ns);
        } finally {
          for (const k of held) this.draining.delete(k);
        }
        if (hadPorts) await this.applyNft();
        await Promise.all(nets.filter((n) => !this.icc(n)).map((n) => this.applyHubPolicy(n)));
      })
      .catch((e: Error) => log.warn('network teardown failed', { id: r.id, error: e.message }));
    this.teardowns.set(r.id, job);
    void job.finally(() => {
      if (this.teardowns.get(r.id) === job) this.teardowns.delete(r.id);
    });
    for (const n of nets)
      this.events?.publish('network', 'disconnect', n.Id, { container: r.id, name: n.Name, type: 'bridge' });
  }

  async remove(r: ContainerRecord): Promise<void> {
    await this.disconnect(r);
    await this.teardowns.get(r.id);
    for (const e of this.epsOf(r.id)) this.deleteEp(e);
  }

  /** docker rm --link: the legacy link `alias` of container r is gone (with its --icc=false exception). */
  async unlink(r: ContainerRecord, alias: string): Promise<void> {
    for (const e of this.epsOf(r.id)) {
      const keep = e.links.filter((l) => normLink(l).split(':')[1] !== alias);
      if (keep.length === e.links.length) continue;
      e.links = keep;
      this.saveEp(e);
      const n = this.nets.get(e.networkId);
      if (n && e.ip && !this.icc(n)) await this.applyHubPolicy(n);
    }
  }

  settings(r: ContainerRecord): { networkSettings: Record<string, unknown>; ports: Array<Record<string, unknown>> } {
    const mode = r.hostConfig.NetworkMode || 'default';
    const base = this.none.settings(r);
    if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return base;
    const ns: Record<string, unknown> = { ...base.networkSettings };
    const running = r.state.Running || r.state.Paused;
    const eps = this.epsOf(r.id).filter((e) => this.nets.has(e.networkId));
    const networks: Record<string, unknown> = {};
    for (const e of eps) {
      const n = this.nets.get(e.networkId)!;
      const s = this.subnet(n);
      const s6 = this.subnet6(n);
      const on = !!e.ip && running;
      const v6 = on && !!e.ip6 && !!s6;
      const ipv6 = {
        IPv6Gateway: v6 ? bigToIp6(s6!.gw) : '',
        GlobalIPv6Address: v6 ? e.ip6! : '',
        GlobalIPv6PrefixLen: v6 ? s6!.len : 0,
      };
      networks[n.Name] = {
        ...ENDPOINT_EMPTY,
        IPAMConfig:
          e.ipv4Request || e.ipv6Request
            ? {
                ...(e.ipv4Request ? { IPv4Address: e.ipv4Request } : {}),
                ...(e.ipv6Request ? { IPv6Address: e.ipv6Request } : {}),
              }
            : null,
        Links: e.links.length
          ? e.links.map((l) => {
              const t = this.linkTarget(l);
              return `/${t?.r.name ?? l.split(':')[0]}:/${r.name}/${l.split(':')[1] ?? l.split(':')[0]}`;
            })
          : null,
        Aliases: this.isDefault(n) ? null : [...e.aliases, r.id.slice(0, 12)],
        NetworkID: n.Id,
        EndpointID: on ? e.endpointId : '',
        Gateway: on ? intToIp(s.gw) : '',
        IPAddress: on ? e.ip : '',
        IPPrefixLen: on ? s.len : 0,
        ...ipv6,
        MacAddress: on ? this.mac(e) : '',
      };
      if (this.isDefault(n) && on)
        Object.assign(ns, {
          EndpointID: e.endpointId,
          Gateway: intToIp(s.gw),
          IPAddress: e.ip,
          IPPrefixLen: s.len,
          ...ipv6,
          MacAddress: this.mac(e),
        });
    }
    ns.Networks = networks;
    const pe = eps.find((e) => e.ports.length) ?? eps[0];
    const bound = running && pe ? pe.ports : [];
    if (running) {
      ns.Ports = inspectPorts(bound, r.config.ExposedPorts as Record<string, unknown> | undefined);
      ns.SandboxKey = this.sandboxOf(r.id);
      ns.SandboxID = createHash('sha256')
        .update(r.id + ':sandbox')
        .digest('hex');
    }
    return {
      networkSettings: ns,
      ports: running ? psPorts(bound, r.config.ExposedPorts as Record<string, unknown> | undefined) : [],
    };
  }

  // ---- /networks API ----------------------------------------------------------------------------

  list(): NetworkRecord[] {
    return [...this.nets.values()];
  }

  /** Docker's network JSON (inspect, list) with the containers attached. */
  view(n: NetworkRecord): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    if (n.Driver === 'bridge') {
      const s = this.subnet(n);
      const s6 = this.subnet6(n);
      for (const e of this.active(n)) {
        const r = this.containers.tryLookup(e.containerId);
        containers[e.containerId] = {
          Name: r?.name ?? '',
          EndpointID: e.endpointId,
          MacAddress: this.mac(e),
          IPv4Address: `${e.ip}/${s.len}`,
          IPv6Address: e.ip6 && s6 ? `${e.ip6}/${s6.len}` : '',
        };
      }
    } else if (n.Driver === 'host' && this.containers) {
      for (const r of this.containers.all())
        if (r.state.Running && r.hostConfig.NetworkMode === 'host')
          containers[r.id] = { Name: r.name, EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' };
    }
    const {
      Name,
      Id,
      Created,
      Scope,
      Driver,
      EnableIPv6,
      IPAM,
      Internal,
      Attachable,
      Ingress,
      ConfigFrom,
      ConfigOnly,
      Options,
      Labels,
    } = n;
    return {
      Name,
      Id,
      Created,
      Scope,
      Driver,
      EnableIPv6,
      IPAM,
      Internal,
      Attachable,
      Ingress,
      ConfigFrom,
      ConfigOnly,
      Containers: containers,
      Options,
      Labels,
    };
  }

  async create(body: {
    Name?: string;
    Driver?: string;
    Internal?: boolean;
    Attachable?: boolean;
    Labels?: Record<string, string> | null;
    Options?: Record<string, string> | null;
    IPAM?: {
      Driver?: string;
      Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> | null;
      Options?: Record<string, string> | null;
    } | null;
    EnableIPv6?: boolean;
    CheckDuplicate?: boolean;
  }): Promise<{ Id: string; Warning: string }> {
    const name = body.Name ?? '';
    if (!name) throw new InvalidArgument('network name is required');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidArgument(`invalid network name "${name}"`);
    if (this.byName(name)) throw new Conflict(`network with name ${name} already exists`);
    const driver = body.Driver || 'bridge';
    if (driver === 'host' || driver === 'null')
      throw new Forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFound(`plugin "${driver}" not found`);
    if (body.IPAM?.Driver && body.IPAM.Driver !== 'default')
      throw new NotFound(`plugin "${body.IPAM.Driver}" not found`);
    if (
      (body.IPAM?.Config ?? []).some(
        (c) =>
          Object.keys((c as { AuxiliaryAddresses?: Record<string, string> | null }).AuxiliaryAddresses ?? {}).length,
      )
    )
      throw new InvalidArgument('IPAM AuxiliaryAddresses (--aux-address) are not supported by cocon');
    const id = randomBytes(32).toString('hex');
    const options = { ...(body.Options ?? {}) };
    const devName = options['com.docker.network.bridge.name'];
    if (devName !== undefined) {
      if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(devName)) throw new InvalidArgument(`invalid bridge name: ${devName}`);
      if (
        [...this.nets.values()].some((n) => n.Driver === 'bridge' && this.device(n) === devName) ||
        (await linkExists(devName))
      )
        throw new Conflict(`bridge name ${devName} is already in use`);
    }
    const mtu = options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && (!/^\d+$/.test(mtu) || Number(mtu) < 68 || Number(mtu) > 65535))
      throw new InvalidArgument(`invalid MTU number: ${mtu} (68 to 65535)`);
    const icc = options['com.docker.network.bridge.enable_icc'];
    if (icc !== undefined && icc !== 'true' && icc !== 'false')
      throw new InvalidArgument(`invalid value for com.docker.network.bridge.enable_icc: ${icc}`);
    const all = body.IPAM?.Config ?? [];
    const isV6 = (c: { Subnet?: string; Gateway?: string; IPRange?: string }) =>
      [c.Subnet, c.Gateway, c.IPRange].some((x) => !!x && x.includes(':'));
    const confs = all.filter((c) => !isV6(c));
    const confs6 = all.filter(isV6);
    if (confs.length > 1) throw new InvalidArgument('cocon networks have one IPv4 subnet');
    if (confs6.length > 1) throw new InvalidArgument('cocon networks have at most one IPv6 subnet');
    const conf6 = this.ipv6Conf(!!body.EnableIPv6, confs6[0]);
    const taken = await this.takenSubnets();
    let conf: { Subnet: string; Gateway: string; IPRange?: string };
    if (confs.length && confs[0].Subnet) {
      const c = parseCidr(confs[0].Subnet);
      if (c.host !== c.base)
        throw new InvalidArgument(
          `invalid subnet ${confs[0].Subnet}: it has host bits set (network address ${cidrString(c)})`,
        );
      if (c.len > 30) throw new InvalidArgument(`invalid subnet ${confs[0].Subnet}: too small`);
      const mine = [...this.nets.values()].flatMap((n) => (v4conf(n) ? [parseCidr(v4conf(n)!.Subnet)] : []));
      if (mine.some((t) => overlaps(t, c))) throw new Forbidden('Pool overlaps with other one on this address space');
      const gw = confs[0].Gateway || intToIp(c.base + 1);
      if (!isIPv4(gw) || !contains(c, ipToInt(gw)))
        throw new InvalidArgument(`invalid gateway ${gw}: not in subnet ${cidrString(c)}`);
      conf = { Subnet: cidrString(c), Gateway: gw };
      if (confs[0].IPRange) {
        const r = parseCidr(confs[0].IPRange);
        if (!contains(c, r.base) || r.len < c.len)
          throw new InvalidArgument(`invalid ip-range ${confs[0].IPRange}: not in subnet ${cidrString(c)}`);
        conf.IPRange = cidrString(r);
      }
    } else {
      if (confs.length && (confs[0].Gateway || confs[0].IPRange))
        throw new InvalidArgument('a gateway or ip-range needs a subnet');
      const start = parseInt(this.hash.slice(6, 12), 16);
      const c = pickSubnet(this.pools, taken, start);
      if (!c)
        throw new Forbidden(
          'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
        );
      conf = { Subnet: cidrString(c), Gateway: intToIp(c.base + 1) };
    }
    const n: NetworkRecord = {
      Name: name,
      Id: id,
      Created: nowNano(),
      Scope: 'local',
      Driver: 'bridge',
      EnableIPv6: !!conf6,
      IPAM: { Driver: 'default', Options: body.IPAM?.Options ?? {}, Config: conf6 ? [conf, conf6] : [conf] },
      Internal: !!body.Internal,
      Attachable: !!body.Attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: options,
      Labels: body.Labels ?? {},
    };
    this.nets.set(n.Id, n);
    try {
      await this.ensureHub(n);
      this.saveNet(n);
      await this.applyNft();
      await this.applyHubPolicy(n);
      await this.startDns(n);
    } catch (e) {
      this.nets.delete(n.Id);
      this.store.deleteNetwork(n.Id);
      await this.dropHub(n).catch(() => undefined);
      await this.applyNft().catch(() => undefined);
      if (conf6) await this.releaseIpv6Forwarding().catch(() => undefined);
      throw e;
    }
    this.events?.publish('network', 'create', n.Id, { name: n.Name, type: 'bridge' });
    return { Id: n.Id, Warning: '' };
  }

  /**
   * The IPv6 IPAM config of a new network: with EnableIPv6 its IPv6 subnet is required (dockerd 24
   * has no default IPv6 pool: "could not find an available, non-overlapping IPv6 address pool");
   * an IPv6 subnet without EnableIPv6 is refused rather than kept unused.
   */
  private ipv6Conf(
    enable: boolean,
    c: { Subnet?: string; Gateway?: string; IPRange?: string } | undefined,
  ): { Subnet: string; Gateway: string } | undefined {
    if (!enable) {
      if (c) throw new InvalidArgument(`IPv6 subnet ${c.Subnet ?? c.Gateway ?? ''} given without --ipv6 (EnableIPv6)`);
      return undefined;
    }
    if (!c?.Subnet)
      throw new Forbidden(
        'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network (give an IPv6 --subnet)',
      );
    if (c.IPRange) throw new InvalidArgument('an IPv6 --ip-range is not supported by cocon');
    const sub = parseCidr6(c.Subnet);
    if (sub.host !== sub.base)
      throw new InvalidArgument(
        `invalid subnet ${c.Subnet}: it has host bits set (network address ${cidr6String(sub)})`,
      );
    if (sub.len > 126) throw new InvalidArgument(`invalid subnet ${c.Subnet}: too small`);
    for (const n of this.nets.values()) {
      const o = this.subnet6(n);
      if (o && overlaps6(o, sub)) throw new Forbidden('Pool overlaps with other one on this address space');
    }
    const gw = c.Gateway || bigToIp6(sub.base + 1n);
    if (!isIPv6(gw) || !contains6(sub, ip6ToBig(gw)))
      throw new InvalidArgument(`invalid gateway ${gw}: not in subnet ${cidr6String(sub)}`);
    return { Subnet: cidr6String(sub), Gateway: bigToIp6(ip6ToBig(gw)) };
  }

  async delete(ref: string): Promise<void> {
    const n = this.find(ref);
    if (['bridge', 'host', 'none'].includes(n.Name) && (n.Driver !== 'bridge' || this.isDefault(n)))
      throw new Forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    if (this.active(n).length)
      throw new Forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
    this.dns.get(n.Id)?.close();
    this.dns.delete(n.Id);
    for (const e of [...this.eps.values()]) if (e.networkId === n.Id) this.deleteEp(e);
    this.nets.delete(n.Id);
    this.store.deleteNetwork(n.Id);
    await this.dropHub(n);
    await this.applyNft();
    if (this.subnet6(n) && this.iptables) await this.releaseIpv6Forwarding();
    this.events?.publish('network', 'destroy', n.Id, { name: n.Name, type: 'bridge' });
  }

  async prune(labels: (n: NetworkRecord) => boolean = () => true): Promise<string[]> {
    const out: string[] = [];
    for (const n of [...this.nets.values()]) {
      if (n.Driver !== 'bridge' || this.isDefault(n) || !labels(n)) continue;
      if ([...this.eps.values()].some((e) => e.networkId === n.Id)) continue;
      await this.delete(n.Id);
      out.push(n.Name);
    }
    return out;
  }

  /** POST /networks/{id}/connect: for created/stopped containers the endpoint waits for start; running ones get a new interface now. */
  async connectContainer(ref: string, containerRef: string, conf: EndpointConfig | null): Promise<void> {
    const n = this.find(ref);
    const r = this.containers.tryLookup(containerRef);
    if (!r) throw new NotFound(`No such container: ${containerRef}`);
    if (n.Driver !== 'bridge')
      throw new Forbidden(`container cannot be disconnected from host network or connected to host network`);
    const mode = r.hostConfig.NetworkMode || 'default';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:'))
      throw new Forbidden(
        `container sharing network namespace with another container or host cannot be connected to any other network`,
      );
    const key = `${r.id}:${n.Id}`;
    if (this.eps.has(key) || (this.isDefault(n) && (mode === 'default' || mode === 'bridge')))
      throw new Forbidden(`endpoint with name ${r.name} already exists in network ${n.Name}`);
    const ip = conf?.IPAMConfig?.IPv4Address ?? '';
    const ip6 = conf?.IPAMConfig?.IPv6Address ?? '';
    const aliases = (conf?.Aliases ?? []).filter(Boolean);
    const mac = conf ? checkEndpointConfig(conf) : '';
    if (mac) checkMac(mac);
    if (this.isDefault(n) && (ip || ip6 || aliases.length))
      throw new InvalidArgument(
        ip || ip6
          ? 'user specified IP address is supported on user defined networks only'
          : 'network-scoped alias is supported only for containers in user defined networks',
      );
    if (ip) this.checkIp(n, ip);
    if (ip6) this.checkIp6(n, ip6);
    const e: Endpoint = {
      key,
      containerId: r.id,
      networkId: n.Id,
      aliases,
      ipv4Request: ip,
      ...(ip6 ? { ipv6Request: ip6 } : {}),
      macRequest: mac || undefined,
      links: [],
      endpointId: '',
      ip: '',
      ifname: '',
      ports: [],
    };
    if (!r.state.Running) {
      this.saveEp(e);
      return;
    }
    const ns = this.sandboxOf(r.id);
    if (!netnsAlive(ns)) throw new Conflict(`container ${r.name} has no network namespace`);
    e.sandbox = ns;
    const used = new Set(this.epsOf(r.id).map((x) => x.ifname));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    e.ifname = `eth${i}`;
    this.allocateAddress(e, n);
    e.endpointId = randomBytes(32).toString('hex');
    this.eps.set(key, e);
    try {
      // IPv6 may be off in the sandbox (it had no IPv6 network): on again for lo and the link made now
      if (e.ip6) await netnsIpv6Sysctls(ns, { on: ['default', 'lo'], notify: true });
      await ipBatch(this.ifaceLines(e, n, false), ns);
      await ipBatch(hubPortLines(hubLink(e)), this.hubPath(n));
      this.saveEp(e);
      await this.applyHubPolicy(n);
    } catch (err) {
      this.eps.delete(key);
      await ipBatchForce(linkDelLines([e.ifname]), ns);
      throw err;
    }
    // Like docker: a container that joins a user network resolves through its embedded DNS.
    let dnsServer: string | undefined;
    if (this.dns.has(n.Id) && this.dnsEndpoint(this.epsOf(r.id).filter((x) => x !== e)) === undefined) {
      await localnetNft(ns, this.dnsRules(e)).catch((err: Error) =>
        log.warn('network: DNS redirect failed', { id: r.id, error: err.message }),
      );
      dnsServer = DNS_ADDRESS;
    }
    this.containers.joinedNetwork(r.id, { address: e.ip, dnsServer });
    if (e.ip6) this.containers.joinedNetwork(r.id, { address: e.ip6 });
    this.events?.publish('network', 'connect', n.Id, { container: r.id, name: n.Name, type: 'bridge' });
  }

  async disconnectContainer(ref: string, containerRef: string, force: boolean): Promise<void> {
    const n = this.find(ref);
    const r = this.containers.tryLookup(containerRef);
    if (!r) {
      if (force) {
        for (const e of [...this.eps.values()])
          if (e.networkId === n.Id && e.containerId.startsWith(containerRef)) this.deleteEp(e);
        return;
      }
      throw new NotFound(`No such container: ${containerRef}`);
    }
    const e = this.eps.get(`${r.id}:${n.Id}`);
    if (!e) throw new Forbidden(`container ${r.id} is not connected to network ${n.Name}`);
    if (e.ip) {
      if (e.ports.length)
        throw new Forbidden(`container ${r.name} publishes ports on network ${n.Name}: stop it before disconnecting`);
      await ipBatchForce(linkDelLines([e.ifname]), this.sandboxOf(r.id));
      this.releaseEndpoint(e);
      await this.applyHubPolicy(n);
    }
    this.deleteEp(e);
    this.events?.publish('network', 'disconnect', n.Id, { container: r.id, name: n.Name, type: 'bridge' });
  }
}

function hubLink(e: Endpoint): string {
  return hubLinkName(e.endpointId);
}

/** An endpoint's settings as create (NetworkingConfig.EndpointsConfig) and connect (EndpointConfig) send them. */
export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  MacAddress?: string;
}

/** Refuses what cocon cannot honour in an endpoint's settings; returns its MacAddress ('' when none). */
function checkEndpointConfig(c: EndpointConfig): string {
  if (c.IPAMConfig?.LinkLocalIPs?.length)
    throw new InvalidArgument(
      'link-local addresses (--link-local-ip, IPAMConfig.LinkLocalIPs) are not supported by cocon',
    );
  return c.MacAddress ?? '';
}

type IpamConf = NetworkRecord['IPAM']['Config'][number];
/** A network's IPv4 IPAM config (bridge networks have one; null and host none). */
function v4conf(n: NetworkRecord): IpamConf | undefined {
  return n.IPAM.Config.find((c) => !c.Subnet.includes(':'));
}
/** A network's IPv6 IPAM config, if any. */
function v6conf(n: NetworkRecord): IpamConf | undefined {
  return n.IPAM.Config.find((c) => c.Subnet.includes(':'));
}
