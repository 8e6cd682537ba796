// Request routing for the Docker Engine API: method + path pattern -> handler, with version-prefix
// handling (/v1.41/...), typed-error mapping and hijacking for attach/exec streams.
// Patterns: ':name' matches one segment, '*name' matches one or more segments (image names hold '/').
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { EngineError, InvalidArgument, messageOf, statusOf } from './errors.js';
import { log } from '../daemon/log.js';

export const API_VERSION = '1.41';
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
  /** The request body parsed as JSON ({} when empty). 400 on another content type or bad JSON. */
  json<T = Record<string, unknown>>(): Promise<T>;
  /** The raw request body stream (import, load). */
  body(): IncomingMessage;
  send(status: number, body?: unknown): void;
  /** Takes over the connection for a raw bidirectional stream (101 UPGRADED or 200 raw-stream). */
  hijack(): Duplex;
  /** Starts a chunked streaming response (logs, events, wait, progress). */
  stream(status: number, contentType?: string | null): ServerResponse;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
interface Route { method: string; re: RegExp; names: string[]; handler: Handler }

export function commonHeaders(): Record<string, string> {
  return { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', 'Ostype': 'linux', 'Server': `cocon/${ENGINE_VERSION} (linux)` };
}

function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number); const [b1, b2] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

export class Router {
  private routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = [];
    const src = pattern.split('/').map((seg) => {
      if (seg.startsWith(':')) { names.push(seg.slice(1)); return '([^/]+)'; }
      if (seg.startsWith('*')) { names.push(seg.slice(1)); return '(.+)'; }
      return seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }).join('/');
    this.routes.push({ method, re: new RegExp(`^${src}$`), names, handler });
  }
  get(p: string, h: Handler): void { this.add('GET', p, h); }
  post(p: string, h: Handler): void { this.add('POST', p, h); }
  delete(p: string, h: Handler): void { this.add('DELETE', p, h); }
  head(p: string, h: Handler): void { this.add('HEAD', p, h); }
  put(p: string, h: Handler): void { this.add('PUT', p, h); }

  /** Serves one request. `upgradeSocket` is set when Node delivered it through the 'upgrade' event. */
  async dispatch(req: IncomingMessage, res: ServerResponse, upgradeSocket?: Duplex, head?: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://cocon');
    let path = url.pathname.replace(/\/+$/, '') || '/';
    let apiVersion = API_VERSION;
    const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (m) {
      apiVersion = m[1]; path = m[2];
      if (cmpVersion(apiVersion, API_VERSION) > 0) return this.fail(res, new InvalidArgument(`client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`));
      if (cmpVersion(apiVersion, MIN_API_VERSION) < 0) return this.fail(res, new InvalidArgument(`client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`));
    }
    let params: Record<string, string> | null = null; let route: Route | undefined;
    for (const r of this.routes) {
      if (r.method !== req.method && !(req.method === 'HEAD' && r.method === 'GET')) continue;
      const mm = r.re.exec(path);
      if (!mm) continue;
      params = {}; r.names.forEach((n, i) => { params![n] = decodeURIComponent(mm[i + 1]); });
      route = r; break;
    }
    if (!route || !params) return this.fail(res, new EngineError(404, 'page not found'));
    let bodyRead = false;
    const ctx: Ctx = {
      req, res, params, query: url.searchParams, apiVersion, upgrade: !!upgradeSocket,
      json: async <T>() => {
        bodyRead = true;
        let text: string;
        if (upgradeSocket) {
          // Node does not parse the body of an upgrade request: it is in `head` and on the socket.
          const r = await readUpgradeBody(upgradeSocket, head ?? Buffer.alloc(0), Number(req.headers['content-length'] ?? 0));
          head = r.rest;
          text = r.body.toString('utf8');
        } else {
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          text = Buffer.concat(chunks).toString('utf8');
        }
        if (!text.trim()) return {} as T;
        const ct = (req.headers['content-type'] ?? '').split(';')[0].trim();
        if (ct && ct !== 'application/json') throw new InvalidArgument(`Content-Type specified (${ct}) must be 'application/json'`);
        try { return JSON.parse(text) as T; } catch (e) { throw new InvalidArgument(messageOf(e)); }
      },
      body: () => { bodyRead = true; return req; },
      send: (status, body) => sendJson(res, status, body),
      hijack: () => {
        if (upgradeSocket) {
          res.detachSocket(upgradeSocket as never);
          upgradeSocket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
          if (head && head.length) upgradeSocket.unshift(head);
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
      if (statusOf(e) >= 500) log.error('request failed', { method: req.method, path, error: messageOf(e) });
      else log.debug('request refused', { method: req.method, path, error: messageOf(e) });
      this.fail(res, e);
    }
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (res.headersSent) { res.destroy(); return; }
    const status = statusOf(e);
    if (status === 304) { res.writeHead(304, commonHeaders()); res.end(); return; }
    sendJson(res, status, { message: messageOf(e) });
  }
}

function readUpgradeBody(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  return new Promise((resolve) => {
    let buf = head;
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length < length) return;
      socket.off('data', onData);
      socket.pause();
      const rest = buf.subarray(length);
      resolve({ body: buf.subarray(0, length), rest });
    };
    socket.on('data', onData);
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
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
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
