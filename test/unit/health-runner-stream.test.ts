// The probe runner's reply stream (runtime/proberunner.ts RunnerStream), pure: probe output and
// terminators "\nMARKER SEQ STATUS\n" split at any byte, output without a final newline, and
// what hostile output cannot do (end a probe without the marker, a terminator not at a line start,
// an overlong or malformed tail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunnerStream, RUNNER_SCRIPT, type RunnerEvent } from '../../src/runtime/proberunner.js';

const M = '0123456789abcdef0123456789abcdef';

/** Feeds the chunks and returns the output as text and the terminators as "seq:status". */
function feed(chunks: (string | Buffer)[], marker = M): { out: string; ends: string[]; events: RunnerEvent[] } {
  const s = new RunnerStream(marker);
  const events: RunnerEvent[] = [];
  for (const c of chunks) events.push(...s.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  let out = '';
  const ends: string[] = [];
  for (const e of events) {
    if (e.kind === 'data') out += e.bytes.toString();
    else {
      ends.push(`${e.seq}:${e.status}`);
      out += '|';
    }
  }
  return { out, ends, events };
}

test('runner stream: ready, output and the exit status; the newline before the marker is not output', () => {
  const r = feed([`\n${M} 0 ready\n`, 'alive\n', `\n${M} 1 0\n`, 'no newline', `\n${M} 2 3\n`]);
  assert.deepEqual(r.ends, ['0:ready', '1:0', '2:3']);
  assert.equal(r.out, '|alive\n|no newline|');
  const missing = feed([`\n${M} 7 nocmd\n`]);
  assert.deepEqual(missing.ends, ['7:nocmd']);
});

test('runner stream: a terminator split at every byte boundary is still found, output kept whole', () => {
  const whole = `x\ny\n${M} 12 0\nnext\n${M} 13 1\n`;
  for (let i = 1; i < whole.length; i++) {
    for (const j of [i + 1, i + 5, whole.length]) {
      const r = feed([whole.slice(0, i), whole.slice(i, j), whole.slice(j)]);
      assert.deepEqual(r.ends, ['12:0', '13:1'], `split at ${i},${j}`);
      assert.equal(r.out, 'x\ny|next|', `split at ${i},${j}`);
    }
  }
  const bytes = Buffer.from(whole);
  const r = feed([...bytes].map((b) => Buffer.from([b])));
  assert.deepEqual(r.ends, ['12:0', '13:1']);
  assert.equal(r.out, 'x\ny|next|');
});

test('runner stream: output cannot end a probe without the marker, mid-line, or with a malformed tail', () => {
  const other = 'ffffffffffffffffffffffffffffffff';
  const r = feed([
    `\n${other} 1 0\n`, // another marker (a guess)
    `abc${M} 1 0\n`, // this marker, not at a line start
    `\n${M} 1 0 extra\n`, // malformed
    `\n${M} x 0\n`,
    `\n${M} 1 ${'9'.repeat(60)}\n`, // overlong
    `\n${M} 1 ${'a'.repeat(200)}`, // no newline for long
  ]);
  assert.deepEqual(r.ends, []);
  const all = `\n${other} 1 0\nabc${M} 1 0\n\n${M} 1 0 extra\n\n${M} x 0\n\n${M} 1 ${'9'.repeat(60)}\n\n${M} 1 ${'a'.repeat(200)}`;
  // all of it is output; only a tail that may still start a terminator is held back
  assert.equal(r.out, all.slice(0, r.out.length));
  assert.ok(all.length - r.out.length < M.length + 2);
  // it holds back no more than a terminator's length: a flood is handed on as it comes
  const s = new RunnerStream(M);
  const flood = Buffer.alloc(1 << 20, 'y');
  const got = s.push(flood).reduce((n, e) => n + (e.kind === 'data' ? e.bytes.length : 0), 0);
  assert.ok(flood.length - got < M.length + 2, `held back ${flood.length - got}`);
});

test('runner stream: the runner script keeps its own names out of the probe env and closes the request fd', () => {
  // every variable the script assigns is prefixed (an exported name of the container would change)
  for (const m of RUNNER_SCRIPT.matchAll(/(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=/g))
    assert.ok(m[1] === 'IFS' || m[1].startsWith('_cocon_'), `assigns ${m[1]}`);
  for (const m of RUNNER_SCRIPT.matchAll(/read -r (\w+)/g)) assert.ok(m[1].startsWith('_cocon_'));
  assert.match(RUNNER_SCRIPT, /\( exec "\$@" \) <\/dev\/null 3<&- 2>&1/);
});
