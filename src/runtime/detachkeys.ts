// Detach keys of attach and exec streams (docker's term.ToBytes and EscapeProxy): the daemon watches
// a tty client's input for the sequence (default ctrl-p ctrl-q, or the client's detachKeys) and
// detaches it; cocon's CLI uses the same matcher on its side. Pure: bytes in, bytes out.

import { InvalidArgument } from '../core/errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

// term.ToBytes: "ctrl-p,ctrl-q" -> [0x10, 0x11]; single characters stand for themselves.
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const k = raw.trim();
    if (k.length > 1 && k.toLowerCase().startsWith('ctrl-') && k.length === 6) {
      const c = k[5].toLowerCase();
      if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
      else if (c === '@') out.push(0);
      else if (c === '[') out.push(27);
      else if (c === '\\') out.push(28);
      else if (c === ']') out.push(29);
      else if (c === '^') out.push(30);
      else if (c === '_') out.push(31);
      else throw new Error(`Invalid escape key: ${k}`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${k}'`);
    }
  }
  return out;
}

// term.EscapeProxy: passes bytes through, holding back a partial match of the detach sequence;
// `detached` becomes true (and the matched bytes are swallowed) when the whole sequence is seen.
export class DetachMatcher {
  private held: number[] = [];
  detached = false;
  constructor(private readonly keys: number[]) {}
  // Returns the bytes to forward.
  feed(chunk: Buffer): Buffer {
    if (!this.keys.length || this.detached) return this.detached ? Buffer.alloc(0) : chunk;
    const out: number[] = [];
    for (const b of chunk) {
      if (this.detached) break;
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) {
          this.detached = true;
          this.held = [];
        }
        continue;
      }
      if (this.held.length) {
        out.push(...this.held);
        this.held = [];
      }
      if (b === this.keys[0]) {
        this.held.push(b);
        if (this.keys.length === 1) {
          this.detached = true;
          this.held = [];
        }
        continue;
      }
      out.push(b);
    }
    return Buffer.from(out);
  }
}

/**
 * The detach sequence a client asked for (attach/exec `detachKeys`), checked as dockerd does:
 * InvalidArgument "Invalid detach keys (...) provided" for a bad one; the default when empty.
 */
export function detachKeysFor(spec: string | null | undefined): number[] {
  try {
    return parseDetachKeys(spec || DEFAULT_DETACH_KEYS);
  } catch {
    throw new InvalidArgument(`Invalid detach keys (${spec}) provided`);
  }
}
