// cp: copies files between the host and a container through the archive endpoints
// (HEAD/GET/PUT /containers/{id}/archive), with docker's path rules.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ApiError, readAll } from '../client.js';
import { CliError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { humanSize } from '../humanize.js';
import { extractEntries, packPath, parseTar } from '../tar.js';

const seg = (s: string): string => encodeURIComponent(s);

// docker's splitCpArg: "ctr:/path" vs a local path (absolute or starting with '.' never names a container).
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

function decodeStat(h: string | string[] | undefined): PathStat | undefined {
  if (typeof h !== 'string' || !h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as PathStat;
  } catch {
    return undefined;
  }
}
const isDirMode = (mode: number): boolean => (mode & 0x80000000) !== 0 || mode >>> 0 >= 0x80000000;

function endsWithSep(p: string): boolean {
  return p.endsWith('/');
}
function endsWithDot(p: string): boolean {
  return p === '.' || p.endsWith('/.');
}

async function copyFromContainer(ctx: Ctx, ctr: string, src: string, dst: string, quiet: boolean): Promise<void> {
  const client = await ctx.client();
  const res = await client.stream('GET', `/containers/${seg(ctr)}/archive`, { query: { path: src } });
  if (dst === '-') {
    for await (const c of res) process.stdout.write(c as Buffer);
    return;
  }
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  const buf = await readAll(res);
  const entries = parseTar(buf);
  const srcIsDir = stat ? isDirMode(stat.mode) : entries[0]?.type === 'dir';
  const rootName = entries[0]?.name.split('/')[0] ?? basename(src);
  let dstStat;
  try {
    dstStat = statSync(dst);
  } catch {
    dstStat = undefined;
  }
  if (dstStat?.isDirectory()) {
    if (srcIsDir && endsWithDot(src)) extractEntries(entries, dst, { fromRoot: rootName, toRoot: '.' });
    else extractEntries(entries, dst);
  } else if (dstStat) {
    if (srcIsDir) throw new CliError(`cannot copy directory to non-directory: ${dst}`, 1);
    extractEntries(entries, dirname(dst), { fromRoot: rootName, toRoot: basename(dst) });
  } else {
    if (endsWithSep(dst) && !srcIsDir) throw new CliError(`destination directory "${dst}" must exist`, 1);
    try {
      if (!statSync(dirname(dst)).isDirectory()) throw new Error();
    } catch {
      throw new CliError(`destination directory "${dirname(dst)}" must exist`, 1);
    }
    extractEntries(entries, dirname(dst), { fromRoot: rootName, toRoot: basename(dst.replace(/\/+$/, '')) });
  }
  if (!quiet && process.stderr.isTTY) ctx.err(`Successfully copied ${humanSize(buf.length, 3)} to ${dst}\n`);
}

async function copyToContainer(
  ctx: Ctx,
  src: string,
  ctr: string,
  dst: string,
  archive: boolean,
  quiet: boolean,
): Promise<void> {
  const client = await ctx.client();
  if (src === '-') {
    await client.call('PUT', `/containers/${seg(ctr)}/archive`, {
      query: { path: dst, noOverwriteDirNonDir: 'true' },
      raw: process.stdin,
      contentType: 'text/plain',
    });
    return;
  }
  let st;
  try {
    st = lstatSync(src);
  } catch {
    throw new CliError(`lstat ${src}: no such file or directory`, 1);
  }
  let dstStat: PathStat | undefined;
  try {
    const r = await client.call('HEAD', `/containers/${seg(ctr)}/archive`, { query: { path: dst } });
    dstStat = decodeStat(r.headers['x-docker-container-path-stat']) ?? {
      name: basename(dst),
      size: 0,
      mode: 0x80000000,
      mtime: '',
      linkTarget: '',
    };
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  let targetDir: string;
  const gens: Iterable<Buffer>[] = [];
  if (dstStat && isDirMode(dstStat.mode)) {
    targetDir = dst;
    if (st.isDirectory() && endsWithDot(src)) {
      for (const child of readdirSync(src).sort()) gens.push(packPath(join(src, child), child, archive));
    } else gens.push(packPath(src, basename(src.replace(/\/+$/, '')) || basename(src), archive));
  } else if (dstStat) {
    if (st.isDirectory()) throw new CliError(`cannot copy directory to non-directory: ${dst}`, 1);
    targetDir = dirname(dst);
    gens.push(packPath(src, basename(dst), archive));
  } else {
    if (endsWithSep(dst) && !st.isDirectory()) throw new CliError(`destination directory "${dst}" must exist`, 1);
    const clean = dst.replace(/\/+$/, '');
    targetDir = dirname(clean);
    gens.push(packPath(src, basename(clean), archive));
  }
  let total = 0;
  const chunks = (function* (): Generator<Buffer> {
    for (let i = 0; i < gens.length; i++) {
      for (const c of gens[i]) {
        // drop the end-of-archive blocks of all but the last part
        if (i < gens.length - 1 && c.length === 1024 && c.every((b) => b === 0)) continue;
        total += c.length;
        yield c;
      }
    }
  })();
  await client.call('PUT', `/containers/${seg(ctr)}/archive`, {
    query: { path: targetDir, noOverwriteDirNonDir: 'true', copyUIDGID: archive ? 'true' : undefined },
    raw: Readable.from(chunks),
    contentType: 'text/plain',
  });
  if (!quiet && process.stderr.isTTY) ctx.err(`Successfully copied ${humanSize(total, 3)} to ${ctr}:${dst}\n`);
}

export const cpCommand: Command = {
  name: 'cp',
  aliases: ['container cp'],
  usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-',
  desc: 'Copy files/folders between a container and the local filesystem',
  flags: [
    { long: 'archive', short: 'a', type: 'bool', desc: 'Archive mode (copy all uid/gid information)' },
    { long: 'follow-link', short: 'L', type: 'bool', desc: 'Always follow symbol link in SRC_PATH' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Suppress progress output during copy' },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, o) {
    const [a, b] = o.args;
    const src = splitCpArg(a);
    const dst = splitCpArg(b);
    if (src.container && dst.container) throw new CliError('copying between containers is not supported', 1);
    if (!src.container && !dst.container) throw new CliError('must specify at least one container source', 1);
    if (src.container !== undefined && src.path === '') throw new CliError('filepath can not be empty', 1);
    if (dst.container !== undefined && dst.path === '') throw new CliError('filepath can not be empty', 1);
    if (src.container) await copyFromContainer(ctx, src.container, src.path, dst.path, o.bool('quiet'));
    else await copyToContainer(ctx, src.path, dst.container!, dst.path, o.bool('archive'), o.bool('quiet'));
    return 0;
  },
};
