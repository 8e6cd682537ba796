// The start/exit/remove path made faster for issue 16 keeps its promises: a --rm container leaves
// nothing (runc state, cgroups, mount, files, record) although its removal no longer runs the
// runtime a second time; a container started again after its exit is torn down again; a failed
// start leaves nothing; and the opt-in trace (COCON_TRACE) writes one line per operation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, waitFor } from '../helpers/daemon.js';
import { create, start, wait, inspect, rm } from '../helpers/containers.js';
import { isMounted } from '../../src/sys/mount.js';

const traceDir = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'trace-'));
const traceFile = join(traceDir, 'trace.jsonl');
after(() => rmSync(traceDir, { recursive: true, force: true }));
const h = useDaemon({ busybox: true, env: { COCON_TRACE: traceFile } });

interface TraceLine {
  op: string;
  id: string;
  total: number;
  phases: Record<string, number>;
}
const traced = (id: string): TraceLine[] =>
  readFileSync(traceFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TraceLine)
    .filter((l) => l.id === id);

/** What a container may leave on the host: runc state, cgroups, its rootfs mount, its dirs. */
function leftovers(id: string): string[] {
  const left: string[] = [];
  const rootfs = join(h.d.dataRoot, 'containers', id, 'rootfs');
  if (isMounted(rootfs)) left.push(`mount ${rootfs}`);
  for (const p of [
    join(h.d.execRoot, 'runc', id),
    join(h.d.execRoot, 'containers', id),
    join(h.d.execRoot, 'exits', id),
    join(h.d.dataRoot, 'containers', id),
  ])
    if (existsSync(p)) left.push(p);
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    const p = join('/sys/fs/cgroup', ctl, 'cocon', id);
    if (existsSync(p)) left.push(p);
  }
  return left;
}

test('run --rm: nothing is left, and the trace tells each phase of create, start, exit and remove', async () => {
  for (const NetworkMode of ['default', 'none']) {
    const id = await create(h.d, { cmd: ['true'], hostConfig: { AutoRemove: true, NetworkMode } });
    const removed = wait(h.d, id, 'removed');
    await start(h.d, id);
    assert.equal(await removed, 0);
    assert.equal((await h.d.api('GET', `/containers/${id}/json`)).status, 404);
    assert.deepEqual(leftovers(id), [], NetworkMode);
    await waitFor('the remove line', () => traced(id).some((l) => l.op === 'remove'));
    const lines = traced(id);
    assert.deepEqual(
      lines.map((l) => l.op),
      ['create', 'start', 'exit', 'remove'],
    );
    const [, st, ex, re] = lines;
    for (const p of ['mount', 'network', 'spec', 'conmon-create', 'runc-start', 'db'])
      assert.equal(typeof st.phases[p], 'number', `start phase ${p}`);
    for (const p of ['teardown', 'runc-delete', 'unmount', 'db'])
      assert.equal(typeof ex.phases[p], 'number', `exit phase ${p}`);
    for (const p of ['snapshot', 'files', 'db']) assert.equal(typeof re.phases[p], 'number', `remove phase ${p}`);
    assert.ok(st.total > 0 && st.total >= st.phases['conmon-create'], JSON.stringify(st));
  }
});

test('a container started again after its exit is torn down again, and rm leaves nothing', async () => {
  const id = await create(h.d, { cmd: ['sh', '-c', 'exit 4'] });
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 4);
  assert.deepEqual(
    leftovers(id).filter((p) => p.includes('/runc/') || p.startsWith('/sys/') || p.startsWith('mount')),
    [],
  );
  await start(h.d, id);
  assert.equal(await wait(h.d, id), 4);
  const c = await inspect(h.d, id);
  assert.equal(c.State.Status, 'exited');
  assert.equal(c.State.ExitCode, 4);
  assert.equal(existsSync(join(h.d.execRoot, 'runc', id)), false, 'the second run was torn down too');
  await rm(h.d, id, false);
  assert.deepEqual(leftovers(id), []);
});

test('a long-running container removed with force leaves nothing', async () => {
  const id = await create(h.d, { cmd: ['sleep', '600'] });
  await start(h.d, id);
  await rm(h.d, id, true);
  assert.deepEqual(leftovers(id), []);
});

test('a failed start (no such executable) with --rm leaves nothing: mount and network made side by side are undone', async () => {
  const id = await create(h.d, { cmd: ['/no/such/thing'], hostConfig: { AutoRemove: true } });
  const r = await h.d.api('POST', `/v1.41/containers/${id}/start`);
  assert.equal(r.status, 400, r.body);
  await waitFor('removal', async () => (await h.d.api('GET', `/containers/${id}/json`)).status === 404);
  assert.deepEqual(leftovers(id), []);
});
