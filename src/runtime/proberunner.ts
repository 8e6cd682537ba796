// The healthcheck probe runner: one long-lived shell per checked container that runs the probe
// on request, so a probe costs a fork + exec inside the container and a pipe round trip in the
// daemon instead of a whole `runc exec` (about 70 ms of CPU here: 50 containers at a 1 s interval
// then need more than a core, dockerd's per-probe exec the same).
//
// Design. The runner is started ONCE per container start, exactly the way a probe used to be:
// `runc exec -d` of the container's own process (config.json: env, user, working dir, caps,
// seccomp, no-new-privileges, AppArmor, cgroups, namespaces) with other args, so it has the
// privileges of a probe and never more; being detached, no runc stays behind. Its args are
// `/bin/sh -c 'eval "$1"' cocon-healthcheck RUNNER_SCRIPT PROBE_ARGV...`; requests come on fd 3 (a socket
// passed with --preserve-fds 1; Node would close a child's stdin pipe when runc exits), replies
// go to fd 1. The first line on fd 3 is a random marker (never in argv or env, where other
// processes of the container could read it). For each request line `SEQ` the runner checks that
// the probe's program exists (PATH search with shell builtins), runs `( exec "$@" )` with stdin
// /dev/null, fd 3 closed and stderr on stdout (docker's combined output), then writes
// "\nMARKER SEQ STATUS\n"; a program that does not exist answers STATUS "nocmd" and the caller runs
// that probe through a plain `runc exec`, which gives docker's runtime error message.
//
// Hostile containers. The reply is read as a stream: output bytes are handed to the caller's
// cap (docker keeps 4096 bytes) until it says stop, then reading pauses and the probe blocks
// until its timeout; bytes that arrive between probes (a child the probe left behind) are dropped
// and, past a bound, end the runner. A terminator counts only at a line start, with this runner's
// marker and the SEQ of the pending request: output cannot end a probe it does not know the marker
// of, and a stale or forged terminator cannot shift the replies of later probes. At a timeout the
// runner's process group (runc makes it a session leader; the probe and its children share the
// group unless they leave it) is SIGKILLed, after checking by start time that the pid is still
// the runner's; the next probe starts a new runner. A runner the container kills is noticed
// (end of file on the request socket, whose far end only the runner holds; a failed write; end of
// its output) and replaced at the next probe. The runner ends
// with the container (its pid namespace) and when the daemon exits: end of file on fd 3 ends the
// read loop. It is not an exec session (not in ExecIDs) and counts as one process of the container.
//
// Cost (bench/health-bench.ts, bench/RESULTS.md 2026-12-06 05:40): about 0.6 ms of CPU per probe
// everything counted on this VM, of which about 0.3 ms in the daemon (a pipe write and read, and
// the wakeups: close to what a bare Node process pays for the same round trips) and the rest the
// fork + exec of the probe in the container; dockerd's runc exec per probe costs 60 to 160 ms.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { Duplex, Readable } from 'node:stream';
import { cleanRuncMessage, RuntimeError } from './conmon.js';

/**
 * The runner's shell program (POSIX sh: dash, bash, busybox ash), run as
 * `/bin/sh -c 'eval "$1"' cocon-healthcheck SCRIPT PROBE_ARGV...` so that `ps` in the container
 * (which may cut long command lines) shows the runner's name first. After its `shift`, $@ is the
 * probe's argv. Names are prefixed: an assignment to a variable the container exports would
 * change the probe's env.
 */
export const RUNNER_SCRIPT = [
  'shift',
  'exec 2>/dev/null',
  'set -f',
  'IFS= read -r _cocon_m <&3 || exit 0',
  '_cocon_found() {',
  '  case $1 in */*) [ -f "$1" ] && [ -x "$1" ]; return ;; esac',
  '  _cocon_ifs=$IFS; IFS=:',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  '  for _cocon_d in ${PATH-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}; do',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  '    if [ -f "${_cocon_d:-.}/$1" ] && [ -x "${_cocon_d:-.}/$1" ]; then IFS=$_cocon_ifs; return 0; fi',
  '  done',
  '  IFS=$_cocon_ifs; return 1',
  '}',
  'echo "',
  '$_cocon_m 0 ready"',
  'while IFS= read -r _cocon_n <&3; do',
  '  if _cocon_found "$1"; then',
  '    ( exec "$@" ) </dev/null 3<&- 2>&1',
  '    echo "',
  '$_cocon_m $_cocon_n $?"',
  '  else',
  '    echo "',
  '$_cocon_m $_cocon_n nocmd"',
  '  fi',
  'done',
].join('\n');

