// Serves API routes (src/api/*.ts register functions) on a unix socket for unit tests against a fake
// backend: no daemon, no engine. `call` answers status, headers and body; `close` removes everything.
import { createServer, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router } from '../../src/api/router.js';

export interface FakeApi {
  call(
    method: string,
    path: string,
    body?: Buffer | string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; json: () => unknown }>;
  close(): void;
}

export async function serveRoutes(register: (r: Router) => void): Promise<FakeApi> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-api-'));
  const sock = join(dir, 'api.sock');
  const router = new Router();
  register(router);
  const server = createServer((req, res) => void router.dispatch(req, res));
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  return {
    call: (method, path, body, headers) =>
      new Promise((resolve, reject) => {
        const req = request({ socketPath: sock, method, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const b = Buffer.concat(chunks);
            resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) });
          });
        });
        req.on('error', reject);
        req.end(body);
      }),
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
