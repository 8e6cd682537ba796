// Image commands: images (image ls), image inspect, tag, rmi (image rm), import, pull,
// and cocon's own `image bootstrap busybox`.
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ApiError, readJsonStream } from '../client.js';
import { CliError, UsageError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { addFilter, buildFilters, filtersParam, FilterError } from '../filters.js';
import { imageRows, IMAGE_HEADERS, IMAGES_DEFAULT_TABLE, IMAGES_DIGESTS_TABLE } from '../format.js';
import type { ApiImage } from '../format.js';
import { familiarName, normalizedName, parseRef, RefError } from '../refs.js';
import { DOCKER_IO_KEY, configSetting, registryAuthHeader, removeAuth, saveAuth, serverKey } from '../auth.js';
import { bootstrapBusybox, imgPath, inspectObjects, renderOrFail } from './common.js';
import { ProgressRenderer, ProgressError } from '../progress.js';
import type { JsonMessage } from '../progress.js';

function daemonMsg(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export const imagesCommand: Command = {
  name: 'images',
  aliases: ['image ls', 'image list'],
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  desc: 'List images',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Show all images (default hides intermediate images)' },
    { long: 'digests', type: 'bool', desc: 'Show digests' },
    {
      long: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      desc: 'Filter output based on conditions provided',
    },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'no-trunc', type: 'bool', desc: "Don't truncate output" },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Only show image IDs' },
    { long: 'tree', type: 'bool', hidden: true },
  ],
  maxArgs: 1,
  async run(ctx, o) {
    let filters;
    try {
      filters = buildFilters(o.list('filter'));
    } catch (e) {
      if (e instanceof FilterError)
        throw new UsageError(`invalid argument "${(e as FilterError).arg}" for "-f, --filter" flag: ${e.message}`);
      throw e;
    }
    if (o.args[0]) addFilter(filters, 'reference', o.args[0]);
    const client = await ctx.client();
    const list =
      (await client.json<ApiImage[]>('GET', '/images/json', {
        query: { all: o.bool('all') ? '1' : undefined, filters: filtersParam(filters) },
      })) ?? [];
    const sorted = list
      .map((img, i) => ({ img, i }))
      .sort((a, b) => (b.img.Created ?? 0) - (a.img.Created ?? 0) || a.i - b.i)
      .map((x) => x.img);
    const trunc = !o.bool('no-trunc');
    // like docker: a format that shows {{.Digest}} turns the digests on
    const digests = o.bool('digests') || /\.Digest\b/.test(o.str('format'));
    const rows = sorted.flatMap((img) => imageRows(img, { trunc, now: ctx.now(), digests }));
    let format = o.str('format');
    if (o.bool('quiet')) format = '{{.ID}}';
    if (!format)
      format =
        configSetting(ctx.env, 'imagesFormat') || (o.bool('digests') ? IMAGES_DIGESTS_TABLE : IMAGES_DEFAULT_TABLE);
    ctx.out(renderOrFail(format, rows, IMAGE_HEADERS, IMAGES_DEFAULT_TABLE));
    return 0;
  },
};

