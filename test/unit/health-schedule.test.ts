// The healthcheck schedule (containers/healthschedule.ts), pure: the grid step per interval, the
// alignment of due times (nearest grid instant, never in the past), and the one queue of due times
// behind the monitor's single timer (earliest kept right as keys are set, moved, deleted and taken).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignDue, DueQueue, MAX_GRID_MS, probeGrid } from '../../src/containers/healthschedule.js';

test('health schedule: the grid is 1/20 of the interval, at most 50 ms, at least 1 ms', () => {
  assert.equal(probeGrid(1000), 50);
  assert.equal(probeGrid(30_000), MAX_GRID_MS);
  assert.equal(probeGrid(200), 10);
  assert.equal(probeGrid(10), 1);
  assert.equal(probeGrid(1), 1);
});

test('health schedule: a due time moves to the nearest grid instant, at most half a step, never before now', () => {
  assert.equal(alignDue(1024, 50, 0), 1000);
  assert.equal(alignDue(1025, 50, 0), 1050);
  assert.equal(alignDue(1049.9, 50, 0), 1050);
  assert.equal(alignDue(1000, 50, 0), 1000);
  // already past (or rounded into the past): at once
  assert.equal(alignDue(1010, 50, 1005), 1005);
  // a probe that ends a little after its grid instant keeps its phase: start + interval again
  const start = 5000;
  const end = start + 3; // the probe took 3 ms
  assert.equal(alignDue(end + 1000, probeGrid(1000), end), start + 1000);
  // containers started at different times meet on the same instants
  const dues = [1003, 1011, 1019, 1024].map((t) => alignDue(t + 1000, 50, t));
  assert.deepEqual(new Set(dues), new Set([2000]));
});

test('health schedule: the queue yields due keys earliest first and keeps the earliest due time right', () => {
  const q = new DueQueue<string>();
  assert.equal(q.next(), undefined);
  assert.deepEqual(q.takeDue(1e9), []);
  q.set('a', 300);
  q.set('b', 100);
  q.set('c', 200);
  assert.equal(q.next(), 100);
  assert.deepEqual(q.takeDue(99), []);
  assert.equal(q.size, 3);
  // moving the earliest later finds the next earliest
  q.set('b', 400);
  assert.equal(q.next(), 200);
  // deleting the earliest too
  q.delete('c');
  assert.equal(q.next(), 300);
  q.delete('nope');
  assert.equal(q.next(), 300);
  q.set('d', 300);
  q.set('e', 50);
  assert.deepEqual(q.takeDue(300), ['e', 'a', 'd']);
  assert.equal(q.next(), 400);
  assert.ok(q.has('b') && !q.has('a'));
  assert.deepEqual(q.takeDue(400), ['b']);
  assert.equal(q.next(), undefined);
  assert.equal(q.size, 0);
  // setting a key again after it was taken
  q.set('a', 10);
  assert.equal(q.next(), 10);
});
