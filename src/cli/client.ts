// The CLI's Docker Engine API client: HTTP/1.1 over the daemon's unix socket (or tcp://),
// keep-alive for sequential calls, API version negotiation through HEAD /_ping, hijacked
// (101 Upgrade) streams for attach and exec, and auto-start of the local daemon.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { openSync, closeSync, mkdirSync } from 'node:fs';

export const DEFAULT_SOCKET = '/run/cocon/cocon.sock';
// COCON_CLI_TRACE=1: log each API call with its latency (and the time since start) on stderr.
const TRACE = !!process.env.COCON_CLI_TRACE;
function trace(msg: string): void {
  process.stderr.write(`[cli ${performance.now().toFixed(1)}ms] ${msg}\n`);
}
export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET}`;
export const CLIENT_API_VERSION = '1.41';
const USER_AGENT = 'cocon-cli/0.1.0 (linux)';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
export class ConnectError extends Error {}

export interface Endpoint {
  socketPath?: string;
  hostname?: string;
  port?: number;
  display: string;
  isDefault: boolean;
}

export function resolveEndpoint(hostFlag: string | undefined, env: NodeJS.ProcessEnv): Endpoint {
  const given = hostFlag || env.DOCKER_HOST || env.COCON_HOST;
  const h = given || DEFAULT_HOST;
  const isDefault = !given;
  if (h.startsWith('unix://')) return { socketPath: h.slice(7), display: h, isDefault };
  if (h.startsWith('/')) return { socketPath: h, display: `unix://${h}`, isDefault };
  const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(h);
  if (m) return { hostname: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375, display: h, isDefault };
  throw new ConnectError(`unable to parse docker host \`${h}\``);
}

export type QueryValue = string | number | boolean | string[] | undefined | null;
export type Query = Record<string, QueryValue>;

export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v === undefined || v === null) continue;
    const vals = Array.isArray(v) ? v : [typeof v === 'boolean' ? (v ? '1' : '0') : String(v)];
    for (const x of vals) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

// Path segments (container names, image references) go in unescaped like docker does, except
// for characters that would break the URL.
export function pathSeg(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~:/@+=]/g, (c) => encodeURIComponent(c));
}

export interface RequestOptions {
  query?: Query;
  body?: unknown; // JSON-encoded
  raw?: Readable | Buffer; // sent as is (chunked when a stream)
  contentType?: string;
  headers?: Record<string, string>;
}

export interface HijackedStream {
  input: Readable; // bytes from the daemon
  write(b: Buffer): boolean; // false: wait for 'drain' (onDrain) before writing more
  onDrain(cb: () => void): void;
  closeWrite(): void; // half-close (shutdown SHUT_WR)
  destroy(): void;
}

