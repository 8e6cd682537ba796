// cp: copies files between the host and a container through the archive endpoints
// (HEAD/GET/PUT /containers/{id}/archive), with docker's path rules.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { extractTarStream } from '../../sys/tar/extract.js';
import { locate, packLocated } from '../../sys/tar/pack.js';
import { HOST, LayerError } from '../../sys/tar/rules.js';
import { ApiError } from '../client.js';
import { CliError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { humanSize } from '../humanize.js';

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

/** A pass-through that counts the bytes going by (for "Successfully copied N"). */
function counter(): { stream: PassThrough; bytes: () => number } {
  let n = 0;
  const stream = new PassThrough({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, bytes: () => n };
}

async function copyFromContainer(ctx: Ctx, ctr: string, src: string, dst: string, quiet: boolean): Promise<void> {
  const client = await ctx.client();
  const res = await client.stream('GET', `/containers/${seg(ctr)}/archive`, { query: { path: src } });
  if (dst === '-') {
    for await (const c of res) process.stdout.write(c as Buffer);
    return;
  }
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  const srcIsDir = stat ? isDirMode(stat.mode) : false;
  const count = counter();
  // pipeline, not pipe: a connection that breaks midway fails the extraction instead of leaving it waiting
  const counted = pipeline(res as Readable, count.stream, () => undefined);
  // the daemon's tar has one top entry (the copied path): extracted on the host by the one safe
  // extractor (HOST rules: nothing through a symlink, no devices, owned by the caller), renamed as docker does
  const extract = async (dir: string, top?: string): Promise<void> => {
    try {
      await extractTarStream(counted, realpathSync(dir), HOST, '', { renameTop: top });
    } catch (e) {
      if (e instanceof LayerError) throw new CliError(`invalid tar from the daemon: ${e.message}`, 1);
      throw e;
    }
  };
  let dstStat;
  try {
    dstStat = statSync(dst);
  } catch {
    dstStat = undefined;
  }
  if (dstStat?.isDirectory()) {
    if (srcIsDir && endsWithDot(src)) await extract(dst, '');
    else await extract(dst);
  } else if (dstStat) {
    if (srcIsDir) throw new CliError(`cannot copy directory to non-directory: ${dst}`, 1);
    await extract(dirname(dst), basename(dst));
  } else {
    if (endsWithSep(dst) && !srcIsDir) throw new CliError(`destination directory "${dst}" must exist`, 1);
    try {
      if (!statSync(dirname(dst)).isDirectory()) throw new Error();
    } catch {
      throw new CliError(`destination directory "${dirname(dst)}" must exist`, 1);
    }
    await extract(dirname(dst), basename(dst.replace(/\/+$/, '')));
  }
  if (!quiet && process.stderr.isTTY) ctx.err(`Successfully copied ${humanSize(count.bytes(), 3)} to ${dst}\n`);
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
  // the local path is read by the one tar codec (walked by open fds, symlinks not followed); -a keeps owners
  const policy = { rootOwner: !archive };
  // SRC/ and SRC/. follow a symlinked SRC (its content is copied); a plain SRC symlink is copied as the link
  const l = locate('/', resolve(src), endsWithSep(src) || endsWithDot(src));
  let targetDir: string;
  let tar: Readable;
  if (dstStat && isDirMode(dstStat.mode)) {
    targetDir = dst;
    tar = packLocated(l, st.isDirectory() && endsWithDot(src) ? '' : basename(resolve(src)), { policy });
  } else if (dstStat) {
    if (st.isDirectory()) {
      l.close();
      throw new CliError(`cannot copy directory to non-directory: ${dst}`, 1);
    }
    targetDir = dirname(dst);
    tar = packLocated(l, basename(dst), { policy });
  } else {
    if (endsWithSep(dst) && !st.isDirectory()) {
      l.close();
      throw new CliError(`destination directory "${dst}" must exist`, 1);
    }
    const clean = dst.replace(/\/+$/, '');
    targetDir = dirname(clean);
    tar = packLocated(l, basename(clean), { policy });
  }
  tar.once('close', () => l.close());
  const count = counter();
  await client.call('PUT', `/containers/${seg(ctr)}/archive`, {
    query: { path: targetDir, noOverwriteDirNonDir: 'true', copyUIDGID: archive ? 'true' : undefined },
    raw: tar.pipe(count.stream),
    contentType: 'text/plain',
  });
  if (!quiet && process.stderr.isTTY) ctx.err(`Successfully copied ${humanSize(count.bytes(), 3)} to ${ctr}:${dst}\n`);
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
