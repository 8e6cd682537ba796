// Test registries: Debian's docker-registry (distribution 2.x) on 127.0.0.1 with a temp storage dir,
// plain or with htpasswd (bcrypt) auth + a self-signed TLS certificate; plus a tiny fault proxy.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer, request, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  host: string;
  port: number;
  dir: string;
  ca?: string;
  user?: string;
  password?: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitHttp(url: string, tls: boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const mod = tls ? import('node:https') : import('node:http');
      void mod.then((m) => {
        const req = m.request(url, { method: 'GET', rejectUnauthorized: false } as never, (res: IncomingMessage) => {
          res.resume();
          resolve(true);
        });
        req.on('error', () => resolve(false));
        req.end();
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`registry at ${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a registry; `auth` adds htpasswd basic auth and TLS (self-signed cert for 127.0.0.1/localhost). */
export async function startRegistry(opts: { auth?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync('/tmp/cocon-registry-');
  const port = await freePort();
  let extra = '';
  let ca: string | undefined;
  let user: string | undefined;
  let password: string | undefined;
  if (opts.auth) {
    user = 'tester';
    password = 'secret-pw';
    execFileSync('htpasswd', ['-Bbc', join(dir, 'htpasswd'), user, password], { stdio: 'ignore' });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    ca = join(dir, 'cert.pem');
    extra = `  tls:\n    certificate: ${join(dir, 'cert.pem')}\n    key: ${join(dir, 'key.pem')}\nauth:\n  htpasswd:\n    realm: cocon-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${extra}`,
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  await waitHttp(`${opts.auth ? 'https' : 'http'}://127.0.0.1:${port}/v2/`, !!opts.auth);
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    ca,
    user,
    password,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FaultProxy {
  host: string;
  port: number;
  mode: { corrupt?: string; cut?: string };
  hits: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * An http proxy in front of a plain registry: mode.corrupt = a blob digest whose body gets one byte
 * flipped; mode.cut = a blob digest whose connection is destroyed half way through the body.
 */
export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  const mode: FaultProxy['mode'] = {};
  const hits = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
    const digest = m?.[1];
    if (digest && req.method === 'GET') hits.set(digest, (hits.get(digest) ?? 0) + 1);
    const up = request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        if (digest && req.method === 'GET' && (mode.corrupt === digest || mode.cut === digest)) {
          const chunks: Buffer[] = [];
          ur.on('data', (c: Buffer) => chunks.push(c));
          ur.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(ur.statusCode ?? 500, ur.headers);
            if (mode.corrupt === digest) {
              body[Math.floor(body.length / 2)] ^= 0xff;
              res.end(body);
              return;
            }
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 50));
          });
          return;
        }
        res.writeHead(ur.statusCode ?? 500, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    port,
    mode,
    hits,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------- raw images straight into a registry

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  devmajor?: number;
  devminor?: number;
}

/** Builds an uncompressed tar from entries (tar-stream). */
export function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const header = {
      name: e.name,
      type,
      linkname: e.linkname,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(1_700_000_000_000),
      devmajor: e.devmajor,
      devminor: e.devminor,
      size: type === 'file' ? (data?.length ?? 0) : 0,
    };
    if (type === 'file') p.entry(header, data ?? Buffer.alloc(0));
    else p.entry(header, Buffer.alloc(0));
  }
  p.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => {
      chunks.push(Buffer.from(c as Uint8Array));
    });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

