// Daemon configuration: dockerd-like flags resolved into absolute paths (the type and its defaults
// are in src/core/config.ts). Pure: no I/O.
import { resolve, join } from 'node:path';
import { ramInBytes } from '../units/go-units.js';
import {
  DEFAULT_PIDS_LIMIT, CONMON_PATH, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_LOG_LEVEL, DEFAULT_RUNTIME, DEFAULT_SOCKET, RUNTIME_PATHS, type DaemonConfig,
} from '../core/config.js';

export function socketFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:///path sockets and tcp://ADDR:PORT (with --tlsverify) are served`);
}

export type DaemonFlags = Partial<Record<'dataRoot' | 'execRoot' | 'host' | 'pidFile' | 'runtime' | 'logLevel' | 'insecureRegistry' | 'bridge' | 'bip' | 'icc' | 'defaultAddressPool' | 'iptables'
  | 'storageSize' | 'storageDevice' | 'storageOpt' | 'noNewPrivileges' | 'defaultPidsLimit' | 'tlsverify' | 'tlscacert' | 'tlscert' | 'tlskey', string>>;

const isLoopback = (h: string) => /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/.test(h);

/**
 * -H values: at most one unix socket and one tcp://ADDR:PORT. TCP needs mutual TLS (--tlsverify with
 * --tlscacert, --tlscert, --tlskey); a loopback address without TLS is refused too, only the
 * message differs: nothing but TLS-verified clients ever reach the API over TCP.
 */
export function resolveHosts(hosts: string[], f: DaemonFlags): { unix?: string; tcp?: DaemonConfig['tcp'] } {
  let unix: string | undefined; let tcp: DaemonConfig['tcp'];
  for (const h of hosts) {
    if (h.startsWith('tcp://')) {
      if (tcp) throw new Error('only one -H tcp:// address is served');
      const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/]+):(\d+)\/?$/.exec(h);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`invalid -H ${h}: tcp://ADDR:PORT expected`);
      const host = m[1].replace(/^\[|\]$/g, '');
      const on = f.tlsverify !== undefined && f.tlsverify !== 'false' && f.tlsverify !== '0';
      if (!on) {
        throw new Error(isLoopback(host)
          ? `-H ${h}: the API over TCP is served only with mutual TLS: add --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY`
          : `-H ${h}: refusing to serve the API on a non-loopback address without TLS (anyone reaching ${host} would be root on this host): add --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY`);
      }
      for (const k of ['tlscacert', 'tlscert', 'tlskey'] as const) if (!f[k]) throw new Error(`--tlsverify needs --${k}`);
      tcp = { host, port: Number(m[2]), tls: { ca: resolve(f.tlscacert!), cert: resolve(f.tlscert!), key: resolve(f.tlskey!) } };
    } else {
      if (unix) throw new Error('only one -H unix:// socket is served');
      unix = resolve(socketFromHost(h));
    }
  }
  return { unix, tcp };
}

export function resolveConfig(flags: DaemonFlags): DaemonConfig {
  const bool = (v: string | undefined, name: string): boolean => { if (v === undefined || v === 'true' || v === '1') return true; if (v === 'false' || v === '0') return false; throw new Error(`invalid boolean value "${v}" for --${name}`); };
  const dataRoot = resolve(flags.dataRoot ?? DEFAULT_DATA_ROOT);
  const execRoot = resolve(flags.execRoot ?? DEFAULT_EXEC_ROOT);
  const hosts = resolveHosts((flags.host ?? '').split(',').filter(Boolean), flags);
  const socketPath = hosts.unix ?? (flags.execRoot ? join(execRoot, 'cocon.sock') : DEFAULT_SOCKET);
  const size = (v: string, what: string): number => { try { return ramInBytes(v); } catch (e) { throw new Error(`invalid ${what} '${v}': ${(e as Error).message}`); } };
  if (flags.storageSize && flags.storageDevice) throw new Error('--storage-size and --storage-device cannot be used together');
  let defaultStorageSize = 0;
  for (const o of (flags.storageOpt ?? '').split(',').filter(Boolean)) {
    const [k, ...v] = o.split('=');
    if (!['size', 'overlay2.size'].includes(k.trim().toLowerCase())) throw new Error(`--storage-opt: Unknown option ${k}`);
    defaultStorageSize = size(v.join('='), '--storage-opt size');
  }
  const pids = flags.defaultPidsLimit ?? String(DEFAULT_PIDS_LIMIT);
  if (!/^-?\d+$/.test(pids)) throw new Error(`invalid --default-pids-limit '${pids}': a number is expected`);
  const runtime = flags.runtime ?? DEFAULT_RUNTIME;
  const level = (flags.logLevel ?? DEFAULT_LOG_LEVEL) as DaemonConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`invalid log level: ${flags.logLevel}`);
  return {
    dataRoot, execRoot, socketPath,
    pidFile: resolve(flags.pidFile ?? join(execRoot, 'cocon.pid')),
    runtime,
    runtimePath: Object.hasOwn(RUNTIME_PATHS, runtime) ? RUNTIME_PATHS[runtime] : runtime,
    conmonPath: CONMON_PATH,
    logLevel: level,
    insecureRegistries: (flags.insecureRegistry ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    bridge: flags.bridge, bip: flags.bip, icc: bool(flags.icc, 'icc'), defaultAddressPool: flags.defaultAddressPool, iptables: bool(flags.iptables, 'iptables'),
    ...(flags.storageSize ? { storageSize: size(flags.storageSize, '--storage-size') } : {}),
    ...(flags.storageDevice ? { storageDevice: resolve(flags.storageDevice) } : {}),
    defaultStorageSize, noNewPrivileges: flags.noNewPrivileges !== undefined && bool(flags.noNewPrivileges, 'no-new-privileges'),
    defaultPidsLimit: Math.max(0, Number(pids)),
    ...(hosts.tcp ? { tcp: hosts.tcp } : {}),
  };
}
