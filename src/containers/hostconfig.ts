// Pure checks of the HostConfig fields that change what the engine does beyond the create body's
// shape (api/shape.ts checks types): the log driver and its options, memory and swap limits,
// sysctls and storage options (the writable layer's size). A field cocon cannot honour is refused with InvalidArgument (400),
// never stored and ignored. Returns the fields normalised as docker stores them (MemorySwap
// defaults to twice Memory when the host accounts swap). No I/O: host facts come as an argument.
import { InvalidArgument } from '../core/errors.js';
import { ramInBytes as goRamInBytes } from '../units/go-units.js';
import type { HostConfig } from './types.js';
import { validateResources, type CheckedResources, type ResourceFacts } from './resources.js';

/** What the host can enforce, found by the caller (containers/service.ts). */
export interface HostFacts {
  /** cgroup v1 memory.memsw.* or v2 memory.swap.max exists: memory+swap can be limited. */
  swapLimit: boolean;
  /** cgroup controllers, CPUs and block devices: resource limits are checked against them (resources.ts) */
  resources?: ResourceFacts;
  /** The daemon's --log-driver and --log-opt. */
  logDefaults?: LogConfig;
  /** Bytes of the data root's filesystem: the largest --storage-opt size= (read only when a container asks). */
  dataRootSize?: number;
}

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/**
 * Log drivers cocon serves. json-file (the default, as in docker) and local both mean conmon's
 * k8s-file log under the container's directory, bounded and rotated (containers/logfiles.ts);
 * k8s-file is the same for Podman users; none keeps no log.
 */
export const LOG_DRIVERS = ['json-file', 'local', 'k8s-file', 'none'];
/** Drivers docker has that cocon does not implement. */
const DOCKER_LOG_DRIVERS = [
  'syslog',
  'journald',
  'gelf',
  'fluentd',
  'awslogs',
  'splunk',
  'etwlogs',
  'gcplogs',
  'logentries',
];
/**
 * cocon's bounded defaults when neither the container nor the daemon (--log-opt) gives max-size:
 * docker's json-file grows without bound; cocon keeps at most 10m x 3 (local: docker's 20m x 5).
 */
export const DEFAULT_LOG_BOUNDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'json-file': { 'max-size': '10m', 'max-file': '3' },
  'k8s-file': { 'max-size': '10m', 'max-file': '3' },
  local: { 'max-size': '20m', 'max-file': '5', compress: 'true' },
};

/** docker's go-units RAMInBytes: "10m", "1g", "512k", "100" (bytes). Null when not a size. */
export function ramInBytes(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
    m[2].toLowerCase() as '' | 'k'
  ];
  return Math.floor(Number(m[1]) * mult);
}

/** The bounds of a stored log config: conmon's --log-size-max, rotated files kept, gzip of rotated files. */
export interface LogBounds {
  maxSize: number;
  maxFile: number;
  compress: boolean;
}

/**
 * docker --log-driver/--log-opt for one container. The driver defaults to the daemon's
 * (--log-driver, json-file); the daemon's --log-opt values fill the options the container left
 * out when it uses the daemon's driver (docker's rule); then cocon's bounded default fills a
 * missing max-size (and max-file). The result is stored and shown in inspect.
 */
