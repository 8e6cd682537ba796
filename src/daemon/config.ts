// Daemon configuration: dockerd-like flags resolved into absolute paths (the type and its defaults
// are in src/core/config.ts). Pure: no I/O.
import { resolve, join } from 'node:path';
import { ramInBytes } from '../units/go-units.js';
import { storageSize } from '../containers/hostconfig.js';
import { parseRemapSpec } from '../core/idmap.js';
import {
  DEFAULT_PIDS_LIMIT,
  CONMON_PATH,
  DEFAULT_DATA_ROOT,
  DEFAULT_LOG_DRIVER,
  DEFAULT_EXEC_ROOT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_RUNTIME,
  DEFAULT_SOCKET,
  RUNTIME_PATHS,
  type DaemonConfig,
} from '../core/config.js';

/** The refusal of every -H tcp:// value: nothing in cocon serves the API over TCP. */
export const TCP_UNSUPPORTED = 'cocon listens only on a unix socket; tcp:// hosts are not supported';

export function socketFromHost(host: string): string {
  if (host.startsWith('tcp://')) throw new Error(`-H ${host}: ${TCP_UNSUPPORTED}`);
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:///path sockets are served`);
}

export type DaemonFlags = Partial<
  Record<
    | 'dataRoot'
    | 'execRoot'
    | 'host'
    | 'pidFile'
    | 'runtime'
    | 'logLevel'
    | 'insecureRegistry'
    | 'bridge'
    | 'bip'
    | 'icc'
    | 'ipv6'
    | 'fixedCidrV6'
    | 'defaultAddressPool'
    | 'iptables'
    | 'logDriver'
    | 'logOpt'
    | 'storageSize'
    | 'storageDevice'
    | 'storageOpt'
    | 'noNewPrivileges'
    | 'defaultPidsLimit'
    | 'usernsRemap'
    | 'tlsverify'
    | 'tlscacert'
    | 'tlscert'
    | 'tlskey',
    string
  >
>;

/**
 * -H values: at most one unix socket. Every tcp:// address is refused, with or without --tlsverify:
 * the API server listens on the unix socket alone, so accepting one would leave the user believing
 * the daemon is reachable (or TLS-protected) on an address nothing listens on. The --tls* flags are
 * refused for the same reason: they could only ever apply to a TCP listener.
 */
export function resolveHosts(hosts: string[], f: DaemonFlags): { unix?: string } {
  let unix: string | undefined;
  for (const h of hosts) {
    if (h.startsWith('tcp://')) throw new Error(`-H ${h}: ${TCP_UNSUPPORTED}`);
    if (unix) throw new Error('only one -H unix:// socket is served');
    unix = resolve(socketFromHost(h));
  }
  for (const k of ['tlsverify', 'tlscacert', 'tlscert', 'tlskey'] as const) {
    if (f[k] !== undefined && !(k === 'tlsverify' && (f[k] === 'false' || f[k] === '0')))
      throw new Error(`--${k}: ${TCP_UNSUPPORTED}, so there is no TLS to configure`);
  }
  return { unix };
}

/** dockerd's daemon.json keys cocon reads, by the flag key they set; list-valued keys are joined. */
const FILE_KEYS: Record<string, keyof DaemonFlags> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  hosts: 'host',
  pidfile: 'pidFile',
  'default-runtime': 'runtime',
  'log-level': 'logLevel',
  'insecure-registries': 'insecureRegistry',
  bridge: 'bridge',
  bip: 'bip',
  icc: 'icc',
  iptables: 'iptables',
  'log-driver': 'logDriver',
  'log-opts': 'logOpt',
  'storage-opts': 'storageOpt',
  'no-new-privileges': 'noNewPrivileges',
  'default-pids-limit': 'defaultPidsLimit',
  'userns-remap': 'usernsRemap',
};

/**
 * Merges a daemon configuration file (dockerd's daemon.json) with the flags: unknown keys and keys
 * also given as flags are refused, as dockerd refuses them. Pure.
 */
export function configFileFlags(json: unknown, flags: Record<string, string>): Record<string, string> {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new Error('the daemon configuration file must hold a JSON object');
  const out = { ...flags };
  const both: string[] = [];
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    const key = FILE_KEYS[k];
    if (!key)
      throw new Error(
        `the daemon configuration file has a key cocon does not read: ${k} (it reads ${Object.keys(FILE_KEYS).join(', ')})`,
      );
    let s: string;
    if (Array.isArray(v)) s = v.map(String).join(',');
    else if (v && typeof v === 'object')
      s = Object.entries(v as Record<string, unknown>)
        .map(([a, b]) => `${a}=${String(b)}`)
        .join('\n');
    else s = String(v);
    if (key in flags) both.push(`${k}: (from flag: ${flags[key]}, from file: ${s})`);
    else out[key] = s;
  }
  if (both.length)
    throw new Error(
      `the following directives are specified both as a flag and in the configuration file: ${both.join(', ')}`,
    );
  return out;
}

