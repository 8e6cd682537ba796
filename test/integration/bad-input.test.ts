// Bad input through the API and cocon's CLI: each gets Docker's status code and a clear message,
// and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, uniq, cli } from '../helpers/daemon.js';
import { create, createBody, inspect, list, rm, runDetached } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

test('unknown image -> 404 "No such image: nosuchimage:latest", nothing created', async () => {
  const before = (await list(h.d)).length;
  const name = uniq('noimg');
  const r = await h.d.api(
    'POST',
    `/v1.41/containers/create?name=${name}`,
    createBody({ image: 'nosuchimage', cmd: ['true'] }),
  );
  assert.equal(r.status, 404, r.body);
  assert.equal(r.json?.message, 'No such image: nosuchimage:latest');
  assert.equal((await list(h.d)).length, before, 'a container was created anyway');
  assert.equal((await h.d.api('GET', `/containers/${name}/json`)).status, 404);
});

test("name already in use -> 409 with docker's message", async () => {
  const name = uniq('dup');
  const id = await create(h.d, { name, cmd: ['true'] });
  const r = await h.d.api('POST', `/v1.41/containers/create?name=${name}`, createBody({ cmd: ['true'] }));
  assert.equal(r.status, 409, r.body);
  assert.match(
    r.json?.message ?? '',
    new RegExp(`The container name "/${name}" is already in use by container "${id}"`),
  );
  await rm(h.d, id);
});

test('invalid container name -> 400', async () => {
  const r = await h.d.api(
    'POST',
    `/v1.41/containers/create?name=${encodeURIComponent('bad name!')}`,
    createBody({ cmd: ['true'] }),
  );
  assert.equal(r.status, 400, r.body);
  assert.match(r.json?.message ?? '', /Invalid container name/i);
});

test('rm of a running container without force -> 409; with force -> gone, process killed', async () => {
  const id = await runDetached(h.d, { name: uniq('rmrun') });
  const pid = (await inspect(h.d, id)).State.Pid;
  const r = await h.d.api('DELETE', `/v1.41/containers/${id}`);
  assert.equal(r.status, 409, r.body);
  assert.match(r.json?.message ?? '', /cannot remove|running|stop the container/i);
  assert.equal((await inspect(h.d, id)).State.Running, true, 'refused rm must leave it running');
  const f = await h.d.api('DELETE', `/v1.41/containers/${id}?force=1`);
  assert.equal(f.status, 204, f.body);
  assert.equal((await h.d.api('GET', `/containers/${id}/json`)).status, 404);
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch {
    alive = false;
  }
  assert.equal(alive, false, `container process ${pid} survived rm -f`);
});

test('missing container: inspect/start/stop/kill/rm/logs/wait -> 404 "No such container"', async () => {
  for (const [m, p] of [
    ['GET', '/containers/nosuch/json'],
    ['POST', '/containers/nosuch/start'],
    ['POST', '/containers/nosuch/stop'],
    ['POST', '/containers/nosuch/kill'],
    ['DELETE', '/containers/nosuch'],
    ['GET', '/containers/nosuch/logs?stdout=1'],
    ['POST', '/containers/nosuch/wait'],
  ] as const) {
    const r = await h.d.api(m, `/v1.41${p}`);
    assert.equal(r.status, 404, `${m} ${p} -> ${r.status} ${r.body}`);
    assert.equal(r.json?.message, 'No such container: nosuch', `${m} ${p}`);
  }
});

