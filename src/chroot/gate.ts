// The chroot gate: the daemon's second socket, through which users listed in a chroot's record
// run commands in it without being root and with no setuid program (schroot's users=/groups=).
//
// The socket (default /run/cocon-chroot.sock, outside the 0710 exec root) is 0666: any local user
// may connect, but it serves this one thing only, and every connection is judged by SO_PEERCRED
// (the kernel's record of the connecting process's uid), never by anything the client says. The
// Docker API socket stays 0660 root. A caller who is not listed gets an error and nothing runs.
// A listed caller's command runs as the caller (the host's uid, gid and groups; the user is added
// to the root's passwd from the host's entry when missing), with no-new-privs (setuid programs in
// the root cannot make it root, and a chroot's root could escape), under the chroot's recorded
// profile or a built-in one; --bind, --user and profile files are root's. Stdio goes through
// frames (./access.ts); the connection closing kills the command.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { EngineError, Forbidden, InvalidArgument } from '../core/errors.js';
import { log } from '../core/log.js';
import { peerCred } from '../sys/peercred.js';
import type { ChrootManager, RunOpts } from './chroot.js';
import {
  FRAME,
  FrameDecoder,
  encodeFrame,
  identityOf,
  mayEnter,
  parseGateRequest,
  type GateRequest,
  type Identity,
} from './access.js';
import { isProfilePath } from './profile.js';
import { cleanInnerPath } from './validate.js';
import type { SpawnedRoot } from '../sys/chroot.js';

export const DEFAULT_GATE_SOCKET = '/run/cocon-chroot.sock';
const SIGNALS = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGKILL']);

export class ChrootGate {
  private server?: Server;
  constructor(
    private readonly m: ChrootManager,
    readonly socketPath: string,
  ) {}

  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = createServer((sock) => {
      void this.handle(sock);
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(this.socketPath, () => res());
    });
    chmodSync(this.socketPath, 0o666);
    this.server = server;
  }

  close(): void {
    this.server?.close();
    rmSync(this.socketPath, { force: true });
  }

  private async handle(sock: Socket): Promise<void> {
    const dec = new FrameDecoder();
    let child: SpawnedRoot['child'] | undefined;
    let request: Promise<void> | undefined;
    const pendingStdin: Buffer[] = [];
    let stdinEnded = false;
    const fail = (e: unknown): void => {
      const msg = e instanceof Error ? e.message : String(e);
      if (!(e instanceof EngineError)) log.error('chroot gate', { error: msg });
      if (!sock.destroyed) sock.end(encodeFrame(FRAME.ERROR, msg));
    };
    sock.on('error', () => {
      /* the client went away */
    });
    sock.on('close', () => {
      try {
        child?.kill('SIGKILL');
      } catch {
        /* gone */
      }
    });
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = dec.push(chunk);
      } catch (e) {
        fail(e);
        return;
      }
      for (const f of frames) {
        if (f.type === FRAME.REQUEST && !request) {
          request = this.start(sock, f.payload).then((c) => {
            child = c.child;
            for (const b of pendingStdin) c.child.stdin!.write(b);
            if (stdinEnded) c.child.stdin!.end();
          }, fail);
        } else if (f.type === FRAME.STDIN) {
          if (child) child.stdin!.write(f.payload);
          else pendingStdin.push(Buffer.from(f.payload));
        } else if (f.type === FRAME.STDIN_EOF) {
          if (child) child.stdin!.end();
          else stdinEnded = true;
        } else if (f.type === FRAME.SIGNAL) {
          const s = f.payload.toString();
          if (child && SIGNALS.has(s)) {
            try {
              child.kill(s as NodeJS.Signals);
            } catch {
              /* gone */
            }
          }
        }
      }
    });
  }

  /** Checks the caller and starts the command; its output flows back as frames. */
  private async start(sock: Socket, payload: Buffer): Promise<SpawnedRoot> {
    const cred = await peerCred(sock);
    const req = parseGateRequest(payload);
    const who = identityOf(cred.uid, readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'));
    if (!who) throw new Forbidden(`uid ${cred.uid} has no entry in the host's /etc/passwd`);
    const rec = this.m.store.get(req.chroot);
    if (!mayEnter(rec, who)) {
      log.info('chroot gate: refused', { user: who.name, uid: who.uid, chroot: rec.name });
      throw new Forbidden(`user ${who.name} may not enter chroot ${rec.name} (not in its --users or --groups)`);
    }
    if (rec.kind === 'jail') throw new Forbidden(`chroot ${rec.name} is a jail: only root runs it`);
    const o = this.runOpts(req, who);
    log.info('chroot gate: run', { user: who.name, uid: who.uid, chroot: rec.name, argv: req.argv.join(' ') });
    const spawned = req.ephemeral
      ? await this.m.sessions.runEphemeral(rec.name, o, who.uid)
      : await this.m.start(rec.name, o);
    const { child, exited } = spawned;
    child.stdout!.on('data', (b: Buffer) => {
      if (!sock.destroyed) sock.write(encodeFrame(FRAME.STDOUT, b));
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (!sock.destroyed) sock.write(encodeFrame(FRAME.STDERR, b));
    });
    child.stdin!.on('error', () => {
      /* the command does not read its stdin */
    });
    void exited.then(
      (code) => {
        // flush what the pipes still hold before the status
        const done = (): void => {
          if (!sock.destroyed) sock.end(encodeFrame(FRAME.EXIT, String(code)));
        };
        if (child.stdout!.readableEnded && child.stderr!.readableEnded) done();
        else {
          let n = 0;
          const one = (): void => {
            if (++n === 2) done();
          };
          if (child.stdout!.readableEnded) one();
          else child.stdout!.once('close', one);
          if (child.stderr!.readableEnded) one();
          else child.stderr!.once('close', one);
        }
      },
      (e: unknown) => {
        if (!sock.destroyed) sock.end(encodeFrame(FRAME.ERROR, (e as Error).message));
      },
    );
    return spawned;
  }

  /** A caller's request as run options: as the caller, no-new-privs, built-in profiles only. */
  private runOpts(req: GateRequest, who: Identity): RunOpts {
    if (req.profile && isProfilePath(req.profile))
      throw new Forbidden('profile files are for root; use a built-in profile (default, minimal)');
    const argv = req.argv.length ? req.argv : ['/bin/sh'];
    // the working directory is entered after the switch to the caller (never with root's rights)
    const wd = req.workdir ? cleanInnerPath(req.workdir, '--workdir') : undefined;
    if (wd?.includes('\n')) throw new InvalidArgument('bad --workdir');
    return {
      argv: wd && wd !== '/' ? ['/bin/sh', '-c', 'cd -- "$0" && exec "$@"', wd, ...argv] : argv,
      user: who.name,
      env: { ...(req.env ?? {}) },
      profile: req.profile,
      noNewPrivs: true,
      stdio: 'pipe',
    };
  }
}
