// Container log formats, pure (no I/O):
//  - conmon's k8s-file records  `<RFC3339Nano+offset> <stdout|stderr> <F|P> <content>\n`
//    parsed into entries (P records joined with what follows on the same stream up to the F);
//    a streaming parser for follow mode;
//  - docker's stdcopy framing (8-byte header: stream, 0, 0, 0, big-endian length) and a
//    streaming deframer;
//  - docker's log selection (stdout/stderr, since, until, tail) and `-t` timestamp prefix
//    (RFC3339 with a fixed 9-digit fraction, UTC: 2026-11-29T02:24:38.548714405Z).
// Bad since/until/tail values throw InvalidArgument.
import { Internal, InvalidArgument } from '../core/errors.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** RFC3339, 9-digit fraction, UTC ("Z"), as docker prints it */
  time: string;
  /** nanoseconds since the Unix epoch */
  timeNs: bigint;
  stream: LogStream;
  /** the bytes the container wrote, ending with "\n" unless the output ended without one */
  line: Buffer;
}

// ---------------------------------------------------------------------------
// Timestamps

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Parse an RFC3339(Nano) timestamp with any offset into nanoseconds since the epoch; null if invalid. */
export function parseTimestampNs(ts: string): bigint | null {
  const m = TS_RE.exec(ts);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, off] = m as unknown as string[];
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return null;
  let offsetSec = 0;
  if (off !== 'Z' && off !== 'z') {
    const sign = off!.startsWith('-') ? -1 : 1;
    const digits = off!.slice(1).replace(':', '');
    offsetSec = sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60);
  }
  const nanos = BigInt((frac ?? '').padEnd(9, '0') || '0');
  return (BigInt(ms / 1000) - BigInt(offsetSec)) * 1_000_000_000n + nanos;
}

