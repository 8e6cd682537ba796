// build: the legacy builder API (POST /build with the context as a tar), like docker's CLI without
// BuildKit: .dockerignore is applied client-side, the daemon's stream is printed, a failed step's
// code is the exit status.
import { lstatSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { readAll, readJsonStream } from '../client.js';
import { CliError, ExitStatus } from '../context.js';
import type { Command } from '../context.js';
import { humanSize } from '../humanize.js';
import { packTree } from '../../sys/tar/pack.js';
import { isIgnored, parseDockerignore } from '../dockerignore.js';
import { labelsToMap } from '../envfile.js';
import { ramInBytes } from '../humanize.js';

// The context as a tar (names relative to the root, owner 0:0), minus .dockerignore'd paths;
// the Dockerfile and .dockerignore are always sent. Packed by the one tar codec.
export async function contextTar(root: string, dockerfile: string): Promise<Buffer[]> {
  const ignore = existsSync(join(root, '.dockerignore'))
    ? parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'))
    : [];
  const keep = new Set([dockerfile.split(sep).join('/'), '.dockerignore']);
  const reincludes = ignore.some((i) => i.exclusion);
  const chunks: Buffer[] = [];
  const tar = packTree(root, {
    policy: { rootOwner: true },
    // a re-included path below an ignored directory still needs the walk
    filter: (rel, isDir) => (keep.has(rel) || !isIgnored(rel, ignore) ? 'keep' : isDir && reincludes ? 'walk' : 'skip'),
  });
  for await (const c of tar) chunks.push(c as Buffer);
  return chunks;
}

export const buildCommand: Command = {
  name: 'build',
  aliases: ['image build', 'builder build'],
  usage: 'build [OPTIONS] PATH | URL | -',
  desc: 'Build an image from a Dockerfile',
  flags: [
    { long: 'add-host', type: 'list', desc: 'Add a custom host-to-IP mapping ("host:ip")' },
    { long: 'build-arg', type: 'list', desc: 'Set build-time variables' },
    { long: 'cache-from', type: 'list', desc: 'Images to consider as cache sources' },
    { long: 'cgroup-parent', type: 'string', desc: 'Set the parent cgroup for the "RUN" instructions during build' },
    { long: 'cpu-shares', short: 'c', type: 'int', desc: 'CPU shares (relative weight)' },
    { long: 'file', short: 'f', type: 'string', desc: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
    { long: 'force-rm', type: 'bool', desc: 'Always remove intermediate containers' },
    { long: 'iidfile', type: 'string', desc: 'Write the image ID to the file' },
    { long: 'label', type: 'list', desc: 'Set metadata for an image' },
    { long: 'memory', short: 'm', type: 'string', valueName: 'bytes', desc: 'Memory limit' },
    {
      long: 'network',
      type: 'string',
      default: 'default',
      desc: 'Set the networking mode for the RUN instructions during build',
    },
    { long: 'no-cache', type: 'bool', desc: 'Do not use cache when building the image' },
    { long: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable' },
    { long: 'pull', type: 'bool', desc: 'Always attempt to pull a newer version of the image' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress the build output and print image ID on success' },
    { long: 'rm', type: 'bool', default: true, desc: 'Remove intermediate containers after a successful build' },
    { long: 'shm-size', type: 'string', valueName: 'bytes', desc: 'Size of "/dev/shm"' },
    { long: 'tag', short: 't', type: 'list', desc: 'Name and optionally a tag in the "name:tag" format' },
    { long: 'target', type: 'string', desc: 'Set the target build stage to build' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const src = o.args[0];
    let body: Readable;
    let size = 0;
    let dockerfile = o.str('file') || 'Dockerfile';
    if (src === '-') {
      const tar = await readAll(process.stdin);
      size = tar.length;
      body = Readable.from([tar]);
    } else if (/^(https?|git):\/\//.test(src) || src.startsWith('git@')) {
      throw new CliError(`cocon build: remote contexts are not supported: ${src}`, 1);
    } else {
      const root = resolve(src);
      try {
        if (!lstatSync(root).isDirectory()) throw new Error();
      } catch {
        throw new CliError(`unable to prepare context: path "${src}" not found`, 1);
      }
      const dfAbs = resolve(root, dockerfile);
      if (!dfAbs.startsWith(root + sep)) {
        throw new CliError('cocon build: a Dockerfile outside the context is not supported', 1);
      }
      if (!existsSync(dfAbs))
        throw new CliError(
          `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dfAbs}: no such file or directory`,
          1,
        );
      dockerfile = relative(root, dfAbs).split(sep).join('/');
      const chunks = await contextTar(root, dockerfile);
      size = chunks.reduce((n, c) => n + c.length, 0);
      body = Readable.from(chunks);
    }
    const buildArgs: Record<string, string | null> = {};
    for (const a of o.list('build-arg')) {
      const i = a.indexOf('=');
      if (i > 0) buildArgs[a.slice(0, i)] = a.slice(i + 1);
      else buildArgs[a] = ctx.env[a] ?? null;
    }
    const mem = o.str('memory');
    const shm = o.str('shm-size');
    let memory: number | undefined;
    let shmsize: number | undefined;
    try {
      if (mem) memory = ramInBytes(mem);
      if (shm) shmsize = ramInBytes(shm);
    } catch (e) {
      throw new CliError((e as Error).message, 125);
    }
    const query = {
      dockerfile,
      t: o.list('tag').length ? o.list('tag') : undefined,
      version: '1',
      buildargs: Object.keys(buildArgs).length ? JSON.stringify(buildArgs) : undefined,
      labels: o.list('label').length ? JSON.stringify(labelsToMap(o.list('label'))) : undefined,
      nocache: o.bool('no-cache') ? '1' : undefined,
      q: o.bool('quiet') ? '1' : undefined,
      rm: o.bool('rm') ? undefined : '0',
      forcerm: o.bool('force-rm') ? '1' : undefined,
      pull: o.bool('pull') ? '1' : undefined,
      target: o.str('target') || undefined,
      platform: o.str('platform') || undefined,
      networkmode: o.str('network') !== 'default' ? o.str('network') : undefined,
      cachefrom: o.list('cache-from').length ? JSON.stringify(o.list('cache-from')) : undefined,
      extrahosts: o.list('add-host').length ? o.list('add-host') : undefined,
      cgroupparent: o.str('cgroup-parent') || undefined,
      cpushares: o.num('cpu-shares'),
      memory,
      shmsize,
    };
    const client = await ctx.client();
    if (!o.bool('quiet')) ctx.out(`Sending build context to Docker daemon  ${humanSize(size)}\r\r\n`);
    const res = await client.stream('POST', '/build', {
      query,
      raw: body,
      contentType: 'application/x-tar',
      headers: { 'X-Registry-Config': 'e30=' },
    });
    let imageId = '';
    let failure: { message: string; code: number } | undefined;
    await readJsonStream(res, (m) => {
      const ed = m.errorDetail as { message?: string; code?: number } | undefined;
      if (ed?.message || typeof m.error === 'string') {
        failure ??= { message: ed?.message ?? String(m.error), code: ed?.code || 1 };
        return;
      }
      const aux = m.aux as { ID?: string } | undefined;
      if (aux?.ID) imageId = aux.ID;
      if (typeof m.stream === 'string' && !o.bool('quiet')) ctx.out(m.stream);
      else if (typeof m.status === 'string' && !o.bool('quiet')) ctx.out(`${m.status}\n`);
    });
    if (failure) {
      ctx.err(`${failure.message}\n`);
      throw new ExitStatus(failure.code);
    }
    if (o.str('iidfile') && imageId) writeFileSync(o.str('iidfile'), imageId);
    if (o.bool('quiet')) ctx.out(`${imageId}\n`);
    return 0;
  },
};
