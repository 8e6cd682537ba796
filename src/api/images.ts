// Image endpoints of the Docker Engine API (local images; pull/push come with the registry issue):
//   GET    /images/json                 list (all, filters: dangling, label, reference, before, since)
//   GET    /images/{name}/json          inspect
//   GET    /images/{name}/history       history
//   POST   /images/{name}/tag           tag (?repo=&tag=) -> 201
//   DELETE /images/{name}               rmi (?force=&noprune=) -> [{"Untagged"},{"Deleted"}]
//   POST   /images/create               import (?fromSrc=-|URL&repo=&tag=&changes=&message=); pull (?fromImage=&tag=&platform=)
//   POST   /images/{name}/push          push (?tag=), X-Registry-Auth
//   POST   /auth                        login check (./auth.ts)
//   GET    /images/get?names=..         save (docker-archive tar); GET /images/{name}/get the same for one
//   POST   /images/load                 load (docker-archive or OCI layout) -> {"stream":"Loaded image: x\n"}
//   POST   /images/prune                prune (filters: dangling, label, label!, until)
//   POST   /images/bootstrap            cocon's own: ?image=busybox -> {"Id"}
//
// Thin, like moby's api/server/router/image: each handler decodes the request, calls one method of
// the ImagesBackend below (src/images/operations.ts in the daemon, a fake in the unit tests) and
// encodes the answer; typed engine errors become status codes in ./httpstatus.ts.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { InvalidArgument, messageOf } from '../core/errors.js';
import { filtersRecord, parseFilters as parseCoreFilters } from '../core/filters.js';
import { goJson, type Emit, type JsonMessage } from '../images/progress.js';
import type { Router, Ctx } from './router.js';

/** What the image routes need from the engine. */
export interface ImagesBackend {
  list(o: { all: boolean; filters: Record<string, string[]> }): unknown[];
  inspect(name: string): unknown;
  history(name: string): unknown;
  tag(name: string, repo: string, tag?: string): Promise<void>;
  remove(name: string, force: boolean, noprune: boolean): Promise<unknown>;
  prune(filters: Record<string, string[]>): Promise<unknown>;
  import(
    body: Readable,
    opts: { fromSrc: string; repo?: string; tag?: string; changes?: string[]; message?: string; platform?: string },
  ): Promise<string>;
  bootstrap(image: string): Promise<string>;
  pull(
    fromImage: string,
    o: { tag?: string; platform?: string; registryAuth?: string | string[] },
    emit: Emit,
  ): Promise<void>;
  push(name: string, o: { tag?: string; registryAuth?: string | string[] }, emit: Emit): Promise<void>;
  save(names: string[]): Promise<Readable>;
  load(body: Readable, emit: Emit): Promise<void>;
}

function boolParam(v: string | null): boolean {
  if (v === null) return false;
  const s = v.toLowerCase();
  return s !== '' && s !== '0' && s !== 'false' && s !== 'no';
}

/** Docker's `filters` query value as the images service takes it (both JSON forms, core/filters.ts). */
export function parseFilters(raw: string | null): Record<string, string[]> {
  return filtersRecord(parseCoreFilters(raw));
}

function writeMessage(ctx: Ctx, status: number, messages: Array<Record<string, unknown>>): void {
  const res = ctx.stream(status, 'application/json');
  for (const m of messages) res.write(JSON.stringify(m) + '\r\n');
  res.end();
}

/**
 * A JSON-message stream that starts (200) with its first message: errors thrown before any message
 * become ordinary error responses, errors after it become an errorDetail message.
 */
function lazyStream(ctx: Ctx): { emit: Emit; started: () => boolean; fail: (e: unknown) => void; end: () => void } {
  let res: ServerResponse | undefined;
  const emit: Emit = (m: JsonMessage) => {
    if (!res) res = ctx.stream(200, 'application/json');
    if (!res.writableEnded && !res.destroyed) res.write(goJson(m) + '\r\n');
  };
  return {
    emit,
    started: () => !!res,
    fail: (e: unknown) => {
      const message = messageOf(e);
      emit({ errorDetail: { message }, error: message });
    },
    // a load that emitted nothing (manifest.json `[]`) still answers: 200 with an empty stream
    end: () => {
      if (!res) res = ctx.stream(200, 'application/json');
      if (!res.writableEnded) res.end();
    },
  };
}

