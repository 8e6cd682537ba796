// The container routes (src/api/containers.ts) on a fake ContainersBackend: no runc, no container.
// Each handler decodes the request, calls one backend method and encodes the answer: checked here
// are the decoded arguments, docker's status codes and bodies, streamed answers (logs, wait, export),
// and the mapping of every engine error kind to its status code with a {"message"} body.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { registerContainerRoutes, type ContainersBackend } from '../../src/api/containers.js';
import {
  Conflict,
  Forbidden,
  InvalidArgument,
  NotFound,
  NotImplemented,
  NotModified,
  Unavailable,
} from '../../src/core/errors.js';
import { serveRoutes } from '../helpers/fake-api.js';

const calls: Array<[string, ...unknown[]]> = [];
const note = (name: string, ...args: unknown[]) => calls.push([name, ...args]);

/** Container refs that make the fake throw one kind of engine error. */
const FAULTS: Record<string, () => Error> = {
  missing: () => new NotFound('No such container: missing'),
  running: () => new NotModified(),
  busy: () => new Conflict('container busy is paused'),
  bad: () => new InvalidArgument('invalid signal: NOPE'),
  ro: () => new Forbidden('read-only'),
  nolog: () => new NotImplemented('configured logging driver does not support reading'),
  down: () => new Unavailable('runtime unavailable'),
  broken: () => new Error('disk on fire'),
};
const check = (ref: string) => {
  const f = FAULTS[ref];
  if (f) throw f();
};

const fake: ContainersBackend = {
  async create(body, name) {
    note('create', body, name);
    return { Id: 'c'.repeat(64), Warnings: [] };
  },
  list(o) {
    note('list', o.all, o.limit, Object.fromEntries(o.filters));
    return [{ Id: 'c1' }];
  },
  async inspect(ref) {
    check(ref);
    return { Id: ref };
  },
  async start(ref) {
    check(ref);
    note('start', ref);
  },
  async stop(ref, t, signal) {
    check(ref);
    note('stop', ref, t, signal);
  },
  async restart(ref, t, signal) {
    note('restart', ref, t, signal);
  },
  async kill(ref, signal) {
    check(ref);
    note('kill', ref, signal);
  },
  async pause(ref) {
    check(ref);
  },
  async unpause(ref) {
    check(ref);
  },
  async remove(ref, force, volumes) {
    check(ref);
    note('remove', ref, force, volumes);
  },
  async removeLink(ref) {
    note('removeLink', ref);
  },
  rename(ref, name) {
    check(ref);
    note('rename', ref, name);
  },
  wait(ref, condition) {
    check(ref);
    note('wait', ref, condition);
    return { promise: Promise.resolve(3), cancel: () => undefined };
  },
  async attach() {
    throw new Error('not used');
  },
  resize(ref, h, w) {
    note('resize', ref, h, w);
  },
  async top(_ref, psArgs) {
    return { Titles: ['PID'], Processes: [[psArgs]] };
  },
  async logs(ref, o) {
    check(ref);
    note('logs', ref, o);
    return Readable.from([Buffer.from('line 1\n'), Buffer.from('line 2\n')]);
  },
  async changes(ref) {
    return ref === 'clean' ? [] : [{ Path: '/tmp', Kind: 0 }];
  },
  async export(ref) {
    check(ref);
    return Readable.from([Buffer.from('whole-fs')]);
  },
  async prune(filters) {
    note('prune', Object.fromEntries(filters));
    return { ContainersDeleted: null, SpaceReclaimed: 0 };
  },
};

const api = await serveRoutes((r) => registerContainerRoutes(r, fake));
after(() => api.close());

function last(name: string): unknown[] {
  const c = calls.filter((x) => x[0] === name).pop();
  assert.ok(c, `${name} was not called`);
  return c.slice(1);
}

test('create decodes the body and the name and answers 201 with Id and Warnings', async () => {
  const r = await api.call('POST', '/v1.43/containers/create?name=web', JSON.stringify({ Image: 'busybox' }), {
    'Content-Type': 'application/json',
  });
  assert.equal(r.status, 201);
  assert.deepEqual(r.json(), { Id: 'c'.repeat(64), Warnings: [] });
  const [body, name] = last('create');
  assert.equal((body as { Image: string }).Image, 'busybox');
  assert.equal(name, 'web');
});

