// `run`/`create` flags and the translation of them into the Docker API create body
// (Config + HostConfig + NetworkingConfig), as docker's cli/command/container/opts.go does.
// Pure: file contents and the client environment are passed in.

import { parseGoDuration } from '../core/duration.js';
import type { FlagDef } from './flags.js';
import type { Opts } from './flags.js';
import { labelsToMap, parseEnvFile, resolveEnvArg } from './envfile.js';
import { ramInBytes } from './humanize.js';
import { resolve as resolvePath } from 'node:path';
import { isIP } from 'node:net';
import { RESOURCE_FLAGS, ResourceFlagError, resourceFields } from './resourceflags.js';

export const RUN_FLAGS: FlagDef[] = [
  { long: 'attach', short: 'a', type: 'list', desc: 'Attach to STDIN, STDOUT or STDERR' },
  { long: 'add-host', type: 'list', desc: 'Add a custom host-to-IP mapping (host:ip)' },
  { long: 'cap-add', type: 'list', desc: 'Add Linux capabilities' },
  { long: 'cap-drop', type: 'list', desc: 'Drop Linux capabilities' },
  { long: 'cgroupns', type: 'string', desc: 'Cgroup namespace to use (host|private)' },
  { long: 'cgroup-parent', type: 'string', desc: 'Optional parent cgroup for the container' },
  { long: 'cidfile', type: 'string', desc: 'Write the container ID to the file' },
  { long: 'cpu-shares', short: 'c', type: 'int', desc: 'CPU shares (relative weight)' },
  { long: 'cpus', type: 'string', valueName: 'decimal', desc: 'Number of CPUs' },
  { long: 'cpuset-cpus', type: 'string', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
  { long: 'cpuset-mems', type: 'string', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
  { long: 'detach', short: 'd', type: 'bool', desc: 'Run container in background and print container ID' },
  { long: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
  { long: 'device', type: 'list', desc: 'Add a host device to the container' },
  { long: 'dns', type: 'list', desc: 'Set custom DNS servers' },
  { long: 'dns-option', type: 'list', desc: 'Set DNS options' },
  { long: 'dns-search', type: 'list', desc: 'Set custom DNS search domains' },
  { long: 'domainname', type: 'string', desc: 'Container NIS domain name' },
  { long: 'entrypoint', type: 'string', desc: 'Overwrite the default ENTRYPOINT of the image' },
  { long: 'env', short: 'e', type: 'list', desc: 'Set environment variables' },
  { long: 'env-file', type: 'list', desc: 'Read in a file of environment variables' },
  { long: 'expose', type: 'list', desc: 'Expose a port or a range of ports' },
  { long: 'group-add', type: 'list', desc: 'Add additional groups to join' },
  { long: 'health-cmd', type: 'string', desc: 'Command to run to check health' },
  { long: 'health-interval', type: 'string', desc: 'Time between running the check (ms|s|m|h)' },
  { long: 'health-retries', type: 'int', desc: 'Consecutive failures needed to report unhealthy' },
  { long: 'health-start-period', type: 'string', desc: 'Start period for the container to initialize' },
  { long: 'health-timeout', type: 'string', desc: 'Maximum time to allow one check to run' },
  { long: 'hostname', short: 'h', type: 'string', desc: 'Container host name' },
  { long: 'init', type: 'bool', desc: 'Run an init inside the container that forwards signals and reaps processes' },
  { long: 'interactive', short: 'i', type: 'bool', desc: 'Keep STDIN open even if not attached' },
  { long: 'ip', type: 'string', desc: 'IPv4 address (e.g., 172.30.100.104)' },
  { long: 'ip6', type: 'string', desc: 'IPv6 address (e.g., 2001:db8::33)' },
  { long: 'ipc', type: 'string', desc: 'IPC mode to use' },
  { long: 'isolation', type: 'string', desc: 'Container isolation technology' },
  { long: 'label', short: 'l', type: 'list', desc: 'Set meta data on a container' },
  { long: 'label-file', type: 'list', desc: 'Read in a line delimited file of labels' },
  { long: 'link', type: 'list', desc: 'Add link to another container' },
  { long: 'log-driver', type: 'string', desc: 'Logging driver for the container' },
  { long: 'log-opt', type: 'list', desc: 'Log driver options' },
  { long: 'mac-address', type: 'string', desc: 'Container MAC address' },
  { long: 'memory', short: 'm', type: 'string', valueName: 'bytes', desc: 'Memory limit' },
  { long: 'memory-reservation', type: 'string', valueName: 'bytes', desc: 'Memory soft limit' },
  {
    long: 'memory-swap',
    type: 'string',
    valueName: 'bytes',
    desc: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
  },
  { long: 'memory-swappiness', type: 'int', desc: 'Tune container memory swappiness (0 to 100)', default: -1 },
  { long: 'mount', type: 'list', valueName: 'mount', desc: 'Attach a filesystem mount to the container' },
  { long: 'name', type: 'string', desc: 'Assign a name to the container' },
  { long: 'network', type: 'string', desc: 'Connect a container to a network' },
  { long: 'net', type: 'string', hidden: true },
  { long: 'network-alias', type: 'list', desc: 'Add network-scoped alias for the container' },
  { long: 'no-healthcheck', type: 'bool', desc: 'Disable any container-specified HEALTHCHECK' },
  { long: 'oom-kill-disable', type: 'bool', desc: 'Disable OOM Killer' },
  { long: 'oom-score-adj', type: 'int', desc: "Tune host's OOM preferences (-1000 to 1000)" },
  { long: 'pid', type: 'string', desc: 'PID namespace to use' },
  { long: 'pids-limit', type: 'int', desc: 'Tune container pids limit (set -1 for unlimited)' },
  { long: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable' },
  { long: 'privileged', type: 'bool', desc: 'Give extended privileges to this container' },
  { long: 'publish', short: 'p', type: 'list', desc: "Publish a container's port(s) to the host" },
  { long: 'publish-all', short: 'P', type: 'bool', desc: 'Publish all exposed ports to random ports' },
  {
    long: 'pull',
    type: 'string',
    desc: 'Pull image before running ("always", "missing", "never")',
    default: 'missing',
  },
  { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress the pull output' },
  { long: 'read-only', type: 'bool', desc: "Mount the container's root filesystem as read only" },
  { long: 'restart', type: 'string', desc: 'Restart policy to apply when a container exits', default: 'no' },
  {
    long: 'rm',
    type: 'bool',
    desc: 'Automatically remove the container and its associated anonymous volumes when it exits',
  },
  { long: 'runtime', type: 'string', desc: 'Runtime to use for this container' },
  { long: 'security-opt', type: 'list', desc: 'Security Options' },
  { long: 'shm-size', type: 'string', valueName: 'bytes', desc: 'Size of /dev/shm' },
  { long: 'sig-proxy', type: 'bool', desc: 'Proxy received signals to the process', default: true },
  { long: 'stop-signal', type: 'string', desc: 'Signal to stop the container' },
  { long: 'stop-timeout', type: 'int', desc: 'Timeout (in seconds) to stop a container' },
  { long: 'storage-opt', type: 'list', desc: 'Storage driver options for the container' },
  { long: 'sysctl', type: 'list', valueName: 'map', desc: 'Sysctl options' },
  { long: 'tmpfs', type: 'list', desc: 'Mount a tmpfs directory' },
  { long: 'tty', short: 't', type: 'bool', desc: 'Allocate a pseudo-TTY' },
  { long: 'ulimit', type: 'list', valueName: 'ulimit', desc: 'Ulimit options' },
  { long: 'user', short: 'u', type: 'string', desc: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { long: 'userns', type: 'string', desc: 'User namespace to use' },
  { long: 'uts', type: 'string', desc: 'UTS namespace to use' },
  { long: 'volume', short: 'v', type: 'list', desc: 'Bind mount a volume' },
  { long: 'volume-driver', type: 'string', desc: 'Optional volume driver for the container' },
  { long: 'volumes-from', type: 'list', desc: 'Mount volumes from the specified container(s)' },
  { long: 'workdir', short: 'w', type: 'string', desc: 'Working directory inside the container' },
  ...RESOURCE_FLAGS,
];

export const CREATE_FLAGS: FlagDef[] = RUN_FLAGS.filter(
  (d) => !['detach', 'detach-keys', 'rm', 'sig-proxy'].includes(d.long),
).concat([{ long: 'rm', type: 'bool', desc: 'Automatically remove the container when it exits' }]);

export class ConfigError extends Error {
  // flag/value set: a bad flag value, printed docker-style with the usage
  constructor(
    message: string,
    readonly flag?: string,
    readonly value?: string,
  ) {
    super(message);
  }
}
function flagErr(flag: string, value: string, msg: string): ConfigError {
  return new ConfigError(msg, flag, value);
}

export interface RunEnv {
  readFile: (path: string) => string; // throws with a message like "open X: no such file or directory"
  lookupEnv: (k: string) => string | undefined;
  consoleSize?: [number, number]; // [rows, cols] when stdout is a terminal
  cwd?: string; // relative bind sources (./dir) are resolved against it
}

export interface CreateRequest {
  name?: string;
  platform?: string;
  body: Record<string, unknown>;
  image: string;
  tty: boolean;
  openStdin: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  autoRemove: boolean;
  detach: boolean;
  detachKeys?: string;
  sigProxy: boolean;
  pull: 'always' | 'missing' | 'never';
  quiet: boolean;
}

type PortBinding = { HostIp: string; HostPort: string };

function parseRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ConfigError(`invalid ${what}: ${s}`);
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (a > 65535 || b > 65535 || b < a) throw new ConfigError(`invalid ${what}: ${s}`);
  return [a, b];
}

// nat.ParsePortSpec: [ip:][hostPort:]containerPort[/proto], ranges allowed.
export function parsePortSpec(spec: string): { port: string; binding: PortBinding }[] {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new ConfigError(`invalid proto: ${proto}`);
  let ip = '';
  let hostPart = '';
  let containerPart = rest;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new ConfigError(`invalid IP address: ${rest}`);
    ip = rest.slice(1, close);
    const after = rest.slice(close + 1);
    const parts = after.split(':');
    // after = ":host:container" or ":container"? docker requires host part with an IP
    if (parts.length === 3) {
      hostPart = parts[1];
      containerPart = parts[2];
    } else if (parts.length === 2) {
      containerPart = parts[1];
    } else throw new ConfigError(`invalid port format: ${spec}`);
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPart = parts[0];
    else if (parts.length === 2) {
      hostPart = parts[0];
      containerPart = parts[1];
    } else if (parts.length === 3) {
      ip = parts[0];
      hostPart = parts[1];
      containerPart = parts[2];
    } else {
      // IPv6 without brackets: last two are host:container
      containerPart = parts[parts.length - 1];
      hostPart = parts[parts.length - 2];
      ip = parts.slice(0, -2).join(':');
    }
  }
  if (ip && !isIP(ip)) throw new ConfigError(`invalid IP address: ${ip}`);
  if (!containerPart) throw new ConfigError(`no port specified: ${spec}<empty>`);
  const [cs, ce] = parseRange(containerPart, 'containerPort');
  let hs = 0;
  let he = 0;
  if (hostPart) {
    [hs, he] = parseRange(hostPart, 'hostPort');
  }
  if (hostPart && he - hs !== ce - cs && he !== hs)
    throw new ConfigError(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let i = 0; i <= ce - cs; i++) {
    let hostPort = '';
    if (hostPart) {
      if (he !== hs) hostPort = String(hs + i);
      else if (ce !== cs)
        hostPort = `${hs}`; // single host port for a range: let the daemon decide
      else hostPort = String(hs);
    }
    out.push({ port: `${cs + i}/${proto}`, binding: { HostIp: ip, HostPort: hostPort } });
  }
  return out;
}

function parseExpose(spec: string): string[] {
  let proto = 'tcp';
  let rest = spec;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  const [a, b] = parseRange(rest, 'range format for --expose');
  const out: string[] = [];
  for (let p = a; p <= b; p++) out.push(`${p}/${proto}`);
  return out;
}

// --mount type=bind,source=/a,target=/b,readonly
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  let bindOpts: Record<string, unknown> | undefined;
  let volOpts: Record<string, unknown> | undefined;
  let tmpfsOpts: Record<string, unknown> | undefined;
  const volLabels: Record<string, string> = {};
  for (const field of spec.split(',')) {
    if (!field) continue;
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).trim().toLowerCase();
    if (eq < 0 && !['readonly', 'ro', 'bind-nonrecursive', 'volume-nocopy', 'bind-create-host-path'].includes(key))
      throw new ConfigError(`invalid field '${field}' must be a key=value pair`);
    const val = eq >= 0 ? field.slice(eq + 1) : undefined;
    const boolVal = (): boolean => {
      if (val === undefined) return true;
      if (['1', 'true', 'True', 'TRUE', 't'].includes(val)) return true;
      if (['0', 'false', 'False', 'FALSE', 'f'].includes(val)) return false;
      throw new ConfigError(`invalid value for ${key}: ${val}`);
    };
    switch (key) {
      case 'type':
        m.Type = val;
        break;
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = boolVal();
        break;
      case 'consistency':
        m.Consistency = val;
        break;
      case 'bind-propagation':
        (bindOpts ??= {}).Propagation = val;
        break;
      case 'bind-nonrecursive':
        (bindOpts ??= {}).NonRecursive = boolVal();
        break;
      case 'bind-create-host-path':
        (bindOpts ??= {}).CreateMountpoint = boolVal();
        break;
      case 'volume-nocopy':
        (volOpts ??= {}).NoCopy = boolVal();
        break;
      case 'volume-subpath':
        (volOpts ??= {}).Subpath = val;
        break;
      case 'volume-label': {
        const [k, ...v] = (val ?? '').split('=');
        volLabels[k] = v.join('=');
        break;
      }
      case 'volume-driver':
        (volOpts ??= {}).DriverConfig = { Name: val };
        break;
      case 'tmpfs-size':
        (tmpfsOpts ??= {}).SizeBytes = ramInBytes(val ?? '');
        break;
      case 'tmpfs-mode':
        (tmpfsOpts ??= {}).Mode = parseInt(val ?? '0', 8);
        break;
      default:
        throw new ConfigError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (Object.keys(volLabels).length) (volOpts ??= {}).Labels = volLabels;
  if (!m.Target) throw new ConfigError('target is required');
  if (bindOpts) m.BindOptions = bindOpts;
  if (volOpts) m.VolumeOptions = volOpts;
  if (tmpfsOpts) m.TmpfsOptions = tmpfsOpts;
  if (m.Type === 'bind' && !m.Source) throw new ConfigError('source is required when specifying volume-driver');
  return m;
}

export function parseUlimit(spec: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) throw new ConfigError(`invalid ulimit argument: ${spec}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1)
    throw new ConfigError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1], Soft: soft, Hard: hard };
}

function pullPolicy(s: string): 'always' | 'missing' | 'never' {
  if (s === '' || s === 'missing') return 'missing';
  if (s === 'always' || s === 'never') return s;
  throw new ConfigError(`invalid pull option: '${s}': must be one of "always", "missing" or "never"`);
}

export function parseRestart(s: string): { Name: string; MaximumRetryCount: number } {
  if (!s) return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count, ...rest] = s.split(':');
  if (rest.length) throw new ConfigError(`invalid restart policy format: ${s}`);
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name))
    throw new ConfigError(
      `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  if (count !== undefined) {
    if (name !== 'on-failure')
      throw new ConfigError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    if (!/^\d+$/.test(count))
      throw new ConfigError(`invalid restart policy format: maximum retry count must be an integer`);
    return { Name: name, MaximumRetryCount: Number(count) };
  }
  return { Name: name, MaximumRetryCount: 0 };
}

function validateAddHost(s: string): string {
  // host:ip or host=ip (docker 25+); IPv6 addresses contain colons, so split on the first one.
  let i = s.indexOf('=');
  if (i < 0) i = s.indexOf(':');
  if (i <= 0 || i === s.length - 1) throw new ConfigError(`bad format for add-host: "${s}"`);
  let ip = s.slice(i + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  return `${s.slice(0, i)}:${ip}`;
}

function parseDevice(s: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = s.split(':');
  const host = parts[0];
  let ctr = host;
  let perms = 'rwm';
  if (parts.length >= 2) {
    if (/^[rwm]+$/.test(parts[1]) && parts.length === 2) perms = parts[1];
    else ctr = parts[1];
  }
  if (parts.length >= 3) perms = parts[2];
  return { PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms };
}

function toNanoSeconds(s: string, flag: string): number {
  if (!s) return 0;
  const ns = parseGoDuration(s);
  if (ns === undefined)
    throw new ConfigError(`invalid argument "${s}" for "${flag}" flag: time: invalid duration "${s}"`);
  return ns;
}

function blkioAndCfs(o: Opts): Record<string, unknown> {
  try {
    return resourceFields(o);
  } catch (e) {
    if (e instanceof ResourceFlagError) throw flagErr(e.flag, e.value, e.message);
    throw e;
  }
}

function bytesOpt(o: Opts, name: string, label: string): number {
  const s = o.str(name);
  if (!s) return 0;
  if (s === '-1' && name === 'memory-swap') return -1;
  try {
    return ramInBytes(s);
  } catch (e) {
    throw flagErr(label, s, (e as Error).message);
  }
}

// Builds the create request from parsed run/create flags. args[0] is the image, the rest the command.
export function buildCreateRequest(o: Opts, env: RunEnv, isRun: boolean): CreateRequest {
  const args = o.args;
  if (args.length < 1) throw new ConfigError('requires at least 1 argument');
  const image = args[0];
  const cmd = args.slice(1);
  const detach = isRun && o.bool('detach');
  const tty = o.bool('tty');
  const openStdin = o.bool('interactive');
  const attach = o.list('attach').map((s) => s.toLowerCase());
  for (const a of attach)
    if (!['stdin', 'stdout', 'stderr'].includes(a))
      throw flagErr('-a, --attach', a, 'valid streams are STDIN, STDOUT and STDERR');
  if (detach && attach.length) throw new ConfigError('Conflicting options: -a and -d');
  let attachStdin = attach.includes('stdin') || openStdin;
  let attachStdout = attach.includes('stdout') || attach.length === 0;
  let attachStderr = attach.includes('stderr') || attach.length === 0;
  if (detach) {
    attachStdin = false;
    attachStdout = false;
    attachStderr = false;
  }
  const stdinOnce = openStdin && attachStdin;

  // env: files first, then -e
  const envList: string[] = [];
  for (const f of o.list('env-file')) {
    let content: string;
    try {
      content = env.readFile(f);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    try {
      envList.push(...parseEnvFile(content, f, env.lookupEnv));
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  for (const e of o.list('env')) {
    try {
      envList.push(resolveEnvArg(e, env.lookupEnv));
    } catch (err) {
      throw flagErr('-e, --env', e, (err as Error).message);
    }
  }
  const labelList: string[] = [];
  for (const f of o.list('label-file')) {
    let content: string;
    try {
      content = env.readFile(f);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    try {
      labelList.push(...parseEnvFile(content, f));
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  labelList.push(...o.list('label'));

  // ports
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of o.list('publish')) {
    for (const { port, binding } of parsePortSpec(p)) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  for (const e of o.list('expose')) for (const port of parseExpose(e)) exposed[port] = {};

  // volumes
  const volumes: Record<string, Record<string, never>> = {};
  const binds: string[] = [];
  for (const v of o.list('volume')) {
    const parts = v.split(':');
    if (parts.length === 1) {
      if (!v.startsWith('/')) throw new ConfigError(`invalid volume specification: '${v}'`);
      volumes[v] = {};
    } else {
      if (parts.length > 3 || parts[1] === '') throw new ConfigError(`invalid volume specification: '${v}'`);
      // docker resolves a relative host path (./dir, ../dir, .) against the current directory
      if (
        env.cwd &&
        (parts[0] === '.' || parts[0] === '..' || parts[0].startsWith('./') || parts[0].startsWith('../'))
      ) {
        parts[0] = resolvePath(env.cwd, parts[0]);
        binds.push(parts.join(':'));
      } else binds.push(v);
    }
  }
  const mounts = o.list('mount').map((m) => {
    let mt: Record<string, unknown>;
    try {
      mt = parseMount(m);
    } catch (e) {
      throw flagErr('--mount', m, (e as Error).message);
    }
    if (mt.Type === 'bind' && env.cwd && typeof mt.Source === 'string' && !mt.Source.startsWith('/'))
      mt.Source = resolvePath(env.cwd, mt.Source);
    return mt;
  });
  const tmpfs: Record<string, string> = {};
  for (const t of o.list('tmpfs')) {
    const i = t.indexOf(':');
    if (i >= 0) tmpfs[t.slice(0, i)] = t.slice(i + 1);
    else tmpfs[t] = '';
  }
  const ulimits = o.list('ulimit').map((u) => {
    try {
      return parseUlimit(u);
    } catch (e) {
      throw flagErr('--ulimit', u, (e as Error).message);
    }
  });
  const restart = parseRestart(o.str('restart'));
  const autoRemove = o.bool('rm');
  if (autoRemove && restart.Name !== 'no' && restart.Name !== '')
    throw new ConfigError('Conflicting options: --restart and --rm');

  const network = o.str('network') || o.str('net') || 'default';

  let entrypoint: string[] | null = null;
  if (o.has('entrypoint')) entrypoint = [o.str('entrypoint')];

  const sysctls: Record<string, string> = {};
  for (const s of o.list('sysctl')) {
    const i = s.indexOf('=');
    if (i <= 0) throw new ConfigError(`invalid argument "${s}" for "--sysctl" flag: sysctl '${s}' is not allowed`);
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  const logConfig: Record<string, string> = {};
  // As docker: a log opt without '=' is a key with an empty value (the daemon refuses what it cannot honour).
  for (const s of o.list('log-opt')) {
    const i = s.indexOf('=');
    if (i < 0) logConfig[s] = '';
    else logConfig[s.slice(0, i)] = s.slice(i + 1);
  }
  if (o.str('log-driver') === 'none' && Object.keys(logConfig).length)
    throw new ConfigError('invalid logging opts for driver none');
  const storageOpt: Record<string, string> = {};
  for (const s of o.list('storage-opt')) {
    const i = s.indexOf('=');
    if (i <= 0) throw new ConfigError('invalid storage option');
    storageOpt[s.slice(0, i)] = s.slice(i + 1);
  }

  let healthcheck: Record<string, unknown> | undefined;
  if (o.bool('no-healthcheck')) healthcheck = { Test: ['NONE'] };
  else if (
    o.has('health-cmd') ||
    o.has('health-interval') ||
    o.has('health-timeout') ||
    o.has('health-retries') ||
    o.has('health-start-period')
  ) {
    healthcheck = {
      Test: o.has('health-cmd') ? ['CMD-SHELL', o.str('health-cmd')] : [],
      Interval: toNanoSeconds(o.str('health-interval'), '--health-interval'),
      Timeout: toNanoSeconds(o.str('health-timeout'), '--health-timeout'),
      StartPeriod: toNanoSeconds(o.str('health-start-period'), '--health-start-period'),
      Retries: o.num('health-retries') ?? 0,
    };
  }

  let cpus = 0;
  if (o.str('cpus')) {
    cpus = Number(o.str('cpus'));
    if (!/^\d*\.?\d+$|^\d+\.$/.test(o.str('cpus')) || !Number.isFinite(cpus))
      throw flagErr('--cpus', o.str('cpus'), `failed to parse ${o.str('cpus')} as a rational number`);
  }
  const config: Record<string, unknown> = {
    Hostname: o.str('hostname'),
    Domainname: o.str('domainname'),
    User: o.str('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: tty,
    OpenStdin: openStdin,
    StdinOnce: detach ? false : stdinOnce,
    Env: envList.length ? envList : null,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: volumes,
    WorkingDir: o.str('workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: labelsToMap(labelList),
  };
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;
  if (o.has('stop-signal')) config.StopSignal = o.str('stop-signal');
  if (o.has('stop-timeout')) config.StopTimeout = o.num('stop-timeout');
  if (o.has('mac-address')) config.MacAddress = o.str('mac-address');
  if (healthcheck) config.Healthcheck = healthcheck;

  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: o.str('cidfile'),
    LogConfig: { Type: o.str('log-driver'), Config: logConfig },
    NetworkMode: network,
    PortBindings: bindings,
    RestartPolicy: restart,
    AutoRemove: autoRemove,
    VolumeDriver: o.str('volume-driver'),
    VolumesFrom: o.list('volumes-from').length ? o.list('volumes-from') : null,
    ConsoleSize: tty && env.consoleSize ? env.consoleSize : [0, 0],
    CapAdd: o.list('cap-add').length ? o.list('cap-add') : null,
    CapDrop: o.list('cap-drop').length ? o.list('cap-drop') : null,
    CgroupnsMode: o.str('cgroupns'),
    Dns: o.list('dns'),
    DnsOptions: o.list('dns-option'),
    DnsSearch: o.list('dns-search'),
    ExtraHosts: o.list('add-host').length
      ? o.list('add-host').map((h) => {
          try {
            return validateAddHost(h);
          } catch (e) {
            throw flagErr('--add-host', h, (e as Error).message);
          }
        })
      : null,
    GroupAdd: o.list('group-add').length ? o.list('group-add') : null,
    IpcMode: o.str('ipc'),
    Cgroup: '',
    Links: o.list('link').length ? o.list('link') : null,
    OomScoreAdj: o.num('oom-score-adj') ?? 0,
    PidMode: o.str('pid'),
    Privileged: o.bool('privileged'),
    PublishAllPorts: o.bool('publish-all'),
    ReadonlyRootfs: o.bool('read-only'),
    SecurityOpt: o.list('security-opt').length ? o.list('security-opt') : null,
    StorageOpt: Object.keys(storageOpt).length ? storageOpt : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: o.str('uts'),
    UsernsMode: o.str('userns'),
    ShmSize: bytesOpt(o, 'shm-size', '--shm-size'),
    Sysctls: Object.keys(sysctls).length ? sysctls : undefined,
    Runtime: o.str('runtime') || undefined,
    Isolation: o.str('isolation'),
    CpuShares: o.num('cpu-shares') ?? 0,
    Memory: bytesOpt(o, 'memory', '-m, --memory'),
    NanoCpus: cpus ? Math.round(cpus * 1e9) : 0,
    CgroupParent: o.str('cgroup-parent'),
    CpusetCpus: o.str('cpuset-cpus'),
    CpusetMems: o.str('cpuset-mems'),
    Devices: o.list('device').map(parseDevice),
    MemoryReservation: bytesOpt(o, 'memory-reservation', '--memory-reservation'),
    MemorySwap: bytesOpt(o, 'memory-swap', '--memory-swap'),
    MemorySwappiness: o.num('memory-swappiness') ?? -1,
    OomKillDisable: o.bool('oom-kill-disable'),
    PidsLimit: o.has('pids-limit') ? o.num('pids-limit') : 0,
    Ulimits: ulimits,
    Mounts: mounts.length ? mounts : undefined,
    ...blkioAndCfs(o),
  };
  if (o.has('init')) hostConfig.Init = o.bool('init');
  for (const k of Object.keys(hostConfig)) if (hostConfig[k] === undefined) delete hostConfig[k];

  const endpoint: Record<string, unknown> = {};
  if (o.list('network-alias').length) endpoint.Aliases = o.list('network-alias');
  if (o.has('ip') || o.has('ip6'))
    endpoint.IPAMConfig = {
      ...(o.has('ip') ? { IPv4Address: o.str('ip') } : {}),
      ...(o.has('ip6') ? { IPv6Address: o.str('ip6') } : {}),
    };
  const networkingConfig = { EndpointsConfig: { [network]: endpoint } };

  return {
    name: o.has('name') ? o.str('name') : undefined,
    platform: o.has('platform') ? o.str('platform') : undefined,
    body: { ...config, HostConfig: hostConfig, NetworkingConfig: networkingConfig },
    image,
    tty,
    openStdin,
    attachStdin,
    attachStdout,
    attachStderr,
    autoRemove,
    detach,
    detachKeys: o.has('detach-keys') ? o.str('detach-keys') : undefined,
    sigProxy: o.bool('sig-proxy'),
    pull: pullPolicy(o.str('pull')),
    quiet: o.bool('quiet'),
  };
}
