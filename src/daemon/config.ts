// Daemon configuration: dockerd-like flags resolved into absolute paths. Pure: no I/O.
import { resolve, join } from 'node:path';

export interface DaemonConfig {
  dataRoot: string;      // --data-root (default /var/lib/cocon)
  execRoot: string;      // --exec-root (default /run/cocon)
  socketPath: string;    // -H/--host unix:///path (default <exec-root>/cocon.sock when exec-root given, else /run/cocon/cocon.sock)
  pidFile: string;       // --pidfile (default <exec-root>/cocon.pid)
  runtime: string;       // --default-runtime / --runtime name (runc)
  runtimePath: string;   // the runtime binary
  conmonPath: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  insecureRegistries: string[]; // --insecure-registry (repeatable; host[:port] or CIDR); loopback is always insecure
  /** Networking (src/network): --bridge, --bip, --icc, --default-address-pool, --iptables. */
  bridge?: string;
  bip?: string;
  icc: boolean;
  defaultAddressPool?: string;
  iptables: boolean;
}

export const DEFAULT_SOCKET = '/run/cocon/cocon.sock';

export function socketFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:///path sockets are served`);
}

export function resolveConfig(flags: Partial<{ dataRoot: string; execRoot: string; host: string; pidFile: string; runtime: string; logLevel: string; insecureRegistry: string; bridge: string; bip: string; icc: string; defaultAddressPool: string; iptables: string }>): DaemonConfig {
  const bool = (v: string | undefined, name: string): boolean => { if (v === undefined || v === 'true' || v === '1') return true; if (v === 'false' || v === '0') return false; throw new Error(`invalid boolean value "${v}" for --${name}`); };
  const dataRoot = resolve(flags.dataRoot ?? '/var/lib/cocon');
  const execRoot = resolve(flags.execRoot ?? '/run/cocon');
  const socketPath = flags.host ? resolve(socketFromHost(flags.host)) : (flags.execRoot ? join(execRoot, 'cocon.sock') : DEFAULT_SOCKET);
  const runtime = flags.runtime ?? 'runc';
  const level = (flags.logLevel ?? 'info') as DaemonConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`invalid log level: ${flags.logLevel}`);
  return {
    dataRoot, execRoot, socketPath,
    pidFile: resolve(flags.pidFile ?? join(execRoot, 'cocon.pid')),
    runtime,
    runtimePath: runtime === 'runc' ? '/usr/sbin/runc' : runtime === 'crun' ? '/usr/bin/crun' : runtime,
    conmonPath: '/usr/bin/conmon',
    logLevel: level,
    insecureRegistries: (flags.insecureRegistry ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    bridge: flags.bridge, bip: flags.bip, icc: bool(flags.icc, 'icc'), defaultAddressPool: flags.defaultAddressPool, iptables: bool(flags.iptables, 'iptables'),
  };
}