test('list decodes all, limit, latest and both forms of filters', async () => {
  let r = await api.call('GET', '/containers/json?all=1&filters=' + encodeURIComponent('{"label":{"a=b":true}}'));
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), [{ Id: 'c1' }]);
  assert.deepEqual(last('list'), [true, -1, { label: ['a=b'] }]);
  r = await api.call('GET', '/containers/json?latest=1&filters=' + encodeURIComponent('{"status":["exited"]}'));
  assert.deepEqual(last('list'), [false, 1, { status: ['exited'] }]);
  r = await api.call('GET', '/containers/json?limit=5');
  assert.deepEqual(last('list'), [false, 5, {}]);
  r = await api.call('GET', '/containers/json?filters=not-json');
  assert.equal(r.status, 400);
});

test('lifecycle routes pass the query through and answer 204', async () => {
  assert.equal((await api.call('POST', '/containers/c1/start')).status, 204);
  assert.equal((await api.call('POST', '/containers/c1/stop?t=3&signal=SIGINT')).status, 204);
  assert.deepEqual(last('stop'), ['c1', 3, 'SIGINT']);
  assert.equal((await api.call('POST', '/containers/c1/stop')).status, 204);
  assert.deepEqual(last('stop'), ['c1', undefined, undefined]);
  assert.equal((await api.call('POST', '/containers/c1/kill')).status, 204);
  assert.deepEqual(last('kill'), ['c1', 'KILL']);
  assert.equal((await api.call('DELETE', '/containers/c1?force=1&v=true')).status, 204);
  assert.deepEqual(last('remove'), ['c1', true, true]);
  assert.equal((await api.call('DELETE', '/containers/web/db?link=1')).status, 204);
  assert.deepEqual(last('removeLink'), ['web/db']);
  assert.equal((await api.call('DELETE', '/containers/web/db')).status, 404);
  assert.equal((await api.call('POST', '/containers/c1/rename?name=new')).status, 204);
  assert.deepEqual(last('rename'), ['c1', 'new']);
  assert.equal((await api.call('POST', '/containers/c1/resize?h=24&w=80')).status, 200);
  assert.deepEqual(last('resize'), ['c1', 24, 80]);
});

test('streamed answers: wait, logs, export; changes and top', async () => {
  const w = await api.call('POST', '/containers/c1/wait?condition=next-exit');
  assert.equal(w.status, 200);
  assert.deepEqual(w.json(), { Error: null, StatusCode: 3 });
  assert.deepEqual(last('wait'), ['c1', 'next-exit']);
  const l = await api.call('GET', '/containers/c1/logs?stdout=1&follow=1&tail=5&since=10');
  assert.equal(l.status, 200);
  assert.equal(l.body.toString(), 'line 1\nline 2\n');
  assert.deepEqual(last('logs'), [
    'c1',
    { stdout: true, stderr: false, follow: true, timestamps: false, tail: '5', since: '10', until: undefined },
  ]);
  const e = await api.call('GET', '/containers/c1/export');
  assert.equal(e.headers['content-type'], 'application/x-tar');
  assert.equal(e.body.toString(), 'whole-fs');
  assert.deepEqual((await api.call('GET', '/containers/c1/changes')).json(), [{ Path: '/tmp', Kind: 0 }]);
  assert.equal((await api.call('GET', '/containers/clean/changes')).json(), null);
  assert.deepEqual((await api.call('GET', '/containers/c1/top?ps_args=aux')).json(), {
    Titles: ['PID'],
    Processes: [['aux']],
  });
  const p = await api.call('POST', '/containers/prune?filters=' + encodeURIComponent('{"until":["24h"]}'));
  assert.deepEqual(p.json(), { ContainersDeleted: null, SpaceReclaimed: 0 });
  assert.deepEqual(last('prune'), [{ until: ['24h'] }]);
});

test('every engine error kind becomes its docker status code with a message body, before any stream', async () => {
  const cases: Array<[string, string, number]> = [
    ['GET', '/containers/missing/json', 404],
    ['POST', '/containers/running/start', 304],
    ['POST', '/containers/busy/pause', 409],
    ['POST', '/containers/bad/kill?signal=NOPE', 400],
    ['DELETE', '/containers/ro', 403],
    ['GET', '/containers/nolog/logs?stdout=1', 501],
    ['POST', '/containers/down/unpause', 503],
    ['GET', '/containers/broken/json', 500],
    ['GET', '/containers/missing/logs?stdout=1&follow=1', 404],
    ['POST', '/containers/missing/wait', 404],
    ['GET', '/containers/missing/export', 404],
  ];
  for (const [method, path, status] of cases) {
    const r = await api.call(method, path);
    assert.equal(r.status, status, `${method} ${path}`);
    if (status !== 304) {
      const ref = path.split('/')[2];
      assert.deepEqual(r.json(), { message: FAULTS[ref]().message }, `${method} ${path}`);
    }
  }
});
