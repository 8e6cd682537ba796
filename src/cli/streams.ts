// Stream helpers for attach/logs/exec: the 8-byte frame demultiplexer and the detach-key
// matcher. Pure: callers feed bytes in and get bytes out.

// Non-tty streams: [stream 1 byte][0 0 0][length uint32 BE][payload]. Stream 0 stdin, 1 stdout, 2 stderr.
export class FrameDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: number, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const stream = this.buf[0];
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.onFrame(stream, payload);
    }
  }
  get pending(): number { return this.buf.length; }
}

export function encodeFrame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

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
        if (this.held.length === this.keys.length) { this.detached = true; this.held = []; }
        continue;
      }
      if (this.held.length) { out.push(...this.held); this.held = []; }
      if (b === this.keys[0]) { this.held.push(b); if (this.keys.length === 1) { this.detached = true; this.held = []; } continue; }
      out.push(b);
    }
    return Buffer.from(out);
  }
}