export function registerImageRoutes(r: Router, b: ImagesBackend): void {
  // fixed paths first, so that wildcard routes never swallow them
  r.get('/images/json', (ctx) => {
    const filters = parseFilters(ctx.query.get('filters'));
    const legacy = ctx.query.get('filter');
    if (legacy) filters.reference = [...(filters.reference ?? []), legacy];
    ctx.send(200, b.list({ all: boolParam(ctx.query.get('all')), filters }));
  });

  r.post('/images/create', async (ctx) => {
    const q = ctx.query;
    const fromImage = q.get('fromImage');
    const fromSrc = q.get('fromSrc');
    if (fromImage) {
      const out = lazyStream(ctx);
      try {
        const o = { tag: q.get('tag') ?? undefined, platform: q.get('platform') || undefined };
        await b.pull(fromImage, { ...o, registryAuth: ctx.req.headers['x-registry-auth'] }, out.emit);
      } catch (e) {
        if (!out.started()) throw e;
        out.fail(e);
      }
      out.end();
      return;
    }
    if (!fromSrc) throw new InvalidArgument('fromImage or fromSrc is required');
    let id: string;
    try {
      id = await b.import(ctx.body(), {
        repo: q.get('repo') ?? undefined,
        tag: q.get('tag') ?? undefined,
        changes: q.getAll('changes'),
        message: q.get('message') ?? undefined,
        fromSrc,
        platform: q.get('platform') ?? undefined,
      });
    } catch (e) {
      ctx.req.resume(); // drain an unread body so the connection stays usable
      throw e;
    }
    writeMessage(ctx, 200, [{ status: id }]);
  });

  const sendArchive = async (ctx: Ctx, names: string[]) => {
    const tar = await b.save(names); // NotFound before any byte is written
    const res = ctx.stream(200, 'application/x-tar');
    tar.on('error', () => res.destroy());
    tar.pipe(res);
    return new Promise<void>((resolve) => {
      res.on('close', () => {
        tar.destroy();
        resolve();
      });
      res.on('finish', resolve);
    });
  };

  r.get('/images/get', (ctx) =>
    sendArchive(
      ctx,
      ctx.query
        .getAll('names')
        .flatMap((n) => n.split(','))
        .filter(Boolean),
    ),
  );

  // As dockerd: the answer is always a 200 JSON-message stream (the body may be chunked, with no
  // Content-Length); a load that fails, even before its first message, ends it with an errorDetail.
  r.post('/images/load', async (ctx) => {
    const out = lazyStream(ctx);
    try {
      await b.load(ctx.body(), out.emit);
    } catch (e) {
      ctx.req.resume();
      out.fail(e);
    }
    out.end();
  });

  r.post('/images/prune', async (ctx) => {
    ctx.send(200, await b.prune(parseFilters(ctx.query.get('filters'))));
  });

  r.post('/images/bootstrap', async (ctx) => {
    ctx.send(200, { Id: await b.bootstrap(ctx.query.get('image') || 'busybox') });
  });

  r.post('/images/*name/push', async (ctx) => {
    const out = lazyStream(ctx);
    try {
      const o = { tag: ctx.query.get('tag') || undefined, registryAuth: ctx.req.headers['x-registry-auth'] };
      await b.push(ctx.params.name, o, out.emit);
    } catch (e) {
      if (!out.started()) throw e;
      out.fail(e);
    }
    out.end();
  });

  r.get('/images/*name/get', (ctx) => sendArchive(ctx, [ctx.params.name]));

  r.get('/images/*name/json', (ctx) => {
    ctx.send(200, b.inspect(ctx.params.name));
  });

  r.get('/images/*name/history', (ctx) => {
    ctx.send(200, b.history(ctx.params.name));
  });

  r.post('/images/*name/tag', async (ctx) => {
    await b.tag(ctx.params.name, ctx.query.get('repo') ?? '', ctx.query.get('tag') ?? undefined);
    ctx.send(201);
  });

  r.delete('/images/*name', async (ctx) => {
    ctx.send(
      200,
      await b.remove(ctx.params.name, boolParam(ctx.query.get('force')), boolParam(ctx.query.get('noprune'))),
    );
  });
}
