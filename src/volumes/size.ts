// Sizes as docker reads them (go-units RAMInBytes): "10m", "1.5g", "512k", "4096" -> bytes.
import { InvalidArgument } from '../api/errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidArgument(`invalid size: '${s}'`);
  const n = Math.floor(Number(m[1]) * unit);
  if (n <= 0) throw new InvalidArgument(`invalid size: '${s}'`);
  return n;
}