function versionLess(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

function errorMessage(body: Buffer, status: number): string {
  const text = body.toString('utf8').trim();
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j && typeof j.message === 'string') return j.message;
  } catch {
    /* not JSON */
  }
  return text || `${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
}

export class Client {
  readonly agent: http.Agent;
  version = CLIENT_API_VERSION;
  serverVersionHeader: string | undefined;
  private pinned: string | undefined;

  constructor(
    readonly endpoint: Endpoint,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.agent = new http.Agent({ keepAlive: true });
    this.pinned = env.DOCKER_API_VERSION || undefined;
  }

  private baseOptions(): http.RequestOptions {
    const e = this.endpoint;
    // servername '' (TLS only): spares the http agent its isIP() check of the host, whose IPv6
    // regular expression takes V8 tens of ms to compile in a CLI that runs for a few hundred.
    const unix = { socketPath: e.socketPath, servername: '' };
    return e.socketPath ? unix : { hostname: e.hostname, port: e.port };
  }

  private connectError(err: NodeJS.ErrnoException): Error {
    if (
      ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE'].includes(
        err.code ?? '',
      )
    ) {
      if (err.code === 'EACCES')
        return new ConnectError(
          `permission denied while trying to connect to the cocon daemon socket at ${this.endpoint.display}`,
        );
      return new ConnectError(
        `Cannot connect to the cocon daemon at ${this.endpoint.display}. Is the cocon daemon running?`,
      );
    }
    return err;
  }

  // Raw request; resolves with the response once headers arrive (body unread).
  send(
    method: string,
    fullPath: string,
    opts: RequestOptions = {},
    agent: http.Agent | false = this.agent,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        Host: 'api.moby.localhost',
        'User-Agent': USER_AGENT,
        ...(opts.headers ?? {}),
      };
      let payload: Buffer | undefined;
      if (opts.body !== undefined) {
        payload = Buffer.from(JSON.stringify(opts.body) + '\n');
        headers['Content-Type'] = opts.contentType ?? 'application/json';
      } else if (Buffer.isBuffer(opts.raw)) {
        payload = opts.raw;
        headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
      } else if (opts.raw) {
        headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
        headers['Transfer-Encoding'] = 'chunked';
      }
      if (payload) headers['Content-Length'] = payload.length;
      else if (!opts.raw && method !== 'GET' && method !== 'HEAD') headers['Content-Length'] = 0;
      const req = http.request({ ...this.baseOptions(), method, path: fullPath, headers, agent });
      if (TRACE) {
        const t0 = performance.now();
        req.on('response', (r) =>
          trace(`${method} ${fullPath} -> ${r.statusCode} ${(performance.now() - t0).toFixed(1)}ms`),
        );
      }
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.connectError(e)));
      if (payload) req.end(payload);
      else if (opts.raw && !Buffer.isBuffer(opts.raw)) {
        opts.raw.on('error', (e) => req.destroy(e));
        opts.raw.pipe(req);
      } else req.end();
    });
  }

  path(p: string, q?: Query): string {
    return `/v${this.version}${p}${encodeQuery(q)}`;
  }

  async ping(): Promise<void> {
    let res = await this.send('HEAD', '/_ping');
    res.resume();
    if (res.statusCode === 405) {
      res = await this.send('GET', '/_ping');
      await readAll(res);
    }
    const v = res.headers['api-version'];
    this.serverVersionHeader = typeof v === 'string' ? v : undefined;
    if (this.pinned) {
      this.version = this.pinned.replace(/^v/, '');
      return;
    }
    const sv = typeof v === 'string' && v ? v : '1.24';
    this.version = versionLess(sv, CLIENT_API_VERSION) ? sv : CLIENT_API_VERSION;
  }

  // Starts the local daemon when the default socket does not answer.
  async connect(autoStart: boolean): Promise<void> {
    try {
      await this.ping();
      return;
    } catch (e) {
      if (!(e instanceof ConnectError) || !autoStart || !this.endpoint.isDefault) throw e;
    }
    await this.spawnDaemon();
    const deadline = Date.now() + 10000;
    let last: unknown;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        await this.ping();
        return;
      } catch (e) {
        last = e;
      }
    }
    const why =
      last instanceof Error
        ? last.message
        : `Cannot connect to the cocon daemon at ${this.endpoint.display}. Is the cocon daemon running?`;
    throw new ConnectError(`${why} (started it, but it did not answer within 10 s; see /var/log/cocon.log)`);
  }

  // The CLI's own entry (dist/bundle/cocon.js, or dist/src/cli/main.js) with `daemon`; child_process
  // is loaded only here, so that other CLI calls do not pay for it.
  private async spawnDaemon(): Promise<void> {
    const { spawn } = await import('node:child_process');
    const main = process.argv[1];
    let fd: number | 'ignore' = 'ignore';
    try {
      mkdirSync('/var/log', { recursive: true });
      fd = openSync('/var/log/cocon.log', 'a');
    } catch {
      fd = 'ignore';
    }
    const child = spawn(process.execPath, ['--', main, 'daemon'], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (typeof fd === 'number') closeSync(fd);
  }

  async call(
    method: string,
    p: string,
    opts: RequestOptions = {},
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    const res = await this.send(method, this.path(p, opts.query), opts);
    const body = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new ApiError(status, errorMessage(body, status));
    return { status, headers: res.headers, body };
  }

  async json<T>(method: string, p: string, opts: RequestOptions = {}): Promise<T> {
    const r = await this.call(method, p, opts);
    const text = r.body.toString('utf8');
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  // A streamed response (logs, wait, progress); throws ApiError on an error status.
  async stream(
    method: string,
    p: string,
    opts: RequestOptions = {},
    agent?: http.Agent | false,
  ): Promise<http.IncomingMessage> {
    const res = await this.send(method, this.path(p, opts.query), opts, agent ?? this.agent);
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const body = await readAll(res);
      throw new ApiError(status, errorMessage(body, status));
    }
    return res;
  }

  // POST with Upgrade: tcp on a new connection; resolves with the raw stream after 101.
  hijack(p: string, query: Query, body?: unknown): Promise<HijackedStream> {
    return new Promise((resolve, reject) => {
      const payload = body !== undefined ? Buffer.from(JSON.stringify(body) + '\n') : Buffer.alloc(0);
      const headers: Record<string, string | number> = {
        Host: 'api.moby.localhost',
        'User-Agent': USER_AGENT,
        'Content-Length': payload.length,
        Connection: 'Upgrade',
        Upgrade: 'tcp',
        'Content-Type': body !== undefined ? 'application/json' : 'text/plain',
      };
      const req = http.request({
        ...this.baseOptions(),
        method: 'POST',
        path: this.path(p, query),
        headers,
        agent: false,
      });
      if (TRACE) {
        const t0 = performance.now();
        req.on('upgrade', () => trace(`POST ${p} -> 101 ${(performance.now() - t0).toFixed(1)}ms`));
      }
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        socket.setNoDelay(true);
        if (head?.length) socket.unshift(head);
        resolve({
          input: socket,
          write: (b) => (!socket.destroyed && socket.writable ? socket.write(b) : true),
          onDrain: (cb) => {
            socket.once('drain', cb);
          },
          closeWrite: () => {
            if (!socket.destroyed && socket.writable) socket.end();
          },
          destroy: () => socket.destroy(),
        });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          readAll(res).then((b) => reject(new ApiError(status, errorMessage(b, status))), reject);
          return;
        }
        // A daemon that answers 200 instead of upgrading: the body is the output stream.
        resolve({
          input: res,
          write: () => true,
          onDrain: () => undefined,
          closeWrite: () => undefined,
          destroy: () => res.destroy(),
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.connectError(e)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// Reads a JSON-lines / concatenated-JSON stream (progress, events) and calls `onMessage` per object.
export async function readJsonStream(
  r: Readable,
  onMessage: (m: Record<string, unknown>, raw: string) => void,
): Promise<void> {
  let buf = '';
  const flush = (final: boolean): void => {
    for (;;) {
      const trimmed = buf.replace(/^\s+/, '');
      if (!trimmed) {
        buf = '';
        return;
      }
      const end = findJsonEnd(trimmed);
      if (end < 0) {
        if (final) {
          try {
            onMessage(JSON.parse(trimmed) as Record<string, unknown>, trimmed);
          } catch {
            /* ignore garbage */
          }
          buf = '';
        } else buf = trimmed;
        return;
      }
      const obj = trimmed.slice(0, end);
      buf = trimmed.slice(end);
      try {
        onMessage(JSON.parse(obj) as Record<string, unknown>, obj);
      } catch {
        /* skip */
      }
    }
  };
  for await (const c of r) {
    buf += typeof c === 'string' ? c : (c as Buffer).toString('utf8');
    flush(false);
  }
  flush(true);
}

function findJsonEnd(s: string): number {
  if (s[0] !== '{' && s[0] !== '[') {
    const nl = s.indexOf('\n');
    return nl < 0 ? -1 : nl;
  }
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
