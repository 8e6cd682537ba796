// The daemon's configuration as every room sees it, and its defaults. Pure: no I/O. The daemon
// (src/daemon/config.ts) resolves its command-line flags into a DaemonConfig; services only read it.
import type { IdentityMapping } from './idmap.js';

export interface DaemonConfig {
  dataRoot: string; // --data-root (default /var/lib/cocon)
  execRoot: string; // --exec-root (default /run/cocon)
  socketPath: string; // -H/--host unix:///path (the only listener: tcp:// is refused) (default <exec-root>/cocon.sock when exec-root given, else /run/cocon/cocon.sock)
  pidFile: string; // --pidfile (default <exec-root>/cocon.pid)
  runtime: string; // --default-runtime / --runtime name (runc)
  runtimePath: string; // the runtime binary
  conmonPath: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  insecureRegistries: string[]; // --insecure-registry (repeatable; host[:port] or CIDR); loopback is always insecure
  /** Networking (src/network): --bridge, --bip, --icc, --default-address-pool, --iptables. */
  bridge?: string;
  bip?: string;
  icc: boolean;
  /** --ipv6 and --fixed-cidr-v6: IPv6 on the default bridge. */
  ipv6?: boolean;
  fixedCidrV6?: string;
  defaultAddressPool?: string;
  iptables: boolean;
  /** --log-driver and --log-opt: the containers' default log driver and its options (json-file, cocon's bounds). */
  logDriver: string;
  logOpts: Record<string, string>;
  /** Hardening (issue 14): --storage-size / --storage-device put the data root on its own filesystem. */
  storageSize?: number;
  storageDevice?: string;
  /** --storage-opt size=: the default writable-layer quota of every container, bytes (0: none). */
  defaultStorageSize?: number;
  /** --no-new-privileges: every container gets no_new_privs unless it asks no-new-privileges=false. */
  noNewPrivileges?: boolean;
  /** --default-pids-limit (podman's 2048 by default; 0 or -1: none). */
  defaultPidsLimit?: number;
  /** --userns-remap default|USER[:GROUP]|UID[:GID] as given (absent: containers share the host's user namespace). */
  usernsRemap?: string;
  /**
   * Set at start-up (src/daemon/userns.ts) when usernsRemap is: the containers' id maps, the remap
   * account ("user:group"), and the data root given (dataRoot is then <baseDataRoot>/<uid>.<gid>).
   */
  idMap?: IdentityMapping;
  remapUser?: string;
  baseDataRoot?: string;
  /** The daemon's user namespace with idMap, bound at <exec-root>/userns (src/sys/userns.ts). */
  usernsPath?: string;
}

export const DEFAULT_DATA_ROOT = '/var/lib/cocon';
export const DEFAULT_EXEC_ROOT = '/run/cocon';
export const DEFAULT_SOCKET = '/run/cocon/cocon.sock';
export const DEFAULT_RUNTIME = 'runc';
export const DEFAULT_LOG_DRIVER = 'json-file';
export const DEFAULT_LOG_LEVEL: DaemonConfig['logLevel'] = 'info';
/** podman's default pids limit per container. */
export const DEFAULT_PIDS_LIMIT = 2048;
export const CONMON_PATH = '/usr/bin/conmon';
/** The binaries of the runtimes known by name; any other --runtime value is a path. */
export const RUNTIME_PATHS: Readonly<Record<string, string>> = { runc: '/usr/sbin/runc', crun: '/usr/bin/crun' };