export const imageInspectCommand: Command = {
  name: 'image inspect',
  usage: 'image inspect [OPTIONS] IMAGE [IMAGE...]',
  desc: 'Display detailed information on one or more images',
  flags: [{ long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' }],
  minArgs: 1,
  async run(ctx, o) {
    return inspectObjects(ctx, o.args, 'image', o.str('format'));
  },
};

export const tagCommand: Command = {
  name: 'tag',
  aliases: ['image tag'],
  usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  desc: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, o) {
    const [src, target] = o.args;
    let ref;
    try {
      ref = parseRef(target);
    } catch (e) {
      if (e instanceof RefError)
        throw new CliError(`Error parsing reference: "${target}" is not a valid repository/tag: ${e.message}`, 1);
      throw e;
    }
    if (ref.digest) throw new CliError('refusing to create a tag with a digest reference', 1);
    const client = await ctx.client();
    await client.call('POST', `/images/${imgPath(src)}/tag`, {
      query: { repo: normalizedName(ref), tag: ref.tag ?? 'latest' },
    });
    return 0;
  },
};

export const rmiCommand: Command = {
  name: 'rmi',
  aliases: ['image rm', 'image remove'],
  usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  desc: 'Remove one or more images',
  flags: [
    { long: 'force', short: 'f', type: 'bool', desc: 'Force removal of the image' },
    { long: 'no-prune', type: 'bool', desc: 'Do not delete untagged parents' },
  ],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    let failed = false;
    for (const name of o.args) {
      try {
        const items = await client.json<{ Untagged?: string; Deleted?: string }[]>(
          'DELETE',
          `/images/${imgPath(name)}`,
          {
            query: { force: o.bool('force') ? '1' : undefined, noprune: o.bool('no-prune') ? '1' : undefined },
          },
        );
        for (const it of items ?? []) {
          if (it.Untagged) ctx.out(`Untagged: ${it.Untagged}\n`);
          if (it.Deleted) ctx.out(`Deleted: ${it.Deleted}\n`);
        }
      } catch (e) {
        ctx.err(`${daemonMsg(e)}\n`);
        // docker rmi -f: a missing image is reported but is not a failure
        if (!(o.bool('force') && e instanceof ApiError && e.status === 404)) failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

export async function printProgress(ctx: Ctx, res: Readable, toStdout: boolean): Promise<void> {
  const stream = toStdout ? process.stdout : process.stderr;
  const r = new ProgressRenderer(toStdout ? ctx.out : ctx.err, !!stream.isTTY);
  let error: ProgressError | undefined;
  await readJsonStream(res, (m) => {
    if (error) return;
    try {
      r.handle(m as JsonMessage);
    } catch (e) {
      if (e instanceof ProgressError) error = e;
      else throw e;
    }
  });
  if (error) throw new CliError(error.message, 1);
}

export const importCommand: Command = {
  name: 'import',
  aliases: ['image import'],
  usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  desc: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { long: 'change', short: 'c', type: 'list', desc: 'Apply Dockerfile instruction to the created image' },
    { long: 'message', short: 'm', type: 'string', desc: 'Set commit message for imported image' },
    { long: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable' },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, o) {
    const [src, repo] = o.args;
    if (repo) {
      try {
        parseRef(repo);
      } catch (e) {
        throw new CliError(`invalid reference format: ${(e as Error).message}`, 1);
      }
    }
    const query = {
      fromSrc: '-',
      repo: repo || undefined,
      message: o.str('message') || undefined,
      changes: o.list('change').length ? o.list('change') : undefined,
      platform: o.str('platform') || undefined,
    };
    let body: Readable | undefined;
    if (/^https?:\/\//.test(src)) {
      query.fromSrc = src;
    } else if (src === '-') {
      body = process.stdin;
    } else {
      try {
        statSync(src);
      } catch {
        throw new CliError(`open ${src}: no such file or directory`, 1);
      }
      body = createReadStream(src);
    }
    const client = await ctx.client();
    const res = await client.stream('POST', '/images/create', { query, raw: body, contentType: 'text/plain' });
    await printProgress(ctx, res, true);
    return 0;
  },
};

export const pullCommand: Command = {
  name: 'pull',
  aliases: ['image pull'],
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  desc: 'Download an image from a registry',
  flags: [
    { long: 'all-tags', short: 'a', type: 'bool', desc: 'Download all tagged images in the repository' },
    { long: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    let ref;
    try {
      ref = parseRef(o.args[0]);
    } catch {
      throw new CliError('invalid reference format', 1);
    }
    const client = await ctx.client();
    if (!o.bool('all-tags') && !ref.tag && !ref.digest) ctx.out('Using default tag: latest\n');
    const res = await client.stream('POST', '/images/create', {
      query: {
        fromImage: normalizedName(ref),
        tag: ref.digest ?? (o.bool('all-tags') ? undefined : (ref.tag ?? 'latest')),
        platform: o.str('platform') || undefined,
      },
      headers: { 'X-Registry-Auth': registryAuthHeader(ctx.env, ref.domain) },
    });
    const full = `${normalizedName(ref)}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`;
    if (o.bool('quiet')) {
      await printProgress({ ...ctx, out: () => undefined, err: () => undefined }, res, true);
      ctx.out(`${full}\n`);
      return 0;
    }
    await printProgress(ctx, res, true);
    if (!o.bool('all-tags')) ctx.out(`${full}\n`);
    return 0;
  },
};

export const bootstrapCommand: Command = {
  name: 'image bootstrap',
  usage: 'image bootstrap IMAGE',
  desc: "Build an image from the host (busybox: from the host's busybox-static)",
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const image = o.args[0];
    if (image !== 'busybox' && image !== 'busybox:latest')
      throw new CliError(`image bootstrap: unsupported image "${image}" (supported: busybox)`, 1);
    const client = await ctx.client();
    const id = await bootstrapBusybox(client);
    ctx.out(`${id}\n`);
    return 0;
  },
};

export const pushCommand: Command = {
  name: 'push',
  aliases: ['image push'],
  usage: 'push [OPTIONS] NAME[:TAG]',
  desc: 'Upload an image to a registry',
  flags: [
    { long: 'all-tags', short: 'a', type: 'bool', desc: 'Push all tags of an image to the repository' },
    { long: 'platform', type: 'string', desc: 'Push a platform-specific manifest' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    let ref;
    try {
      ref = parseRef(o.args[0]);
    } catch {
      throw new CliError('invalid reference format', 1);
    }
    if (ref.digest) throw new CliError('cannot push a digest reference', 1);
    if (!o.bool('all-tags') && !ref.tag) ctx.out('Using default tag: latest\n');
    const tag = o.bool('all-tags') ? undefined : (ref.tag ?? 'latest');
    const client = await ctx.client();
    const name = familiarName(ref);
    const res = await client.stream('POST', `/images/${imgPath(name)}/push`, {
      query: { tag, platform: o.str('platform') || undefined },
      headers: { 'X-Registry-Auth': registryAuthHeader(ctx.env, ref.domain) },
    });
    if (o.bool('quiet')) {
      await printProgress({ ...ctx, out: () => undefined }, res, true);
      ctx.out(`${o.args[0]}\n`);
      return 0;
    }
    await printProgress(ctx, res, true);
    return 0;
  },
};

async function readLine(prompt: string, ctx: Ctx): Promise<string> {
  ctx.out(prompt);
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin });
  const line = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return line;
}

export const loginCommand: Command = {
  name: 'login',
  usage: 'login [OPTIONS] [SERVER]',
  desc: 'Authenticate to a registry',
  flags: [
    { long: 'password', short: 'p', type: 'string', desc: 'Password or Personal Access Token (PAT)' },
    { long: 'password-stdin', type: 'bool', desc: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { long: 'username', short: 'u', type: 'string', desc: 'Username' },
  ],
  maxArgs: 1,
  async run(ctx, o) {
    const server = o.args[0] ?? 'docker.io';
    let username = o.str('username');
    let password = o.str('password');
    if (o.has('password')) ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (o.bool('password-stdin')) {
      if (o.has('password')) throw new CliError('--password and --password-stdin are mutually exclusive', 1);
      if (!username) throw new CliError('Must provide --username with --password-stdin', 1);
      const { readAll } = await import('../client.js');
      password = (await readAll(process.stdin)).toString('utf8').replace(/\r?\n$/, '');
    }
    if (!username || !password) {
      if (!process.stdin.isTTY)
        throw new CliError('Error: Cannot perform an interactive login from a non TTY device', 1);
      if (!username) username = (await readLine('Username: ', ctx)).trim();
      if (!password) {
        ctx.out('Password: ');
        process.stdin.setRawMode?.(true);
        password = await new Promise<string>((resolve) => {
          let buf = '';
          const onData = (d: Buffer): void => {
            for (const ch of d.toString('utf8')) {
              if (ch === '\r' || ch === '\n') {
                process.stdin.removeListener('data', onData);
                process.stdin.setRawMode?.(false);
                process.stdin.pause();
                ctx.out('\n');
                resolve(buf);
                return;
              }
              if (ch === '\x03') {
                process.stdin.setRawMode?.(false);
                process.exit(130);
              }
              if (ch === '\x7f') buf = buf.slice(0, -1);
              else buf += ch;
            }
          };
          process.stdin.on('data', onData);
          process.stdin.resume();
        });
      }
    }
    if (!username) throw new CliError('Error: Non-null Username Required', 1);
    if (!password) throw new CliError('Error: Password Required', 1);
    const client = await ctx.client();
    const serveraddress = serverKey(server) === DOCKER_IO_KEY ? DOCKER_IO_KEY : server;
    await client.json('POST', '/auth', { body: { username, password, serveraddress } });
    const { file, changed } = saveAuth(ctx.env, server, username, password);
    if (changed)
      ctx.err(
        `\nWARNING! Your credentials are stored unencrypted in '${file}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`,
      );
    ctx.out('Login Succeeded\n');
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: 'logout [SERVER]',
  desc: 'Log out from a registry',
  flags: [],
  maxArgs: 1,
  async run(ctx, o) {
    const server = o.args[0] ?? 'docker.io';
    const key = serverKey(server);
    removeAuth(ctx.env, server);
    ctx.out(`Removing login credentials for ${key}\n`);
    return 0;
  },
};
