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
import type { Router, Ctx } from './router.js';
import type { Services } from '../daemon/services.js';
import { InvalidArgument, messageOf } from '../core/errors.js';
import { familiarName, parseNormalized } from '../images/reference.js';
import { goJson, type Emit, type JsonMessage } from '../images/progress.js';
// pull, push, save and load (with the registry client and the tar code) are loaded on first use:
// an idle daemon does not keep them in memory.
const pullModule = () => import('../images/pull.js');
const pushModule = () => import('../images/push.js');
const archiveModule = () => import('../images/archive.js');
import { registerAuthRoutes, registryOptions, requestCredentials } from './auth.js';
import type { ServerResponse } from 'node:http';
import { parseFilters as parseCoreFilters, filtersRecord } from '../core/filters.js';

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

export function registerImageRoutes(r: Router, s: Services): void {
  registerAuthRoutes(r, s);

  // fixed paths first, so that wildcard routes never swallow them
  r.get('/images/json', (ctx) => {
    const filters = parseFilters(ctx.query.get('filters'));
    const legacy = ctx.query.get('filter');
    if (legacy) filters.reference = [...(filters.reference ?? []), legacy];
    ctx.send(200, s.images.list({ all: boolParam(ctx.query.get('all')), filters }));
  });

  r.post('/images/create', async (ctx) => {
    const q = ctx.query;
    const fromImage = q.get('fromImage');
    const fromSrc = q.get('fromSrc');
    if (fromImage) {
      const { pullImage, pullReference } = await pullModule();
      const ref = pullReference(fromImage, q.get('tag') ?? undefined); // 400 on a bad reference, before any stream
      const out = lazyStream(ctx);
      try {
        await pullImage(
          s.images,
          fromImage,
          {
            tag: q.get('tag') ?? undefined,
            platform: q.get('platform') || undefined,
            creds: requestCredentials(ctx.req.headers['x-registry-auth'], ref.domain),
            registry: registryOptions(s),
          },
          out.emit,
        );
      } catch (e) {
        if (!out.started()) throw e;
        out.fail(e);
      }
      out.end();
      return;
    }
    if (!fromSrc) throw new InvalidArgument('fromImage or fromSrc is required');
    const opts = {
      repo: q.get('repo') ?? undefined,
      tag: q.get('tag') ?? undefined,
      changes: q.getAll('changes'),
      message: q.get('message') ?? undefined,
      fromSrc,
      platform: q.get('platform') ?? undefined,
    };
    let id: string;
    try {
      id = fromSrc === '-' ? await s.images.import(ctx.body(), opts) : await s.images.importUrl(fromSrc, opts);
    } catch (e) {
      ctx.req.resume(); // drain an unread body so the connection stays usable
      throw e;
    }
    writeMessage(ctx, 200, [{ status: id }]);
  });

  const sendArchive = async (ctx: Ctx, names: string[]) => {
    const { saveImages } = await archiveModule();
    const tar = saveImages(s.images, names); // NotFound before any byte is written
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
      const { loadImages } = await archiveModule();
      await loadImages(s.images, ctx.body(), s.config.dataRoot, out.emit);
    } catch (e) {
      ctx.req.resume();
      out.fail(e);
    }
    out.end();
  });

  r.post('/images/prune', async (ctx) => {
    ctx.send(200, await s.images.prune(parseFilters(ctx.query.get('filters'))));
  });

  r.post('/images/bootstrap', async (ctx) => {
    const image = ctx.query.get('image') || 'busybox';
    const ref = parseNormalized(image);
    if (familiarName(ref.name) !== 'busybox')
      throw new InvalidArgument(`cannot bootstrap ${image}: only busybox can be built from the host`);
    const id = await s.images.bootstrapBusybox(image);
    ctx.send(200, { Id: id });
  });

  r.post('/images/*name/push', async (ctx) => {
    const name = ctx.params.name;
    const ref = parseNormalized(name);
    const { pushImage } = await pushModule();
    const out = lazyStream(ctx);
    try {
      await pushImage(
        s.images,
        name,
        ctx.query.get('tag') || undefined,
        {
          creds: requestCredentials(ctx.req.headers['x-registry-auth'], ref.domain),
          registry: registryOptions(s),
        },
        out.emit,
      );
    } catch (e) {
      if (!out.started()) throw e;
      out.fail(e);
    }
    out.end();
  });

  r.get('/images/*name/get', (ctx) => sendArchive(ctx, [ctx.params.name]));

  r.get('/images/*name/json', (ctx) => {
    ctx.send(200, s.images.inspect(ctx.params.name));
  });

  r.get('/images/*name/history', (ctx) => {
    ctx.send(200, s.images.history(ctx.params.name));
  });

  r.post('/images/*name/tag', async (ctx) => {
    await s.images.tag(ctx.params.name, ctx.query.get('repo') ?? '', ctx.query.get('tag') ?? undefined);
    ctx.send(201);
  });

  r.delete('/images/*name', async (ctx) => {
    const out = await s.images.remove(
      ctx.params.name,
      boolParam(ctx.query.get('force')),
      boolParam(ctx.query.get('noprune')),
    );
    ctx.send(200, out);
  });
}
