// Container endpoints of the Docker Engine API: create, list, inspect, start/stop/kill/restart,
// pause, remove, rename, wait, attach (hijacked), resize, logs, top, changes, export, prune.
// Thin, like moby's api/server/router/container: each handler decodes the request, calls one method
// of the ContainersBackend below (src/containers/operations.ts in the daemon, a fake in the unit
// tests) and encodes the answer; typed engine errors become status codes in ./httpstatus.ts.
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CreateBody } from '../containers/config.js';
import type { AttachRequest, ListOptions, LogOptions } from '../containers/operations.js';
import { NotFound } from '../core/errors.js';
import { parseFilters } from '../core/filters.js';
import { detachKeysFor } from '../runtime/detachkeys.js';
import type { Router } from './router.js';

export function boolParam(v: string | null): boolean {
  return v !== null && ['1', 'true', 'True', 'TRUE', 'yes'].includes(v);
}

/** What the container routes need from the engine. */
export interface ContainersBackend {
  create(body: CreateBody, name: string | null): Promise<{ Id: string; Warnings: string[] }>;
  list(o: ListOptions): unknown[];
  inspect(ref: string): Promise<unknown>;
  start(ref: string): Promise<void>;
  stop(ref: string, timeoutSec?: number, signal?: string): Promise<void>;
  restart(ref: string, timeoutSec?: number, signal?: string): Promise<void>;
  kill(ref: string, signal: string): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  remove(ref: string, force: boolean, removeVolumes: boolean): Promise<void>;
  removeLink(ref: string): Promise<void>;
  rename(ref: string, name: string): void;
  wait(ref: string, condition: string): { promise: Promise<number>; cancel: () => void };
  attach(ref: string, o: AttachRequest, hijack: (tty: boolean) => Duplex): Promise<void>;
  resize(ref: string, h: number, w: number): void;
  top(ref: string, psArgs: string): Promise<unknown>;
  logs(ref: string, o: LogOptions): Promise<Readable>;
  changes(ref: string): Promise<unknown[]>;
  export(ref: string): Promise<Readable>;
  prune(filters: Map<string, string[]>): Promise<unknown>;
}

export function registerContainerRoutes(r: Router, b: ContainersBackend): void {
  r.post('/containers/create', async (ctx) => {
    const body = await ctx.json<CreateBody>('containerCreate');
    ctx.send(201, await b.create(body, ctx.query.get('name')));
  });

  r.get('/containers/json', (ctx) => {
    const limit = boolParam(ctx.query.get('latest')) ? 1 : Number(ctx.query.get('limit') ?? -1);
    const filters = parseFilters(ctx.query.get('filters'));
    ctx.send(200, b.list({ all: boolParam(ctx.query.get('all')), limit, filters }));
  });

  r.get('/containers/:id/json', async (ctx) => {
    ctx.send(200, await b.inspect(ctx.params.id));
  });

  r.post('/containers/:id/start', async (ctx) => {
    await b.start(ctx.params.id);
    ctx.send(204);
  });

  const optTimeout = (v: string | null) => (v === null || v === '' ? undefined : Number(v));
  r.post('/containers/:id/stop', async (ctx) => {
    await b.stop(ctx.params.id, optTimeout(ctx.query.get('t')), ctx.query.get('signal') || undefined);
    ctx.send(204);
  });
  r.post('/containers/:id/restart', async (ctx) => {
    await b.restart(ctx.params.id, optTimeout(ctx.query.get('t')), ctx.query.get('signal') || undefined); // signal: API 1.42
    ctx.send(204);
  });
  r.post('/containers/:id/kill', async (ctx) => {
    await b.kill(ctx.params.id, ctx.query.get('signal') || 'KILL');
    ctx.send(204);
  });
  r.post('/containers/:id/pause', async (ctx) => {
    await b.pause(ctx.params.id);
    ctx.send(204);
  });
  r.post('/containers/:id/unpause', async (ctx) => {
    await b.unpause(ctx.params.id);
    ctx.send(204);
  });

  r.delete('/containers/:id', async (ctx) => {
    if (boolParam(ctx.query.get('link'))) await b.removeLink(ctx.params.id);
    else await b.remove(ctx.params.id, boolParam(ctx.query.get('force')), boolParam(ctx.query.get('v')));
    ctx.send(204);
  });

  // docker rm --link PARENT/ALIAS (the CLI trims the slashes around the name)
  r.delete('/containers/:parent/:alias', async (ctx) => {
    const name = `${ctx.params.parent}/${ctx.params.alias}`;
    if (!boolParam(ctx.query.get('link'))) throw new NotFound(`No such container: ${name}`);
    await b.removeLink(name);
    ctx.send(204);
  });

  r.post('/containers/:id/rename', (ctx) => {
    b.rename(ctx.params.id, ctx.query.get('name') ?? '');
    ctx.send(204);
  });

  r.post('/containers/:id/wait', (ctx) => {
    const w = b.wait(ctx.params.id, ctx.query.get('condition') || 'not-running');
    const res = ctx.stream(200);
    const onClose = () => w.cancel();
    ctx.req.socket.once('close', onClose);
    void w.promise.then((code) => {
      ctx.req.socket.off('close', onClose);
      res.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
    });
  });

  r.post('/containers/:id/attach', async (ctx) => {
    const q = ctx.query;
    const o = {
      stdin: boolParam(q.get('stdin')),
      stdout: boolParam(q.get('stdout')),
      stderr: boolParam(q.get('stderr')),
      detachKeys: detachKeysFor(q.get('detachKeys')),
      logs: boolParam(q.get('logs')),
      stream: boolParam(q.get('stream')),
    };
    await b.attach(ctx.params.id, o, (tty) => ctx.hijack(tty));
  });

  r.post('/containers/:id/resize', (ctx) => {
    b.resize(ctx.params.id, Number(ctx.query.get('h') ?? 0), Number(ctx.query.get('w') ?? 0));
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  });

  r.get('/containers/:id/top', async (ctx) => {
    ctx.send(200, await b.top(ctx.params.id, ctx.query.get('ps_args') ?? ''));
  });

  r.get('/containers/:id/logs', async (ctx) => {
    const q = ctx.query;
    const logs = await b.logs(ctx.params.id, {
      stdout: boolParam(q.get('stdout')),
      stderr: boolParam(q.get('stderr')),
      follow: boolParam(q.get('follow')),
      timestamps: boolParam(q.get('timestamps')),
      tail: q.get('tail'),
      since: q.get('since') || undefined,
      until: q.get('until') || undefined,
    });
    const res = ctx.stream(200, null);
    // a client that goes away (docker logs -f, then ^C) destroys the log stream: the follow ends
    await pipeline(logs, res).catch(() => logs.destroy());
  });

  r.get('/containers/:id/changes', async (ctx) => {
    const list = await b.changes(ctx.params.id);
    ctx.send(200, list.length ? list : null);
  });

  r.get('/containers/:id/export', async (ctx) => {
    const tar = await b.export(ctx.params.id);
    const res = ctx.stream(200, 'application/x-tar');
    await pipeline(tar, res).catch(() => res.destroy());
  });

  r.post('/containers/prune', async (ctx) => {
    ctx.send(200, await b.prune(parseFilters(ctx.query.get('filters'))));
  });
}
