// Resource endpoints of the Docker Engine API: GET /containers/{id}/stats (stream=1: a JSON
// object per line, one a second; stream=0: one object with precpu_stats; one-shot=1: at once,
// without precpu) and POST /containers/{id}/update ({"Warnings":null} like dockerd 20.10).
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import type { UpdateBody } from '../containers/resources.js';
import { boolParam } from './containers.js';

export function registerResourceRoutes(r: Router, s: Services): void {
  r.get('/containers/:id/stats', async (ctx) => {
    const q = ctx.query;
    // docker: stream defaults to true; one-shot only counts without streaming.
    const stream = q.get('stream') === null ? true : boolParam(q.get('stream'));
    if (!stream) {
      const body = boolParam(q.get('one-shot')) ? s.stats.oneShot(ctx.params.id) : await s.stats.once(ctx.params.id);
      ctx.send(200, body);
      return;
    }
    s.containers.lookup(ctx.params.id); // 404 before the stream starts
    const res = ctx.stream(200);
    let stop = () => {};
    const end = () => {
      stop();
      if (!res.writableEnded) res.end();
    };
    res.on('error', end);
    ctx.req.socket.once('close', end);
    stop = s.stats.stream(
      ctx.params.id,
      (st) => {
        if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(st) + '\n');
      },
      end,
    );
  });

  r.post('/containers/:id/update', async (ctx) => {
    const body = await ctx.json<UpdateBody>('containerUpdate');
    const warnings = await s.containers.update(ctx.params.id, body);
    ctx.send(200, { Warnings: warnings.length ? warnings : null });
  });
}
