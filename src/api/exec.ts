// Exec endpoints: POST /containers/{id}/exec, POST /exec/{id}/start (hijacked unless detached),
// POST /exec/{id}/resize, GET /exec/{id}/json.
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import type { ExecConfig } from '../containers/exec.js';

export function registerExecRoutes(r: Router, s: Services): void {
  r.post('/containers/:id/exec', async (ctx) => {
    const body = await ctx.json<ExecConfig>('execCreate');
    ctx.send(201, { Id: s.execs.create(ctx.params.id, body) });
  });

  r.post('/exec/:id/start', async (ctx) => {
    const body = await ctx.json<{ Detach?: boolean; Tty?: boolean }>('execStart');
    const tty = body.Tty ?? !!s.execs.get(ctx.params.id).config.Tty;
    if (body.Detach) {
      await s.execs.start(ctx.params.id, { detach: true, tty: body.Tty }, null);
      ctx.send(200);
      return;
    }
    const sock = ctx.hijack(tty);
    await s.execs.start(ctx.params.id, { detach: false, tty }, sock).catch((e: Error) => {
      if (sock.writable) sock.end(e.message + '\n');
    });
  });

  r.post('/exec/:id/resize', (ctx) => {
    s.execs.resize(ctx.params.id, Number(ctx.query.get('h') ?? 0), Number(ctx.query.get('w') ?? 0));
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  });

  r.get('/exec/:id/json', (ctx) => {
    ctx.send(200, s.execs.inspect(ctx.params.id));
  });
}
