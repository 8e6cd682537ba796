// The API server: an HTTP/1.1 server on a unix socket serving the Docker Engine API.
// Requests with `Upgrade: tcp` (attach, exec start) arrive through the 'upgrade' event and are
// routed like the others, with a response object bound to the raw socket.
// Time limits (ServerLimits): a client must send its headers within headersTimeoutMs (slowloris),
// its JSON body within bodyTimeoutMs (router.ts), and an idle keep-alive connection is closed after
// idleTimeoutMs. Streams (attach, exec, logs -f, events, wait) and uploads (load, import, cp) have
// no time limit: Node's requestTimeout, which would cut them, stays off.
import { createServer, type Server } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { restrictSocket } from '../sys/perms.js';
import { dirname } from 'node:path';
import { Router, responseForUpgrade, DEFAULT_REQUEST_LIMITS, type RequestLimits } from './router.js';
import type { Services } from '../daemon/services.js';
import { registerSystemRoutes } from './system.js';
import { registerImageRoutes } from './images.js';
import { registerAuthRoutes } from './auth.js';
import { registerContainerRoutes } from './containers.js';
import { registerExecRoutes } from './exec.js';
import { registerNetworkRoutes } from './networks.js';
import { registerVolumeRoutes } from './volumes.js';
import { registerArchiveRoutes } from './archive.js';
import { registerResourceRoutes } from './resources.js';
import { registerSwarmRoutes } from './swarm.js';
import { registerUnsupportedRoutes } from './unsupported.js';
import { registerBuildRoutes } from './build.js';

export interface ServerLimits extends RequestLimits {
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  ...DEFAULT_REQUEST_LIMITS,
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
};

/**
 * The limits with overrides from COCON_API_TIMEOUTS ("headers=MS,body=MS,idle=MS", 0 = none):
 * a test knob, so that tests of the limits do not wait for the defaults.
 */
export function serverLimits(env: string | undefined): ServerLimits {
  const out = { ...DEFAULT_SERVER_LIMITS };
  const keys: Record<string, keyof ServerLimits> = {
    headers: 'headersTimeoutMs',
    body: 'bodyTimeoutMs',
    idle: 'idleTimeoutMs',
  };
  for (const part of (env ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!(k in keys) || !/^\d+$/.test(v ?? '')) throw new Error(`invalid COCON_API_TIMEOUTS entry: ${part}`);
    out[keys[k]] = Number(v);
  }
  return out;
}

export function buildRouter(s: Services, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): Router {
  const r = new Router(limits);
  registerSystemRoutes(r, s);
  registerAuthRoutes(r, s);
  registerImageRoutes(r, s.imageOps);
  registerContainerRoutes(r, s.containerOps);
  registerExecRoutes(r, s);
  registerNetworkRoutes(r, s);
  registerVolumeRoutes(r, s);
  registerArchiveRoutes(r, s.archive);
  registerResourceRoutes(r, s);
  registerBuildRoutes(r, s.builds);
  registerSwarmRoutes(r);
  registerUnsupportedRoutes(r); // last: any real route registered above wins
  return r;
}

export async function listen(s: Services, limits: ServerLimits = DEFAULT_SERVER_LIMITS): Promise<Server> {
  const router = buildRouter(s, limits);
  // Expired headers are checked every connectionsCheckingInterval: a tenth of the limit keeps the cut close to it.
  const server = createServer(
    { keepAlive: true, connectionsCheckingInterval: Math.max(100, Math.min(30_000, limits.headersTimeoutMs / 10)) },
    (req, res) => {
      void router.dispatch(req, res);
    },
  );
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = 0;
  server.timeout = 0;
  server.on('upgrade', (req, socket, head) => {
    const res = responseForUpgrade(req, socket);
    void router.dispatch(req, res, socket, head);
  });
  mkdirSync(dirname(s.config.socketPath), { recursive: true });
  rmSync(s.config.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.config.socketPath, () => resolve());
  });
  restrictSocket(s.config.socketPath);
  return server;
}
