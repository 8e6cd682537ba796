// Container file copy (docker cp): HEAD/GET/PUT /containers/{id}/archive?path=. Paths resolve
// inside the container's root (symlinks cannot lead out); GET streams a tar whose top entry is
// the path's base name; PUT extracts a tar into a directory of the container.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import type { Router, Ctx } from './router.js';
import type { Services } from '../daemon/services.js';
import { Forbidden, InvalidArgument, NotFound } from '../core/errors.js';
import { resolveInRoot } from '../sys/rootpath.js';
import { tarPaths, untarInto } from '../sys/tarstream.js';

const DIR_BIT = 2 ** 31;
const LINK_BIT = 2 ** 27;

function pathStat(host: string, path: string, ctr: string): { header: string; isDir: boolean } {
  let st;
  try { st = lstatSync(host); } catch { throw new NotFound(`Could not find the file ${path} in container ${ctr}`); }
  const mode = (st.mode & 0o7777) + (st.isDirectory() ? DIR_BIT : 0) + (st.isSymbolicLink() ? LINK_BIT : 0);
  const stat = { name: posix.basename(path) || '/', size: st.size, mode, mtime: st.mtime.toISOString().replace(/\.\d{3}Z$/, 'Z'), linkTarget: st.isSymbolicLink() ? readlinkSync(host) : '' };
  return { header: Buffer.from(JSON.stringify(stat)).toString('base64'), isDir: st.isDirectory() };
}

export function registerArchiveRoutes(r: Router, s: Services): void {
  const c = s.containers;
  async function withRoot<T>(ctx: Ctx, fn: (root: string, path: string) => Promise<T>): Promise<T> {
    const path = ctx.query.get('path');
    if (!path) throw new InvalidArgument('path is required');
    const root = await c.exportRoot(ctx.params.id, true);
    try { return await fn(root.dir, path); } finally { await root.release(); }
  }

  r.head('/containers/:id/archive', (ctx) => withRoot(ctx, async (root, path) => {
    const st = pathStat(resolveInRoot(root, path, path.endsWith('/')), path, ctx.params.id);
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': st.header, 'Content-Length': '0' });
    ctx.res.end();
  }));

  r.get('/containers/:id/archive', (ctx) => withRoot(ctx, async (root, path) => {
    const host = resolveInRoot(root, path, path.endsWith('/'));
    const st = pathStat(host, path, ctx.params.id);
    const tar = tarPaths(posix.dirname(host), [posix.basename(host)], path.endsWith('/.') ? posix.basename(path.slice(0, -2)) : undefined);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': st.header });
    ctx.req.socket.once('close', () => tar.kill());
    tar.stream.pipe(ctx.res);
    await tar.done.catch((e: Error) => ctx.res.destroy(e));
  }));

  r.put('/containers/:id/archive', (ctx) => withRoot(ctx, async (root, path) => {
    const host = resolveInRoot(root, path, true);
    let isDir = false;
    try { isDir = statSync(host).isDirectory(); } catch { throw new NotFound(`Could not find the file ${path} in container ${ctx.params.id}`); }
    if (!isDir) throw new InvalidArgument(`extraction point is not a directory`);
    if (c.lookup(ctx.params.id).hostConfig.ReadonlyRootfs) throw new Forbidden('container rootfs is marked read-only');
    await untarInto(ctx.body(), host);
    ctx.send(200);
  }));
}
