// The distribution client: OCI distribution spec / Docker registry HTTP API v2, one repository at a time.
//
// Lifecycle: new RegistryClient(domain, repo, creds, opts) -> ping() (finds the scheme and the auth
// challenge) -> manifest()/blob()/blobExists()/mount()/upload()/putManifest(). Every call returns
// or throws a RegistryError whose message reads like dockerd's (registry errcodes are rendered as
// "<code in words>: <message>", transport errors as `Get "<url>": dial tcp <host>: connect: connection refused`).
//
// Transport: https with the system CAs (plus $COCON_REGISTRY_CA and /etc/docker/certs.d/<host>/ca.crt);
// plain http only for insecure registries: loopback hosts and --insecure-registry hosts/CIDRs, where
// https is tried first without verification and http is the fallback, as dockerd does.
// Auth: the WWW-Authenticate challenge of GET /v2/: Bearer (token from the realm, anonymous or with
// basic credentials, cached per scope) or Basic (credentials on every request).
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { rootCertificates, createSecureContext, type SecureContext } from 'node:tls';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Credentials } from './auth.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const MANIFEST_ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex];

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status = 0,
    readonly code = '',
  ) {
    super(message);
  }
}

export interface RegistryOptions {
  /** --insecure-registry values: host, host:port or CIDR. */
  insecure?: string[];
  /** Treat loopback registries as insecure (dockerd does). Default true. */
  loopbackInsecure?: boolean;
  /** Extra CA files (PEM). Default: $COCON_REGISTRY_CA (colon-separated). */
  caFiles?: string[];
  /** Per-host CA directories (<dir>/<host[:port]>/*.crt). Default /etc/docker/certs.d. */
  certsDir?: string;
  userAgent?: string;
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgents = new Map<string, HttpsAgent>();
/** Secure contexts by CA set: parsing ~150 system CAs costs ~100 ms, so once per set, not per connection. */
const secureContexts = new Map<string, SecureContext>();
/** The scheme that worked for a host (https verified, https unverified, http), so later clients skip the probes. */
const knownBases = new Map<string, { base: string; verify: boolean }>();
let systemCas: string[] | undefined;

function systemCaList(): string[] {
  if (systemCas) return systemCas;
  const list = [...rootCertificates];
  for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']) {
    try {
      list.push(readFileSync(f, 'utf8'));
      break;
    } catch {
      /* next */
    }
  }
  systemCas = list;
  return list;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

/** Whether a host (without port) / host:port is covered by an --insecure-registry entry or is loopback. */
export function isInsecure(hostPort: string, insecure: string[], loopback = true): boolean {
  const host = hostPort
    .replace(/^\[/, '')
    .replace(/\](:\d+)?$/, '')
    .replace(/:\d+$/, '');
  if (loopback && (host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))))
    return true;
  for (const e of insecure) {
    if (e === hostPort || e === host) return true;
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (m && isIP(host) === 4) {
      const bits = Number(m[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4ToInt(host) & mask) >>> 0 === (ipv4ToInt(m[1]) & mask) >>> 0) return true;
    }
  }
  return false;
}

/** The API endpoint host of a registry domain. */
export function endpointHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** Renders a distribution error body like docker (errcode.Errors): "manifest unknown: manifest unknown". */
export function errorBodyMessage(body: string): { message: string; code: string } | undefined {
  try {
    const v = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    if (!v.errors?.length) return undefined;
    const parts = v.errors.map((e) => {
      const words = (e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
      return e.message ? `${words}: ${e.message}` : words;
    });
    return { message: parts.join(', '), code: v.errors[0].code ?? '' };
  } catch {
    return undefined;
  }
}

interface Challenge {
  scheme: 'bearer' | 'basic' | 'none';
  realm?: string;
  service?: string;
}

export function parseChallenge(h: string | undefined): Challenge {
  if (!h) return { scheme: 'none' };
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return { scheme: 'none' };
  const scheme = m[1].toLowerCase();
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g))
    params[p[1].toLowerCase()] = p[2] ?? p[3] ?? '';
  if (scheme === 'bearer') return { scheme: 'bearer', realm: params.realm, service: params.service };
  if (scheme === 'basic') return { scheme: 'basic' };
  return { scheme: 'none' };
}

async function readBody(res: IncomingMessage, limit = 64 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n > limit) throw new RegistryError('response too large');
  }
  return Buffer.concat(chunks);
}

