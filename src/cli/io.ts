// Terminal side of hijacked streams (run, start -a, attach, exec): stdin forwarding with
// half-close at EOF, raw mode and detach keys for ttys, frame demultiplexing for non-tty
// output, window resizes and signal forwarding.
import type { Client, HijackedStream } from './client.js';
import { DetachMatcher, FrameDemuxer, parseDetachKeys } from './streams.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

export interface PumpOptions {
  tty: boolean;
  stdin: boolean;
  detachKeys?: string;
}

export type PumpResult = 'eof' | 'detached';

// Runs until the daemon ends the output stream (or the detach keys are typed).
export function pumpStreams(h: HijackedStream, o: PumpOptions): { done: Promise<PumpResult>; cleanup: () => void } {
  const stdin = process.stdin;
  let rawSet = false;
  let stdinListening = false;
  const cleanup = (): void => {
    if (stdinListening) {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.pause();
      stdinListening = false;
    }
    if (rawSet && stdin.isTTY) {
      try {
        stdin.setRawMode(false);
      } catch {
        /* ignore */
      }
      rawSet = false;
    }
  };
  const matcher =
    o.tty && o.stdin ? new DetachMatcher(parseDetachKeys(o.detachKeys || DEFAULT_DETACH_KEYS)) : undefined;
  let resolveDone!: (r: PumpResult) => void;
  const done = new Promise<PumpResult>((r) => {
    resolveDone = r;
  });
  let finished = false;
  const finish = (r: PumpResult): void => {
    if (finished) return;
    finished = true;
    cleanup();
    resolveDone(r);
  };

  // backpressure: stop reading stdin while the socket's buffer is full
  const send = (b: Buffer): void => {
    if (!h.write(b) && stdinListening) {
      stdin.pause();
      h.onDrain(() => {
        if (stdinListening) stdin.resume();
      });
    }
  };
  const onData = (chunk: Buffer | string): void => {
    let b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (matcher) {
      b = matcher.feed(b);
      if (b.length) send(b);
      if (matcher.detached) {
        h.closeWrite();
        h.destroy();
        finish('detached');
      }
      return;
    }
    send(b);
  };
  const onEnd = (): void => {
    h.closeWrite();
  };

  if (o.stdin) {
    if (o.tty && stdin.isTTY) {
      stdin.setRawMode(true);
      rawSet = true;
      process.once('exit', () => {
        if (rawSet) {
          try {
            stdin.setRawMode(false);
          } catch {
            /* ignore */
          }
        }
      });
    }
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
    stdinListening = true;
  } else {
    h.closeWrite();
  }

  const demux = o.tty
    ? undefined
    : new FrameDemuxer((stream, payload) => {
        if (stream === 2) process.stderr.write(payload);
        else process.stdout.write(payload);
      });
  h.input.on('data', (c: Buffer) => {
    if (demux) demux.push(c);
    else process.stdout.write(c);
  });
  h.input.on('end', () => finish('eof'));
  h.input.on('close', () => finish('eof'));
  h.input.on('error', () => finish('eof'));
  return { done, cleanup };
}

export function terminalSize(): [number, number] | undefined {
  const out = process.stdout;
  if (!out.isTTY) return undefined;
  const rows = out.rows;
  const cols = out.columns;
  return rows && cols ? [rows, cols] : undefined;
}

// POST .../resize now and on every SIGWINCH; returns a function that stops it. With `redraw`
// (docker attach), the first resize is one row and column larger and then the real size, so that
// the program in the container gets a SIGWINCH and redraws (a shell prints its prompt again).
export function monitorResize(client: Client, resizePath: string, redraw = false): () => void {
  if (!process.stdout.isTTY) return () => undefined;
  const send = (extra = 0): Promise<void> => {
    const sz = terminalSize();
    if (!sz) return Promise.resolve();
    return client.call('POST', resizePath, { query: { h: sz[0] + extra, w: sz[1] + extra } }).then(
      () => undefined,
      () => undefined,
    );
  };
  const onResize = (): void => {
    void send();
  };
  if (redraw) void send(1).then(() => send());
  else void send();
  process.stdout.on('resize', onResize);
  return () => {
    process.stdout.removeListener('resize', onResize);
  };
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

// docker's sig-proxy: signals the CLI receives are sent to the container (non-tty only).
// A third SIGINT/SIGTERM ends the CLI itself (a container that ignores them cannot hold it).
export function proxySignals(client: Client, id: string): () => void {
  let interrupts = 0;
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const h = (): void => {
      if (sig === 'SIGINT' || sig === 'SIGTERM') {
        if (++interrupts >= 3) {
          process.stderr.write(`got 3 ${sig}s, forcefully exiting\n`);
          process.exit(sig === 'SIGINT' ? 130 : 143);
        }
      }
      client.call('POST', `/containers/${id}/kill`, { query: { signal: sig } }).catch(() => undefined);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
}
