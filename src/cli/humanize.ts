// Human-readable durations, sizes, quoting and truncation as docker's CLI prints them
// (docker/go-units, strconv.Quote, stringid.TruncateID). Pure: no I/O.

import { goDurationMs } from '../core/duration.js';
export { humanDuration, ramInBytes } from '../units/go-units.js';

// Go's fmt %.{prec}g
export function formatG(x: number, prec: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  if (prec <= 0) prec = 1;
  const exp = Number(x.toExponential(prec - 1).split('e')[1]);
  if (exp < -4 || exp >= prec) {
    let [mant, e] = x.toExponential(prec - 1).split('e');
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const en = Number(e);
    const sign = en < 0 ? '-' : '+';
    const abs = String(Math.abs(en)).padStart(2, '0');
    return `${mant}e${sign}${abs}`;
  }
  let s = x.toFixed(Math.max(0, prec - 1 - exp));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

const decimalAbbrs = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binaryAbbrs = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  const last = abbrs.length - 1;
  while (size >= base && i < last) {
    size /= base;
    i++;
  }
  return [size, abbrs[i]];
}

// go-units HumanSizeWithPrecision (SI units); docker images uses precision 3.
export function humanSize(size: number, precision = 4): string {
  const [s, u] = sizeAndUnit(size, 1000, decimalAbbrs);
  return formatG(s, precision) + u;
}

// go-units BytesSize (binary units, precision 4), e.g. "23.54GiB".
export function bytesSize(size: number): string {
  const [s, u] = sizeAndUnit(size, 1024, binaryAbbrs);
  return formatG(s, 4) + u;
}

// stringid.TruncateID
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  if (i >= 0) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}

// formatter.Ellipsis (by characters; docker uses display width, close enough for ASCII).
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 0) return '';
  return chars.slice(0, max - 1).join('') + '…';
}

// strconv.Quote
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

// Go's time.Time.String() for a unix time in seconds: "2026-11-29 01:00:17 +0000 UTC".
export function goTimeString(
  unixSeconds: number,
  tzOffsetMinutes = -new Date(unixSeconds * 1000).getTimezoneOffset(),
  tzName?: string,
): string {
  const d = new Date(unixSeconds * 1000 + tzOffsetMinutes * 60000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const sign = tzOffsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(tzOffsetMinutes);
  const name =
    tzName ?? (tzOffsetMinutes === 0 ? 'UTC' : `${sign}${p(Math.trunc(off / 60))}${off % 60 ? p(off % 60) : ''}`);
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ` +
    `${sign}${p(Math.trunc(off / 60))}${p(off % 60)} ${name}`
  );
}

// docker's timetypes.GetTimestamp: a duration ("10m" = that long before now), a unix time
// ("1700000000" or "1700000000.5"), or an RFC 3339 / date string. Returns the string the API expects.
export function getTimestamp(value: string, nowMs: number): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const d = goDurationMs(value);
  if (d !== undefined) {
    const t = nowMs - d;
    return unixWithNanos(t);
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  return unixWithNanos(parsed);
}

function unixWithNanos(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const nanos = Math.round((ms - sec * 1000) * 1e6);
  return `${sec}.${String(nanos).padStart(9, '0')}`;
}

// Go's time.Time.String() for an RFC 3339 timestamp with fractional seconds, in UTC:
// "2026-11-29T04:17:53.820Z" -> "2026-11-29 04:17:53.82 +0000 UTC".
export function goTimeStringFromIso(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return iso;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const base = goTimeString(Math.floor(ms / 1000), 0);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return frac ? base.replace(/^(\S+ \S+)/, `$1.${frac}`) : base;
}

// time.RFC3339 in UTC for a unix time in seconds: "2026-05-07T20:33:45Z".
export function rfc3339(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}
