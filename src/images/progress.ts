// Docker's JSON-message progress format (pkg/jsonmessage), as dockerd writes it: Go's JSON encoding
// (HTML characters escaped as \u003c \u003e \u0026) and the prebuilt bar of JSONProgress.String()
// for a non-terminal width (50-cell bar, decimal sizes with 4 significant digits, no time left).
export interface JsonMessage {
  status?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  id?: string;
  stream?: string;
  aux?: unknown;
  errorDetail?: { message: string; code?: number };
  error?: string;
}

export type Emit = (m: JsonMessage) => void;

/** JSON as Go's encoding/json writes it (HTML-safe escapes). */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSize: decimal units, 4 significant digits ("69.21kB", "6.294MB", "116B"). */
export function humanSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return formatG4(v) + UNITS[i];
}

function formatG4(v: number): string {
  // Go's %.4g: 4 significant digits, trailing zeros removed
  if (v === 0) return '0';
  const s = v.toPrecision(4);
  if (s.includes('e')) return String(Number(s));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** JSONProgress.String() for a wide non-terminal: "[====>    ]  69.21kB/6.294MB". */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.floor(Math.floor((current / total) * 100) / 2);
  if (pct > 50) pct = 50;
  const box = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  const numbers =
    current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return box + numbers;
}

export function progressMessage(status: string, id: string, current: number, total: number): JsonMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

export function statusMessage(status: string, id?: string): JsonMessage {
  return id === undefined ? { status } : { status, progressDetail: {}, id };
}

/** Short id of a digest as docker shows layers: 12 hex characters. */
export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
