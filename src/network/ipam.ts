// IPv4 and IPv6 address management: pure arithmetic on CIDRs (no I/O), so unit tests cover it.
// IPv4 subnets are "a.b.c.d/len", addresses numbers internally; IPv6 ones (below) bigints.
import { InvalidArgument } from '../core/errors.js';

export interface Cidr {
  base: number;
  len: number;
}

export function ipToInt(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255))
    throw new InvalidArgument(`invalid IP address: ${ip}`);
  return ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3]);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIPv4(s: string): boolean {
  try {
    ipToInt(s);
    return true;
  } catch {
    return false;
  }
}

function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Parses "a.b.c.d/len"; `host` keeps the address part (for --bip 10.1.0.1/24). */
export function parseCidr(s: string): Cidr & { host: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(s.trim());
  if (!m || Number(m[2]) > 32) throw new InvalidArgument(`invalid CIDR address: ${s}`);
  const host = ipToInt(m[1]);
  const len = Number(m[2]);
  return { base: (host & mask(len)) >>> 0, len, host };
}

export function cidrString(c: Cidr): string {
  return `${intToIp(c.base)}/${c.len}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & mask(c.len)) >>> 0 === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const len = Math.min(a.len, b.len);
  return (a.base & mask(len)) >>> 0 === (b.base & mask(len)) >>> 0;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.len);
}

/**
 * The lowest free address of subnet (inside range when given), skipping the network address,
 * the broadcast address, the gateway and every address in `used`. null when exhausted.
 */
export function allocate(subnet: Cidr, gateway: number, used: Set<number>, range?: Cidr): number | null {
  const lo = Math.max(subnet.base + 1, range ? range.base : 0);
  const hi = Math.min(subnet.base + size(subnet) - 2, range ? range.base + size(range) - 1 : Infinity);
  for (let ip = lo; ip <= hi; ip++) if (ip !== gateway && !used.has(ip)) return ip;
  return null;
}

/** Docker's MAC address for an IPv4 address: 02:42 followed by the four address bytes. */
export function macFor(ip: number): string {
  return [
    '02',
    '42',
    ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0')),
  ].join(':');
}

export interface Pool {
  base: Cidr;
  size: number;
}

/** Docker's --default-address-pool value: "base=10.10.0.0/16,size=24". */
export function parsePool(s: string): Pool {
  const kv = Object.fromEntries(s.split(',').map((p) => p.split('=').map((x) => x.trim())));
  if (!kv.base) throw new InvalidArgument(`invalid default address pool: ${s} (want base=CIDR,size=N)`);
  const base = parseCidr(kv.base);
  const sz = Number(kv.size ?? 24);
  if (!Number.isInteger(sz) || sz < base.len || sz > 30)
    throw new InvalidArgument(`invalid default address pool size in ${s}`);
  return { base: { base: base.base, len: base.len }, size: sz };
}

/**
 * The first subnet of the pools, starting at candidate index `start` (wrapping), that overlaps
 * none of `taken`. null when every candidate is taken.
 */
export function pickSubnet(pools: Pool[], taken: Cidr[], start = 0): Cidr | null {
  for (const p of pools) {
    const n = 2 ** (p.size - p.base.len);
    const step = 2 ** (32 - p.size);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const c = { base: (p.base.base + i * step) >>> 0, len: p.size };
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
  }
  return null;
}

/** A MAC address a container may be given (--mac-address): six hex bytes, not multicast. */
export function checkMac(mac: string): void {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new InvalidArgument(`invalid MAC address: ${mac}`);
  if (parseInt(mac.slice(0, 2), 16) & 1)
    throw new InvalidArgument(`invalid MAC address: ${mac} is a multicast address`);
}

// ---- IPv6 ---------------------------------------------------------------------------------------
// The same arithmetic on 128-bit addresses as bigints. Docker's default IPAM hands out IPv6
// addresses in order from the subnet's first host (::1 is the gateway unless given), like IPv4,
// and has no broadcast address to skip.

export interface Cidr6 {
  base: bigint;
  len: number;
}

const ALL6 = (1n << 128n) - 1n;

/** Parses an IPv6 address (RFC 4291 text forms, with an embedded IPv4 tail; no zone). */
export function ip6ToBig(ip: string): bigint {
  const bad = () => new InvalidArgument(`invalid IP address: ${ip}`);
  let s = ip;
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (!isIPv4(v4[2])) throw bad();
    const n = ipToInt(v4[2]);
    s = `${v4[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) throw bad();
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let out = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    out = (out << 16n) | BigInt(parseInt(g, 16));
  }
  return out;
}

/** The canonical text of an IPv6 address (RFC 5952: lower case, the longest run of zero groups as ::). */
export function bigToIp6(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function isIPv6(s: string): boolean {
  try {
    ip6ToBig(s);
    return true;
  } catch {
    return false;
  }
}

function mask6(len: number): bigint {
  return len === 0 ? 0n : (ALL6 << BigInt(128 - len)) & ALL6;
}

/** Parses "addr/len" (IPv6); `host` keeps the address part. */
export function parseCidr6(s: string): Cidr6 & { host: bigint } {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m || Number(m[2]) > 128) throw new InvalidArgument(`invalid CIDR address: ${s}`);
  const host = ip6ToBig(m[1]);
  const len = Number(m[2]);
  return { base: host & mask6(len), len, host };
}

export function cidr6String(c: Cidr6): string {
  return `${bigToIp6(c.base)}/${c.len}`;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.len)) === c.base;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const m = mask6(Math.min(a.len, b.len));
  return (a.base & m) === (b.base & m);
}

/**
 * The lowest free IPv6 address of subnet, skipping the subnet-router anycast address (the subnet
 * itself), the gateway and every address in `used` (looks at most `limit` addresses). null when none.
 */
export function allocate6(subnet: Cidr6, gateway: bigint, used: Set<bigint>, limit = 65536): bigint | null {
  const last = subnet.base | (~mask6(subnet.len) & ALL6);
  for (let ip = subnet.base + 1n, k = 0; ip <= last && k < limit; ip++, k++)
    if (ip !== gateway && !used.has(ip)) return ip;
  return null;
}