function transportMessage(method: string, url: string, e: NodeJS.ErrnoException): string {
  const u = new URL(url);
  const hp = u.host.includes(':') ? u.host : `${u.host}:${u.protocol === 'https:' ? 443 : 80}`;
  const verb =
    method === 'GET'
      ? 'Get'
      : method === 'HEAD'
        ? 'Head'
        : method === 'PUT'
          ? 'Put'
          : method === 'PATCH'
            ? 'Patch'
            : 'Post';
  let what = e.message;
  if (e.code === 'ECONNREFUSED') what = `dial tcp ${hp}: connect: connection refused`;
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') what = `dial tcp: lookup ${u.hostname}: no such host`;
  else if (e.code === 'ETIMEDOUT') what = `dial tcp ${hp}: i/o timeout`;
  else if (e.code === 'ECONNRESET') what = 'connection reset by peer';
  return `${verb} "${url}": ${what}`;
}

export interface SendOptions {
  headers?: OutgoingHttpHeaders;
  body?: Buffer | Readable;
  /** Auth scope actions for this request: 'pull' or 'pull,push'. */
  actions?: string;
  /** Extra scope strings (cross-repository mount source). */
  extraScopes?: string[];
  /** Keep the Authorization header off (redirects to other hosts). */
  noAuth?: boolean;
}

export class RegistryClient {
  readonly host: string;
  private base?: string;
  private verify = true;
  private challenge: Challenge = { scheme: 'none' };
  private tokens = new Map<string, string>();
  private readonly insecureHost: boolean;

  constructor(
    readonly domain: string,
    readonly repo: string,
    private readonly creds: Credentials | undefined,
    private readonly opts: RegistryOptions = {},
  ) {
    this.host = endpointHost(domain);
    this.insecureHost = isInsecure(this.host, opts.insecure ?? [], opts.loopbackInsecure ?? true);
  }

  private caFor(): string[] {
    const extra: string[] = [];
    const files =
      this.opts.caFiles ??
      (process.env.COCON_REGISTRY_CA ? process.env.COCON_REGISTRY_CA.split(':').filter(Boolean) : []);
    for (const f of files) {
      try {
        extra.push(readFileSync(f, 'utf8'));
      } catch {
        /* missing CA file: ignored */
      }
    }
    const dir = join(this.opts.certsDir ?? '/etc/docker/certs.d', this.host);
    if (existsSync(dir)) {
      for (const f of readdirSync(dir))
        if (f.endsWith('.crt')) {
          try {
            extra.push(readFileSync(join(dir, f), 'utf8'));
          } catch {
            /* skip */
          }
        }
    }
    return [...systemCaList(), ...extra];
  }

  private httpsAgent(verify: boolean): HttpsAgent {
    const caKey = `${(this.opts.caFiles ?? [process.env.COCON_REGISTRY_CA ?? '']).join(':')}|${this.opts.certsDir ?? ''}|${this.host}`;
    const key = `${caKey}|${verify}`;
    let a = httpsAgents.get(key);
    if (!a) {
      let ctx = secureContexts.get(caKey);
      if (!ctx) {
        ctx = createSecureContext({ ca: this.caFor() });
        secureContexts.set(caKey, ctx);
      }
      a = new HttpsAgent({ keepAlive: true, maxSockets: 16, secureContext: ctx, rejectUnauthorized: verify });
      httpsAgents.set(key, a);
    }
    return a;
  }