export function resolveConfig(flags: DaemonFlags): DaemonConfig {
  const bool = (v: string | undefined, name: string): boolean => {
    if (v === undefined || v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new Error(`invalid boolean value "${v}" for --${name}`);
  };
  const dataRoot = resolve(flags.dataRoot ?? DEFAULT_DATA_ROOT);
  const execRoot = resolve(flags.execRoot ?? DEFAULT_EXEC_ROOT);
  const hosts = resolveHosts((flags.host ?? '').split(',').filter(Boolean), flags);
  const socketPath = hosts.unix ?? (flags.execRoot ? join(execRoot, 'cocon.sock') : DEFAULT_SOCKET);
  const size = (v: string, what: string): number => {
    try {
      return ramInBytes(v);
    } catch (e) {
      throw new Error(`invalid ${what} '${v}': ${(e as Error).message}`);
    }
  };
  if (flags.storageSize && flags.storageDevice)
    throw new Error('--storage-size and --storage-device cannot be used together');
  // dockerd's overlay2 default quota: --storage-opt size=N (or overlay2.size=N), checked as a container's.
  let defaultStorageSize = 0;
  for (const o of (flags.storageOpt ?? '').split(',').filter(Boolean)) {
    const [k, ...v] = o.split('=');
    if (!['size', 'overlay2.size'].includes(k.trim().toLowerCase()))
      throw new Error(`--storage-opt: Unknown option ${k}`);
    try {
      defaultStorageSize = storageSize({ size: v.join('=') });
    } catch (e) {
      throw new Error(`--storage-opt ${o}: ${(e as Error).message}`);
    }
  }
  const pids = flags.defaultPidsLimit ?? String(DEFAULT_PIDS_LIMIT);
  if (!/^-?\d+$/.test(pids)) throw new Error(`invalid --default-pids-limit '${pids}': a number is expected`);
  if (flags.usernsRemap !== undefined) parseRemapSpec(flags.usernsRemap); // a bad value stops the daemon here
  const runtime = flags.runtime ?? DEFAULT_RUNTIME;
  const level = (flags.logLevel ?? DEFAULT_LOG_LEVEL) as DaemonConfig['logLevel'];
  // dockerd's -b none means "no default bridge"; cocon always has one: refused, never taken as a link name
  if (flags.bridge === 'none')
    throw new Error('--bridge=none is not supported by cocon: the default bridge network always exists');
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`invalid log level: ${flags.logLevel}`);
  const logOpts: Record<string, string> = {};
  for (const kv of (flags.logOpt ?? '').split('\n').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`invalid --log-opt ${kv}: key=value is expected`);
    logOpts[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    logDriver: flags.logDriver || DEFAULT_LOG_DRIVER,
    logOpts,
    dataRoot,
    execRoot,
    socketPath,
    pidFile: resolve(flags.pidFile ?? join(execRoot, 'cocon.pid')),
    runtime,
    runtimePath: Object.hasOwn(RUNTIME_PATHS, runtime) ? RUNTIME_PATHS[runtime] : runtime,
    conmonPath: CONMON_PATH,
    logLevel: level,
    insecureRegistries: (flags.insecureRegistry ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
    bridge: flags.bridge,
    bip: flags.bip,
    icc: bool(flags.icc, 'icc'),
    ...(flags.ipv6 !== undefined && bool(flags.ipv6, 'ipv6') ? { ipv6: true } : {}),
    ...(flags.fixedCidrV6 ? { fixedCidrV6: flags.fixedCidrV6 } : {}),
    defaultAddressPool: flags.defaultAddressPool,
    iptables: bool(flags.iptables, 'iptables'),
    ...(flags.storageSize ? { storageSize: size(flags.storageSize, '--storage-size') } : {}),
    ...(flags.storageDevice ? { storageDevice: resolve(flags.storageDevice) } : {}),
    defaultStorageSize,
    noNewPrivileges: flags.noNewPrivileges !== undefined && bool(flags.noNewPrivileges, 'no-new-privileges'),
    defaultPidsLimit: Math.max(0, Number(pids)),
    ...(flags.usernsRemap ? { usernsRemap: flags.usernsRemap.trim() } : {}),
  };
}
