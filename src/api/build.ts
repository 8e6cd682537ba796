// Build and commit endpoints (the engine work is src/build's):
//   POST /build    the legacy builder (API 1.41): body = context tar (plain or gzip); query t (several),
//                  dockerfile, buildargs, target, nocache, rm, forcerm, labels, q, pull, networkmode,
//                  cachefrom, shmsize, memory, memswap, cpushares, cpusetcpus, cpuperiod, cpuquota,
//                  extrahosts, platform; X-Registry-Config for FROM pulls. Answers a JSON-message stream;
//                  errors before the first step are ordinary error responses, later ones errorDetail.
//                  A client that goes away cancels the build (its RUN container is killed and removed).
//   POST /commit   ?container=&repo=&tag=&comment=&author=&pause=&changes= (body: a container config) -> 201 {"Id"}
//   POST /build/prune  releases the build cache (intermediate images no tag needs)
import type { ServerResponse } from 'node:http';
import type { Router, Ctx } from './router.js';
import { InvalidArgument, NotImplemented, messageOf } from '../core/errors.js';
import { goJson, type JsonMessage } from '../images/progress.js';
import { parseNormalized, targetReference } from '../images/reference.js';
import type { BuildOptions } from '../build/builder.js';
import type { BuildOperations } from '../build/operations.js';
import { errorMessage } from '../build/progress.js';
import type { Credentials } from '../registry/auth.js';

function flag(v: string | null, dflt = false): boolean {
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'no'].includes(v.toLowerCase());
}

