// The opt-in operation trace (COCON_TRACE): off, it is one shared no-op; on, each operation writes
// one JSON line with its phases, sync and async alike, once, and a failed write never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { NO_TRACE, setTraceFile, traceOp, tracing } from '../../src/core/trace.js';

test('off: traceOp hands out the shared no-op, which still runs and returns what it times', async () => {
  setTraceFile(null);
  assert.equal(tracing(), false);
  const t = traceOp('start', 'abc');
  assert.equal(t, NO_TRACE);
  assert.equal(
    t.phase('x', () => 41 + 1),
    42,
  );
  assert.equal(await t.phase('y', async () => 'done'), 'done');
  t.end();
});

test('on: one JSON line per operation with its phases (sync, async, added, repeated ones summed)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trace-'));
  const file = join(dir, 'trace.jsonl');
  try {
    setTraceFile(file);
    const t = traceOp('start', 'c1');
    assert.equal(
      t.phase('spec', () => 'ok'),
      'ok',
    );
    await t.phase('mount', () => new Promise((r) => setTimeout(r, 20)));
    t.add('db', 1.5);
    t.add('db', 1);
    await assert.rejects(
      t.phase('conmon', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    t.end({ failed: false });
    t.end(); // once only
    traceOp('exit', 'c1').end();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    const [start, exit] = lines;
    assert.equal(start.op, 'start');
    assert.equal(start.id, 'c1');
    assert.equal(start.failed, false);
    assert.deepEqual(Object.keys(start.phases).sort(), ['conmon', 'db', 'mount', 'spec']);
    assert.ok(start.phases.mount >= 15, `mount ${start.phases.mount} ms`);
    assert.equal(start.phases.db, 2.5);
    assert.ok(start.total >= start.phases.mount);
    assert.equal(exit.op, 'exit');
    assert.deepEqual(exit.phases, {});
    // a trace file that cannot be written never breaks the operation
    setTraceFile(join(dir, 'no/such/dir/trace.jsonl'));
    traceOp('start', 'c2').end();
  } finally {
    setTraceFile(null);
    rmSync(dir, { recursive: true, force: true });
  }
});
