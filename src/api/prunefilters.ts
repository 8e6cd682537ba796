// docker's prune filters, pure: `until` (a unix time, an RFC3339 date or a Go duration before now:
// 24h, 1h30m, 90s), `label` (key or key=value, all must match) and `label!` (none may match).
// Unknown keys are refused. Shared by the container, network and volume prune endpoints.
import { InvalidArgument } from '../core/errors.js';
import { labelMatches } from '../core/filters.js';

export interface PruneFilter {
  until?: number;
  labels: string[];
  notLabels: string[];
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

/** A Go duration ("1h30m", "10s", "1.5h") in ms, or null. */
export function goDurationMs(s: string): number | null {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return null;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

/** docker's `until` value as epoch ms: unix seconds, RFC3339 / date, or a duration before now. */
export function untilMs(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = goDurationMs(v);
  if (d !== null) return now - d;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidArgument(`invalid filter 'until=${v}'`);
  return t;
}

/** Checks the keys against `allowed` and reads until/label/label!. */
export function pruneFilter(
  f: Map<string, string[]>,
  allowed: string[] = ['until', 'label', 'label!'],
  now = Date.now(),
): PruneFilter {
  for (const k of f.keys()) if (!allowed.includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  const out: PruneFilter = { labels: f.get('label') ?? [], notLabels: f.get('label!') ?? [] };
  const u = f.get('until') ?? [];
  if (u.length > 1) throw new InvalidArgument('more than one until filter specified');
  if (u.length) out.until = untilMs(u[0], now);
  return out;
}

/** Whether an object created at `createdMs` with these labels is pruned under the filter. */
export function prunes(p: PruneFilter, createdMs: number, labels: Record<string, string> | null | undefined): boolean {
  const l = labels ?? {};
  if (p.until !== undefined && !(createdMs < p.until)) return false;
  if (!p.labels.every((f) => labelMatches(l, f))) return false;
  if (p.notLabels.some((f) => labelMatches(l, f))) return false;
  return true;
}