export function validateLogConfig(
  lc: Partial<LogConfig> | null | undefined,
  daemon: LogConfig = { Type: 'json-file', Config: {} },
): { config: LogConfig; bounds: LogBounds } {
  const type = lc?.Type || daemon.Type || 'json-file';
  const opts: Record<string, string> = { ...(lc?.Config ?? {}) };
  if (!LOG_DRIVERS.includes(type)) {
    if (DOCKER_LOG_DRIVERS.includes(type))
      throw new InvalidArgument(`logging driver '${type}' is not supported by cocon yet: use json-file, local or none`);
    throw new InvalidArgument(`logger: no log driver named '${type}' is registered`);
  }
  if (type === daemon.Type) for (const [k, v] of Object.entries(daemon.Config)) if (!(k in opts)) opts[k] = v;
  const bounds: LogBounds = { maxSize: 0, maxFile: 1, compress: false };
  for (const [k, v] of Object.entries(opts)) {
    if (type === 'none') throw new InvalidArgument(`unknown log opt '${k}' for none log driver`);
    switch (k) {
      case 'max-size': {
        const n = ramInBytes(v);
        if (n === null) throw new InvalidArgument(`invalid max-size '${v}': a size like 10m is expected`);
        if (n <= 0) throw new InvalidArgument('max-size must be a positive number');
        bounds.maxSize = n;
        break;
      }
      case 'max-file': {
        if (!/^-?\d+$/.test(v)) throw new InvalidArgument(`invalid max-file '${v}': a number is expected`);
        const n = Number(v);
        if (n < 1) throw new InvalidArgument('max-file cannot be less than 1');
        if (n > 100) throw new InvalidArgument('max-file cannot be more than 100');
        bounds.maxFile = n;
        break;
      }
      case 'compress':
        if (!['true', 'false', '1', '0'].includes(v))
          throw new InvalidArgument(`invalid compress '${v}': true or false is expected`);
        bounds.compress = v === 'true' || v === '1';
        break;
      case 'labels':
      case 'labels-regex':
      case 'env':
      case 'env-regex':
      case 'tag':
        throw new InvalidArgument(`log opt '${k}' is not supported by cocon: its log records carry no attributes`);
      default:
        throw new InvalidArgument(`unknown log opt '${k}' for ${type} log driver`);
    }
  }
  // local's own defaults (docker's: 5 files, compressed) apply whatever max-size is.
  if (type === 'local')
    for (const k of ['max-file', 'compress']) if (!(k in opts)) opts[k] = DEFAULT_LOG_BOUNDS.local[k];
  if (type !== 'none' && !('max-size' in opts)) {
    if ('max-file' in opts && bounds.maxFile > 1)
      throw new InvalidArgument('max-file can only be set together with max-size');
    const d = DEFAULT_LOG_BOUNDS[type];
    for (const [k, v] of Object.entries(d)) if (!(k in opts)) opts[k] = v;
  }
  if (type !== 'none') {
    bounds.maxSize = ramInBytes(opts['max-size'])!;
    bounds.maxFile = opts['max-file'] ? Number(opts['max-file']) : 1;
    bounds.compress = opts.compress === 'true' || opts.compress === '1';
  }
  return { config: { Type: type, Config: opts }, bounds };
}

/** The bounds of a stored HostConfig (records made before bounds existed: no limit, one file). */
export function logBounds(hc: Partial<HostConfig>): LogBounds {
  const c = (hc.LogConfig as Partial<LogConfig> | undefined)?.Config ?? {};
  return {
    maxSize: c['max-size'] ? (ramInBytes(c['max-size']) ?? 0) : 0,
    maxFile: c['max-file'] && /^\d+$/.test(c['max-file']) ? Math.max(1, Number(c['max-file'])) : 1,
    compress: c.compress === 'true' || c.compress === '1',
  };
}

const NAMESPACED_SYSCTLS = [
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
];

/** docker's rule: only sysctls of namespaces the container owns (IPC, and network unless --network host). */
export function validateSysctls(
  sysctls: Record<string, string> | null | undefined,
  networkMode: string,
  ipcMode = '',
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sysctls ?? {})) {
    const ipc = NAMESPACED_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.');
    const net = k.startsWith('net.');
    if (!ipc && !net) throw new InvalidArgument(`sysctl '${k}=${v}' is not allowed`);
    if (!/^[a-z0-9_.\-/]+$/i.test(k) || k.split(/[./]/).some((s) => s === '' || s === '..'))
      throw new InvalidArgument(`sysctl '${k}' is not a valid name`);
    if (/[\n\r\0]/.test(v)) throw new InvalidArgument(`sysctl '${k}': the value must be one line`);
    if (net && networkMode === 'host') throw new InvalidArgument(`sysctl '${k}' is not allowed in host network mode`);
    if (net && networkMode.startsWith('container:'))
      throw new InvalidArgument(
        `sysctl '${k}' is not allowed: the container shares the network namespace of another container`,
      );
    if (ipc && (ipcMode === 'host' || ipcMode.startsWith('container:')))
      throw new InvalidArgument(
        `sysctl '${k}' is not allowed: the container does not have its own IPC namespace (--ipc=${ipcMode})`,
      );
    out[k] = v;
  }
  return out;
}

