// Unit tests for k8s-file parsing, stdcopy framing, log selection and timestamp formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  K8sFileParser,
  parseK8sFile,
  parseK8sRecord,
  parseTimestampNs,
  formatTimestamp,
  unixToNs,
  frame,
  Deframer,
  deframeAll,
  selectLogs,
  parseTail,
  formatEntry,
  encodeEntry,
  type LogEntry,
} from '../../src/runtime/logformat.js';

// the records observed from conmon 2.1.6 on this host (reference/conmon-runc.md §1)
const OBSERVED =
  [
    '2026-11-29T02:24:38.548714405+00:00 stdout F out-line',
    '2026-11-29T02:24:38.548714405+00:00 stdout P no-newline',
    '2026-11-29T02:24:38.549119662+00:00 stderr F err-line',
  ].join('\n') + '\n';

const text = (e: LogEntry) => e.line.toString();

test('timestamps: offsets normalised to UTC, nanoseconds kept', () => {
  const a = parseTimestampNs('2026-11-29T02:24:38.548714405+00:00')!;
  assert.equal(a, 1795919078548714405n);
  assert.equal(formatTimestamp(a), '2026-11-29T02:24:38.548714405Z');
  // same instant in another offset
  assert.equal(parseTimestampNs('2026-11-29T03:24:38.548714405+01:00'), a);
  assert.equal(parseTimestampNs('2026-11-28T21:54:38.548714405-04:30'), a);
  assert.equal(parseTimestampNs('2026-11-29T02:24:38.548714405Z'), a);
  // short fractions and none; fixed 9 digits on output (docker's RFC3339NanoFixed)
  assert.equal(formatTimestamp(parseTimestampNs('2026-11-29T02:24:38.5+00:00')!), '2026-11-29T02:24:38.500000000Z');
  assert.equal(formatTimestamp(parseTimestampNs('2026-11-29T02:24:38+00:00')!), '2026-11-29T02:24:38.000000000Z');
  assert.equal(parseTimestampNs('not a time'), null);
  assert.equal(parseTimestampNs('2026-11-29 02:24:38Z'), null);
  // Date-comparable: ms agree with Date.parse
  assert.equal(Number(a / 1_000_000n), Date.parse('2026-11-29T02:24:38.548Z'));
});

test('unixToNs: numbers and exact strings', () => {
  assert.equal(unixToNs('1795919078.548714405'), 1795919078548714405n);
  assert.equal(unixToNs('1795919078'), 1795919078000000000n);
  assert.equal(unixToNs('1795919078.5'), 1795919078500000000n);
  assert.equal(unixToNs(1795919078), 1795919078000000000n);
  const f = unixToNs(1795919078.25);
  assert.ok(f - 1795919078250000000n < 1000n && 1795919078250000000n - f < 1000n);
  assert.throws(() => unixToNs('abc'));
});

test('parse observed conmon records; P without a following F stays pending until end()', () => {
  const p = new K8sFileParser();
  const got = p.push(Buffer.from(OBSERVED));
  assert.equal(got.length, 2);
  assert.deepEqual(
    got.map((e) => [e.stream, text(e), e.time]),
    [
      ['stdout', 'out-line\n', '2026-11-29T02:24:38.548714405Z'],
      ['stderr', 'err-line\n', '2026-11-29T02:24:38.549119662Z'],
    ],
  );
  assert.equal(typeof got[0]!.timeNs, 'bigint');
  const rest = p.end();
  assert.deepEqual(
    rest.map((e) => [e.stream, text(e)]),
    [['stdout', 'no-newline']],
  );
  assert.deepEqual(p.end(), []);
});

test('P records join with the following records of the same stream until F', () => {
  const log =
    [
      '2026-11-29T02:24:38.000000001+00:00 stdout P aaa',
      '2026-11-29T02:24:38.000000002+00:00 stderr F interleaved',
      '2026-11-29T02:24:38.000000003+00:00 stdout P bbb',
      '2026-11-29T02:24:38.000000004+00:00 stdout F ccc',
      '2026-11-29T02:24:38.000000005+00:00 stdout F ',
      '2026-11-29T02:24:38.000000006+00:00 stdout F with spaces  inside ',
    ].join('\n') + '\n';
  const e = parseK8sFile(log);
  assert.deepEqual(
    e.map((x) => [x.stream, text(x)]),
    [
      ['stderr', 'interleaved\n'],
      ['stdout', 'aaabbbccc\n'],
      ['stdout', '\n'],
      ['stdout', 'with spaces  inside \n'],
    ],
  );
  // the joined entry carries the first record's time
  assert.equal(e[1]!.time, '2026-11-29T02:24:38.000000001Z');
});

