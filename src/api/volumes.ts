// Volume endpoints: GET /volumes, POST /volumes/create, GET/DELETE /volumes/{name}, POST /volumes/prune.
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import { InvalidArgument } from '../core/errors.js';
import { parseFilters } from './containers.js';
import { pruneFilter, prunes } from './prunefilters.js';
import { treeSize } from '../snapshots/overlay.js';

function apiAtLeast(v: string, min: string): boolean {
  const [a, b] = v.split('.').map(Number), [c, d] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}
import type { VolumeRecord } from '../volumes/service.js';

function labelMatch(v: VolumeRecord, want: string[]): boolean {
  return want.every((l) => { const [k, ...rest] = l.split('='); const val = v.labels?.[k]; return rest.length ? val === rest.join('=') : val !== undefined; });
}

function filtered(s: Services, raw: string | null): VolumeRecord[] {
  const f = parseFilters(raw);
  for (const k of f.keys()) if (!['dangling', 'name', 'label', 'driver'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  return s.volumes.all().filter((v) => {
    const d = f.get('dangling');
    if (d?.length) { const want = ['true', '1'].includes(d[0]); if (s.volumes.inUse(v.name) === want) return false; }
    const n = f.get('name');
    if (n?.length && !n.some((x) => v.name.includes(x))) return false;
    const dr = f.get('driver');
    if (dr?.length && !dr.includes(v.driver)) return false;
    const l = f.get('label');
    if (l?.length && !labelMatch(v, l)) return false;
    return true;
  });
}

export function registerVolumeRoutes(r: Router, s: Services): void {
  r.get('/volumes', (ctx) => {
    ctx.send(200, { Volumes: filtered(s, ctx.query.get('filters')).map((v) => s.volumes.inspect(v)), Warnings: null });
  });

  r.post('/volumes/create', async (ctx) => {
    const body = await ctx.json<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>('volumeCreate');
    const v = await s.volumes.create(body);
    ctx.send(201, s.volumes.inspect(v));
  });

  r.post('/volumes/prune', async (ctx) => {
    // docker: label, label! and (API 1.42+) all; from API 1.42 only anonymous volumes unless all=true.
    const f = parseFilters(ctx.query.get('filters'));
    const all = f.get('all') ?? [];
    f.delete('all');
    const pf = pruneFilter(f, ['label', 'label!']);
    const onlyAnonymous = apiAtLeast(ctx.apiVersion, '1.42') && !all.some((v) => ['true', '1'].includes(v));
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of s.volumes.all()) {
      if (s.volumes.inUse(v.name) || (onlyAnonymous && !v.anonymous) || !prunes(pf, 0, v.labels)) continue;
      const size = (() => { try { return treeSize(s.volumes.mountpoint(v.name)); } catch { return 0; } })();
      await s.volumes.remove(v.name, false);
      deleted.push(v.name);
      reclaimed += size;
    }
    ctx.send(200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });

  r.get('/volumes/:name', (ctx) => { ctx.send(200, s.volumes.inspect(s.volumes.get(ctx.params.name))); });

  r.delete('/volumes/:name', async (ctx) => {
    const force = ['1', 'true'].includes(ctx.query.get('force') ?? '');
    await s.volumes.remove(ctx.params.name, force);
    ctx.send(204);
  });
}
