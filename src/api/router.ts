// Request routing for the Docker Engine API: method + path pattern -> handler, with version-prefix
// handling (/v1.41/...), typed-error mapping and hijacking for attach/exec streams.
// Patterns: ':name' matches one segment, '*name' matches one or more segments (image names hold '/').
// Every request gets an answer: a malformed URL is 400, an unknown endpoint 404, any error thrown
// while dispatching is mapped to its status. JSON bodies are bounded in size (413) and in time
// (408): a client cannot make the daemon buffer without end or hold a request open by sending
// slowly. Streaming uploads (ctx.body()) and hijacked streams are bounded by neither.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgument, NotFound, TimedOut, TooLarge, messageOf } from '../core/errors.js';
import { statusOf } from './httpstatus.js';
import { log } from '../core/log.js';
import { decodeBody, MAX_JSON_BODY, type BodyName } from './shape.js';

// 1.43: what 1.42 and 1.43 changed that cocon serves (stop/restart ?signal=, ConsoleSize) is small; see docs/compatibility.md.
export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.12';
export const ENGINE_VERSION = '0.1.0';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  /** True when the client asked to upgrade the connection (attach, exec start). */
  upgrade: boolean;
  /**
   * The request body parsed as JSON ({} when empty) and checked against its declared shape
   * (shape.ts; default: any object). 400 on another content type, bad JSON or a wrong shape,
   * 413 over MAX_JSON_BODY.
   */
  json<T = Record<string, unknown>>(shape?: BodyName): Promise<T>;
  /** The raw request body stream (import, load). */
  body(): IncomingMessage;
  send(status: number, body?: unknown): void;
  /**
   * Takes over the connection for a raw bidirectional stream (101 UPGRADED or 200 raw-stream).
   * `tty` false: the stream carries 8-byte frames, announced as a multiplexed stream from API 1.42.
   */
  hijack(tty?: boolean): Duplex;
  /** Starts a chunked streaming response (logs, events, wait, progress). */
  stream(status: number, contentType?: string | null): ServerResponse;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `cocon/${ENGINE_VERSION} (linux)`,
  };
}

/** Compares two API versions ("1.41" < "1.42"): negative, 0 or positive. */
export function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** Time limits on requests (ms; 0 = none). The HTTP server applies headers and idle itself. */
export interface RequestLimits {
  /** A request's body (when it is not a streaming upload) must have arrived within this time of its headers. */
  bodyTimeoutMs: number;
}
export const DEFAULT_REQUEST_LIMITS: RequestLimits = { bodyTimeoutMs: 60_000 };

class PayloadTooLarge extends TooLarge {
  constructor() {
    super(`request body too large: JSON bodies are limited to ${MAX_JSON_BODY / 1024 / 1024} MiB`);
  }
}
class RequestTimeout extends TimedOut {
  constructor() {
    super('request timeout: the request body did not arrive in time');
  }
}
/** How long a refused request's unread body is still read (and discarded) so the client sees the answer. */
const LINGER_MS = 1000;

/** Discards what is left of a request body until it ends, the client goes away or `ms` pass. */
function linger(req: IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    req.on('end', done);
    req.on('close', done);
    req.on('error', done);
    req.resume();
  });
}

/**
 * Reads a JSON body up to MAX_JSON_BODY. Not with `for await`: leaving that loop destroys the
 * request, and a destroyed request cannot linger (the client then loses the 413 to a reset).
 */
function readJsonBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
      req.pause();
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_JSON_BODY) {
        stop();
        reject(new PayloadTooLarge());
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onClose = () => {
      stop();
      if (req.complete) resolve(Buffer.concat(chunks));
      else reject(new RequestTimeout());
    };
    const onError = (e: Error) => {
      stop();
      reject(req.complete ? e : new RequestTimeout());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}

export class Router {
  private routes: Route[] = [];
  constructor(private readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS) {}

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = [];
    const src = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          names.push(seg.slice(1));
          return '([^/]+)';
        }
        if (seg.startsWith('*')) {
          names.push(seg.slice(1));
          return '(.+)';
        }
        return seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, re: new RegExp(`^${src}$`), names, handler });
  }
  get(p: string, h: Handler): void {
    this.add('GET', p, h);
  }
  post(p: string, h: Handler): void {
    this.add('POST', p, h);
  }
  delete(p: string, h: Handler): void {
    this.add('DELETE', p, h);
  }
  head(p: string, h: Handler): void {
    this.add('HEAD', p, h);
  }
  put(p: string, h: Handler): void {
    this.add('PUT', p, h);
  }

  /** Serves one request; never rejects, always answers (or closes a connection it cannot answer on). */
  async dispatch(req: IncomingMessage, res: ServerResponse, upgradeSocket?: Duplex, head?: Buffer): Promise<void> {
    try {
      await this.serve(req, res, upgradeSocket, head);
    } catch (e) {
      log.error('request failed', { method: req.method, url: req.url, error: messageOf(e) });
      try {
        this.fail(res, e);
      } catch {
        res.destroy();
      }
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse, upgradeSocket?: Duplex, head?: Buffer): Promise<void> {
    let url: URL;
    try {
      // '//x' would otherwise be taken for a host name, and URL() accepts what decodeURIComponent refuses.
      if (!(req.url ?? '/').startsWith('/') || /^[^?]*\/\//.test(req.url ?? '/'))
        throw new Error('not an absolute path or an empty segment');
      url = new URL('http://cocon' + (req.url ?? '/'));
      decodeURIComponent(url.pathname);
    } catch {
      return this.fail(res, new InvalidArgument(`invalid request URL: ${JSON.stringify(req.url ?? '')}`), true);
    }
    let path = url.pathname.replace(/\/+$/, '') || '/';
    let apiVersion = API_VERSION;
    const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (m) {
      apiVersion = m[1];
      path = m[2];
      if (cmpVersion(apiVersion, API_VERSION) > 0)
        return this.fail(
          res,
          new InvalidArgument(
            `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`,
          ),
        );
      if (cmpVersion(apiVersion, MIN_API_VERSION) < 0)
        return this.fail(
          res,
          new InvalidArgument(
            `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
          ),
        );
    }
    let params: Record<string, string> | null = null;
    let route: Route | undefined;
    for (const r of this.routes) {
      if (r.method !== req.method && !(req.method === 'HEAD' && r.method === 'GET')) continue;
      const mm = r.re.exec(path);
      if (!mm) continue;
      params = {};
      try {
        r.names.forEach((n, i) => {
          params![n] = decodeURIComponent(mm[i + 1]);
        });
      } catch {
        return this.fail(res, new InvalidArgument(`invalid request URL: ${JSON.stringify(req.url ?? '')}`), true);
      }
      route = r;
      break;
    }
    if (!route || !params) return this.fail(res, new NotFound('page not found'));
    let bodyRead = false;
    // A request body that is not a streaming upload must arrive in time, read or not.
    let bodyTimer: NodeJS.Timeout | undefined;
    const unbounded = () => {
      clearTimeout(bodyTimer);
      bodyTimer = undefined;
      // a keep-alive socket serves many requests: leave no listener of this one on it
      req.socket.off('close', unbounded);
    };
    if (!upgradeSocket && !req.complete && this.limits.bodyTimeoutMs > 0) {
      bodyTimer = setTimeout(() => {
        if (req.complete) return;
        log.debug('request body timed out', { method: req.method, path });
        this.fail(res, new RequestTimeout(), true);
        req.socket.destroySoon();
      }, this.limits.bodyTimeoutMs);
      bodyTimer.unref();
      req.once('end', unbounded);
      req.socket.once('close', unbounded);
    }
    const ctx: Ctx = {
      req,
      res,
      params,
      query: url.searchParams,
      apiVersion,
      upgrade: !!upgradeSocket,
      json: async <T>(shape: BodyName = 'object') => {
        bodyRead = true;
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > MAX_JSON_BODY) throw new PayloadTooLarge();
        let text: string;
        if (upgradeSocket) {
          // Node does not parse the body of an upgrade request: it is in `head` and on the socket.
          const r = await readUpgradeBody(upgradeSocket, head ?? Buffer.alloc(0), declared, this.limits.bodyTimeoutMs);
          head = r.rest;
          text = r.body.toString('utf8');
        } else {
          text = (await readJsonBody(req)).toString('utf8');
        }
        if (!text.trim()) return {} as T;
        const ct = (req.headers['content-type'] ?? '').split(';')[0].trim();
        if (ct && ct !== 'application/json')
          throw new InvalidArgument(`Content-Type specified (${ct}) must be 'application/json'`);
        return decodeBody(text, shape) as T;
      },
      body: () => {
        bodyRead = true;
        unbounded();
        return req;
      },
      send: (status, body) => sendJson(res, status, body),
      hijack: (tty?: boolean) => {
        unbounded();
        if (upgradeSocket) {
          res.detachSocket(upgradeSocket as never);
          const type =
            tty === false && cmpVersion(apiVersion, '1.42') >= 0
              ? 'application/vnd.docker.multiplexed-stream'
              : 'application/vnd.docker.raw-stream';
          upgradeSocket.write(
            `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
          );
          if (head?.length) upgradeSocket.unshift(head);
          return upgradeSocket;
        }
        const sock = req.socket;
        res.detachSocket(sock);
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
        return sock;
      },
      stream: (status, contentType = 'application/json') => {
        const h: Record<string, string> = { ...commonHeaders() };
        if (contentType) h['Content-Type'] = contentType;
        res.writeHead(status, h);
        res.flushHeaders();
        return res;
      },
    };
    try {
      await route.handler(ctx);
      if (!bodyRead && !upgradeSocket) req.resume();
    } catch (e) {
      if (statusOf(e) >= 500 && statusOf(e) !== 501)
        log.error('request failed', { method: req.method, path, error: messageOf(e) });
      else log.debug('request refused', { method: req.method, path, error: messageOf(e) });
      // A body left unread (too large, refused early) is read and discarded for a moment, as Go's
      // server does, so the client sees the answer before the connection closes; a slow one is not.
      const status = statusOf(e);
      const unread = !req.complete && !upgradeSocket;
      if (unread && status !== 408) await linger(req, LINGER_MS);
      this.fail(res, e, status === 413 || status === 408 || (!req.complete && !upgradeSocket));
      if (!req.complete && !upgradeSocket) req.resume();
    }
  }

  /** Answers an error; `close` ends the connection after the answer (the request was not read whole). */
  private fail(res: ServerResponse, e: unknown, close = false): void {
    // already answered (the body timer sent the 408): let that answer flush; a half-sent one is cut
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    const status = statusOf(e);
    if (status === 304) {
      res.writeHead(304, commonHeaders());
      res.end();
      return;
    }
    // A request body not read whole cannot be skipped safely on a keep-alive connection.
    if (close || (res.req && !res.req.complete)) res.shouldKeepAlive = false;
    sendJson(res, status, { message: messageOf(e) });
  }
}

function readUpgradeBody(
  socket: Duplex,
  head: Buffer,
  length: number,
  timeoutMs: number,
): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  return new Promise((resolve, reject) => {
    let buf = head;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            done();
            reject(new RequestTimeout());
          }, timeoutMs)
        : undefined;
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    const onClose = () => {
      done();
      reject(new RequestTimeout());
    };
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length < length) return;
      done();
      resolve({ body: buf.subarray(0, length), rest: buf.subarray(length) });
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

export function sendJson(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, { ...commonHeaders(), 'Content-Length': '0' });
    res.end();
    return;
  }
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    ...commonHeaders(),
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Builds a ServerResponse on a socket delivered by the 'upgrade' event, so handlers can answer errors normally. */
export function responseForUpgrade(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.assignSocket(socket as never);
  res.shouldKeepAlive = false;
  res.on('finish', () => socket.end());
  return res;
}
