// Volume endpoints: GET /volumes, POST /volumes/create, GET/DELETE /volumes/{name}, POST /volumes/prune.
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import {
  parseFilters,
  checkFilterKeys,
  labelsMatch,
  boolFilter,
  pruneFilter,
  prunes,
  type Filters,
} from '../core/filters.js';
import { cmpVersion } from './router.js';
import { treeSize } from '../snapshots/overlay.js';
import type { VolumeRecord } from '../volumes/service.js';

function filtered(s: Services, f: Filters): VolumeRecord[] {
  checkFilterKeys(f, ['dangling', 'name', 'label', 'label!', 'driver']);
  const dangling = boolFilter('dangling', f.get('dangling') ?? []);
  return s.volumes.all().filter((v) => {
    if (dangling !== undefined && s.volumes.inUse(v.name) === dangling) return false;
    const n = f.get('name');
    if (n?.length && !n.some((x) => v.name.includes(x))) return false;
    const dr = f.get('driver');
    if (dr?.length && !dr.includes(v.driver)) return false;
    if (!labelsMatch(v.labels, f)) return false;
    return true;
  });
}

export function registerVolumeRoutes(r: Router, s: Services): void {
  r.get('/volumes', (ctx) => {
    ctx.send(200, {
      Volumes: filtered(s, parseFilters(ctx.query.get('filters'))).map((v) => s.volumes.inspect(v)),
      Warnings: null,
    });
  });

  r.post('/volumes/create', async (ctx) => {
    const body = await ctx.json<{
      Name?: string;
      Driver?: string;
      DriverOpts?: Record<string, string>;
      Labels?: Record<string, string>;
    }>('volumeCreate');
    const v = await s.volumes.create(body);
    ctx.send(201, s.volumes.inspect(v));
  });

  // API 1.42 changed prune: only anonymous volumes unless the filter all=true (`docker volume prune -a`).
  r.post('/volumes/prune', async (ctx) => {
    // docker: label, label! and (API 1.42+) all; from API 1.42 only anonymous volumes unless all=true.
    const f = parseFilters(ctx.query.get('filters'));
    const all = boolFilter('all', f.get('all') ?? []);
    f.delete('all');
    const pf = pruneFilter(f, ['label', 'label!']);
    const onlyAnonymous = cmpVersion(ctx.apiVersion, '1.42') >= 0 && !all;
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of s.volumes.all()) {
      if (s.volumes.inUse(v.name) || (onlyAnonymous && !v.anonymous) || !prunes(pf, 0, v.labels)) continue;
      const size = (() => {
        try {
          return treeSize(s.volumes.mountpoint(v.name));
        } catch {
          return 0;
        }
      })();
      await s.volumes.remove(v.name, false);
      deleted.push(v.name);
      reclaimed += size;
    }
    ctx.send(200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });

  r.get('/volumes/:name', (ctx) => {
    ctx.send(200, s.volumes.inspect(s.volumes.get(ctx.params.name)));
  });

  r.delete('/volumes/:name', async (ctx) => {
    const force = ['1', 'true'].includes(ctx.query.get('force') ?? '');
    await s.volumes.remove(ctx.params.name, force);
    ctx.send(204);
  });
}
