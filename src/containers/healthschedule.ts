// When healthcheck probes run, pure: one queue of due times for every checked container, so the
// health monitor (./health.ts) keeps one timer for all of them instead of one per container, and
// the alignment of due times to a coarse grid, so that probes of different containers fall on the
// same instants and one wakeup of the daemon starts several of them (50 containers at a 1 s
// interval: at most 20 wakeups a second instead of 50). No I/O, no clock: callers pass the time.

/** The widest grid step: a probe runs at most half of it (25 ms) before or after its due time. */
export const MAX_GRID_MS = 50;

/**
 * The grid step for a check of this interval: 1/20 of the interval (so a probe moves by at most
 * 2.5 % of its interval), at most MAX_GRID_MS, at least 1 ms.
 */
export function probeGrid(intervalMs: number): number {
  return Math.max(1, Math.min(MAX_GRID_MS, Math.floor(intervalMs / 20)));
}

/**
 * The instant a probe due at `at` runs: the nearest multiple of `grid` (monotonic ms), never
 * before `now` (a due time already past runs at once).
 */
export function alignDue(at: number, grid: number, now: number): number {
  const aligned = Math.round(at / grid) * grid;
  return Math.max(aligned, now);
}

/**
 * Due times by key. Small and simple on purpose: a map plus the earliest due time, found again by
 * a scan only when the earliest entry leaves (a few hundred containers cost microseconds).
 */
export class DueQueue<K> {
  private readonly due = new Map<K, number>();
  private earliest = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.due.size;
  }

  /** Sets (or moves) the key's due time. */
  set(key: K, at: number): void {
    const old = this.due.get(key);
    this.due.set(key, at);
    if (at < this.earliest) this.earliest = at;
    else if (old === this.earliest && at !== old) this.rescan();
  }

  delete(key: K): void {
    const old = this.due.get(key);
    if (old === undefined) return;
    this.due.delete(key);
    if (old === this.earliest) this.rescan();
  }

  has(key: K): boolean {
    return this.due.has(key);
  }

  /** The earliest due time, or undefined when the queue is empty. */
  next(): number | undefined {
    return this.due.size ? this.earliest : undefined;
  }

  /** Removes and returns the keys due at or before `now`, earliest first. */
  takeDue(now: number): K[] {
    if (!(this.earliest <= now)) return [];
    const out: [K, number][] = [];
    for (const [k, at] of this.due) if (at <= now) out.push([k, at]);
    for (const [k] of out) this.due.delete(k);
    this.rescan();
    return out.sort((a, b) => a[1] - b[1]).map(([k]) => k);
  }

  private rescan(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const at of this.due.values()) if (at < min) min = at;
    this.earliest = min;
  }
}