test('streaming: any chunking gives the same entries (byte by byte, split in UTF-8 and timestamps)', () => {
  const log =
    '2026-11-29T02:24:38.100000000+00:00 stdout F héllo wörld ✓\n' +
    '2026-11-29T02:24:38.200000000+00:00 stdout P part1-\n' +
    '2026-11-29T02:24:38.300000000+00:00 stdout F part2\n' +
    '2026-11-29T02:24:38.400000000+00:00 stderr F tty\r\n';
  const whole = parseK8sFile(log).map((e) => [e.stream, e.line.toString('hex'), e.time]);
  const bytes = Buffer.from(log);
  for (const size of [1, 2, 3, 7, 13, 64]) {
    const p = new K8sFileParser();
    const out: LogEntry[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(...p.push(bytes.subarray(i, i + size)));
    out.push(...p.end());
    assert.deepEqual(
      out.map((e) => [e.stream, e.line.toString('hex'), e.time]),
      whole,
      `chunk ${size}`,
    );
  }
  assert.equal(parseK8sFile(log)[0]!.line.toString(), 'héllo wörld ✓\n');
  assert.equal(parseK8sFile(log)[2]!.line.toString(), 'tty\r\n'); // tty output keeps \r
});

test('binary content survives; a final record without newline is flushed by end()', () => {
  const bin = Buffer.from([0x00, 0xff, 0xfe, 0x20, 0x01]);
  const rec = Buffer.concat([Buffer.from('2026-11-29T02:24:38.1+00:00 stdout F '), bin]);
  const p = new K8sFileParser();
  assert.deepEqual(p.push(rec), []);
  const e = p.end();
  assert.equal(e.length, 1);
  assert.deepEqual(e[0]!.line, Buffer.concat([bin, Buffer.from('\n')]));
});

test('malformed records are skipped', () => {
  const log =
    [
      'garbage',
      '2026-11-29T02:24:38.1+00:00 stdin F nope',
      '2026-11-29T02:24:38.1+00:00 stdout X nope',
      'notatime stdout F nope',
      '2026-11-29T02:24:38.1+00:00 stdout F ok',
    ].join('\n') + '\n';
  assert.deepEqual(parseK8sFile(log).map(text), ['ok\n']);
  const r = parseK8sRecord(Buffer.from('2026-11-29T02:24:38.1+00:00 stdout F'))!;
  assert.equal(r.content.length, 0);
});

test('frame: docker stdcopy header', () => {
  const f = frame(1, Buffer.from('hello\n'));
  assert.deepEqual([...f.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 6]);
  assert.equal(f.subarray(8).toString(), 'hello\n');
  const big = frame(2, Buffer.alloc(0x010203));
  assert.deepEqual([...big.subarray(0, 8)], [2, 0, 0, 0, 0, 1, 2, 3]);
  assert.equal(frame(1, '').length, 8);
});

test('deframe round trip, with frames split across chunks at every position', () => {
  const frames: [1 | 2, Buffer][] = [
    [1, Buffer.from('out 1\n')],
    [2, Buffer.from('err 1\n')],
    [1, Buffer.alloc(0)],
    [1, Buffer.alloc(70000, 0x61)],
    [2, Buffer.from([0, 1, 2, 255])],
  ];
  const wire = Buffer.concat(frames.map(([s, p]) => frame(s, p)));
  const expect = frames.map(([s, p]) => ({ stream: s, payload: p }));
  assert.deepEqual(deframeAll(wire), expect);
  // split into two chunks at every offset in the first 40 bytes and around the big frame
  const cuts = [...Array(40).keys(), 27, 28, 29, 30, 70020, 70030, wire.length - 1];
  for (const cut of cuts) {
    const d = new Deframer();
    const out = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
    assert.deepEqual(out, expect, `cut ${cut}`);
    assert.equal(d.pendingBytes, 0);
  }
  // tiny chunks
  const d = new Deframer();
  const out = [];
  for (let i = 0; i < wire.length; i += 5) out.push(...d.push(wire.subarray(i, i + 5)));
  assert.deepEqual(out, expect);
  assert.throws(() => deframeAll(wire.subarray(0, wire.length - 1)), /truncated/);
  assert.throws(() => new Deframer().push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])), /unrecognized stream/);
});

