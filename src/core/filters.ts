// Docker's list filters (the `filters` query of /containers/json, /images/json, /volumes,
// /networks, the prune endpoints and /events), shared by the API and the engine rooms. Pure.
//
// The query value is JSON in one of two forms, both accepted as dockerd does:
//   {"label":{"a":true,"b=x":true}}   (the current form; every key of the inner map is a value)
//   {"label":["a","b=x"]}             (the legacy form)
// Semantics (docker's filters.Args): different keys are ANDed; several values of one key are
// ORed, except `label` (and `label!`), whose values must all hold (ANDed), as in dockerd.
import { goDurationMs } from './duration.js';
import { InvalidArgument } from './errors.js';

/** Filter key -> its values, in the order they were given. */
export type Filters = Map<string, string[]>;

/** Parses a `filters` query value (null or '' = no filters); 400 on anything but the two forms. */
export function parseFilters(raw: string | null | undefined): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid filter: ${raw}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new InvalidArgument(`invalid filter: ${raw}`);
  for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(k, [...(v as string[])]);
    else if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((b) => typeof b === 'boolean'))
      out.set(k, Object.keys(v));
    else throw new InvalidArgument(`invalid filter: ${raw}`);
  }
  return out;
}

/** The same filters as a plain record (what the images service takes). */
export function filtersRecord(f: Filters): Record<string, string[]> {
  return Object.fromEntries(f);
}

/** Refuses a key outside `allowed`, with docker's message. */
export function checkFilterKeys(f: Filters | Record<string, string[]>, allowed: readonly string[]): void {
  for (const k of f instanceof Map ? f.keys() : Object.keys(f)) {
    if (!allowed.includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  }
}

/** One label filter value, "key" (the label is set) or "key=value" (set to exactly value). */
export function labelMatches(labels: Readonly<Record<string, string>> | null | undefined, want: string): boolean {
  const i = want.indexOf('=');
  const l = labels ?? {};
  if (i < 0) return Object.hasOwn(l, want);
  const k = want.slice(0, i);
  return Object.hasOwn(l, k) && l[k] === want.slice(i + 1);
}

/**
 * Docker's `label` filter: every value must match (ANDed); no values matches everything.
 * `label!` values: none may match.
 */
export function labelsMatch(
  labels: Readonly<Record<string, string>> | null | undefined,
  f: Filters | Record<string, string[]>,
): boolean {
  const get = (k: string) => (f instanceof Map ? f.get(k) : f[k]) ?? [];
  if (!get('label').every((w) => labelMatches(labels, w))) return false;
  if (get('label!').some((w) => labelMatches(labels, w))) return false;
  return true;
}

/** A boolean filter value ("true"/"1", "false"/"0"), docker's message otherwise. */
export function boolFilter(key: string, values: readonly string[]): boolean | undefined {
  let out: boolean | undefined;
  for (const v of values) {
    if (v.toLowerCase() === 'true' || v === '1') out = true;
    else if (v.toLowerCase() === 'false' || v === '0') out = false;
    else throw new InvalidArgument(`Invalid filter '${key}=${v}'`);
  }
  return out;
}

/**
 * The `publish` / `expose` filter values ("80", "80/udp", "8000-8080/tcp"; tcp by default) as the
 * set of port keys they cover ("80/tcp"), the keys of PortBindings and ExposedPorts.
 */
export function portFilterKeys(key: string, values: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/.exec(v.trim());
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgument(`invalid filter '${key}=${v}'`);
    for (let p = lo; p <= hi; p++) out.add(`${p}/${m[3] ?? 'tcp'}`);
  }
  return out;
}

// docker's prune filters: `until` (a unix time, an RFC3339 date or a Go duration before now: 24h,
// 1h30m, 90s), `label` (key or key=value, all must match) and `label!` (none may match). Unknown
// keys are refused. Shared by the container, network and volume prune endpoints.
export interface PruneFilter {
  until?: number;
  labels: string[];
  notLabels: string[];
}

/** docker's `until` value as epoch ms: unix seconds, RFC3339 / date, or a duration before now. */
export function untilMs(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = goDurationMs(v);
  if (d !== undefined) return now - d;
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
