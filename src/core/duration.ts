// Go's time.Duration the way docker reads and prints it, shared by every room: parseGoDuration is
// time.ParseDuration ("1h30m", "1.5h", ".5s", "300ms", "2µs", "-2s", "0"), formatGoDuration is
// Duration.String ("1m30s", "500ms", "1.5µs", "1h0m0s"). Durations are integer nanoseconds, as in Go.
// Pure: no I/O.

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const TERM = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** A Go duration in nanoseconds, or undefined when `s` is not one (time.ParseDuration's grammar). */
export function parseGoDuration(s: string): number | undefined {
  let str = s;
  let sign = 1;
  if (str.startsWith('-') || str.startsWith('+')) {
    sign = str[0] === '-' ? -1 : 1;
    str = str.slice(1);
  }
  if (str === '0') return 0;
  if (!str) return undefined;
  let total = 0;
  let pos = 0;
  while (pos < str.length) {
    TERM.lastIndex = pos;
    const m = TERM.exec(str);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NS[m[2]];
    pos = TERM.lastIndex;
  }
  return sign * Math.round(total);
}

/** A Go duration in milliseconds (fractions kept), or undefined. */
export function goDurationMs(s: string): number | undefined {
  const ns = parseGoDuration(s);
  return ns === undefined ? undefined : ns / 1e6;
}

/** `n` with `digits` decimals, trailing zeros (and a bare '.') removed, as Go's fmtFrac prints. */
function frac(n: number, unit: number, digits: number): string {
  const whole = Math.floor(n / unit);
  const rest = n - whole * unit;
  if (!rest) return String(whole);
  const f = String(rest).padStart(digits, '0').replace(/0+$/, '');
  return `${whole}.${f}`;
}

/** Go's Duration.String of `ns` nanoseconds. */
export function formatGoDuration(ns: number): string {
  const d = Math.round(ns);
  if (d === 0) return '0s';
  const sign = d < 0 ? '-' : '';
  const u = Math.abs(d);
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 1e3, 3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 1e6, 6)}ms`;
  const h = Math.floor(u / 3600e9);
  const m = Math.floor((u % 3600e9) / 60e9);
  const s = frac(u % 60e9, 1e9, 9);
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
