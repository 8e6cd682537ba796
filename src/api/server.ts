// The API server: an HTTP/1.1 server on a unix socket serving the Docker Engine API.
// Requests with `Upgrade: tcp` (attach, exec start) arrive through the 'upgrade' event and are
// routed like the others, with a response object bound to the raw socket.
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Router, responseForUpgrade } from './router.js';
import type { Services } from '../daemon/services.js';
import { registerSystemRoutes } from './system.js';
import { registerImageRoutes } from './images.js';
import { registerContainerRoutes } from './containers.js';
import { registerExecRoutes } from './exec.js';
import { registerNetworkRoutes } from './networks.js';
import { registerVolumeRoutes } from './volumes.js';
import { registerArchiveRoutes } from './archive.js';

export function buildRouter(s: Services): Router {
  const r = new Router();
  registerSystemRoutes(r, s);
  registerImageRoutes(r, s);
  registerContainerRoutes(r, s);
  registerExecRoutes(r, s);
  registerNetworkRoutes(r, s);
  registerVolumeRoutes(r, s);
  registerArchiveRoutes(r, s);
  return r;
}

export async function listen(s: Services): Promise<Server> {
  const router = buildRouter(s);
  const server = createServer({ keepAlive: true }, (req, res) => { void router.dispatch(req, res); });
  server.keepAliveTimeout = 0;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
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
  chmodSync(s.config.socketPath, 0o660);
  return server;
}
