// core/duration.ts: Go's time.ParseDuration and Duration.String, the one duration parser/formatter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, goDurationMs, parseGoDuration } from '../../src/core/duration.js';

test('parseGoDuration reads what time.ParseDuration reads', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1h30m'), 5400e9);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('1h2m3s'), 3723e9);
  assert.equal(parseGoDuration('300ms'), 300e6);
  assert.equal(parseGoDuration('.5s'), 500e6);
  assert.equal(parseGoDuration('1.s'), 1e9);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.equal(parseGoDuration('2µs'), 2000);
  assert.equal(parseGoDuration('5ns'), 5);
  assert.equal(parseGoDuration('-2s'), -2e9);
  assert.equal(parseGoDuration('+2s'), 2e9);
  for (const bad of ['', '-', '10', '5x', 'abc', '1h 30m', 's', '1.2.3s', '0s0'])
    assert.equal(parseGoDuration(bad), undefined, bad);
  assert.equal(goDurationMs('1m30s'), 90_000);
  assert.equal(goDurationMs('1500us'), 1.5);
  assert.equal(goDurationMs('x'), undefined);
});

test('formatGoDuration prints what Duration.String prints', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(5), '5ns');
  assert.equal(formatGoDuration(1500), '1.5µs');
  assert.equal(formatGoDuration(500e6), '500ms');
  assert.equal(formatGoDuration(1.5e6), '1.5ms');
  assert.equal(formatGoDuration(30e9), '30s');
  assert.equal(formatGoDuration(1.5e9), '1.5s');
  assert.equal(formatGoDuration(90e9), '1m30s');
  assert.equal(formatGoDuration(3600e9), '1h0m0s');
  assert.equal(formatGoDuration(3723e9), '1h2m3s');
  assert.equal(formatGoDuration(-90e9), '-1m30s');
  for (const s of ['1h2m3.5s', '250ms', '1m0s', '7µs'])
    assert.equal(formatGoDuration(parseGoDuration(s)!), s, `round trip ${s}`);
});
