// Published ports: docker's PortBindings / PublishAllPorts / ExposedPorts turned into concrete
// bindings, and the shapes inspect (NetworkSettings.Ports) and ps (Ports) show. Pure.
import { InvalidArgument } from '../core/errors.js';
import { bigToIp6, ip6ToBig, isIPv4, isIPv6 } from './ipam.js';

export type Proto = 'tcp' | 'udp' | 'sctp';
export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostLo: number;
  hostHi: number;
  /** No host address given: docker publishes on 0.0.0.0 and, for a container with IPv6, on :: with the same port. */
  anyHost?: boolean;
}
export interface PortBinding {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export function parsePortKey(key: string): { port: number; proto: Proto } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new InvalidArgument(`invalid port specification: "${key}"`);
  return { port: Number(m[1]), proto: (m[2] ?? 'tcp') as Proto };
}

function hostRange(s: string, key: string): [number, number] {
  if (!s || s === '0') return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgument(`invalid host port "${s}" for ${key}`);
  return [lo, hi];
}

/** What a container asks to publish. Throws InvalidArgument on bad syntax. */
export function portRequests(
  bindings: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null | undefined,
  publishAll: boolean,
  exposed: Record<string, unknown> | null | undefined,
): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    seen.add(`${port}/${proto}`);
    for (const b of list ?? [{}]) {
      const raw = (b.HostIp ?? '').replace(/^\[(.*)\]$/, '$1');
      if (raw && !isIPv4(raw) && !isIPv6(raw)) throw new InvalidArgument(`invalid host IP address "${raw}" for ${key}`);
      const ip = raw && isIPv6(raw) ? bigToIp6(ip6ToBig(raw)) : raw;
      const [lo, hi] = hostRange(b.HostPort ?? '', key);
      out.push({
        proto,
        containerPort: port,
        hostIp: ip || '0.0.0.0',
        hostLo: lo,
        hostHi: hi,
        ...(ip ? {} : { anyHost: true }),
      });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (seen.has(`${port}/${proto}`)) continue;
      out.push({ proto, containerPort: port, hostIp: '0.0.0.0', hostLo: 0, hostHi: 0, anyHost: true });
    }
  }
  return out;
}

/** NetworkSettings.Ports: every exposed or published port, null when not published. */
export function inspectPorts(
  bound: PortBinding[],
  exposed: Record<string, unknown> | null | undefined,
): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of Object.keys(exposed ?? {})) {
    const { port, proto } = parsePortKey(key);
    out[`${port}/${proto}`] = null;
  }
  for (const b of bound)
    (out[`${b.containerPort}/${b.proto}`] ??= []).push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
  return out;
}

/** ps's Ports list: published ports with their host side, exposed ones without. */
export function psPorts(
  bound: PortBinding[],
  exposed: Record<string, unknown> | null | undefined,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = bound.map((b) => ({
    IP: b.hostIp,
    PrivatePort: b.containerPort,
    PublicPort: b.hostPort,
    Type: b.proto,
  }));
  for (const key of Object.keys(exposed ?? {})) {
    const { port, proto } = parsePortKey(key);
    if (!bound.some((b) => b.containerPort === port && b.proto === proto)) out.push({ PrivatePort: port, Type: proto });
  }
  return out;
}
