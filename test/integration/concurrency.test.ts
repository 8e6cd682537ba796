// Concurrency: 20 containers run from two clients at once; names and ids unique, store consistent
// (also after a daemon restart); a race for one name has exactly one winner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon, uniq, cli } from '../helpers/daemon.js';
import { createBody, inspect, list, logs, rm, wait } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

test('20 containers created and run concurrently by two clients (API and cocon CLI): all succeed, ids unique', async () => {
  const tag = uniq('conc');
  // client 1: the API, 10 create+start in parallel
  const api = Array.from({ length: 10 }, async (_, i) => {
    const name = `${tag}-api-${i}`;
    const c = await h.d.api(
      'POST',
      `/v1.41/containers/create?name=${name}`,
      createBody({ cmd: ['sh', '-c', `echo api-${i}`], labels: { conc: tag } }),
    );
    assert.equal(c.status, 201, `create ${name}: ${c.body}`);
    const s = await h.d.api('POST', `/v1.41/containers/${c.json.Id}/start`);
    assert.equal(s.status, 204, `start ${name}: ${s.body}`);
    return { name, id: c.json.Id as string };
  });
  // client 2: cocon's CLI, 10 `run -d` in parallel
  const viaCli = Array.from({ length: 10 }, async (_, i) => {
    const name = `${tag}-cli-${i}`;
    const r = await cli(
      h.d,
      ['run', '-d', '--name', name, '--label', `conc=${tag}`, 'busybox', 'sh', '-c', `echo cli-${i}`],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, `run ${name}: ${r.stderr}`);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `run -d printed ${JSON.stringify(r.stdout)}`);
    return { name, id };
  });
  const made = await Promise.all([...api, ...viaCli]);
  assert.equal(new Set(made.map((m) => m.id)).size, 20, 'ids are not unique');
  for (const m of made) assert.equal(await wait(h.d, m.id), 0, `${m.name} exit code`);
  for (const m of made) {
    const c = await inspect(h.d, m.id);
    assert.equal(c.Name, `/${m.name}`);
    assert.equal(c.State.Status, 'exited');
    assert.equal((await logs(h.d, m.id)).stdout, `${m.name.slice(tag.length + 1)}\n`, `logs of ${m.name}`);
  }
  const q = `all=1&filters=${encodeURIComponent(JSON.stringify({ label: { [`conc=${tag}`]: true } }))}`;
  const listed = await list(h.d, q);
  assert.equal(listed.length, 20);
  assert.equal(new Set(listed.map((x: { Names: string[] }) => x.Names[0])).size, 20, 'names are not unique');
  // the store is consistent after a restart
  await h.d.restart();
  const again = await list(h.d, q);
  assert.deepEqual(again.map((x: { Id: string }) => x.Id).sort(), made.map((m) => m.id).sort());
  for (const m of made) await rm(h.d, m.id);
  assert.equal((await list(h.d, q)).length, 0);
});

test('two clients race for the same name 10 times: exactly one 201 and one 409 each time', async () => {
  for (let i = 0; i < 10; i++) {
    const name = uniq('race');
    const body = createBody({ cmd: ['true'] });
    const [r1, r2] = await Promise.all([
      h.d.api('POST', `/v1.41/containers/create?name=${name}`, body),
      h.d.api('POST', `/v1.41/containers/create?name=${name}`, body),
    ]);
    const codes = [r1.status, r2.status].sort();
    assert.deepEqual(codes, [201, 409], `race ${i}: ${r1.status} ${r1.body} / ${r2.status} ${r2.body}`);
    await rm(h.d, name);
  }
});