  /** Raw request on an absolute URL. Resolves with the response head (body unread). */
  private raw(
    method: string,
    url: string,
    headers: OutgoingHttpHeaders,
    body?: Buffer | Readable,
    verify = this.verify,
  ): Promise<IncomingMessage> {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    const h: OutgoingHttpHeaders = { 'User-Agent': this.opts.userAgent ?? 'cocon/0.1.0', ...headers };
    if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const req = (isHttps ? httpsRequest : httpRequest)(
        u,
        { method, headers: h, agent: isHttps ? this.httpsAgent(verify) : httpAgent },
        resolve,
      );
      req.setTimeout(60_000, () => req.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(Object.assign(new RegistryError(transportMessage(method, url, e)), { cause: e })),
      );
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  /** Finds the scheme (https, or http for insecure registries) and the auth challenge. */
  async ping(): Promise<void> {
    if (this.base) return;
    const tries: Array<{ base: string; verify: boolean }> = [{ base: `https://${this.host}`, verify: true }];
    if (this.insecureHost)
      tries.push({ base: `https://${this.host}`, verify: false }, { base: `http://${this.host}`, verify: true });
    const known = knownBases.get(this.host + '|' + this.insecureHost);
    if (known) tries.unshift(known);
    let lastErr: unknown;
    for (const t of tries) {
      try {
        const res = await this.raw('GET', `${t.base}/v2/`, {}, undefined, t.verify);
        res.resume();
        this.base = t.base;
        this.verify = t.verify;
        // remembered only for https: a plain-http answer could also come from a TLS server's
        // "HTTP request to an HTTPS server" reply after a port was reused
        if (t.base.startsWith('https:')) knownBases.set(this.host + '|' + this.insecureHost, t);
        if (res.statusCode === 401)
          this.challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
        return;
      } catch (e) {
        lastErr = e;
      }
    }
    // report the plain-http failure for insecure registries (what the user configured), else https
    throw lastErr;
  }

  get baseUrl(): string {
    return this.base ?? `https://${this.host}`;
  }

  private scope(actions: string, repo = this.repo): string {
    return `repository:${repo}:${actions}`;
  }

  private async token(scopes: string[], force = false): Promise<string | undefined> {
    const key = scopes.join(' ');
    if (!force && this.tokens.has(key)) return this.tokens.get(key);
    const ch = this.challenge;
    if (!ch.realm) return undefined;
    const u = new URL(ch.realm);
    if (ch.service) u.searchParams.set('service', ch.service);
    for (const s of scopes) u.searchParams.append('scope', s);
    const headers: OutgoingHttpHeaders = {};
    if (this.creds?.username)
      headers.Authorization =
        'Basic ' + Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64');
    const res = await this.raw('GET', u.toString(), headers);
    const body = (await readBody(res)).toString();
    if (res.statusCode !== 200) {
      const m = errorBodyMessage(body);
      throw new RegistryError(
        m ? m.message : `unauthorized: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
        401,
        m?.code ?? 'UNAUTHORIZED',
      );
    }
    const tok = JSON.parse(body) as { token?: string; access_token?: string };
    const t = tok.token ?? tok.access_token;
    if (t) this.tokens.set(key, t);
    return t;
  }

  private async authHeader(opts: SendOptions, force = false): Promise<string | undefined> {
    if (opts.noAuth) return undefined;
    if (this.challenge.scheme === 'basic') {
      if (this.creds?.registrytoken) return 'Bearer ' + this.creds.registrytoken;
      if (!this.creds?.username) return undefined;
      return 'Basic ' + Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64');
    }
    if (this.challenge.scheme === 'bearer') {
      if (this.creds?.registrytoken) return 'Bearer ' + this.creds.registrytoken;
      const t = await this.token([this.scope(opts.actions ?? 'pull'), ...(opts.extraScopes ?? [])], force);
      return t ? 'Bearer ' + t : undefined;
    }
    return undefined;
  }

  /**
   * Sends a request to a path below the registry (/v2/...) or to an absolute URL (upload locations),
   * with auth. Retries once with a fresh token on 401 when the body can be replayed.
   */
  async send(method: string, pathOrUrl: string, opts: SendOptions = {}): Promise<IncomingMessage> {
    await this.ping();
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : new URL(pathOrUrl, this.baseUrl + '/').toString();
    for (let attempt = 0; ; attempt++) {
      const headers: OutgoingHttpHeaders = { ...opts.headers };
      const auth = await this.authHeader(opts, attempt > 0);
      if (auth) headers.Authorization = auth;
      const res = await this.raw(method, url, headers, opts.body);
      if (res.statusCode === 401) {
        if (
          attempt === 0 &&
          this.challenge.scheme === 'bearer' &&
          (opts.body === undefined || Buffer.isBuffer(opts.body))
        ) {
          res.resume();
          continue;
        }
        const body = (await readBody(res)).toString();
        if (this.challenge.scheme === 'basic' && !this.creds?.username) {
          throw new RegistryError(
            `${method === 'HEAD' ? 'Head' : method === 'GET' ? 'Get' : method.charAt(0) + method.slice(1).toLowerCase()} "${url}": no basic auth credentials`,
            401,
            'UNAUTHORIZED',
          );
        }
        const m = errorBodyMessage(body);
        throw new RegistryError(m?.message ?? 'unauthorized: authentication required', 401, m?.code ?? 'UNAUTHORIZED');
      }
      return res;
    }
  }

  /** Throws the registry's error for a non-2xx response (consumes the body). */
  async fail(res: IncomingMessage, what?: string): Promise<never> {
    const body = (await readBody(res).catch(() => Buffer.alloc(0))).toString();
    const m = errorBodyMessage(body);
    const msg = m?.message ?? `unexpected status ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
    throw new RegistryError(what ? `${what}: ${msg}` : msg, res.statusCode ?? 0, m?.code ?? '');
  }

  /** GET a manifest (by tag or digest). */
  async manifest(
    reference: string,
  ): Promise<{ body: Buffer; mediaType: string; digestHeader?: string; status: number }> {
    const res = await this.send('GET', `/v2/${this.repo}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT.join(', ') },
    });
    if (res.statusCode !== 200) {
      const body = (await readBody(res).catch(() => Buffer.alloc(0))).toString();
      const m = errorBodyMessage(body);
      throw new RegistryError(m?.message ?? `unexpected status ${res.statusCode}`, res.statusCode ?? 0, m?.code ?? '');
    }
    const body = await readBody(res, 8 << 20);
    let mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    try {
      const mt = (JSON.parse(body.toString()) as { mediaType?: string }).mediaType;
      if (mt) mediaType = mt;
    } catch {
      /* checked by the caller */
    }
    return { body, mediaType, digestHeader: res.headers['docker-content-digest'] as string | undefined, status: 200 };
  }

  /** GET a blob; follows redirects (without credentials to other hosts). The body is unread. */
  async blob(digest: string): Promise<IncomingMessage> {
    let res = await this.send('GET', `/v2/${this.repo}/blobs/${digest}`);
    for (
      let i = 0;
      i < 5 && res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location;
      i++
    ) {
      res.resume();
      const next = new URL(res.headers.location, this.baseUrl + '/').toString();
      res =
        new URL(next).host === new URL(this.baseUrl).host
          ? await this.send('GET', next)
          : await this.raw('GET', next, {});
    }
    if (res.statusCode !== 200) await this.fail(res, `fetching blob ${digest}`);
    return res;
  }

  async blobExists(digest: string, actions = 'pull,push'): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${this.repo}/blobs/${digest}`, { actions });
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    return this.fail(res);
  }

  /** Cross-repository mount; true when the registry mounted it (201). */
  async mount(digest: string, fromRepo: string): Promise<boolean> {
    const res = await this.send(
      'POST',
      `/v2/${this.repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`,
      { actions: 'pull,push', extraScopes: [this.scope('pull', fromRepo)], body: Buffer.alloc(0) },
    );
    res.resume();
    if (res.statusCode === 201) return true;
    if (res.statusCode === 202 && res.headers.location) {
      // not mounted: cancel the upload session the registry opened
      const del = await this.send('DELETE', new URL(res.headers.location, this.baseUrl + '/').toString(), {
        actions: 'pull,push',
      }).catch(() => undefined);
      del?.resume();
    }
    return false;
  }

  /**
   * Uploads a blob: monolithic PUT for small blobs, otherwise one PATCH carrying the whole stream
   * then PUT ?digest= (chunked upload as docker does it).
   */
  async upload(digest: string, size: number, open: () => Readable): Promise<void> {
    const start = await this.send('POST', `/v2/${this.repo}/blobs/uploads/`, {
      actions: 'pull,push',
      body: Buffer.alloc(0),
    });
    start.resume();
    if (start.statusCode !== 202 || !start.headers.location) await this.fail(start, 'starting upload');
    let loc = new URL(start.headers.location!, this.baseUrl + '/');
    const withDigest = (u: URL) => {
      const x = new URL(u);
      x.searchParams.set('digest', digest);
      return x.toString();
    };
    if (size <= 1 << 20) {
      const chunks: Buffer[] = [];
      for await (const c of open()) chunks.push(c as Buffer);
      const put = await this.send('PUT', withDigest(loc), {
        actions: 'pull,push',
        body: Buffer.concat(chunks),
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      put.resume();
      if (put.statusCode !== 201) await this.fail(put, 'uploading blob');
      return;
    }
    const patch = await this.send('PATCH', loc.toString(), {
      actions: 'pull,push',
      body: open(),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    });
    patch.resume();
    if (patch.statusCode !== 202 && patch.statusCode !== 204) await this.fail(patch, 'uploading blob');
    if (patch.headers.location) loc = new URL(patch.headers.location, this.baseUrl + '/');
    const put = await this.send('PUT', withDigest(loc), { actions: 'pull,push', body: Buffer.alloc(0) });
    put.resume();
    if (put.statusCode !== 201) await this.fail(put, 'completing upload');
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.send('PUT', `/v2/${this.repo}/manifests/${reference}`, {
      actions: 'pull,push',
      body,
      headers: { 'Content-Type': mediaType },
    });
    res.resume();
    if (res.statusCode !== 201 && res.statusCode !== 200) await this.fail(res, 'putting manifest');
    return res.headers['docker-content-digest'] as string | undefined;
  }

  /** Checks credentials (POST /auth): the ping plus, for token registries, a token request. */
  async login(): Promise<void> {
    await this.ping();
    if (this.challenge.scheme === 'none') return;
    if (this.challenge.scheme === 'bearer') {
      try {
        await this.token([], true);
      } catch {
        throw new RegistryError(
          `login attempt to ${this.baseUrl}/v2/ failed with status: 401 Unauthorized`,
          401,
          'UNAUTHORIZED',
        );
      }
      return;
    }
    const res = await this.raw('GET', `${this.baseUrl}/v2/`, { Authorization: (await this.authHeader({})) ?? '' });
    res.resume();
    if (res.statusCode !== 200)
      throw new RegistryError(
        `login attempt to ${this.baseUrl}/v2/ failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
        res.statusCode ?? 0,
        'UNAUTHORIZED',
      );
  }
}