function entries(): LogEntry[] {
  const base = 1795919078_000000000n;
  const mk = (i: number, stream: 'stdout' | 'stderr'): LogEntry => {
    const timeNs = base + BigInt(i) * 1_000_000_000n + 123n;
    return { timeNs, time: formatTimestamp(timeNs), stream, line: Buffer.from(`${stream} ${i}\n`) };
  };
  return [mk(0, 'stdout'), mk(1, 'stderr'), mk(2, 'stdout'), mk(3, 'stdout'), mk(4, 'stderr'), mk(5, 'stdout')];
}
const lines = (e: LogEntry[]) => e.map(text).join('');

test('selectLogs: streams', () => {
  const e = entries();
  assert.equal(selectLogs(e, { tail: 'all', stdout: true, stderr: true }).length, 6);
  assert.equal(lines(selectLogs(e, { tail: 'all', stdout: false, stderr: true })), 'stderr 1\nstderr 4\n');
  assert.equal(selectLogs(e, { tail: 'all', stdout: false, stderr: false }).length, 0);
});

test('selectLogs: tail counts from the end after the stream filter', () => {
  const e = entries();
  assert.equal(lines(selectLogs(e, { tail: 2, stdout: true, stderr: true })), 'stderr 4\nstdout 5\n');
  assert.equal(lines(selectLogs(e, { tail: 2, stdout: true, stderr: false })), 'stdout 3\nstdout 5\n');
  assert.equal(lines(selectLogs(e, { tail: 1, stdout: false, stderr: true })), 'stderr 4\n');
  assert.equal(selectLogs(e, { tail: 0, stdout: true, stderr: true }).length, 0);
  assert.equal(selectLogs(e, { tail: 100, stdout: true, stderr: true }).length, 6);
  assert.equal(selectLogs(e, { tail: -1, stdout: true, stderr: true }).length, 6);
});

test('selectLogs: since (inclusive) and until (inclusive), fractional and exact strings', () => {
  const e = entries();
  assert.equal(
    lines(selectLogs(e, { tail: 'all', since: 1795919081, stdout: true, stderr: true })),
    'stdout 3\nstderr 4\nstdout 5\n',
  );
  assert.equal(
    lines(selectLogs(e, { tail: 'all', since: '1795919081.000000123', stdout: true, stderr: true })),
    'stdout 3\nstderr 4\nstdout 5\n',
  );
  assert.equal(
    lines(selectLogs(e, { tail: 'all', since: '1795919081.000000124', stdout: true, stderr: true })),
    'stderr 4\nstdout 5\n',
  );
  assert.equal(
    lines(selectLogs(e, { tail: 'all', since: 1795919080.5, until: 1795919082.5, stdout: true, stderr: true })),
    'stdout 3\nstderr 4\n',
  );
  assert.equal(
    lines(selectLogs(e, { tail: 'all', until: '1795919079.000000123', stdout: true, stderr: true })),
    'stdout 0\nstderr 1\n',
  );
  // 0 means "not set" (docker's default query values)
  assert.equal(selectLogs(e, { tail: 'all', since: 0, until: 0, stdout: true, stderr: true }).length, 6);
  // tail applies after since
  assert.equal(
    lines(selectLogs(e, { tail: 1, since: 1795919079, until: 1795919081.5, stdout: true, stderr: false })),
    'stdout 3\n',
  );
});

test('parseTail', () => {
  assert.equal(parseTail(undefined), 'all');
  assert.equal(parseTail('all'), 'all');
  assert.equal(parseTail(''), 'all');
  assert.equal(parseTail('10'), 10);
  assert.equal(parseTail('0'), 0);
  assert.equal(parseTail('-1'), 'all');
  assert.throws(() => parseTail('x'));
});

test('timestamps prefix and API encoding', () => {
  const [e] = parseK8sFile('2026-11-29T02:24:38.548714405+00:00 stdout F out-line\n');
  assert.equal(formatEntry(e!, true).toString(), '2026-11-29T02:24:38.548714405Z out-line\n');
  assert.equal(formatEntry(e!, false).toString(), 'out-line\n');
  const framed = encodeEntry(e!, { timestamps: true, tty: false });
  assert.deepEqual(deframeAll(framed), [
    { stream: 1, payload: Buffer.from('2026-11-29T02:24:38.548714405Z out-line\n') },
  ]);
  const [err] = parseK8sFile('2026-11-29T02:24:38.548714405+00:00 stderr F boom\n');
  assert.equal(encodeEntry(err!, { timestamps: false, tty: false })[0], 2);
  assert.equal(encodeEntry(err!, { timestamps: false, tty: true }).toString(), 'boom\n');
});
