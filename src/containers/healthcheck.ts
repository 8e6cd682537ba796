// Pure healthcheck rules (docker's HEALTHCHECK): merging the container's Healthcheck with the
// image's, validating it, the probe command, the timings with docker's defaults, and the state
// machine that turns one probe result into State.Health (starting -> healthy / unhealthy,
// FailingStreak, the last 5 log entries). No I/O: the monitor in ./health.ts runs the probes.
import { InvalidArgument } from '../core/errors.js';

import type { HealthConfig } from '../images/types.js';

export type { HealthConfig };

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** State.Health as docker's inspect shows it. */
export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export const HEALTH_STATUSES = ['starting', 'healthy', 'unhealthy', 'none'] as const;
/** docker keeps the last 5 probe results and at most 4096 bytes of each probe's output. */
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT = 4096;
const MS = 1_000_000; // ns per ms

export interface HealthTimings {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/** docker's merge: no container Healthcheck takes the image's; empty fields take the image's value. */
export function mergeHealthcheck(
  container: HealthConfig | null | undefined,
  image: HealthConfig | null | undefined,
): HealthConfig | undefined {
  if (!container) return image ? { ...image } : undefined;
  if (!image) return { ...container };
  const out: HealthConfig = { ...container };
  if (!out.Test?.length) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const)
    if (!out[k]) out[k] = image[k];
  return out;
}

/** docker's create-time checks (daemon/container.go); throws InvalidArgument with docker's message. */
export function validateHealthcheck(h: HealthConfig | null | undefined): void {
  if (!h) return;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k] ?? 0;
    if (v !== 0 && v < MS) throw new InvalidArgument(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if ((h.Retries ?? 0) < 0) throw new InvalidArgument('Retries in Healthcheck cannot be negative');
  const t = h.Test ?? [];
  if (t.length && !['NONE', 'CMD', 'CMD-SHELL'].includes(t[0]))
    throw new InvalidArgument(`unknown Healthcheck type '${t[0]}': expected NONE, CMD or CMD-SHELL`);
  if ((t[0] === 'CMD' || t[0] === 'CMD-SHELL') && t.length < 2)
    throw new InvalidArgument(`Healthcheck ${t[0]} needs a command`);
}

/** The argv a probe runs, or null when the container has no check (none, NONE or no Test). */
export function probeCommand(h: HealthConfig | null | undefined): string[] | null {
  const t = h?.Test ?? [];
  if (!t.length || t[0] === 'NONE') return null;
  if (t[0] === 'CMD') return t.slice(1);
  if (t[0] === 'CMD-SHELL') return ['/bin/sh', '-c', t.slice(1).join(' ')];
  return null;
}

/** docker's defaults: interval 30s, timeout 30s, start period 0, start interval 5s, retries 3. */
export function healthTimings(h: HealthConfig): HealthTimings {
  const ms = (v: number | undefined, d: number) => (v && v > 0 ? Math.max(1, Math.round(v / MS)) : d);
  return {
    intervalMs: ms(h.Interval, 30_000),
    timeoutMs: ms(h.Timeout, 30_000),
    startPeriodMs: ms(h.StartPeriod, 0),
    startIntervalMs: ms(h.StartInterval, 5_000),
    retries: h.Retries && h.Retries > 0 ? h.Retries : 3,
  };
}

/** The delay before the next probe: the start interval while starting inside the start period. */
export function nextDelay(t: HealthTimings, status: HealthStatus, sinceStartMs: number): number {
  if (status === 'starting' && t.startPeriodMs > 0 && sinceStartMs < t.startPeriodMs)
    return Math.min(t.intervalMs, t.startIntervalMs);
  return t.intervalMs;
}

export function initialHealth(previous?: Health): Health {
  return { Status: 'starting', FailingStreak: 0, Log: previous?.Log ?? [] };
}

/**
 * docker's handleProbeResult: exit 0 makes the container healthy and resets the streak; any other
 * result counts a failure, except while still starting inside the start period; `retries`
 * consecutive failures make it unhealthy. The log keeps the last 5 results.
 */
export function applyProbe(
  h: Health,
  result: HealthLogEntry,
  ctx: { retries: number; startPeriodMs: number; startedAtMs: number },
): Health {
  let { Status, FailingStreak } = h;
  if (result.ExitCode === 0) {
    FailingStreak = 0;
    Status = 'healthy';
  } else {
    const inStartPeriod = Status === 'starting' && Date.parse(result.Start) - ctx.startedAtMs < ctx.startPeriodMs;
    if (!inStartPeriod) {
      FailingStreak++;
      if (FailingStreak >= ctx.retries) Status = 'unhealthy';
    }
  }
  const entry = { ...result, Output: truncateOutput(result.Output) };
  return { Status, FailingStreak, Log: [...h.Log, entry].slice(-MAX_LOG_ENTRIES) };
}

/**
 * A probe's output is read up to this many bytes (keeping the first MAX_OUTPUT), then no more: a
 * probe that floods its output blocks until its timeout instead of costing the daemon a core.
 */
export const PROBE_DRAIN_LIMIT = 1 << 20;

/** Collects a probe's stdout and stderr as they come: the first `keep` bytes, counting up to `drain`. */
export class OutputCap {
  private parts: Buffer[] = [];
  private kept = 0;
  private seen = 0;
  constructor(
    private readonly keep: number,
    private readonly drain: number,
  ) {}
  /** Takes a chunk; false once `drain` bytes have been seen (stop reading). */
  add(b: Buffer): boolean {
    this.seen += b.length;
    if (this.kept < this.keep) {
      const part = b.subarray(0, this.keep - this.kept);
      this.parts.push(part);
      this.kept += part.length;
    }
    return this.seen < this.drain;
  }
  /** The kept bytes as text (docker's truncation: a split UTF-8 sequence at the end is replaced). */
  text(): string {
    return Buffer.concat(this.parts).toString();
  }
}

export function truncateOutput(s: string): string {
  const b = Buffer.from(s);
  return b.length <= MAX_OUTPUT ? s : b.subarray(0, MAX_OUTPUT).toString();
}

/** docker ps's health filter value of a container: its status, or none without a check. */
export function healthFilterValue(h: Health | undefined): string {
  return h ? h.Status : 'none';
}

/** `ps --filter health=X`: docker's accepted values. */
export function checkHealthFilter(v: string): void {
  if (!(HEALTH_STATUSES as readonly string[]).includes(v))
    throw new InvalidArgument(`Unrecognised filter value for health: ${v}`);
}

/** The STATUS suffix docker prints after "Up 3 seconds": " (healthy)", " (health: starting)". */
export function healthSuffix(h: Health | undefined): string {
  if (!h) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}
