// The image routes (src/api/images.ts) on a fake ImagesBackend: no store, no registry. Each handler
// decodes the request, calls one backend method and encodes the answer: checked here are the decoded
// arguments, docker's status codes and JSON-message streams (an error before the first message is an
// ordinary error response, after it an errorDetail in the 200 stream; load always streams), and the
// mapping of engine error kinds to status codes with a {"message"} body.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { registerImageRoutes, type ImagesBackend } from '../../src/api/images.js';
import { Conflict, InvalidArgument, NotFound, Unauthorized } from '../../src/core/errors.js';
import { serveRoutes } from '../helpers/fake-api.js';

const calls: Array<[string, ...unknown[]]> = [];
const note = (name: string, ...args: unknown[]) => calls.push([name, ...args]);
function last(name: string): unknown[] {
  const c = calls.filter((x) => x[0] === name).pop();
  assert.ok(c, `${name} was not called`);
  return c.slice(1);
}
const missing = (name: string) => new NotFound(`No such image: ${name}`);

const fake: ImagesBackend = {
  list(o) {
    note('list', o.all, o.filters);
    return [{ Id: 'sha256:aa' }];
  },
  inspect(name) {
    if (name !== 'busybox') throw missing(name);
    return { Id: 'sha256:aa' };
  },
  history(name) {
    if (name !== 'busybox') throw missing(name);
    return [{ Id: 'sha256:aa', CreatedBy: 'x' }];
  },
  async tag(name, repo, tag) {
    note('tag', name, repo, tag);
    if (!repo) throw new InvalidArgument('repository name must have at least one component');
  },
  async remove(name, force, noprune) {
    note('remove', name, force, noprune);
    if (name === 'used') throw new Conflict('conflict: unable to remove repository reference "used"');
    return [{ Untagged: `${name}:latest` }, { Deleted: 'sha256:aa' }];
  },
  async prune(filters) {
    note('prune', filters);
    return { ImagesDeleted: null, SpaceReclaimed: 0 };
  },
  async import(body, opts) {
    const chunks: Buffer[] = [];
    if (opts.fromSrc === '-') for await (const c of body) chunks.push(c as Buffer);
    note('import', opts, Buffer.concat(chunks).toString());
    if (opts.repo === 'bad') throw new InvalidArgument('failed to import: invalid tar archive: x');
    return 'sha256:bb';
  },
  async bootstrap(image) {
    note('bootstrap', image);
    if (image !== 'busybox')
      throw new InvalidArgument(`cannot bootstrap ${image}: only busybox can be built from the host`);
    return 'sha256:cc';
  },
  async pull(fromImage, o, emit) {
    note('pull', fromImage, o);
    if (fromImage === 'private') throw new Unauthorized('pull access denied');
    emit({ status: 'Pulling from library/x', id: 'latest' });
    if (fromImage === 'half') throw new Error('connection reset');
    emit({ status: 'Status: Downloaded newer image for x:latest' });
  },
  async push(name, o, emit) {
    note('push', name, o);
    if (name === 'nope') throw missing(name);
    emit({ status: 'Pushed' });
  },
  async save(names) {
    note('save', names);
    for (const n of names) if (n !== 'busybox') throw missing(n);
    return Readable.from([Buffer.from('archive-bytes')]);
  },
  async load(body, emit) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    if (Buffer.concat(chunks).toString() === 'junk') throw new InvalidArgument('invalid archive: no manifest.json');
    emit({ stream: 'Loaded image: busybox:latest\n' });
  },
};

const api = await serveRoutes((r) => registerImageRoutes(r, fake));
after(() => api.close());

/** The JSON messages of a docker JSON-message stream (\r\n separated). */
const messages = (b: Buffer) =>
  b
    .toString()
    .split('\r\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('list decodes all, both filter forms and the legacy filter parameter', async () => {
  const r = await api.call(
    'GET',
    '/v1.43/images/json?all=1&filters=' + encodeURIComponent('{"dangling":{"true":true}}'),
  );
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), [{ Id: 'sha256:aa' }]);
  assert.deepEqual(last('list'), [true, { dangling: ['true'] }]);
  await api.call('GET', '/images/json?filter=busy*&filters=' + encodeURIComponent('{"label":["a"]}'));
  assert.deepEqual(last('list'), [false, { label: ['a'], reference: ['busy*'] }]);
});

