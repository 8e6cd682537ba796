// save, load, export, commit, diff: commands that move images/filesystems in and out.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError } from '../context.js';
import type { Command } from '../context.js';
import { normalizedName, parseRef } from '../refs.js';
import { printProgress } from './image.js';

const seg = (s: string): string => encodeURIComponent(s);

async function writeOut(res: Readable, output: string): Promise<void> {
  let dest: Writable;
  if (output) dest = createWriteStream(output);
  else {
    if (process.stdout.isTTY)
      throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    dest = process.stdout;
  }
  if (dest === process.stdout) {
    for await (const c of res) process.stdout.write(c as Buffer);
    return;
  }
  await pipeline(res, dest);
}

export const saveCommand: Command = {
  name: 'save',
  aliases: ['image save'],
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  desc: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [
    { long: 'output', short: 'o', type: 'string', desc: 'Write to a file, instead of STDOUT' },
    { long: 'platform', type: 'list', desc: 'Save only the given platform(s)' },
  ],
  minArgs: 1,
  async run(ctx, o) {
    if (!o.str('output') && process.stdout.isTTY)
      throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    const client = await ctx.client();
    const res = await client.stream('GET', '/images/get', { query: { names: o.args } });
    await writeOut(res, o.str('output'));
    return 0;
  },
};

export const loadCommand: Command = {
  name: 'load',
  aliases: ['image load'],
  usage: 'load [OPTIONS]',
  desc: 'Load an image from a tar archive or STDIN',
  flags: [
    { long: 'input', short: 'i', type: 'string', desc: 'Read from tar archive file, instead of STDIN' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress the load output' },
    { long: 'platform', type: 'list', desc: 'Load only the given platform(s)' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    let body: Readable;
    if (o.str('input')) {
      try {
        statSync(o.str('input'));
      } catch {
        throw new CliError(`open ${o.str('input')}: no such file or directory`, 1);
      }
      body = createReadStream(o.str('input'));
    } else {
      if (process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty', 1);
      body = process.stdin;
    }
    const client = await ctx.client();
    const quiet = o.bool('quiet') || !process.stdout.isTTY;
    const res = await client.stream('POST', '/images/load', {
      query: { quiet: quiet ? '1' : undefined },
      raw: body,
      contentType: 'application/x-tar',
    });
    await printProgress(ctx, res, true);
    return 0;
  },
};

export const exportCommand: Command = {
  name: 'export',
  aliases: ['container export'],
  usage: 'export [OPTIONS] CONTAINER',
  desc: "Export a container's filesystem as a tar archive",
  flags: [{ long: 'output', short: 'o', type: 'string', desc: 'Write to a file, instead of STDOUT' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    if (!o.str('output') && process.stdout.isTTY)
      throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    const client = await ctx.client();
    const res = await client.stream('GET', `/containers/${seg(o.args[0])}/export`);
    await writeOut(res, o.str('output'));
    return 0;
  },
};

export const commitCommand: Command = {
  name: 'commit',
  aliases: ['container commit'],
  usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  desc: "Create a new image from a container's changes",
  flags: [
    { long: 'author', short: 'a', type: 'string', desc: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { long: 'change', short: 'c', type: 'list', desc: 'Apply Dockerfile instruction to the created image' },
    { long: 'message', short: 'm', type: 'string', desc: 'Commit message' },
    { long: 'pause', short: 'p', type: 'bool', default: true, desc: 'Pause container during commit' },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, o) {
    const [ctr, ref] = o.args;
    let repo: string | undefined;
    let tag: string | undefined;
    if (ref) {
      let r;
      try {
        r = parseRef(ref);
      } catch (e) {
        throw new CliError(
          `Error parsing reference: "${ref}" is not a valid repository/tag: ${(e as Error).message}`,
          1,
        );
      }
      if (r.digest) throw new CliError('refusing to create a tag with a digest reference', 1);
      repo = normalizedName(r);
      tag = r.tag;
    }
    const client = await ctx.client();
    const r = await client.json<{ Id: string }>('POST', '/commit', {
      query: {
        container: ctr,
        repo,
        tag,
        comment: o.str('message') || undefined,
        author: o.str('author') || undefined,
        pause: o.bool('pause') ? undefined : '0',
        changes: o.list('change').length ? o.list('change') : undefined,
      },
      body: null,
    });
    ctx.out(`${r.Id}\n`);
    return 0;
  },
};

export const diffCommand: Command = {
  name: 'diff',
  aliases: ['container diff'],
  usage: 'diff CONTAINER',
  desc: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const changes =
      (await client.json<{ Path: string; Kind: number }[] | null>('GET', `/containers/${seg(o.args[0])}/changes`)) ??
      [];
    for (const c of changes) ctx.out(`${c.Kind === 1 ? 'A' : c.Kind === 2 ? 'D' : 'C'} ${c.Path}\n`);
    return 0;
  },
};
