// The health monitor (containers/health.ts) with its schedule, against an in-memory containers
// service and prober (its own interfaces, no runtime): containers started at different instants
// are probed on the same grid instants (one wakeup starts several probes), each at its interval;
// results reach State.Health; a container that dies is no longer probed and its runner is
// released; shutdown leaves no timer behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../src/core/events.js';
import { HealthMonitor, type HealthTarget, type Prober } from '../../src/containers/health.js';
import type { Health } from '../../src/containers/healthcheck.js';
import type { ContainerRecord } from '../../src/containers/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function record(id: string, intervalMs: number): ContainerRecord {
  return {
    id,
    config: { Healthcheck: { Test: ['CMD', 'true'], Interval: intervalMs * 1e6, Retries: 3 } },
    state: { Running: true, Paused: false, StartedAt: new Date().toISOString() },
  } as unknown as ContainerRecord;
}

function setup() {
  const recs = new Map<string, ContainerRecord>();
  const health = new Map<string, Health>();
  const starts: { id: string; at: number }[] = [];
  const released: string[] = [];
  const target: HealthTarget = {
    tryLookup: (id) => recs.get(id) ?? null,
    all: () => [...recs.values()],
    setHealth: (id, h) => {
      const r = recs.get(id);
      if (r) r.state = { ...r.state, Health: h };
      health.set(id, h);
    },
  };
  const prober: Prober = {
    probe: async (id) => {
      starts.push({ id, at: performance.now() });
      return { exitCode: 0, output: 'ok' };
    },
    releaseProbes: (id) => void released.push(id),
  };
  const events = new EventBus();
  const mon = new HealthMonitor(target, prober, events);
  const start = (id: string, intervalMs: number) => {
    recs.set(id, record(id, intervalMs));
    events.publish('container', 'start', id);
  };
  const die = (id: string) => {
    const r = recs.get(id);
    if (r) r.state = { ...r.state, Running: false };
    events.publish('container', 'die', id);
  };
  return { mon, start, die, starts, released, health };
}

test('health monitor: containers started apart are probed together on grid instants, each at its interval', async () => {
  const s = setup();
  try {
    // interval 300 ms: grid 15 ms, a due time moves to the nearest multiple of 15 ms (rounding
    // boundaries at 7.5 mod 15). Started 4 ms apart just after a boundary, the three land on the
    // same instant; without the grid, c would run on an instant of its own every round.
    while (performance.now() % 15 < 7.5 || performance.now() % 15 > 8) await new Promise((r) => setImmediate(r));
    s.start('a', 300);
    s.start('b', 300);
    await sleep(4);
    s.start('c', 300);
    assert.equal(s.mon.size, 3);
    await sleep(1000);
    const byId = (id: string) => s.starts.filter((x) => x.id === id).map((x) => x.at);
    for (const id of ['a', 'b', 'c']) {
      const t = byId(id);
      assert.ok(t.length >= 2 && t.length <= 4, `${id}: ${t.length} probes in 1000 ms at 300 ms`);
      for (let i = 1; i < t.length; i++) {
        const gap = t[i] - t[i - 1];
        assert.ok(gap >= 290 && gap < 400, `${id}: probes ${gap} ms apart`);
      }
      assert.equal(s.health.get(id)?.Status, 'healthy');
    }
    // the probes of the three containers start on the same instants (same timer callback)
    // (probe starts less than 2 ms apart count as one instant)
    const at = s.starts.map((x) => x.at).sort((x, y) => x - y);
    const instants = at.filter((t, i) => i === 0 || t - at[i - 1] >= 2).length;
    assert.equal(instants, byId('a').length, `${s.starts.length} probes on ${instants} instants`);
    // a container that dies is no longer probed and its runner is released
    s.die('b');
    assert.deepEqual(s.released, ['b']);
    assert.equal(s.mon.size, 2);
    const nb = byId('b').length;
    const na = byId('a').length;
    await sleep(650);
    assert.equal(byId('b').length, nb);
    assert.ok(byId('a').length > na, 'the others are still probed');
  } finally {
    s.mon.shutdown();
  }
  assert.equal(s.mon.size, 0);
  const n = s.starts.length;
  await sleep(300);
  assert.equal(s.starts.length, n, 'no probe after shutdown');
});
