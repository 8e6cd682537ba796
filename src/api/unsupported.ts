// Docker Engine API endpoints cocon knows but does not serve: plugins, image search (Docker Hub),
// distribution inspect, checkpoints, the websocket attach and the BuildKit session. They answer
// 501 with a message naming what is missing, instead of a 404 "page not found" that reads like a
// client bug. Endpoints cocon has never heard of stay 404.
import type { Router } from './router.js';
import { NotImplemented } from '../core/errors.js';

const PLUGINS = 'plugins are not supported by cocon';
const CHECKPOINTS = 'checkpoints are not supported by cocon';
const UNSUPPORTED: ReadonlyArray<readonly [string, string, string]> = [
  ['GET', '/plugins', PLUGINS],
  ['GET', '/plugins/privileges', PLUGINS],
  ['POST', '/plugins/pull', PLUGINS],
  ['POST', '/plugins/create', PLUGINS],
  ['GET', '/plugins/*name/json', PLUGINS],
  ['DELETE', '/plugins/*name', PLUGINS],
  ['POST', '/plugins/*name/enable', PLUGINS],
  ['POST', '/plugins/*name/disable', PLUGINS],
  ['POST', '/plugins/*name/upgrade', PLUGINS],
  ['POST', '/plugins/*name/push', PLUGINS],
  ['POST', '/plugins/*name/set', PLUGINS],
  ['GET', '/images/search', 'image search is not supported by cocon (it has no registry index to search)'],
  ['GET', '/distribution/*name/json', 'distribution inspect is not supported by cocon'],
  ['GET', '/containers/:id/checkpoints', CHECKPOINTS],
  ['POST', '/containers/:id/checkpoints', CHECKPOINTS],
  ['DELETE', '/containers/:id/checkpoints/:cp', CHECKPOINTS],
  ['GET', '/containers/:id/attach/ws', 'websocket attach is not supported by cocon: use POST /containers/{id}/attach'],
  ['POST', '/session', 'BuildKit sessions are not supported by cocon'],
];

export function registerUnsupportedRoutes(r: Router): void {
  for (const [method, path, message] of UNSUPPORTED)
    r.add(method, path, () => {
      throw new NotImplemented(message);
    });
}
