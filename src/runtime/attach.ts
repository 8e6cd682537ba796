// Attach streams: bridges a client's hijacked connection to conmon's SOCK_SEQPACKET attach socket
// (connect), or to the pipes of a process the daemon runs itself (connectPipes: runc exec without
// conmon, ./runcexec.ts). conmon sends packets whose first byte names the stream (2 stdout, 3 stderr); it takes raw input
// packets (at most 32 KiB each; an empty packet means EOF). The client gets docker's 8-byte frames
// when the container has no tty, raw bytes when it has one. Stdin sent before the socket is
// connected (docker sends it before `start`) is buffered and delivered on connect. With detach keys
// (tty streams with stdin, as dockerd), the client's input is watched for the sequence: when it comes,
// the client is cut off and the process keeps running with its stdin open.
import { createRequire } from 'node:module';
import type { Duplex, Writable } from 'node:stream';
import { frame } from './logformat.js';
import { DetachMatcher } from './detachkeys.js';

const require = createRequire(import.meta.url);
const { SeqpacketSocket } = require('node-unix-socket') as typeof import('node-unix-socket');

/** Where the client's input goes: conmon's attach socket or the process's stdin pipe. */
interface InputSink {
  write(b: Buffer): void;
  end(): void;
  destroy(): void;
}

const MAX_INPUT_PACKET = 32 * 1024 - 1;

export interface AttachOptions {
  tty: boolean;
  stdin: boolean; // forward client input to the container
  stdout: boolean;
  stderr: boolean;
  /** The detach sequence (parseDetachKeys) to watch the input for; none when absent. */
  detachKeys?: number[];
}

export class AttachBridge {
  private seq: InputSink | null = null;
  private flow: { pause(): void; resume(): void } | null = null;
  private pending: Buffer[] = [];
  private clientEnded = false;
  private closed = false;
  private gate: Promise<unknown> = Promise.resolve();
  private matcher: DetachMatcher | null;
  /** True once the client detached with its detach keys. */
  detached = false;
  /** Resolves when the bridge is over (container side or client gone). */
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly client: Duplex,
    private readonly o: AttachOptions,
  ) {
    this.done = new Promise((r) => {
      this.finish = r;
    });
    this.matcher = o.stdin && o.detachKeys?.length ? new DetachMatcher(o.detachKeys) : null;
    client.on('data', (chunk: Buffer) => {
      if (!this.o.stdin || chunk.length === 0 || this.detached) return;
      const b = this.matcher ? this.matcher.feed(chunk) : chunk;
      if (b.length) {
        if (this.seq) this.send(b);
        else this.pending.push(b);
      }
      if (this.matcher?.detached) this.detach();
    });
    client.on('end', () => {
      if (this.detached) return;
      this.clientEnded = true;
      if (this.o.stdin && this.seq) this.endSeq();
    });
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    client.resume(); // the router may have paused it while reading the request body
  }

  /** Connects to a conmon attach socket; output flows to the client from then on. */
  connect(path: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const seq = new SeqpacketSocket();
      seq.on('error', (e: Error) => {
        if (!this.seq) reject(e);
        this.endClient();
      });
      seq.on('data', (b: Buffer) => this.output(b));
      seq.on('end', () => this.endClient());
      seq.on('close', () => this.endClient());
      try {
        seq.connect(path, () => {
          this.seq = seq;
          for (const b of this.pending.splice(0)) this.send(b);
          if (this.clientEnded && this.o.stdin) this.endSeq();
          resolve();
        });
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * Bridges to a process's pipes: its input goes to `stdin` (null: input is dropped), its output
   * comes through deliver(). `flow` pauses the output while the client is not reading.
   */
  connectPipes(stdin: Writable | null, flow: { pause(): void; resume(): void }): void {
    this.flow = flow;
    const sink: InputSink = stdin
      ? { write: (b) => stdin.write(b), end: () => stdin.end(), destroy: () => stdin.destroy() }
      : { write: () => {}, end: () => {}, destroy: () => {} };
    if (this.closed) {
      sink.end();
      return;
    }
    this.seq = sink;
    for (const b of this.pending.splice(0)) this.send(b);
    if (this.clientEnded && this.o.stdin) this.endSeq();
    this.client.on('drain', () => this.flow?.resume());
  }

  /** Output of the process on stream 1 (stdout) or 2 (stderr). */
  deliver(stream: 1 | 2, payload: Buffer): void {
    if ((stream === 1 && !this.o.stdout) || (stream === 2 && !this.o.stderr)) return;
    if (this.closed || !this.client.writable) return;
    if (!this.client.write(this.o.tty ? payload : frame(stream, payload))) this.flow?.pause();
  }

  // The native socket throws synchronously once conmon has closed it: the container is gone then.
  private send(b: Buffer): void {
    try {
      for (let off = 0; off < b.length; off += MAX_INPUT_PACKET)
        this.seq!.write(b.subarray(off, off + MAX_INPUT_PACKET));
    } catch {
      this.endClient();
    }
  }

  private endSeq(): void {
    try {
      this.seq!.end();
    } catch {
      this.endClient();
    }
  }

  private output(b: Buffer): void {
    if (b.length < 1) return;
    this.deliver(b[0] === 3 ? 2 : 1, b.subarray(1));
  }

  /** Holds the client's EOF until `p` settles (exec: the exit code must be known before EOF). */
  gateEnd(p: Promise<unknown>): void {
    this.gate = p.catch(() => undefined);
  }

  /** The container side is over: half-close the client so it sees EOF. */
  endClient(): void {
    void this.gate.then(() => {
      if (this.client.writable) this.client.end();
      this.close();
    });
  }

  /**
   * The client typed its detach keys: its connection closes (as dockerd closes it) without an EOF
   * for the process's stdin, so the process runs on.
   */
  private detach(): void {
    this.detached = true;
    if (this.client.writable) this.client.end(() => this.client.destroy());
    else this.client.destroy();
    this.close();
  }

  /** Writes an error message to the client as docker does inside a hijacked stream, then ends it. */
  fail(message: string): void {
    if (this.client.writable)
      this.client.write(this.o.tty ? Buffer.from(message + '\r\n') : frame(2, Buffer.from(message + '\n')));
    this.endClient();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Client gone: the process's stdin ends (as with conmon) and its output is read no more; what
    // it writes from now on fills the pipes, then it blocks: a flood costs the daemon nothing.
    this.flow?.pause();
    if (this.seq) {
      const s = this.seq;
      setImmediate(() => {
        try {
          s.destroy();
        } catch {
          /* already closed */
        }
      });
    }
    this.finish();
  }
}
