// IPv4 address management: pure arithmetic on CIDRs (no I/O), so unit tests cover it.
// Subnets are "a.b.c.d/len"; addresses are numbers internally.
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