/** Nanoseconds since the epoch -> "2026-11-29T02:24:38.548714405Z" (docker's RFC3339NanoFixed, UTC). */
export function formatTimestamp(ns: bigint): string {
  let sec = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString(); // 2026-11-29T02:24:38.000Z
  return `${iso.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/**
 * Unix seconds as docker's API gives them ("1764383078", "1764383078.548714405", or a number)
 * -> nanoseconds. Strings keep full nanosecond precision.
 */
export function unixToNs(t: number | string): bigint {
  if (typeof t === 'number') {
    const whole = Math.floor(t);
    const frac = Math.round((t - whole) * 1e9);
    return BigInt(whole) * 1_000_000_000n + BigInt(frac);
  }
  const m = /^(-?\d+)(?:\.(\d{0,9})\d*)?$/.exec(t.trim());
  if (!m) throw new InvalidArgument(`invalid timestamp: ${t}`);
  const sec = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return sec * 1_000_000_000n + (sec < 0n ? -frac : frac);
}

// ---------------------------------------------------------------------------
// k8s-file parsing

interface Record_ {
  timeNs: bigint;
  time: string;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

const SPACE = 0x20;
const NL = 0x0a;

/** Parse one k8s-file record (without its trailing "\n"); null when malformed. */
export function parseK8sRecord(
  line: Buffer,
): { timeNs: bigint; time: string; stream: LogStream; partial: boolean; content: Buffer } | null {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return null;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return null;
  const ts = line.subarray(0, s1).toString('latin1');
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return null;
  // tag: "F" or "P" (conmon may in theory add more tags separated by ':'; first one decides)
  const s3 = line.indexOf(SPACE, s2 + 1);
  const tag = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString('latin1');
  const first = tag.split(':')[0];
  if (first !== 'F' && first !== 'P') return null;
  const timeNs = parseTimestampNs(ts);
  if (timeNs === null) return null;
  const content = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  return { timeNs, time: formatTimestamp(timeNs), stream, partial: first === 'P', content };
}

/**
 * Streaming k8s-file parser. push() bytes as they arrive (any chunking), get back complete
 * entries. Partial (P) records are held per stream and joined with the following records of
 * the same stream until an F record; the joined entry carries the first record's time.
 * end() flushes an unfinished record line and pending partials (output that ended without a
 * newline, e.g. `printf x`), which then have no trailing "\n".
 */
export class K8sFileParser {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Partial<Record<LogStream, Record_[]>> = {};

  push(chunk: Buffer | string): LogEntry[] {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const out: LogEntry[] = [];
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf(NL, start);
      if (nl < 0) break;
      this.record(this.buf.subarray(start, nl), out);
      start = nl + 1;
    }
    // copy the remainder so the caller's chunk buffer is not retained
    this.buf = start === 0 ? this.buf : Buffer.from(this.buf.subarray(start));
    return out;
  }

  /** Flush everything held back: a last record line without "\n", then pending partials. */
  end(): LogEntry[] {
    const out: LogEntry[] = [];
    if (this.buf.length) {
      this.record(this.buf, out);
      this.buf = Buffer.alloc(0);
    }
    out.push(...this.flushPartials());
    return out;
  }

  /** Pending partials as entries (without "\n"), oldest first; they are forgotten afterwards. */
  flushPartials(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      if (p?.length) out.push(join(p, false));
      delete this.pending[stream];
    }
    out.sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
    return out;
  }

  private record(line: Buffer, out: LogEntry[]): void {
    const r = parseK8sRecord(line);
    if (!r) return;
    const rec: Record_ = { ...r, content: Buffer.from(r.content) };
    const p = this.pending[r.stream] ?? [];
    p.push(rec);
    if (r.partial) {
      this.pending[r.stream] = p;
      return;
    }
    delete this.pending[r.stream];
    out.push(join(p, true));
  }
}

function join(parts: Record_[], complete: boolean): LogEntry {
  const first = parts[0]!;
  const bufs = parts.map((p) => p.content);
  if (complete) bufs.push(Buffer.from('\n'));
  return { time: first.time, timeNs: first.timeNs, stream: first.stream, line: Buffer.concat(bufs) };
}

/** Parse a whole k8s-file log (a complete file's contents). */
export function parseK8sFile(data: Buffer | string): LogEntry[] {
  const p = new K8sFileParser();
  return [...p.push(data), ...p.end()];
}

// ---------------------------------------------------------------------------
// stdcopy framing

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

const HEADER = 8;
const MAX_FRAME = 0xffffffff;

/** docker's multiplexed stream frame: [stream, 0, 0, 0, size (uint32 BE)] + payload. */
export function frame(stream: 0 | 1 | 2 | 3, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (p.length > MAX_FRAME) throw new Internal('frame payload too large');
  const h = Buffer.alloc(HEADER);
  h[0] = stream;
  h.writeUInt32BE(p.length, 4);
  return Buffer.concat([h, p]);
}

export interface Frame {
  stream: number;
  payload: Buffer;
}

/** Streaming parser for stdcopy frames; push() chunks split anywhere, get whole frames. */
export class Deframer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER) {
      const stream = this.buf[off]!;
      if (stream > SYSTEMERR) throw new Error(`unrecognized stream: ${stream}`);
      const size = this.buf.readUInt32BE(off + 4);
      if (this.buf.length - off - HEADER < size) break;
      out.push({ stream, payload: Buffer.from(this.buf.subarray(off + HEADER, off + HEADER + size)) });
      off += HEADER + size;
    }
    this.buf = off === 0 ? this.buf : Buffer.from(this.buf.subarray(off));
    return out;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }
}

/** Deframe a complete buffer; throws if it ends in the middle of a frame. */
export function deframeAll(data: Buffer): Frame[] {
  const d = new Deframer();
  const frames = d.push(data);
  if (d.pendingBytes) throw new Error(`truncated frame: ${d.pendingBytes} bytes left`);
  return frames;
}

// ---------------------------------------------------------------------------
// Selection and formatting

export interface LogSelection {
  /** number of entries from the end, or 'all'; negative counts as 'all' (docker) */
  tail: number | 'all';
  /** unix seconds (fractional allowed; a string keeps nanosecond precision); entries at or after */
  since?: number | string;
  /** unix seconds; entries at or before */
  until?: number | string;
  stdout: boolean;
  stderr: boolean;
}

/**
 * Docker's selection: keep the requested streams, time window [since, until] (0 or absent
 * means unbounded), then the last `tail` entries.
 */
export function selectLogs<T extends Pick<LogEntry, 'timeNs' | 'stream'>>(
  entries: readonly T[],
  sel: LogSelection,
): T[] {
  const since = sel.since !== undefined && Number(sel.since) !== 0 ? unixToNs(sel.since) : null;
  const until = sel.until !== undefined && Number(sel.until) !== 0 ? unixToNs(sel.until) : null;
  const kept = entries.filter(
    (e) =>
      ((e.stream === 'stdout' && sel.stdout) || (e.stream === 'stderr' && sel.stderr)) &&
      (since === null || e.timeNs >= since) &&
      (until === null || e.timeNs <= until),
  );
  if (sel.tail === 'all' || sel.tail < 0) return kept;
  if (sel.tail === 0) return [];
  return kept.slice(-sel.tail);
}

/** Parse the API's `tail` query value ("all", "", "10"). */
export function parseTail(v: string | undefined | null): number | 'all' {
  if (v === undefined || v === null || v === '' || v === 'all') return 'all';
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgument(`invalid tail value: ${v}`);
  return n < 0 ? 'all' : n;
}

/** The bytes docker sends for one entry: with `timestamps`, "<RFC3339NanoFixed> " + line. */
export function formatEntry(e: Pick<LogEntry, 'time' | 'line'>, timestamps: boolean): Buffer {
  return timestamps ? Buffer.concat([Buffer.from(e.time + ' '), e.line]) : e.line;
}

/**
 * An entry as API output: framed (stdcopy) for non-tty containers, raw bytes for tty ones.
 */
export function encodeEntry(e: LogEntry, opts: { timestamps: boolean; tty: boolean }): Buffer {
  const body = formatEntry(e, opts.timestamps);
  return opts.tty ? body : frame(e.stream === 'stdout' ? STDOUT : STDERR, body);
}
