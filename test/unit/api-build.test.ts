// The build routes (src/api/build.ts) on a fake BuildBackend: no builder, no engine. The handlers
// decode the query (refusing what cocon cannot honour before calling anything), call one backend
// method and encode the answer: a JSON-message stream for /build (an error before the first message
// is an ordinary error response, after it an errorDetail with a failed RUN's exit code), 201 {Id}
// for /commit, the prune report for /build/prune.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { registerBuildRoutes, type BuildBackend } from '../../src/api/build.js';
import { InvalidArgument, NotFound } from '../../src/core/errors.js';
import { serveRoutes } from '../helpers/fake-api.js';

class StepFailed extends Error {
  constructor(
    m: string,
    readonly code: number,
  ) {
    super(m);
  }
}
const calls: Array<[string, unknown]> = [];
let behaviour: 'ok' | 'bad-first' | 'step-fails' = 'ok';

const fake: BuildBackend = {
  async build(context, opts, creds, emit) {
    const tar = await buffer(context);
    calls.push(['build', { tags: opts.tags, dockerfile: opts.dockerfile, bytes: tar.length, creds }]);
    if (behaviour === 'bad-first') throw new InvalidArgument('dockerfile parse error line 1: unknown instruction: FOO');
    emit({ stream: 'Step 1/1 : FROM busybox\n' });
    if (behaviour === 'step-fails')
      throw new StepFailed("The command '/bin/sh -c false' returned a non-zero code: 3", 3);
  },
  async failure(e) {
    return { cancelled: false, code: e instanceof StepFailed ? e.code : undefined };
  },
  async commit(o) {
    calls.push(['commit', o]);
    if (o.container === 'gone') throw new NotFound('No such container: gone');
    return 'sha256:cc';
  },
  async prune() {
    return { CachesDeleted: ['sha256:dd'], SpaceReclaimed: 42 };
  },
};
const api = await serveRoutes((r) => registerBuildRoutes(r, fake));
after(() => api.close());
const lines = (b: Buffer) =>
  b
    .toString()
    .split('\r\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test('build: options decoded, BuildKit refused before the backend runs, messages streamed', async () => {
  const n = calls.length;
  const kit = await api.call('POST', '/build?version=2', 'x');
  assert.equal(kit.status, 501);
  assert.match((kit.json() as { message: string }).message, /BuildKit/);
  assert.equal(calls.length, n, 'the backend was not called');
  behaviour = 'ok';
  const cfg = Buffer.from(JSON.stringify({ 'reg:5000': { username: 'u', password: 'p' } })).toString('base64');
  const r = await api.call('POST', '/build?t=a:1&t=b&dockerfile=D', 'context-bytes', { 'X-Registry-Config': cfg });
  assert.equal(r.status, 200);
  assert.deepEqual(lines(r.body), [{ stream: 'Step 1/1 : FROM busybox\n' }]);
  assert.deepEqual(calls.at(-1), [
    'build',
    { tags: ['a:1', 'b'], dockerfile: 'D', bytes: 13, creds: { 'reg:5000': { username: 'u', password: 'p' } } },
  ]);
});

test('build: an error before any message is a status; a failed RUN after one is an errorDetail with its code', async () => {
  behaviour = 'bad-first';
  const bad = await api.call('POST', '/build', 'x');
  assert.equal(bad.status, 400);
  assert.match((bad.json() as { message: string }).message, /unknown instruction: FOO/);
  behaviour = 'step-fails';
  const r = await api.call('POST', '/build', 'x');
  assert.equal(r.status, 200);
  const msgs = lines(r.body);
  assert.deepEqual(msgs.at(-1), {
    errorDetail: { code: 3, message: "The command '/bin/sh -c false' returned a non-zero code: 3" },
    error: "The command '/bin/sh -c false' returned a non-zero code: 3",
  });
});

test('commit passes query and body through and answers 201; prune answers the report', async () => {
  const r = await api.call(
    'POST',
    '/commit?container=c1&repo=img&tag=v1&comment=hi&author=me&pause=0&changes=CMD%20%5B%22sh%22%5D',
    JSON.stringify({ Cmd: ['x'], Env: [] }),
    { 'Content-Type': 'application/json' },
  );
  assert.equal(r.status, 201);
  assert.deepEqual(r.json(), { Id: 'sha256:cc' });
  assert.deepEqual(calls.at(-1), [
    'commit',
    {
      container: 'c1',
      repo: 'img',
      tag: 'v1',
      comment: 'hi',
      author: 'me',
      pause: false,
      changes: ['CMD ["sh"]'],
      body: { Cmd: ['x'], Env: [] },
    },
  ]);
  const gone = await api.call('POST', '/commit?container=gone', '{}', { 'Content-Type': 'application/json' });
  assert.equal(gone.status, 404);
  const noCtr = await api.call('POST', '/commit', '{}', { 'Content-Type': 'application/json' });
  assert.equal(noCtr.status, 400);
  const p = await api.call('POST', '/build/prune');
  assert.deepEqual(p.json(), { CachesDeleted: ['sha256:dd'], SpaceReclaimed: 42 });
});
