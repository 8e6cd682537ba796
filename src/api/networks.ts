// Network endpoints of the Docker Engine API: list, inspect, create, remove, prune, connect,
// disconnect. The engine side is src/network/service.ts.
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import { InvalidArgument, Unavailable } from '../core/errors.js';
import { parseFilters, labelsMatch, checkFilterKeys, boolFilter, pruneFilter, prunes } from '../core/filters.js';
import type { NetworkService } from '../network/service.js';

function service(s: Services): NetworkService {
  const n = s.networks;
  if (!n) throw new Unavailable('networking is not available in this daemon');
  return n;
}

export function registerNetworkRoutes(r: Router, s: Services): void {
  r.get('/networks', (ctx) => {
    const net = service(s);
    const f = parseFilters(ctx.query.get('filters'));
    checkFilterKeys(f, ['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling']);
    const dangling = boolFilter('dangling', f.get('dangling') ?? []);
    const out = net
      .list()
      .filter((n) => {
        const name = f.get('name');
        if (name && !name.some((x) => n.Name.includes(x))) return false;
        const id = f.get('id');
        if (id && !id.some((x) => n.Id.startsWith(x))) return false;
        const drv = f.get('driver');
        if (drv && !drv.includes(n.Driver)) return false;
        if (!labelsMatch(n.Labels, f)) return false;
        const builtin =
          ['bridge', 'host', 'none'].includes(n.Name) &&
          (n.Driver !== 'bridge' || n.Options['com.docker.network.bridge.default_bridge'] === 'true');
        const type = f.get('type');
        if (type && !type.includes(builtin ? 'builtin' : 'custom')) return false;
        const scope = f.get('scope');
        if (scope && !scope.includes('local')) return false;
        // dangling: user networks no container is attached to (builtin ones never dangle)
        if (dangling !== undefined && (!builtin && Object.keys(net.view(n).Containers ?? {}).length === 0) !== dangling)
          return false;
        return true;
      })
      .map((n) => net.view(n));
    ctx.send(200, out);
  });
  r.get('/networks/:id', (ctx) => {
    const net = service(s);
    ctx.send(200, net.view(net.find(ctx.params.id)));
  });
  r.post('/networks/create', async (ctx) => {
    const body = await ctx.json<Parameters<NetworkService['create']>[0]>('networkCreate');
    ctx.send(201, await service(s).create(body));
  });
  r.delete('/networks/:id', async (ctx) => {
    await service(s).delete(ctx.params.id);
    ctx.send(204);
  });
  r.post('/networks/prune', async (ctx) => {
    const pf = pruneFilter(parseFilters(ctx.query.get('filters')));
    const deleted = await service(s).prune((n) => prunes(pf, Date.parse(n.Created), n.Labels));
    ctx.send(200, { NetworksDeleted: deleted.length ? deleted : null });
  });
  r.post('/networks/:id/connect', async (ctx) => {
    const b = await ctx.json<{
      Container?: string;
      EndpointConfig?: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null;
    }>('networkConnect');
    if (!b.Container) throw new InvalidArgument('container is required');
    await service(s).connectContainer(ctx.params.id, b.Container, b.EndpointConfig ?? null);
    ctx.send(200);
  });
  r.post('/networks/:id/disconnect', async (ctx) => {
    const b = await ctx.json<{ Container?: string; Force?: boolean }>('networkDisconnect');
    if (!b.Container) throw new InvalidArgument('container is required');
    await service(s).disconnectContainer(ctx.params.id, b.Container, !!b.Force);
    ctx.send(200);
  });
}
