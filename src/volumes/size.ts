// Sizes as docker reads them (go-units RAMInBytes: "10m", "1.5g", "512k", "4096"), as a
// positive byte count or InvalidArgument.
import { InvalidArgument } from '../core/errors.js';
import { ramInBytes } from '../units/go-units.js';

export function parseSize(s: string): number {
  let n: number;
  try {
    n = ramInBytes(s.trim());
  } catch {
    throw new InvalidArgument(`invalid size: '${s}'`);
  }
  if (!(n > 0)) throw new InvalidArgument(`invalid size: '${s}'`);
  return n;
}