/** argv[0] of the runner's shell: what `ps` in the container shows. */
export const RUNNER_NAME = 'cocon-healthcheck';

/** What the runner stream yields: probe output, or the end of the reply to request `seq`. */
export type RunnerEvent = { kind: 'data'; bytes: Buffer } | { kind: 'end'; seq: number; status: string };

const EMPTY = Buffer.alloc(0);

/** Longest "SEQ STATUS\n" after the marker that is taken as a terminator. */
const MAX_TAIL = 40;

/**
 * Splits the runner's stdout into output and terminators ("\nMARKER SEQ STATUS\n", SEQ digits,
 * STATUS digits or a word). Pure; holds back at most marker + 41 bytes that may start a
 * terminator. Anything that looks like a terminator but is not one is output.
 */
export class RunnerStream {
  private readonly head: Buffer;
  private pending: Buffer = EMPTY;

  constructor(marker: string) {
    this.head = Buffer.from(`\n${marker} `);
  }

  push(chunk: Buffer): RunnerEvent[] {
    const out: RunnerEvent[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const data = (b: Buffer) => {
      if (b.length) out.push({ kind: 'data', bytes: b });
    };
    for (;;) {
      const at = buf.indexOf(this.head);
      if (at < 0) {
        // keep a tail that may be the start of the next terminator
        const keep = Math.min(buf.length, this.head.length - 1);
        data(buf.subarray(0, buf.length - keep));
        this.pending = keep ? Buffer.from(buf.subarray(buf.length - keep)) : EMPTY;
        return out;
      }
      data(buf.subarray(0, at));
      buf = buf.subarray(at);
      const nl = buf.indexOf(10, this.head.length);
      if (nl < 0) {
        if (buf.length - this.head.length > MAX_TAIL) {
          data(buf.subarray(0, 1));
          buf = buf.subarray(1);
          continue;
        }
        this.pending = Buffer.from(buf);
        return out;
      }
      const m = /^(\d{1,15}) ([0-9a-z]{1,20})$/.exec(buf.subarray(this.head.length, nl).toString('latin1'));
      if (!m) {
        data(buf.subarray(0, 1));
        buf = buf.subarray(1);
        continue;
      }
      out.push({ kind: 'end', seq: Number(m[1]), status: m[2] });
      buf = buf.subarray(nl + 1);
    }
  }
}

/** Where a probe's output goes: false means stop reading (the cap is full). */
export interface OutputSink {
  add(b: Buffer): boolean;
}

export type ProbeReply =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'nocmd' }
  | { kind: 'timeout' }
  | { kind: 'lost'; message: string };

export interface ProbeRunnerOptions {
  runtime: string; // the runc binary
  root: string; // runc --root
  containerId: string;
  /** The probe's argv, run by each request. */
  argv: string[];
  /** Where runc writes the runner's host pid (removed once read). */
  pidFile: string;
  /** How long the start may take (runc, then the runner's first line). */
  startTimeoutMs: number;
  /**
   * Bytes read per probe (then reading pauses until the timeout) and between two probes (then
   * the runner is ended).
   */
  readLimit: number;
}

const shellOf = '/bin/sh';

