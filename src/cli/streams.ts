// Stream helpers for attach/logs/exec: the 8-byte frame demultiplexer (and, re-exported, the
// detach-key matcher). Pure: callers feed bytes in and get bytes out.

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
  get pending(): number {
    return this.buf.length;
  }
}

export function encodeFrame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

// The detach-key parser and matcher live with the engine's attach streams (the daemon detaches too).
export { parseDetachKeys, DetachMatcher } from '../runtime/detachkeys.js';