test('command not found -> start fails (4xx/5xx), ExitCode 127; not executable -> ExitCode 126', async () => {
  const id = await create(h.d, { name: uniq('nf'), cmd: ['nosuchcommand'] });
  const r = await h.d.api('POST', `/v1.41/containers/${id}/start`);
  assert.ok(r.status >= 400, `start -> ${r.status}`);
  assert.match(r.json?.message ?? '', /executable file not found|no such file or directory/);
  const c = await inspect(h.d, id);
  assert.equal(c.State.Running, false);
  assert.equal(c.State.ExitCode, 127);
  const id2 = await create(h.d, { name: uniq('nx'), cmd: ['/dev'] });
  const r2 = await h.d.api('POST', `/v1.41/containers/${id2}/start`);
  assert.ok(r2.status >= 400, `start -> ${r2.status}`);
  assert.match(r2.json?.message ?? '', /permission denied/);
  assert.equal((await inspect(h.d, id2)).State.ExitCode, 126);
  await rm(h.d, id);
  await rm(h.d, id2);
});

test('invalid restart policy and invalid signal -> 400', async () => {
  const r = await h.d.api(
    'POST',
    '/v1.41/containers/create',
    createBody({ cmd: ['true'], hostConfig: { RestartPolicy: { Name: 'sometimes' } } }),
  );
  assert.equal(r.status, 400, r.body);
  const id = await runDetached(h.d, { name: uniq('badsig') });
  const k = await h.d.api('POST', `/v1.41/containers/${id}/kill?signal=NOSUCHSIG`);
  assert.equal(k.status, 400, k.body);
  await rm(h.d, id);
});

test('cocon CLI: unknown image -> exit 125 with "No such image" (or "Unable to find image")', async () => {
  const r = await cli(h.d, ['run', '--rm', 'nosuchimage', 'true']);
  assert.equal(r.code, 125, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /No such image|Unable to find image/);
});

test('cocon CLI: bad env file -> exit 125 and nothing created; a good one works', async () => {
  const before = (await list(h.d)).length;
  const r = await cli(h.d, ['run', '--rm', '--env-file', '/nonexistent/env.list', 'busybox', 'true']);
  assert.equal(r.code, 125, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /nonexistent\/env\.list/);
  const bad = join(h.d.root, 'bad.env');
  writeFileSync(bad, 'GOOD=1\n=novalue\n');
  const r2 = await cli(h.d, ['run', '--rm', '--env-file', bad, 'busybox', 'true']);
  assert.equal(r2.code, 125, `exit ${r2.code}: ${r2.stderr}`);
  assert.match(r2.stderr, /variable|invalid|empty/i);
  assert.equal((await list(h.d)).length, before, 'a container was created for a bad env file');
  const good = join(h.d.root, 'good.env');
  writeFileSync(good, '# comment\nA=1\nB=two words\n\n');
  const r3 = await cli(h.d, ['run', '--rm', '--env-file', good, 'busybox', 'sh', '-c', 'echo "$A/$B"']);
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(r3.stdout, '1/two words\n');
});

test('cocon CLI: unknown flag -> exit 125 with the flag named; missing command args -> non-zero', async () => {
  const r = await cli(h.d, ['run', '--no-such-flag', 'busybox', 'true']);
  assert.equal(r.code, 125, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /unknown flag: --no-such-flag/);
  const r2 = await cli(h.d, ['rename', 'onlyone']);
  assert.notEqual(r2.code, 0);
  const r3 = await cli(h.d, ['nosuchcommand']);
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /nosuchcommand/);
});

test('cocon CLI: 127 / 126 for a missing or non-executable command; 125 for a name conflict', async () => {
  const r = await cli(h.d, ['run', '--rm', 'busybox', 'nosuchcommand']);
  assert.equal(r.code, 127, `exit ${r.code}: ${r.stderr}`);
  const r2 = await cli(h.d, ['run', '--rm', 'busybox', '/dev']);
  assert.equal(r2.code, 126, `exit ${r2.code}: ${r2.stderr}`);
  const name = uniq('cdup');
  const id = await create(h.d, { name, cmd: ['true'] });
  const r3 = await cli(h.d, ['run', '--name', name, 'busybox', 'true']);
  assert.equal(r3.code, 125, `exit ${r3.code}: ${r3.stderr}`);
  assert.match(r3.stderr, /already in use/);
  await rm(h.d, id);
});
