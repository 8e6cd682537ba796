// Foreground exec through runc alone, without conmon: `runc exec` runs as the daemon's child and
// the process's stdout/stderr come back through pipes. Used for healthcheck probes and for
// non-tty, attached `docker exec` (tty, detached or reattachable sessions stay with conmon, see
// ./conmon.ts). The process is exactly what runc would run for the container: the bundle's
// config.json process (user, env, cwd, capabilities, seccomp, no-new-privileges, AppArmor, the
// container's cgroups and namespaces) with other args, or a process.json built from it; it never
// gets more privilege than the container's own process unless the spec says so (exec
// --privileged).
//
// Lifecycle: runcExec(opts) -> output through onStdout/onStderr -> exited (exit code, 128+signal
// for a signal) or RuntimeError when the process never started. runc's own errors go to the same
// stderr as the process's: stderr is held back until the process is known to run (the pid file
// runc writes after the start, or any stdout), so a start failure becomes a RuntimeError with
// runc's message instead of process output. kill() ends the process (SIGKILL through its pid
// file, once runc has written it), then runc.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { cleanRuncMessage, RuntimeError } from './conmon.js';

export interface RuncExecOptions {
  runtime: string; // the runc binary
  root: string; // runc --root
  containerId: string;
  /** The process: a process.json, or the container's own process with these args. */
  process: { specPath: string } | { args: string[] };
  /** Where runc writes the process's host pid (removed when the exec ends). */
  pidFile: string;
  /** Give the process a stdin pipe (else /dev/null). */
  stdin: boolean;
  onStdout(b: Buffer): void;
  onStderr(b: Buffer): void;
}

export interface RuncExec {
  /** The process's stdin (when asked for). */
  readonly stdin: Writable | null;
  /** Resolves with the exit code; rejects with RuntimeError when the process could not start. */
  readonly exited: Promise<number>;
  /** The process's host pid, 0 until runc has written it. */
  pid(): number;
  /** SIGKILLs the process (once its pid is known) and then runc. */
  kill(): void;
  /** Stops reading output: the process blocks once the pipes are full (a flood past a cap). */
  pauseOutput(): void;
  resumeOutput(): void;
}

/** Stderr held back before the start is known is at most runc's error; more means the process runs. */
const MAX_HELD = 64 * 1024;
const START_RECHECK_MS = 20;
/** kill() waits this long for runc to name the process before it kills runc itself. */
const KILL_WAIT_MS = 5000;

export function runcExec(o: RuncExecOptions): RuncExec {
  const args = ['--root', o.root, 'exec', '--pid-file', o.pidFile];
  if ('specPath' in o.process) args.push('--process', o.process.specPath, o.containerId);
  else args.push(o.containerId, ...o.process.args);
  const child = spawn(o.runtime, args, { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  child.stdin?.on('error', () => {});
  let pid = 0;
  const readPid = (): number => {
    if (!pid)
      try {
        pid = Number(readFileSync(o.pidFile, 'utf8').trim()) || 0;
      } catch {
        /* not written yet */
      }
    return pid;
  };
  let started = false;
  let killing = false;
  let closed = false;
  let held: Buffer[] = [];
  let heldBytes = 0;
  let recheck: NodeJS.Timeout | null = null;
  const markStarted = () => {
    if (started) return;
    started = true;
    if (recheck) clearTimeout(recheck);
    for (const b of held) o.onStderr(b);
    held = [];
  };
  const pidFileThere = () => {
    try {
      return statSync(o.pidFile).size > 0;
    } catch {
      return false;
    }
  };
  stdout.on('data', (b: Buffer) => {
    markStarted();
    o.onStdout(b);
  });
  stderr.on('data', (b: Buffer) => {
    if (started) return o.onStderr(b);
    held.push(b);
    heldBytes += b.length;
    if (heldBytes > MAX_HELD || pidFileThere()) return markStarted();
    if (!recheck)
      recheck = setTimeout(() => {
        recheck = null;
        if (pidFileThere()) markStarted();
      }, START_RECHECK_MS);
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new RuntimeError(`cannot run ${o.runtime}: ${e.message}`)));
    child.on('close', (code, signal) => {
      closed = true;
      if (recheck) clearTimeout(recheck);
      const ran = started || pidFileThere();
      readPid();
      rmSync(o.pidFile, { force: true });
      const status = code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9);
      if (!ran && status === 255) {
        reject(new RuntimeError(cleanRuncMessage(Buffer.concat(held).toString())));
        return;
      }
      markStarted();
      resolve(status);
    });
  });
  exited.catch(() => {});
  return {
    stdin: child.stdin ?? null,
    exited,
    pid: readPid,
    kill() {
      if (killing) return;
      killing = true;
      const hard = () => {
        child.kill('SIGKILL');
        stdout.destroy();
        stderr.destroy();
      };
      // SIGKILL to runc alone would orphan a process it is still starting: wait for its pid first.
      const deadline = Date.now() + KILL_WAIT_MS;
      const tick = () => {
        if (closed) return;
        const p = readPid();
        if (p) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
          // runc ends when the process's pipes close; a child of the probe may still hold them
          setTimeout(hard, 1000).unref();
        } else if (Date.now() > deadline) hard();
        else setTimeout(tick, 10).unref();
      };
      tick();
    },
    pauseOutput() {
      stdout.pause();
      stderr.pause();
    },
    resumeOutput() {
      stdout.resume();
      stderr.resume();
    },
  };
}
