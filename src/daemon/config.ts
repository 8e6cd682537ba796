// Daemon configuration: dockerd-like flags resolved into absolute paths (the type and its defaults
// are in src/core/config.ts). Pure: no I/O.
import { resolve, join } from 'node:path';
import {
  CONMON_PATH, DEFAULT_DATA_ROOT, DEFAULT_LOG_DRIVER, DEFAULT_EXEC_ROOT, DEFAULT_LOG_LEVEL, DEFAULT_RUNTIME, DEFAULT_SOCKET, RUNTIME_PATHS, type DaemonConfig,
} from '../core/config.js';

export function socketFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:///path sockets are served`);
}

export function resolveConfig(flags: Partial<{ dataRoot: string; execRoot: string; host: string; pidFile: string; runtime: string; logLevel: string; insecureRegistry: string; bridge: string; bip: string; icc: string; defaultAddressPool: string; iptables: string; logDriver: string; logOpt: string }>): DaemonConfig {
  const bool = (v: string | undefined, name: string): boolean => { if (v === undefined || v === 'true' || v === '1') return true; if (v === 'false' || v === '0') return false; throw new Error(`invalid boolean value "${v}" for --${name}`); };
  const dataRoot = resolve(flags.dataRoot ?? DEFAULT_DATA_ROOT);
  const execRoot = resolve(flags.execRoot ?? DEFAULT_EXEC_ROOT);
  const socketPath = flags.host ? resolve(socketFromHost(flags.host)) : (flags.execRoot ? join(execRoot, 'cocon.sock') : DEFAULT_SOCKET);
  const runtime = flags.runtime ?? DEFAULT_RUNTIME;
  const level = (flags.logLevel ?? DEFAULT_LOG_LEVEL) as DaemonConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`invalid log level: ${flags.logLevel}`);
  const logOpts: Record<string, string> = {};
  for (const kv of (flags.logOpt ?? '').split('\n').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`invalid --log-opt ${kv}: key=value is expected`);
    logOpts[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    logDriver: flags.logDriver || DEFAULT_LOG_DRIVER, logOpts,
    dataRoot, execRoot, socketPath,
    pidFile: resolve(flags.pidFile ?? join(execRoot, 'cocon.pid')),
    runtime,
    runtimePath: Object.hasOwn(RUNTIME_PATHS, runtime) ? RUNTIME_PATHS[runtime] : runtime,
    conmonPath: CONMON_PATH,
    logLevel: level,
    insecureRegistries: (flags.insecureRegistry ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    bridge: flags.bridge, bip: flags.bip, icc: bool(flags.icc, 'icc'), defaultAddressPool: flags.defaultAddressPool, iptables: bool(flags.iptables, 'iptables'),
  };
}
