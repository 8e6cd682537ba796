// Container file copy (docker cp): HEAD/GET/PUT /containers/{id}/archive?path=. Paths resolve
// inside the container's root (symlinks the way the container sees them, never leading out); GET
// streams a tar whose top entry is the path's base name; PUT extracts a tar into a directory of the
// container. A running container may rename or swap entries while we copy (CVE-2018-15664): both
// directions go through directory fds opened one component at a time with O_NOFOLLOW
// (src/sys/saferoot.ts), so no step resolves a path the container can redirect; the container is
// not paused (see saferoot.ts for why that is not needed). A path at or under a volume or bind mount
// point is walked the same way inside that volume's or bind's host directory
// (src/containers/copytarget.ts): a symlink in a volume stays in the volume.
import { posix } from 'node:path';
import type { Router, Ctx } from './router.js';
import type { Services } from '../daemon/services.js';
import { Forbidden, InvalidArgument, NotFound } from '../core/errors.js';
import { RootPathError } from '../sys/saferoot.js';
import { checkLocatedDir, locate, packLocated, statLocated, type Located, type RootStat } from '../sys/tarstream.js';
import { COPY, extractTarStream, LayerError } from '../snapshots/apply.js';
import { copyTarget, type CopyTarget } from '../containers/copytarget.js';

const DIR_BIT = 2 ** 31;
const LINK_BIT = 2 ** 27;

function statHeader(st: RootStat, path: string): string {
  const mode = st.mode + (st.isDir ? DIR_BIT : 0) + (st.isLink ? LINK_BIT : 0);
  const stat = {
    name: posix.basename(path) || '/',
    size: st.size,
    mode,
    mtime: st.mtime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    linkTarget: st.linkTarget,
  };
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** Reads and discards the rest of a request body (a refused upload), so the connection can answer. */
async function drain(req: NodeJS.ReadableStream & { complete?: boolean; destroyed?: boolean }): Promise<void> {
  if (req.complete || req.destroyed) return;
  try {
    for await (const _ of req) {
      /* discarded */
    }
  } catch {
    /* the client went away: nothing to answer */
  }
}

export function registerArchiveRoutes(r: Router, s: Services): void {
  const c = s.containers;
  async function withPath<T>(
    ctx: Ctx,
    followLast: (path: string) => boolean,
    fn: (l: Located, path: string, t: CopyTarget) => Promise<T>,
  ): Promise<T> {
    const path = ctx.query.get('path');
    if (!path) throw new InvalidArgument('path is required');
    const root = await copyTarget(c, s.volumes, ctx.params.id, path, true);
    try {
      let l: Located;
      try {
        l = locate(root.dir, root.path, followLast(path));
      } catch (e) {
        if (e instanceof RootPathError)
          throw new NotFound(`Could not find the file ${path} in container ${ctx.params.id}`);
        throw e;
      }
      try {
        return await fn(l, path, root);
      } finally {
        l.close();
      }
    } finally {
      await root.release();
    }
  }
  const stat = (l: Located, path: string, ctr: string): RootStat => {
    try {
      return statLocated(l);
    } catch {
      throw new NotFound(`Could not find the file ${path} in container ${ctr}`);
    }
  };

  r.head('/containers/:id/archive', (ctx) =>
    withPath(
      ctx,
      (p) => p.endsWith('/'),
      async (l, path) => {
        const st = stat(l, path, ctx.params.id);
        ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(st, path), 'Content-Length': '0' });
        ctx.res.end();
      },
    ),
  );

  r.get('/containers/:id/archive', (ctx) =>
    withPath(
      ctx,
      (p) => p.endsWith('/'),
      async (l, path) => {
        const st = stat(l, path, ctx.params.id);
        const arcName = path.endsWith('/.')
          ? posix.basename(path.slice(0, -2)) || '.'
          : l.name || posix.basename(posix.normalize('/' + path)) || '.';
        const tar = packLocated(l, arcName);
        ctx.res.writeHead(200, {
          'Content-Type': 'application/x-tar',
          'X-Docker-Container-Path-Stat': statHeader(st, path),
        });
        ctx.req.socket.once('close', () => tar.destroy());
        tar.pipe(ctx.res);
        await new Promise<void>((resolve) => {
          tar.on('error', (e: Error) => {
            ctx.res.destroy(e);
            resolve();
          });
          tar.on('end', resolve);
          tar.on('close', resolve);
        });
      },
    ),
  );

  r.put('/containers/:id/archive', (ctx) =>
    withPath(
      ctx,
      () => true,
      async (l, path, t) => {
        try {
          checkLocatedDir(l);
        } catch (e) {
          if (e instanceof RootPathError && e.code === 'ENOENT')
            throw new NotFound(`Could not find the file ${path} in container ${ctx.params.id}`);
          throw new InvalidArgument(`extraction point is not a directory`);
        }
        if (t.mount ? !t.mount.RW : c.lookup(ctx.params.id).hostConfig.ReadonlyRootfs)
          throw new Forbidden(t.mount ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
        try {
          await extractTarStream(ctx.body(), t.dir, COPY, t.path);
        } catch (e) {
          await drain(ctx.req); // read what the refused entry left unread, so the answer reaches the client
          if (e instanceof LayerError) throw new InvalidArgument(e.message);
          throw e;
        }
        ctx.send(200);
      },
    ),
  );
}
