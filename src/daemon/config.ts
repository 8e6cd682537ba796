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
}

export const DEFAULT_SOCKET = '/run/cocon/cocon.sock';

export function socketFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:///path sockets are served`);
}

export function resolveConfig(flags: Partial<{ dataRoot: string; execRoot: string; host: string; pidFile: string; runtime: string; logLevel: string }>): DaemonConfig {
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
  };
}
