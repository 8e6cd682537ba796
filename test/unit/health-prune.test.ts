// Pure rules: healthcheck merge/validation/timings/state machine, and docker's prune filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyProbe,
  healthSuffix,
  healthTimings,
  initialHealth,
  mergeHealthcheck,
  nextDelay,
  probeCommand,
  validateHealthcheck,
  checkHealthFilter,
  OutputCap,
  type Health,
} from '../../src/containers/healthcheck.js';
import { formatGoDuration, goDurationMs } from '../../src/core/duration.js';
import { pruneFilter, prunes, untilMs } from '../../src/core/filters.js';
import { statusLine } from '../../src/containers/config.js';

const S = 1_000_000_000;

test("healthcheck merge: the container overrides the image field by field; none keeps the image's", () => {
  const image = { Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 10 * S, Retries: 5 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.deepEqual(mergeHealthcheck({ Interval: 2 * S }, image), {
    Test: image.Test,
    Interval: 2 * S,
    Retries: 5,
    Timeout: undefined,
    StartPeriod: undefined,
    StartInterval: undefined,
  });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image)?.Test, ['NONE']);
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
});

test('healthcheck validation and probe command', () => {
  assert.throws(
    () => validateHealthcheck({ Test: ['CMD', 'true'], Interval: 1000 }),
    /Interval in Healthcheck cannot be less than 1ms/,
  );
  assert.throws(
    () => validateHealthcheck({ Test: ['CMD', 'true'], Retries: -1 }),
    /Retries in Healthcheck cannot be negative/,
  );
  assert.throws(() => validateHealthcheck({ Test: ['SHELL', 'x'] }), /unknown Healthcheck type 'SHELL'/);
  assert.throws(() => validateHealthcheck({ Test: ['CMD'] }), /needs a command/);
  assert.doesNotThrow(() => validateHealthcheck({ Test: ['NONE'] }));
  assert.deepEqual(probeCommand({ Test: ['CMD', 'cat', '/ok'] }), ['cat', '/ok']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'test -e /ok'] }), ['/bin/sh', '-c', 'test -e /ok']);
  assert.equal(probeCommand({ Test: ['NONE'] }), null);
  assert.equal(probeCommand(undefined), null);
});

test("healthcheck timings: docker's defaults, start interval inside the start period", () => {
  assert.deepEqual(healthTimings({ Test: ['CMD', 'x'] }), {
    intervalMs: 30_000,
    timeoutMs: 30_000,
    startPeriodMs: 0,
    startIntervalMs: 5_000,
    retries: 3,
  });
  const t = healthTimings({ Interval: 60 * S, StartPeriod: 20 * S, StartInterval: 2 * S });
  assert.equal(nextDelay(t, 'starting', 1000), 2000);
  assert.equal(nextDelay(t, 'starting', 25_000), 60_000);
  assert.equal(nextDelay(t, 'healthy', 1000), 60_000);
  assert.equal(formatGoDuration(500e6), '500ms');
  assert.equal(formatGoDuration(30e9), '30s');
  assert.equal(formatGoDuration(90e9), '1m30s');
});

test('probe results: healthy on 0, unhealthy after retries, start period failures not counted, 5 log entries', () => {
  const started = Date.parse('2026-01-01T00:00:00Z');
  const at = (s: number, code: number) => ({
    Start: new Date(started + s * 1000).toISOString(),
    End: new Date(started + s * 1000 + 10).toISOString(),
    ExitCode: code,
    Output: 'x'.repeat(5000),
  });
  const ctx = { retries: 2, startPeriodMs: 10_000, startedAtMs: started };
  let h: Health = initialHealth();
  h = applyProbe(h, at(1, 1), ctx);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  assert.equal(h.Log[0].Output.length, 4096);
  h = applyProbe(h, at(11, 1), ctx);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
  h = applyProbe(h, at(12, 1), ctx);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = applyProbe(h, at(13, 0), ctx);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 4; i++) h = applyProbe(h, at(14 + i, 0), ctx);
  assert.equal(h.Log.length, 5);
  assert.equal(initialHealth(h).Log.length, 5, 'a restart keeps the log');
  assert.equal(initialHealth(h).Status, 'starting');
});

test('ps: status suffix and health filter values', () => {
  assert.equal(healthSuffix(undefined), '');
  assert.equal(healthSuffix({ Status: 'starting', FailingStreak: 0, Log: [] }), ' (health: starting)');
  assert.equal(healthSuffix({ Status: 'unhealthy', FailingStreak: 3, Log: [] }), ' (unhealthy)');
  const now = Date.parse('2026-01-01T00:00:10Z');
  const st = {
    Status: 'running' as const,
    Running: true,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 1,
    ExitCode: 0,
    Error: '',
    StartedAt: '2026-01-01T00:00:07Z',
    FinishedAt: '0001-01-01T00:00:00Z',
    Health: { Status: 'healthy' as const, FailingStreak: 0, Log: [] },
  };
  assert.equal(statusLine(st, now), 'Up 3 seconds (healthy)');
  assert.throws(() => checkHealthFilter('sick'), /Unrecognised filter value for health: sick/);
  assert.doesNotThrow(() => checkHealthFilter('none'));
});

test('prune filters: until as unix time, date or duration; label and label!; unknown keys refused', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  assert.equal(goDurationMs('1h30m'), 5_400_000);
  assert.equal(goDurationMs('10x'), undefined);
  assert.equal(untilMs('24h', now), now - 86_400_000);
  assert.equal(untilMs('1700000000', now), 1_700_000_000_000);
  assert.equal(untilMs('2026-05-01T00:00:00Z', now), Date.parse('2026-05-01T00:00:00Z'));
  assert.throws(() => untilMs('soon', now), /invalid filter 'until=soon'/);
  assert.throws(() => pruneFilter(new Map([['dangling', ['true']]])), /invalid filter 'dangling'/);
  const pf = pruneFilter(
    new Map([
      ['until', ['1h']],
      ['label', ['a']],
      ['label!', ['b=2']],
    ]),
    undefined,
    now,
  );
  assert.equal(prunes(pf, now - 7_200_000, { a: '1' }), true);
  assert.equal(prunes(pf, now - 60_000, { a: '1' }), false, 'too young');
  assert.equal(prunes(pf, now - 7_200_000, {}), false, 'label missing');
  assert.equal(prunes(pf, now - 7_200_000, { a: '1', b: '2' }), false, 'label! matches');
  assert.equal(prunes(pruneFilter(new Map()), now, null), true);
});

test('probe output: the first 4096 bytes of stdout and stderr together are kept; reading stops at the drain limit', () => {
  const cap = new OutputCap(4096, 10_000);
  assert.equal(cap.add(Buffer.from('a'.repeat(3000))), true);
  assert.equal(cap.add(Buffer.from('b'.repeat(3000))), true);
  assert.equal(cap.text(), 'a'.repeat(3000) + 'b'.repeat(1096));
  assert.equal(cap.add(Buffer.from('c'.repeat(3999))), true);
  assert.equal(cap.add(Buffer.from('d')), false);
  assert.equal(cap.text().length, 4096);
  const small = new OutputCap(4096, 1 << 20);
  small.add(Buffer.from('ok\n'));
  assert.equal(small.text(), 'ok\n');
});
