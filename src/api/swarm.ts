// Swarm endpoints of the Docker Engine API. cocon has no swarm mode, so it answers as a dockerd
// that is not part of a swarm: 503 with dockerd's messages, which clients rely on (their teardown
// calls POST /swarm/leave and takes 503 as "nothing to leave"). Joining or creating a swarm is
// refused with 501: cocon cannot become a swarm node.
import type { Router } from './router.js';
import { NotImplemented, Unavailable } from '../core/errors.js';

/** dockerd's errNoSwarm. */
export const NO_SWARM = 'This node is not part of a swarm';
/** dockerd's answer from every manager-only endpoint on a node outside a swarm. */
export const NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** Every swarm route but init/join/leave: [method, path]. */
export const MANAGER_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/swarm'],
  ['POST', '/swarm/update'],
  ['POST', '/swarm/unlock'],
  ['GET', '/swarm/unlockkey'],
  ['GET', '/nodes'],
  ['GET', '/nodes/:id'],
  ['DELETE', '/nodes/:id'],
  ['POST', '/nodes/:id/update'],
  ['GET', '/services'],
  ['POST', '/services/create'],
  ['GET', '/services/:id'],
  ['DELETE', '/services/:id'],
  ['POST', '/services/:id/update'],
  ['GET', '/services/:id/logs'],
  ['GET', '/tasks'],
  ['GET', '/tasks/:id'],
  ['GET', '/tasks/:id/logs'],
  ['GET', '/secrets'],
  ['POST', '/secrets/create'],
  ['GET', '/secrets/:id'],
  ['DELETE', '/secrets/:id'],
  ['POST', '/secrets/:id/update'],
  ['GET', '/configs'],
  ['POST', '/configs/create'],
  ['GET', '/configs/:id'],
  ['DELETE', '/configs/:id'],
  ['POST', '/configs/:id/update'],
];

export function registerSwarmRoutes(r: Router): void {
  r.post('/swarm/leave', () => {
    throw new Unavailable(NO_SWARM);
  });
  const refuse = () => {
    throw new NotImplemented('swarm mode is not supported by cocon');
  };
  r.post('/swarm/init', refuse);
  r.post('/swarm/join', refuse);
  for (const [method, path] of MANAGER_ROUTES)
    r.add(method, path, () => {
      throw new Unavailable(NOT_MANAGER);
    });
}