/** docker's memory rules; MemorySwap defaults to 2 × Memory where swap is accounted. */
export function validateMemory(hc: Partial<HostConfig>, host: HostFacts): { Memory: number; MemorySwap: number } {
  const memory = typeof hc.Memory === 'number' ? hc.Memory : 0;
  const swap = typeof hc.MemorySwap === 'number' ? hc.MemorySwap : 0;
  if (memory < 0) throw new InvalidArgument('invalid memory limit: it cannot be negative');
  if (memory > 0 && memory < 6 * 1024 * 1024) throw new InvalidArgument('Minimum memory limit allowed is 6MB');
  if (swap < -1) throw new InvalidArgument('invalid memory swap limit: -1 (unlimited) or a size is expected');
  if (swap > 0 && memory === 0)
    throw new InvalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap > 0 && swap < memory)
    throw new InvalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  // -1 (unlimited) is what a host without swap accounting gives anyway.
  if (swap > 0 && !host.swapLimit)
    throw new InvalidArgument(
      "--memory-swap cannot be honoured: this host's kernel does not account swap (no memory.memsw in the memory cgroup)",
    );
  return { Memory: memory, MemorySwap: swap === 0 && memory > 0 && host.swapLimit ? memory * 2 : swap };
}

/** The smallest writable-layer quota: mkfs.ext4 cannot make a filesystem much smaller. */
export const MIN_LAYER_SIZE = 1024 * 1024;

/**
 * --storage-opt (a container's, or the daemon's default): docker's overlay2 takes one option, size=SIZE
 * (go-units sizes: 64m, 1.5G, 1048576), with its messages ("Unknown option X", "invalid size: 'X'").
 * Returns the writable layer's quota in bytes, 0 for none (no option, or size=0 as docker). Refused:
 * below MIN_LAYER_SIZE, and above `maxBytes` (the data root's size, when known): a quota the data root
 * could never hold is a mistake, not a limit. cocon enforces it on any data root with a loop-mounted
 * ext4 image per container (src/snapshots/overlay.ts), so no option is ever accepted and ignored.
 */
export function storageSize(opts: Record<string, string> | null | undefined, maxBytes?: number): number {
  let bytes = 0;
  for (const [key, val] of Object.entries(opts ?? {})) {
    if (key.toLowerCase() !== 'size') throw new InvalidArgument(`Unknown option ${key}`);
    try {
      bytes = goRamInBytes(val);
    } catch (e) {
      throw new InvalidArgument((e as Error).message);
    }
    if (bytes === 0) continue;
    if (bytes < MIN_LAYER_SIZE)
      throw new InvalidArgument(`--storage-opt size=${val} is too small: a writable layer needs at least 1MiB`);
    if (maxBytes !== undefined && bytes > maxBytes)
      throw new InvalidArgument(
        `--storage-opt size=${val} is larger than the data root's filesystem (${maxBytes} bytes)`,
      );
  }
  return bytes;
}

/** HostConfig.Annotations (API 1.43, OCI runtime annotations): cocon does not pass them to the runtime yet. */
export function validateAnnotations(a: unknown): void {
  if (a && typeof a === 'object' && Object.keys(a).length)
    throw new InvalidArgument('--annotation is not supported by cocon yet');
}

export interface CheckedHostConfig extends Partial<CheckedResources> {
  LogConfig: LogConfig;
  Memory: number;
  MemorySwap: number;
  Sysctls?: Record<string, string>;
}

/** All the checks above; the result goes over the body's HostConfig. */
export function checkHostConfig(hc: Partial<HostConfig>, networkMode: string, host: HostFacts): CheckedHostConfig {
  const log = validateLogConfig(hc.LogConfig as Partial<LogConfig> | null | undefined, host.logDefaults);
  storageSize(hc.StorageOpt as Record<string, string> | null | undefined, host.dataRootSize);
  validateAnnotations((hc as { Annotations?: unknown }).Annotations);
  const sysctls = validateSysctls(
    hc.Sysctls as Record<string, string> | null | undefined,
    networkMode,
    typeof hc.IpcMode === 'string' ? hc.IpcMode : '',
  );
  const out: CheckedHostConfig = { LogConfig: log.config, ...validateMemory(hc, host) };
  if (Object.keys(sysctls).length) out.Sysctls = sysctls;
  if (host.resources) Object.assign(out, validateResources(hc, host.resources));
  return out;
}

/** conmon's --log-size-max for a stored HostConfig (0: no limit). */
export function logSizeMax(hc: Partial<HostConfig>): number {
  return logBounds(hc).maxSize;
}
