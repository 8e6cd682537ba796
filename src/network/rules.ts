// The network room's rule texts, rendered from plain data and free of I/O: the host's nft tables
// (`ip` and, with IPv6 networks, `ip6`: NAT out (NAT66 for IPv6), published ports, internal
// networks), a hub's ICC policy (nft bridge family, IPv4 and IPv6), the DNS
// redirect of a container's namespace (docker's 127.0.0.11), and the `ip -batch` lines that make
// hubs and endpoints. service.ts gathers the data and hands the texts to src/sys.
import type { Proto } from './ports.js';

/** docker's embedded DNS address, as containers see it. */
export const DNS_ADDRESS = '127.0.0.11';

/** One bridge network as the host table sees it. */
export interface BridgeRules {
  /** Host-side device carrying the gateway. */
  device: string;
  /** The network's subnet (CIDR) of the table's family (the IPv6 one in the ip6 table). */
  subnet: string;
  /** --internal: no traffic in or out of the subnet through the host. */
  internal: boolean;
  /** com.docker.network.bridge.enable_ip_masquerade (default true). */
  masquerade: boolean;
}

/** One published port of a running container: host side -> container address. */
export interface Forward {
  proto: Proto;
  hostIp: string;
  hostPort: number;
  ip: string;
  containerPort: number;
}

/**
 * The host table `ip <table>` (or with family 'ip6' the IPv6 one: bridges' IPv6 subnets, NAT66,
 * ports published on IPv6 host addresses), as one nft transaction that replaces it whole (create,
 * delete, create again: applying it never fails on a missing or a stale table).
 */
export function hostTable(
  table: string,
  comment: string,
  bridges: BridgeRules[],
  forwards: Forward[],
  family: 'ip' | 'ip6' = 'ip',
): string {
  const v6 = family === 'ip6';
  const loopback = v6 ? '::1' : '127.0.0.0/8';
  const any = v6 ? '::' : '0.0.0.0';
  const ports: string[] = [];
  const post: string[] = [];
  const fwd: string[] = [];
  const raw: string[] = [];
  for (const b of bridges) {
    const dev = b.device;
    post.push(`${family} saddr ${loopback} oifname "${dev}" masquerade`);
    // route_localnet is on for the device (published ports on 127.0.0.1): never let containers reach the host's loopback services
    // (IPv6 has no route_localnet: the kernel itself drops ::1 arriving on a device)
    if (!v6) raw.push(`iifname "${dev}" ip daddr 127.0.0.0/8 drop`);
    if (b.internal) {
      fwd.push(`iifname "${dev}" oifname != "${dev}" drop`, `oifname "${dev}" iifname != "${dev}" drop`);
      continue;
    }
    if (b.masquerade) post.push(`${family} saddr ${b.subnet} oifname != "${dev}" masquerade`);
  }
  for (const f of forwards)
    ports.push(
      `${f.hostIp !== any ? `${family} daddr ${f.hostIp} ` : ''}${f.proto} dport ${f.hostPort} dnat to ${v6 ? `[${f.ip}]` : f.ip}:${f.containerPort}`,
    );
  return [
    `table ${family} ${table}`,
    `delete table ${family} ${table}`,
    `table ${family} ${table} {`,
    `  comment "${comment}"`,
    '  chain ports {',
    ...ports.map((l) => `    ${l}`),
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    // ::1 cannot be DNATed out of the host (the loopback proxy, proxy.ts, serves it)
    `    fib daddr type local ${v6 ? 'ip6 daddr != ::1 ' : ''}jump ports`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...post.map((l) => `    ${l}`),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...fwd.map((l) => `    ${l}`),
    '  }',
    ...(v6
      ? []
      : [
          '  chain raw_prerouting {',
          '    type filter hook prerouting priority raw; policy accept;',
          ...raw.map((l) => `    ${l}`),
          '  }',
        ]),
    '}',
    '',
  ].join('\n');
}

/** A legacy --link between two running containers of one network: `from` may reach `to`'s exposed ports. */
export interface LinkFlow {
  from: string;
  to: string;
  /** Their IPv6 addresses, when the network has IPv6. */
  from6?: string;
  to6?: string;
  exposed: string[];
}

/**
 * A network's ICC policy, applied in its hub (table `bridge cocon`, replaced whole). With icc on
 * the chain is empty; with icc off only the uplink and the --link flows pass (tcp and udp exposed
 * ports, both directions), every other IPv4/IPv6 frame between containers is dropped. On an IPv6
 * network (`ipv6`) neighbour discovery passes as ARP does, so that linked containers find each other.
 */
