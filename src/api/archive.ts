// docker cp routes: HEAD/GET/PUT /containers/{id}/archive?path=. The copy itself (resolving the
// path inside the container, the no-escape walk and the safe extractor) is the containers room's
// ArchiveBackend (src/containers/archive.ts); these handlers decode the request, call it, and
// encode docker's answer (the X-Docker-Container-Path-Stat header, the tar stream).
import { posix } from 'node:path';
import type { Router } from './router.js';
import type { ArchiveBackend, PathStat } from '../containers/archive.js';

const DIR_BIT = 2 ** 31;
const LINK_BIT = 2 ** 27;

/** docker's X-Docker-Container-Path-Stat value: base64 of {name,size,mode,mtime,linkTarget}, Go FileMode bits. */
export function statHeader(st: PathStat, path: string): string {
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

export function registerArchiveRoutes(r: Router, archive: ArchiveBackend): void {
  r.head('/containers/:id/archive', async (ctx) => {
    const path = ctx.query.get('path') ?? '';
    const st = await archive.stat(ctx.params.id, path);
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(st, path), 'Content-Length': '0' });
    ctx.res.end();
  });

  r.get('/containers/:id/archive', async (ctx) => {
    const path = ctx.query.get('path') ?? '';
    const { stat, tar } = await archive.get(ctx.params.id, path);
    ctx.res.writeHead(200, {
      'Content-Type': 'application/x-tar',
      'X-Docker-Container-Path-Stat': statHeader(stat, path),
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
  });

  r.put('/containers/:id/archive', async (ctx) => {
    const path = ctx.query.get('path') ?? '';
    const body = ctx.body();
    try {
      await archive.put(ctx.params.id, path, body);
    } catch (e) {
      // an extraction refused midway: read what it left unread, so the answer reaches the client
      if (body.readableDidRead) await drain(ctx.req);
      throw e;
    }
    ctx.send(200);
  });
}
