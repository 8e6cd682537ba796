// Opt-in per-operation timing trace (issue 16). With COCON_TRACE=FILE in the daemon's environment,
// each traced lifecycle operation (create, start, exit, remove) appends one JSON line to FILE:
//   {"op":"start","id":"<container id>","at":<epoch ms>,"total":12.3,"phases":{"mount":2.1,...}}
// Phase durations are milliseconds; phases that run concurrently each report their own duration,
// so they may add up to more than `total`. bench/run-bench.ts reads the file to show where the time
// goes. When COCON_TRACE is unset every call is a no-op on one shared object: nothing is timed,
// allocated per phase or written.
import { appendFileSync } from 'node:fs';

export interface OpTrace {
  /** Times fn (sync or async) as phase `name`; returns what fn returns. */
  phase<T>(name: string, fn: () => T): T;
  /** Records a phase measured elsewhere (ms). */
  add(name: string, ms: number): void;
  /** Writes the line (once); `extra` fields are added to it. */
  end(extra?: Record<string, string | number | boolean>): void;
}

/** The trace of an operation that is not traced (also what traceOp() returns when tracing is off). */
export const NO_TRACE: OpTrace = {
  phase: (_name, fn) => fn(),
  add: () => undefined,
  end: () => undefined,
};

let file: string | null = process.env.COCON_TRACE || null;

/** Sets (or with null, clears) the trace file; the daemon reads COCON_TRACE by default. */
export function setTraceFile(path: string | null): void {
  file = path;
}

export function tracing(): boolean {
  return file !== null;
}

const now = () => performance.now();
const round = (ms: number) => Math.round(ms * 100) / 100;

class Recorder implements OpTrace {
  private readonly t0 = now();
  private readonly at = Date.now();
  private readonly phases: Record<string, number> = {};
  private done = false;
  constructor(
    private readonly out: string,
    private readonly op: string,
    private readonly id: string,
  ) {}

  phase<T>(name: string, fn: () => T): T {
    const t = now();
    const r = fn();
    if (r instanceof Promise) return r.finally(() => this.add(name, now() - t)) as T;
    this.add(name, now() - t);
    return r;
  }

  add(name: string, ms: number): void {
    this.phases[name] = round((this.phases[name] ?? 0) + ms);
  }

  end(extra: Record<string, string | number | boolean> = {}): void {
    if (this.done) return;
    this.done = true;
    const line = {
      op: this.op,
      id: this.id,
      at: this.at,
      total: round(now() - this.t0),
      ...extra,
      phases: this.phases,
    };
    try {
      appendFileSync(this.out, `${JSON.stringify(line)}\n`);
    } catch {
      /* a trace must never break the operation it watches */
    }
  }
}

/** Starts timing one operation on `id` (a no-op unless tracing is on). */
export function traceOp(op: string, id: string): OpTrace {
  return file === null ? NO_TRACE : new Recorder(file, op, id);
}