function startTimeOf(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export class ProbeRunner {
  private seq = 0;
  private pendingSeq = 0;
  private sink: OutputSink | null = null;
  private settle: ((r: ProbeReply) => void) | null = null;
  /** Bytes read since the current probe started or the last one ended (terminators included). */
  private received = 0;
  private dead = false;
  private deadWhy = 'the healthcheck runner ended';
  private pid = 0;
  private startTime: string | null = null;
  private readonly stream: RunnerStream;
  private ready: (() => void) | null = null;

  private constructor(
    private readonly o: ProbeRunnerOptions,
    private readonly marker: string,
    private readonly out: Readable,
    private readonly requests: Duplex,
  ) {
    this.stream = new RunnerStream(marker);
  }

  /** Starts a runner in the container; RuntimeError when runc or the shell cannot start it. */
  static async start(o: ProbeRunnerOptions): Promise<ProbeRunner> {
    const child = spawn(
      o.runtime,
      [
        '--root',
        o.root,
        'exec',
        '-d',
        '--preserve-fds',
        '1',
        '--pid-file',
        o.pidFile,
        o.containerId,
        shellOf,
        '-c',
        'eval "$1"',
        RUNNER_NAME,
        RUNNER_SCRIPT,
        ...o.argv,
      ],
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const out = child.stdout as Readable;
    const requests = child.stdio[3] as unknown as Duplex; // a socket pair: readable too
    const r = new ProbeRunner(o, randomBytes(16).toString('hex'), out, requests);
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < 65536) err += b.toString();
    });
    requests.on('error', () => r.lose('the healthcheck runner is gone'));
    // the runner never writes on fd 3: reading it only waits for its end (the runner is gone)
    requests.on('end', () => r.lose('the healthcheck runner is gone'));
    requests.on('close', () => r.lose('the healthcheck runner is gone'));
    requests.resume();
    out.on('data', (b: Buffer) => r.onData(b));
    out.on('error', () => r.lose('the healthcheck runner is gone'));
    out.on('close', () => r.lose('the healthcheck runner ended'));
    const code = await new Promise<number>((resolve) => {
      child.on('error', (e) => {
        err = `cannot run ${o.runtime}: ${e.message}`;
        resolve(-1);
      });
      child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 0)));
    });
    try {
      r.pid = Number(readFileSync(o.pidFile, 'utf8').trim()) || 0;
    } catch {
      /* not started */
    }
    rmSync(o.pidFile, { force: true });
    if (code !== 0 || !r.pid) {
      r.close();
      throw new RuntimeError(cleanRuncMessage(err) || `${o.runtime} exec exited with ${code}`);
    }
    r.startTime = startTimeOf(r.pid);
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), o.startTimeoutMs);
      r.ready = () => {
        clearTimeout(t);
        resolve(true);
      };
      r.requests.write(`${r.marker}\n`);
      if (r.dead) resolve(false);
    });
    r.ready = null;
    if (!ok || r.dead) {
      r.kill();
      throw new RuntimeError(`the healthcheck runner did not start (${shellOf} in the container)`);
    }
    return r;
  }

  /** The runner's host pid (for tests and the bench). */
  get hostPid(): number {
    return this.pid;
  }

  /**
   * False once the runner has ended, been killed or lost. No /proc read per probe: the runner is
   * the only holder of the request socket's far end (probes run with fd 3 closed), so its death
   * is an end of file there, seen as soon as it happens.
   */
  get usable(): boolean {
    return !this.dead;
  }

  get busy(): boolean {
    return this.settle !== null;
  }

  /**
   * Runs the probe once: output goes to `sink` until it returns false; resolves with the exit
   * code, nocmd (the program is missing), timeout (the runner is then killed) or lost (the runner
   * ended before replying). One probe at a time.
   */
  run(sink: OutputSink, timeoutMs: number): Promise<ProbeReply> {
    if (this.settle) throw new Error('probe runner busy');
    if (this.dead) return Promise.resolve({ kind: 'lost', message: this.deadWhy });
    this.pendingSeq = ++this.seq;
    this.sink = sink;
    this.received = 0;
    return new Promise<ProbeReply>((resolve) => {
      const timer = setTimeout(() => {
        done({ kind: 'timeout' });
        this.kill();
      }, timeoutMs);
      const done = (r: ProbeReply) => {
        clearTimeout(timer);
        this.settle = null;
        this.sink = null;
        this.pendingSeq = 0;
        this.received = 0;
        if (!this.dead) this.out.resume();
        resolve(r);
      };
      this.settle = done;
      this.requests.write(`${this.pendingSeq}\n`);
    });
  }

  private onData(b: Buffer): void {
    // everything read counts, terminators too: a runner the container took over (ptrace) may
    // flood stale terminators that are no output
    this.received += b.length;
    if (this.received > this.o.readLimit) {
      if (!this.settle) {
        // a child left behind by a probe floods the pipe between probes
        this.kill();
        return;
      }
      this.out.pause(); // the probe blocks until its timeout
    }
    for (const e of this.stream.push(b)) {
      if (e.kind === 'end') {
        if (e.seq === 0 && e.status === 'ready') this.ready?.();
        else if (this.settle && e.seq === this.pendingSeq) {
          const settle = this.settle;
          if (e.status === 'nocmd') settle({ kind: 'nocmd' });
          else if (/^\d+$/.test(e.status)) settle({ kind: 'exited', exitCode: Number(e.status) });
          else settle({ kind: 'lost', message: `unexpected reply from the healthcheck runner: ${e.status}` });
        }
      } else if (this.sink && !this.sink.add(e.bytes)) this.out.pause();
    }
  }

  private lose(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.deadWhy = why;
    this.ready?.();
    this.settle?.({ kind: 'lost', message: why });
  }

  /** SIGKILLs the runner's process group (the running probe with it) and closes the pipes. */
  kill(): void {
    if (this.pid && startTimeOf(this.pid) === this.startTime && this.startTime !== null) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    this.close();
  }

  /** Closes the pipes: the runner reads end of file and exits after the probe it runs, if any. */
  close(): void {
    this.lose('the healthcheck runner was stopped');
    this.requests.destroy();
    this.out.destroy();
  }
}