test('inspect, history, tag, rmi and prune call the backend and answer docker codes', async () => {
  assert.deepEqual((await api.call('GET', '/images/busybox/json')).json(), { Id: 'sha256:aa' });
  assert.equal((await api.call('GET', '/images/busybox/history')).status, 200);
  const tag = await api.call('POST', '/images/busybox/tag?repo=me/bb&tag=v1');
  assert.equal(tag.status, 201);
  assert.deepEqual(last('tag'), ['busybox', 'me/bb', 'v1']);
  const rmi = await api.call('DELETE', '/images/reg.example:5000/a/b?force=1');
  assert.equal(rmi.status, 200);
  assert.deepEqual(last('remove'), ['reg.example:5000/a/b', true, false]);
  assert.deepEqual(rmi.json(), [{ Untagged: 'reg.example:5000/a/b:latest' }, { Deleted: 'sha256:aa' }]);
  const prune = await api.call('POST', '/images/prune?filters=' + encodeURIComponent('{"until":["24h"]}'));
  assert.deepEqual(prune.json(), { ImagesDeleted: null, SpaceReclaimed: 0 });
  assert.deepEqual(last('prune'), [{ until: ['24h'] }]);
});

test('import reads the body (fromSrc=-) and answers a status message; pull and push stream messages', async () => {
  const imp = await api.call('POST', '/images/create?fromSrc=-&repo=mine&tag=v1&changes=CMD%20sh', 'tar-bytes');
  assert.equal(imp.status, 200);
  assert.deepEqual(messages(imp.body), [{ status: 'sha256:bb' }]);
  const [opts, body] = last('import');
  assert.deepEqual(opts, {
    repo: 'mine',
    tag: 'v1',
    changes: ['CMD sh'],
    message: undefined,
    fromSrc: '-',
    platform: undefined,
  });
  assert.equal(body, 'tar-bytes');
  const pull = await api.call('POST', '/images/create?fromImage=busybox&tag=1.36', undefined, {
    'X-Registry-Auth': 'eyJ1c2VybmFtZSI6ImEifQ==',
  });
  assert.equal(pull.status, 200);
  assert.equal(messages(pull.body).length, 2);
  assert.deepEqual(last('pull'), [
    'busybox',
    { tag: '1.36', platform: undefined, registryAuth: 'eyJ1c2VybmFtZSI6ImEifQ==' },
  ]);
  const push = await api.call('POST', '/images/me/bb/push?tag=v1');
  assert.deepEqual(messages(push.body), [{ status: 'Pushed' }]);
  assert.deepEqual(last('push'), ['me/bb', { tag: 'v1', registryAuth: undefined }]);
  assert.equal((await api.call('POST', '/images/bootstrap')).status, 200);
  assert.deepEqual(last('bootstrap'), ['busybox']);
});

test('save streams the archive; load always answers a 200 message stream', async () => {
  const one = await api.call('GET', '/images/busybox/get');
  assert.equal(one.headers['content-type'], 'application/x-tar');
  assert.equal(one.body.toString(), 'archive-bytes');
  await api.call('GET', '/images/get?names=busybox&names=busybox');
  assert.deepEqual(last('save'), [['busybox', 'busybox']]);
  const ok = await api.call('POST', '/images/load', 'archive');
  assert.equal(ok.status, 200);
  assert.deepEqual(messages(ok.body), [{ stream: 'Loaded image: busybox:latest\n' }]);
  const bad = await api.call('POST', '/images/load', 'junk');
  assert.equal(bad.status, 200);
  const m = messages(bad.body);
  assert.deepEqual(m.at(-1), {
    errorDetail: { message: 'invalid archive: no manifest.json' },
    error: 'invalid archive: no manifest.json',
  });
});

test('engine error kinds become status codes before a stream starts, an errorDetail after', async () => {
  const cases: Array<[string, string, number, string | undefined]> = [
    ['GET', '/images/nope/json', 404, 'No such image: nope'],
    ['GET', '/images/nope/history', 404, 'No such image: nope'],
    ['POST', '/images/busybox/tag', 400, 'repository name must have at least one component'],
    ['DELETE', '/images/used', 409, 'conflict: unable to remove repository reference "used"'],
    ['POST', '/images/create?fromImage=private', 401, 'pull access denied'],
    ['POST', '/images/create?fromSrc=-&repo=bad', 400, 'failed to import: invalid tar archive: x'],
    ['POST', '/images/create', 400, 'fromImage or fromSrc is required'],
    ['POST', '/images/nope/push', 404, 'No such image: nope'],
    ['GET', '/images/nope/get', 404, 'No such image: nope'],
    ['POST', '/images/bootstrap?image=alpine', 400, 'cannot bootstrap alpine: only busybox can be built from the host'],
  ];
  for (const [method, path, status, message] of cases) {
    const r = await api.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : 'x');
    assert.equal(r.status, status, `${method} ${path}`);
    assert.deepEqual(r.json(), { message }, `${method} ${path}`);
  }
  const half = await api.call('POST', '/images/create?fromImage=half');
  assert.equal(half.status, 200);
  assert.deepEqual(messages(half.body).at(-1), {
    errorDetail: { message: 'connection reset' },
    error: 'connection reset',
  });
});