function jsonParam<T>(q: URLSearchParams, name: string, check: (v: unknown) => boolean, dflt: T): T {
  const raw = q.get(name);
  if (raw === null || raw === '') return dflt;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid ${name} parameter: ${raw}`);
  }
  if (v === null) return dflt;
  if (!check(v)) throw new InvalidArgument(`invalid ${name} parameter: ${raw}`);
  return v as T;
}

const isStringMap = (v: unknown, nullable: boolean) =>
  !!v &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  Object.values(v as object).every((x) => typeof x === 'string' || (nullable && x === null));

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new InvalidArgument(`invalid ${name} parameter: ${v}`);
  return Number(v);
}

/** X-Registry-Config: base64 JSON {registry: {username, password, ...}}. */
function registryConfig(header: string | string[] | undefined): Record<string, Credentials> {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return {};
  try {
    const v = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, Credentials>) : {};
  } catch {
    return {};
  }
}

/** Reads the query into builder options; refuses what cocon cannot honour. Throws before any byte is streamed. */
export function buildOptions(q: URLSearchParams): BuildOptions {
  const version = q.get('version');
  if (version === '2')
    throw new NotImplemented(
      'BuildKit (version=2) is not supported by cocon: use the legacy builder (DOCKER_BUILDKIT=0)',
    );
  if (q.get('remote'))
    throw new NotImplemented(
      `remote build contexts are not supported by cocon: send the context as a tar (${q.get('remote')})`,
    );
  if (flag(q.get('squash'))) throw new NotImplemented('squash is not supported by cocon');
  if (q.get('outputs')) throw new NotImplemented('build outputs need BuildKit');
  const platform = q.get('platform');
  if (platform && !/^linux(\/amd64)?$/.test(platform))
    throw new InvalidArgument(`cocon builds linux/amd64 images only, not ${platform}`);
  const ulimits = jsonParam<unknown[]>(q, 'ulimits', Array.isArray, []);
  if (ulimits.length) throw new NotImplemented('ulimits for RUN steps are not supported by cocon');
  const isolation = q.get('isolation');
  if (isolation && isolation !== 'default') throw new InvalidArgument(`invalid isolation: ${isolation}`);
  const tags = q.getAll('t').filter(Boolean);
  for (const t of tags) targetReference(t); // 400 on a bad name before anything runs
  const hostConfig: Record<string, unknown> = {};
  const ints: Array<[string, string]> = [
    ['memory', 'Memory'],
    ['memswap', 'MemorySwap'],
    ['shmsize', 'ShmSize'],
    ['cpushares', 'CpuShares'],
    ['cpuperiod', 'CpuPeriod'],
    ['cpuquota', 'CpuQuota'],
  ];
  for (const [p, k] of ints) {
    const v = intParam(q, p);
    if (v) hostConfig[k] = v;
  }
  if (q.get('cpusetcpus')) hostConfig.CpusetCpus = q.get('cpusetcpus');
  if (q.get('cpusetmems')) hostConfig.CpusetMems = q.get('cpusetmems');
  if (q.get('cgroupparent')) hostConfig.CgroupParent = q.get('cgroupparent');
  const hosts = q
    .getAll('extrahosts')
    .flatMap((h) => h.split(','))
    .filter(Boolean);
  if (hosts.length) hostConfig.ExtraHosts = hosts;
  const cacheFrom = jsonParam<string[]>(
    q,
    'cachefrom',
    (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
    [],
  );
  for (const c of cacheFrom) parseNormalized(c);
  return {
    tags,
    dockerfile: q.get('dockerfile') || 'Dockerfile',
    buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs', (v) => isStringMap(v, true), {}),
    target: q.get('target') || undefined,
    noCache: flag(q.get('nocache')),
    rm: flag(q.get('rm'), true),
    forceRm: flag(q.get('forcerm')),
    labels: jsonParam<Record<string, string>>(q, 'labels', (v) => isStringMap(v, false), {}),
    quiet: flag(q.get('q')),
    pull: flag(q.get('pull')),
    networkMode: q.get('networkmode') && q.get('networkmode') !== 'default' ? q.get('networkmode')! : undefined,
    hostConfig,
  };
}

/** What the build routes need of the engine (src/build/operations.ts BuildOperations). */
export type BuildBackend = Pick<BuildOperations, 'build' | 'failure' | 'commit' | 'prune'>;

export function registerBuildRoutes(r: Router, b: BuildBackend): void {
  r.post('/build', async (ctx: Ctx) => {
    let opts: BuildOptions;
    try {
      opts = buildOptions(ctx.query);
    } catch (e) {
      ctx.req.resume();
      throw e;
    }
    const creds = registryConfig(ctx.req.headers['x-registry-config']);
    let res: ServerResponse | undefined;
    const emit = (m: JsonMessage) => {
      if (!res) res = ctx.stream(200, 'application/json');
      if (!res.writableEnded && !res.destroyed) res.write(goJson(m) + '\r\n');
    };
    // the client went away before the build ended: cancel it
    const gone = new AbortController();
    const onClose = () => {
      if (!res?.writableEnded) gone.abort();
    };
    ctx.res.on('close', onClose);
    try {
      await b.build(ctx.body(), opts, creds, emit, gone.signal);
    } catch (e) {
      ctx.req.resume();
      const f = await b.failure(e);
      if (f.cancelled) {
        res?.destroy();
        return;
      }
      if (!res) throw e;
      emit(errorMessage(messageOf(e), f.code));
    } finally {
      ctx.res.off('close', onClose);
    }
    if (!res) res = ctx.stream(200, 'application/json');
    if (!res.writableEnded) res.end();
  });

  r.post('/build/prune', async (ctx) => {
    ctx.send(200, await b.prune());
  });

  r.post('/commit', async (ctx) => {
    const q = ctx.query;
    const container = q.get('container');
    if (!container) throw new InvalidArgument('a container is required (container=)');
    const id = await b.commit({
      container,
      repo: q.get('repo') || undefined,
      tag: q.get('tag') || undefined,
      comment: q.get('comment') ?? undefined,
      author: q.get('author') ?? undefined,
      pause: flag(q.get('pause'), true),
      changes: q.getAll('changes').filter(Boolean),
      body: await ctx.json(),
    });
    ctx.send(201, { Id: id });
  });
}