export const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function httpCall(
  base: string,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function uploadBlob(host: string, repo: string, blob: Buffer): Promise<string> {
  const base = `http://${host}`;
  const d = sha(blob);
  const start = await httpCall(base, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`upload start ${start.status}`);
  const loc = new URL(String(start.headers.location), base);
  loc.searchParams.set('digest', d);
  const put = await httpCall(base, 'PUT', loc.pathname + loc.search, blob, {
    'Content-Type': 'application/octet-stream',
  });
  if (put.status !== 201) throw new Error(`upload put ${put.status} ${put.body}`);
  return d;
}

export async function putManifest(
  host: string,
  repo: string,
  ref: string,
  m: object,
  mediaType: string,
): Promise<string> {
  const body = Buffer.from(JSON.stringify(m));
  const r = await httpCall(`http://${host}`, 'PUT', `/v2/${repo}/manifests/${ref}`, body, {
    'Content-Type': mediaType,
  });
  if (r.status !== 201) throw new Error(`manifest put ${r.status} ${r.body}`);
  return sha(body);
}

/**
 * Pushes an image made of uncompressed layer tars straight to a plain registry (no cocon involved).
 * compression: gzip (Docker schema 2), zstd (OCI), none (OCI tar). index: wrap it in an OCI index
 * with a decoy arm64 entry. Returns the digests.
 */
export async function pushRawImage(
  host: string,
  repo: string,
  tag: string,
  layers: Buffer[],
  opts: { compression?: 'gzip' | 'zstd' | 'none'; index?: boolean; cmd?: string[] } = {},
): Promise<{ manifest: string; config: string; top: string; blobs: string[] }> {
  const comp = opts.compression ?? 'gzip';
  const blobs: Buffer[] = layers.map((l) =>
    comp === 'gzip'
      ? gzipSync(l, { level: 1 })
      : comp === 'zstd'
        ? execFileSync('zstd', ['-q', '-c', '-1'], { input: l, maxBuffer: 1 << 30 })
        : l,
  );
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: opts.cmd ?? ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map(sha) },
      history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test layer' })),
    }),
  );
  const cfgDigest = await uploadBlob(host, repo, config);
  const blobDigests: string[] = [];
  for (const b of blobs) blobDigests.push(await uploadBlob(host, repo, b));
  const docker = comp === 'gzip' && !opts.index;
  const layerType = docker
    ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
    : comp === 'gzip'
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : comp === 'zstd'
        ? 'application/vnd.oci.image.layer.v1.tar+zstd'
        : 'application/vnd.oci.image.layer.v1.tar';
  const mt = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = {
    schemaVersion: 2,
    mediaType: mt,
    config: {
      mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
      digest: cfgDigest,
      size: config.length,
    },
    layers: blobs.map((b, i) => ({ mediaType: layerType, digest: blobDigests[i], size: b.length })),
  };
  if (!opts.index) {
    const d = await putManifest(host, repo, tag, manifest, mt);
    return { manifest: d, config: cfgDigest, top: d, blobs: blobDigests };
  }
  const md = await putManifest(host, repo, sha(Buffer.from(JSON.stringify(manifest))), manifest, mt);
  // a decoy manifest for arm64 pointing at an empty config (never pulled on amd64)
  const decoyCfg = Buffer.from(
    JSON.stringify({ architecture: 'arm64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const decoyCfgD = await uploadBlob(host, repo, decoyCfg);
  const decoy = {
    schemaVersion: 2,
    mediaType: mt,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: decoyCfgD, size: decoyCfg.length },
    layers: [],
  };
  const decoyD = await putManifest(host, repo, sha(Buffer.from(JSON.stringify(decoy))), decoy, mt);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: mt,
        digest: decoyD,
        size: Buffer.byteLength(JSON.stringify(decoy)),
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
      {
        mediaType: mt,
        digest: md,
        size: Buffer.byteLength(JSON.stringify(manifest)),
        platform: { os: 'linux', architecture: 'amd64' },
      },
    ],
  };
  const top = await putManifest(host, repo, tag, index, 'application/vnd.oci.image.index.v1+json');
  return { manifest: md, config: cfgDigest, top, blobs: blobDigests };
}

/**
 * A token-auth front for a plain registry (the Docker Hub scheme): /v2/* needs
 * "Authorization: Bearer <token>", else 401 with a Bearer challenge whose realm is /token here;
 * /token hands out a token for the requested scope (anonymous for pull, basic credentials for push).
 */
export async function startTokenFront(
  upstreamPort: number,
  creds: { user: string; password: string },
): Promise<{ host: string; tokenRequests: string[]; stop(): Promise<void> }> {
  const port = await freePort();
  const tokenRequests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname === '/token') {
      const scope = url.searchParams.getAll('scope').join(' ');
      tokenRequests.push(scope);
      const basic = String(req.headers.authorization ?? '');
      const authed = basic === 'Basic ' + Buffer.from(`${creds.user}:${creds.password}`).toString('base64');
      if (basic && !authed) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      const token = (authed ? 'push-' : 'pull-') + Buffer.from(scope).toString('base64url');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const auth = String(req.headers.authorization ?? '');
    const m = /^Bearer (pull|push)-(.*)$/.exec(auth);
    const scope = m ? Buffer.from(m[2], 'base64url').toString() : '';
    const needPush = req.method !== 'GET' && req.method !== 'HEAD';
    const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
    const ok =
      url.pathname === '/v2/'
        ? !!m
        : !!m && !!repo && scope.includes(`repository:${repo}:`) && (!needPush || m[1] === 'push');
    if (!ok) {
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="cocon-test"${repo ? `,scope="repository:${repo}:pull"` : ''}`,
        'Content-Type': 'application/json',
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (ur) => {
      const h = { ...ur.headers };
      if (typeof h.location === 'string')
        h.location = h.location.replace(`127.0.0.1:${upstreamPort}`, `127.0.0.1:${port}`);
      res.writeHead(ur.statusCode ?? 500, h);
      ur.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    tokenRequests,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