export function hubPolicy(icc: boolean, flows: LinkFlow[], ipv6 = false): string {
  const lines: string[] = [];
  if (!icc) {
    lines.push('iifname "up0" accept', 'oifname "up0" accept');
    if (ipv6) lines.push('ether type ip6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept');
    for (const f of flows) {
      for (const key of f.exposed) {
        const [port, proto = 'tcp'] = key.split('/');
        if (proto !== 'tcp' && proto !== 'udp') continue;
        lines.push(
          `ether type ip ip saddr ${f.from} ip daddr ${f.to} ${proto} dport ${port} accept`,
          `ether type ip ip saddr ${f.to} ip daddr ${f.from} ${proto} sport ${port} accept`,
        );
        if (f.from6 && f.to6)
          lines.push(
            `ether type ip6 ip6 saddr ${f.from6} ip6 daddr ${f.to6} ${proto} dport ${port} accept`,
            `ether type ip6 ip6 saddr ${f.to6} ip6 daddr ${f.from6} ${proto} sport ${port} accept`,
          );
      }
    }
    lines.push('ether type ip drop', 'ether type ip6 drop');
  }
  return [
    'table bridge cocon',
    'delete table bridge cocon',
    'table bridge cocon {',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...lines.map((l) => `    ${l}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The table of a container's namespace that makes 127.0.0.11:53 reach the embedded DNS on the
 * gateway: DNAT, then SNAT to the container's own address `self`, or without it (a pooled namespace
 * made before its address is known) a masquerade to the address of the interface towards the
 * gateway, which is the same. The namespace also needs route_localnet, so that the rewritten
 * loopback-sourced packet may leave.
 */
export function dnsRedirect(gateway: string, self?: string): string {
  return [
    'table ip cocon_dns',
    'delete table ip cocon_dns',
    'table ip cocon_dns {',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    `    ip daddr ${DNS_ADDRESS} udp dport 53 dnat to ${gateway}:53`,
    `    ip daddr ${DNS_ADDRESS} tcp dport 53 dnat to ${gateway}:53`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ip saddr 127.0.0.0/8 ip daddr ${gateway} ${self ? `snat to ${self}` : 'masquerade'}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** One container interface: `ifname` in the container, its veth peer `peer` in the hub `hub` (a netns file). */
export interface EndpointLink {
  ifname: string;
  peer: string;
  hub: string;
  mac: string;
  /** address/prefix */
  cidr: string;
  /** The default route's gateway (the primary network, unless internal). */
  gateway?: string;
  /** The IPv6 address/prefix on an IPv6 network (no DAD in the namespace: usable at once, no 1-2 s "tentative" wait; announced). */
  cidr6?: string;
  /** The IPv6 default route's gateway (with gateway). */
  gateway6?: string;
  /** com.docker.network.driver.mtu of the network (both ends of the veth); absent: the kernel's 1500. */
  mtu?: number;
}

/** `ip -batch` lines, run in the container's namespace, that make one interface. */
export function endpointLines(e: EndpointLink): string[] {
  return [...vethLines(e), ...addressLines(e)];
}

/**
 * The first half of endpointLines: the veth pair, `ifname` here and `peer` in the hub, with no
 * address and down (what a pooled namespace holds until a container takes it).
 */
export function vethLines(e: Pick<EndpointLink, 'ifname' | 'peer' | 'hub' | 'mtu'>): string[] {
  return [
    e.mtu
      ? `link add name ${e.ifname} mtu ${e.mtu} type veth peer name ${e.peer} mtu ${e.mtu} netns ${e.hub}`
      : `link add ${e.ifname} type veth peer name ${e.peer} netns ${e.hub}`,
    `link set dev ${e.ifname} addrgenmode none`,
  ];
}

/** The second half of endpointLines: MAC, addresses, link up and the default routes of an existing `ifname`. */
export function addressLines(
  e: Pick<EndpointLink, 'ifname' | 'mac' | 'cidr' | 'gateway' | 'cidr6' | 'gateway6'>,
): string[] {
  const lines = [`link set dev ${e.ifname} address ${e.mac}`, `addr add ${e.cidr} dev ${e.ifname}`];
  lines.push(`link set ${e.ifname} up`);
  // after the link is up, without nodad: the namespace has accept_dad=0 and ndisc_notify=1 (sys/net.ts
  // Ipv6Sysctls.notify), so the address is usable at once and announced by an unsolicited neighbour
  // advertisement (a nodad address, or one added while the link is down, is not announced)
  if (e.cidr6) lines.push(`addr add ${e.cidr6} dev ${e.ifname}`);
  if (e.gateway) lines.push(`route add default via ${e.gateway} dev ${e.ifname}`);
  if (e.gateway && e.cidr6 && e.gateway6) lines.push(`route add ::/0 via ${e.gateway6} dev ${e.ifname}`);
  return lines;
}

/** `ip -batch` lines, run in the hub, that plug an endpoint's peer into the bridge. */
export function hubPortLines(peer: string): string[] {
  return [`link set ${peer} master br0`, `link set ${peer} up`];
}

/** `ip -batch` lines, run in a new hub, that make its bridge and the uplink veth whose other end `device` lands in `hostPid`'s namespace. */
export function hubLines(device: string, hostPid: number, mtu?: number): string[] {
  return [
    'link set lo up',
    'link add br0 type bridge',
    'link set br0 up',
    mtu
      ? `link add name up0 mtu ${mtu} type veth peer name ${device} mtu ${mtu} netns ${hostPid}`
      : `link add up0 type veth peer name ${device} netns ${hostPid}`,
    'link set up0 master br0',
    'link set up0 up',
  ];
}

/** `ip -batch` lines, run on the host, that give the uplink's host end the gateway address(es) and the data root's tag. */
export function hostDeviceLines(device: string, gatewayCidr: string, alias: string, gateway6Cidr?: string): string[] {
  return [
    `addr add ${gatewayCidr} dev ${device}`,
    ...(gateway6Cidr ? [`addr add ${gateway6Cidr} dev ${device} nodad`] : []),
    `link set dev ${device} alias ${alias}`,
    `link set dev ${device} up`,
  ];
}

/** `ip -batch` lines that delete links. */
export function linkDelLines(names: string[]): string[] {
  return names.map((n) => `link del dev ${n}`);
}
