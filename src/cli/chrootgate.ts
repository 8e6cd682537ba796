// Client of the chroot gate (src/chroot/gate.ts): `cocon chroot run` by a user who is not root
// sends its request over the gate's socket and relays stdin, stdout, stderr and signals as frames.
import { connect } from 'node:net';
import { FRAME, FrameDecoder, encodeFrame, type GateRequest } from '../chroot/access.js';

export const DEFAULT_GATE_SOCKET = '/run/cocon-chroot.sock';

/** Runs the request through the gate; resolves with the command's status (125 when refused). */
export function runThroughGate(socketPath: string, req: GateRequest): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    const dec = new FrameDecoder(1 << 24);
    let status: number | undefined;
    const sigs: [NodeJS.Signals, () => void][] = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as NodeJS.Signals[]).map(
      (s) => [
        s,
        () => {
          if (!sock.destroyed) sock.write(encodeFrame(FRAME.SIGNAL, s));
        },
      ],
    );
    const onStdin = (b: Buffer): void => {
      if (!sock.destroyed) sock.write(encodeFrame(FRAME.STDIN, b));
    };
    const onStdinEnd = (): void => {
      if (!sock.destroyed) sock.write(encodeFrame(FRAME.STDIN_EOF));
    };
    const finish = (code: number): void => {
      if (status !== undefined) return;
      status = code;
      for (const [s, h] of sigs) process.off(s, h);
      process.stdin.off('data', onStdin);
      process.stdin.off('end', onStdinEnd);
      process.stdin.pause();
      sock.destroy();
      resolve(code);
    };
    sock.on('connect', () => {
      sock.write(encodeFrame(FRAME.REQUEST, JSON.stringify(req)));
      for (const [s, h] of sigs) process.on(s, h);
      process.stdin.on('data', onStdin);
      process.stdin.on('end', onStdinEnd);
    });
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = dec.push(chunk);
      } catch (e) {
        process.stderr.write(`cocon: ${(e as Error).message}\n`);
        finish(125);
        return;
      }
      for (const f of frames) {
        if (f.type === FRAME.STDOUT) process.stdout.write(f.payload);
        else if (f.type === FRAME.STDERR) process.stderr.write(f.payload);
        else if (f.type === FRAME.EXIT) finish(Number(f.payload.toString()) || 0);
        else if (f.type === FRAME.ERROR) {
          process.stderr.write(`cocon: ${f.payload.toString()}\n`);
          finish(125);
        }
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(
        `cocon: cannot reach the chroot gate at ${socketPath} (${e.code ?? e.message}): is the daemon running? (not root: chroots are entered through it)\n`,
      );
      finish(125);
    });
    sock.on('close', () => {
      if (status === undefined) {
        process.stderr.write('cocon: the chroot gate closed the connection\n');
        finish(125);
      }
    });
  });
}
