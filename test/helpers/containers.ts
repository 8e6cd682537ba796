// Container calls through the Docker Engine API, shaped like the docker CLI's requests. Each one
// asserts the status it expects and throws with the daemon's message otherwise.
import { demux, type Daemon, type Json, type ApiResponse } from './daemon.js';

export class ApiError extends Error {
  constructor(
    public what: string,
    public r: ApiResponse,
  ) {
    super(`${what} -> ${r.status} ${r.body.slice(0, 500)}`);
  }
}

function expect(r: ApiResponse, what: string, ...ok: number[]): ApiResponse {
  if (!ok.includes(r.status)) throw new ApiError(what, r);
  return r;
}

export interface CreateOpts {
  name?: string;
  cmd?: string[];
  image?: string;
  env?: string[];
  tty?: boolean;
  openStdin?: boolean;
  labels?: Record<string, string>;
  workingDir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string[];
  stopSignal?: string;
  stopTimeout?: number;
  hostConfig?: Json;
  /** Extra Config fields. */
  extra?: Json;
}

export function createBody(o: CreateOpts): Json {
  return {
    Hostname: o.hostname ?? '',
    Domainname: '',
    User: o.user ?? '',
    AttachStdin: !!o.openStdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: !!o.tty,
    OpenStdin: !!o.openStdin,
    StdinOnce: !!o.openStdin,
    Env: o.env ?? null,
    Cmd: o.cmd ?? null,
    Image: o.image ?? 'busybox',
    Volumes: {},
    WorkingDir: o.workingDir ?? '',
    Entrypoint: o.entrypoint ?? null,
    Labels: o.labels ?? {},
    ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
    ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
    HostConfig: {
      NetworkMode: 'default',
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      ...o.hostConfig,
    },
    NetworkingConfig: { EndpointsConfig: {} },
    ...o.extra,
  };
}

export async function create(d: Daemon, o: CreateOpts = {}): Promise<string> {
  const q = o.name ? `?name=${encodeURIComponent(o.name)}` : '';
  const r = expect(await d.api('POST', `/v1.41/containers/create${q}`, createBody(o)), `create ${o.name ?? ''}`, 201);
  if (typeof r.json?.Id !== 'string' || !/^[0-9a-f]{64}$/.test(r.json.Id))
    throw new ApiError('create: Id is not 64 hex digits', r);
  return r.json.Id;
}

export async function start(d: Daemon, id: string): Promise<void> {
  expect(await d.api('POST', `/v1.41/containers/${id}/start`), `start ${id}`, 204);
}

/** POST /wait: resolves with StatusCode when the condition is met. */
export async function wait(d: Daemon, id: string, condition?: string, timeoutMs = 60_000): Promise<number> {
  const r = expect(
    await d.api('POST', `/v1.41/containers/${id}/wait${condition ? `?condition=${condition}` : ''}`, undefined, {
      timeoutMs,
    }),
    `wait ${id}`,
    200,
  );
  if (typeof r.json?.StatusCode !== 'number') throw new ApiError('wait: no StatusCode', r);
  return r.json.StatusCode;
}

export async function inspect(d: Daemon, id: string): Promise<Json> {
  return expect(await d.api('GET', `/v1.41/containers/${id}/json`), `inspect ${id}`, 200).json;
}

export async function logs(
  d: Daemon,
  id: string,
  query = 'stdout=1&stderr=1',
): Promise<{ stdout: string; stderr: string; raw: Buffer }> {
  const r = expect(await d.api('GET', `/v1.41/containers/${id}/logs?${query}`), `logs ${id}`, 200);
  return { ...demux(r.raw), raw: r.raw };
}

export async function rm(d: Daemon, id: string, force = true): Promise<void> {
  expect(await d.api('DELETE', `/v1.41/containers/${id}?force=${force ? 1 : 0}`), `rm ${id}`, 204, 404);
}

export async function list(d: Daemon, query = 'all=1'): Promise<Json[]> {
  return expect(await d.api('GET', `/v1.41/containers/json?${query}`), 'ps', 200).json;
}

/** create + start + wait + logs, like `docker run` without attaching. */
export async function runToEnd(
  d: Daemon,
  o: CreateOpts,
): Promise<{ id: string; code: number; stdout: string; stderr: string }> {
  const id = await create(d, o);
  await start(d, id);
  const code = await wait(d, id);
  const l = await logs(d, id);
  return { id, code, stdout: l.stdout, stderr: l.stderr };
}

/** create + start a long-running container (default: sleep 600). */
export async function runDetached(d: Daemon, o: CreateOpts = {}): Promise<string> {
  const id = await create(d, { cmd: ['sleep', '600'], ...o });
  await start(d, id);
  return id;
}

/** Runs a command in a running container (exec create + start without upgrade); returns its output and exit code. */
export async function exec(
  d: Daemon,
  id: string,
  cmd: string[],
  extra: Json = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = expect(
    await d.api('POST', `/v1.41/containers/${id}/exec`, {
      User: '',
      Privileged: false,
      Tty: false,
      AttachStdin: false,
      AttachStderr: true,
      AttachStdout: true,
      Detach: false,
      DetachKeys: '',
      Env: null,
      WorkingDir: '',
      Cmd: cmd,
      ...extra,
    }),
    `exec create ${cmd.join(' ')}`,
    201,
  );
  const eid = c.json.Id as string;
  const s = expect(
    await d.api('POST', `/v1.41/exec/${eid}/start`, { Detach: false, Tty: false }),
    `exec start ${eid}`,
    200,
    101,
  );
  const out = demux(s.raw);
  const i = expect(await d.api('GET', `/v1.41/exec/${eid}/json`), `exec inspect ${eid}`, 200);
  return { code: i.json.ExitCode, stdout: out.stdout, stderr: out.stderr };
}

export function procStatusField(status: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(status);
  if (!m) throw new Error(`${field} not in /proc/self/status:\n${status}`);
  return m[1];
}
