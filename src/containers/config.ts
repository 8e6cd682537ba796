// Pure rules for container creation: name validation, docker's merge of the create body with the
// image config, restart policies, signals and the human status line (`Up 5 minutes`). No I/O.
import { constants } from 'node:os';
import { InvalidArgument } from '../core/errors.js';
import type { ImageRecord } from '../images/types.js';
import type { ContainerConfig, ContainerState, HostConfig, RestartPolicy } from './types.js';
import { mergeEnv } from './user.js';
import { humanDuration } from '../units/go-units.js';
import { checkHostConfig, type HostFacts } from './hostconfig.js';
import { healthSuffix, mergeHealthcheck, validateHealthcheck } from './healthcheck.js';

export const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name))
    throw new InvalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}

export interface CreateBody extends Partial<Omit<ContainerConfig, 'Labels'>> {
  Labels?: Record<string, string> | null;
  HostConfig?: Partial<HostConfig> | null;
  NetworkingConfig?: unknown;
}

export interface MergedConfig {
  config: ContainerConfig;
  hostConfig: HostConfig;
  path: string;
  args: string[];
}

const RESTART_NAMES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

export function validateRestartPolicy(
  p: Partial<RestartPolicy> | undefined | null,
  autoRemove: boolean,
): RestartPolicy {
  const name = (p?.Name ?? '') as RestartPolicy['Name'];
  if (!RESTART_NAMES.includes(name)) throw new InvalidArgument(`invalid restart policy '${name}'`);
  const max = p?.MaximumRetryCount ?? 0;
  if (max < 0) throw new InvalidArgument('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure')
    throw new InvalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (autoRemove && name !== '' && name !== 'no')
    throw new InvalidArgument(`can't create 'AutoRemove' container with restart policy`);
  return { Name: name, MaximumRetryCount: max };
}

/** Docker's merge: the create body overrides the image; Entrypoint given without Cmd drops the image's Cmd. */
export function mergeConfig(
  body: CreateBody,
  image: ImageRecord,
  id: string,
  host: HostFacts = { swapLimit: true },
): MergedConfig {
  const img = image.config;
  if (!body.Image) throw new InvalidArgument('No image specified');
  const entrypoint = body.Entrypoint != null ? body.Entrypoint : (img.Entrypoint ?? null);
  let cmd = body.Cmd?.length ? body.Cmd : null;
  if (!cmd && body.Entrypoint == null) cmd = img.Cmd ?? null;
  const ep = (entrypoint ?? []).filter((x, i) => !(i === 0 && x === '' && entrypoint!.length === 1));
  const argv = [...ep, ...(cmd ?? [])];
  if (argv.length === 0) throw new InvalidArgument('No command specified');
  const env = mergeEnv(img.Env ?? [], body.Env ?? [], { keepBare: true });
  const hc = body.HostConfig ?? {};
  const autoRemove = !!hc.AutoRemove;
  const networkMode = hc.NetworkMode || 'default';
  const config: ContainerConfig = {
    Hostname: body.Hostname || (networkMode === 'host' ? '' : id.slice(0, 12)),
    Domainname: body.Domainname ?? '',
    User: body.User || img.User || '',
    AttachStdin: !!body.AttachStdin,
    AttachStdout: !!body.AttachStdout,
    AttachStderr: !!body.AttachStderr,
    Tty: !!body.Tty,
    OpenStdin: !!body.OpenStdin,
    StdinOnce: !!body.StdinOnce,
    Env: env,
    Cmd: cmd,
    Image: body.Image,
    Volumes: { ...(img.Volumes ?? {}), ...(body.Volumes ?? {}) },
    WorkingDir: body.WorkingDir || img.WorkingDir || '',
    Entrypoint: entrypoint,
    Labels: { ...(img.Labels ?? {}), ...(body.Labels ?? {}) },
    ExposedPorts: { ...(img.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) },
  };
  const stopSignal = body.StopSignal || img.StopSignal;
  if (stopSignal) {
    signalNumber(stopSignal);
    config.StopSignal = stopSignal;
  }
  if (body.StopTimeout != null) config.StopTimeout = body.StopTimeout;
  const healthcheck = mergeHealthcheck(body.Healthcheck, img.Healthcheck);
  validateHealthcheck(healthcheck);
  if (healthcheck) config.Healthcheck = healthcheck;
  if (body.MacAddress) config.MacAddress = body.MacAddress;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/'))
    throw new InvalidArgument(
      `the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`,
    );
  const hostConfig: HostConfig = {
    ...hc,
    ...checkHostConfig(hc, networkMode, host),
    NetworkMode: networkMode,
    RestartPolicy: validateRestartPolicy(hc.RestartPolicy, autoRemove),
    AutoRemove: autoRemove,
    Privileged: !!hc.Privileged,
    ReadonlyRootfs: !!hc.ReadonlyRootfs,
    Runtime: hc.Runtime || 'runc',
  };
  return { config, hostConfig, path: argv[0], args: argv.slice(1) };
}

/** Signal names (KILL, SIGKILL, kill) or numbers -> the signal number; throws InvalidArgument. */
export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number' || /^\d+$/.test(String(sig))) {
    const n = Number(sig);
    if (n > 0 && n <= 64) return n;
    throw new InvalidArgument(`Invalid signal: ${sig}`);
  }
  const name = String(sig).toUpperCase();
  const full = name.startsWith('SIG') ? name : 'SIG' + name;
  const n = (constants.signals as Record<string, number>)[full];
  if (n === undefined) throw new InvalidArgument(`Invalid signal: ${sig}`);
  return n;
}

/** The STATUS column of `docker ps`: "Up 5 minutes", "Exited (0) 2 seconds ago", "Created". */
export function statusLine(st: ContainerState, now = Date.now()): string {
  switch (st.Status) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${humanDuration(now - Date.parse(st.StartedAt))}${healthSuffix(st.Health)}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(st.StartedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${st.ExitCode}) ${humanDuration(now - Date.parse(st.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return `Exited (${st.ExitCode}) ${humanDuration(now - Date.parse(st.FinishedAt))} ago`;
  }
}

/** Restart decision after an exit that nobody asked for; returns the delay in ms or null. */
export function restartDelay(
  p: RestartPolicy,
  exitCode: number,
  restartCount: number,
  manuallyStopped: boolean,
): number | null {
  if (manuallyStopped) return null;
  switch (p.Name) {
    case 'always':
    case 'unless-stopped':
      break;
    case 'on-failure':
      if (exitCode === 0) return null;
      if (p.MaximumRetryCount > 0 && restartCount >= p.MaximumRetryCount) return null;
      break;
    default:
      return null;
  }
  return Math.min(100 * 2 ** restartCount, 60_000);
}

/** RFC3339 with nanoseconds, as docker writes times: 2026-11-29T03:54:05.869604570Z. */
export function isoFromNs(ns: bigint): string {
  const ms = ns / 1000000n;
  const frac = String(ns % 1000000000n).padStart(9, '0');
  return new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

const hrBase = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
/** The current time with nanoseconds (a monotonic clock anchored to the wall clock at load). */
let secOf = -1;
let secIso = '';
export function nowNano(): string {
  // isoFromNs with the whole second's text cached (a healthcheck probe takes two of these)
  const ns = hrBase + process.hrtime.bigint();
  const sec = Number(ns / 1000000000n);
  if (sec !== secOf) {
    secOf = sec;
    secIso = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  return `${secIso}.${String(ns % 1000000000n).padStart(9, '0')}Z`;
}

const ADJ = [
  'admiring',
  'bold',
  'brave',
  'busy',
  'clever',
  'cool',
  'eager',
  'elated',
  'focused',
  'gallant',
  'happy',
  'jolly',
  'keen',
  'kind',
  'lucid',
  'modest',
  'nifty',
  'quirky',
  'serene',
  'sharp',
  'stoic',
  'tender',
  'vibrant',
  'wizardly',
  'zealous',
];
const NOUNS = [
  'albattani',
  'babbage',
  'curie',
  'darwin',
  'euclid',
  'fermat',
  'galileo',
  'hopper',
  'hypatia',
  'kepler',
  'lovelace',
  'meitner',
  'newton',
  'noether',
  'pascal',
  'ritchie',
  'shannon',
  'thompson',
  'turing',
  'wozniak',
];
export function randomName(retry: number): string {
  const n = `${ADJ[Math.floor(Math.random() * ADJ.length)]}_${NOUNS[Math.floor(Math.random() * NOUNS.length)]}`;
  return retry > 0 ? `${n}${Math.floor(Math.random() * 10)}` : n;
}
