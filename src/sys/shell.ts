// A small pool of long-lived `sh` processes that run scripts for the network room. Spawning from
// Node costs several milliseconds (much more on a loaded host); forking from a running dash is
// cheap, and a container start runs a handful of short tools (unshare, ip, nsenter, nft, umount).
//
// Each job runs in a subshell with `set -e`, stdin from /dev/null (heredocs inside still work),
// stdout and stderr merged; the worker then prints a marker with the job's exit status. A job that
// outlives its timeout kills its worker, which is replaced on the next job.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ShellResult { code: number; output: string }

interface Job { script: string; timeoutMs: number; resolve: (r: ShellResult) => void; reject: (e: Error) => void }

class Worker {
  private proc?: ChildProcess;
  private buf = '';
  private current?: { job: Job; marker: string; timer: NodeJS.Timeout };
  private readonly queue: Job[] = [];
  private seq = 0;

  get load(): number { return this.queue.length + (this.current ? 1 : 0); }

  run(job: Job): void { this.queue.push(job); this.next(); }

  private ensure(): ChildProcess {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return this.proc;
    const p = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
    this.buf = '';
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (d: string) => this.onData(d));
    p.stderr!.on('data', () => { /* jobs merge their stderr; the worker's own is noise */ });
    p.stdin!.on('error', () => { /* the worker died: handled on exit */ });
    p.on('exit', () => {
      if (this.proc !== p) return;
      this.proc = undefined;
      const c = this.current; this.current = undefined;
      if (c) { clearTimeout(c.timer); c.job.reject(new Error(`shell worker died running: ${firstLine(c.job.script)}`)); }
      this.next();
    });
    p.unref();
    (p.stdin as unknown as { unref?: () => void }).unref?.();
    (p.stdout as unknown as { unref?: () => void }).unref?.();
    (p.stderr as unknown as { unref?: () => void }).unref?.();
    this.proc = p;
    return p;
  }

  private next(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) return;
    const p = this.ensure();
    const marker = `__COCON_SH_DONE_${process.pid}_${++this.seq}`;
    const timer = setTimeout(() => {
      if (this.current?.marker !== marker) return;
      this.current = undefined;
      job.reject(new Error(`shell job timed out after ${job.timeoutMs} ms: ${firstLine(job.script)}`));
      this.proc = undefined;
      p.kill('SIGKILL');
      this.next();
    }, job.timeoutMs);
    this.current = { job, marker, timer };
    this.buf = '';
    p.stdin!.write(`(\nset -e\n${job.script}\n) </dev/null 2>&1; echo "${marker} $?"\n`);
  }

  private onData(d: string): void {
    this.buf += d;
    const c = this.current;
    if (!c) return;
    const i = this.buf.indexOf(c.marker + ' ');
    if (i < 0) return;
    const nl = this.buf.indexOf('\n', i);
    if (nl < 0) return;
    const code = Number(this.buf.slice(i + c.marker.length + 1, nl));
    const output = this.buf.slice(0, i);
    this.buf = this.buf.slice(nl + 1);
    clearTimeout(c.timer);
    this.current = undefined;
    c.job.resolve({ code, output });
    this.next();
  }
}

function firstLine(s: string): string { return s.split('\n').find((l) => l.trim()) ?? ''; }

const pool = [new Worker(), new Worker()];

/** Runs a script in a pooled shell; never throws for a non-zero exit. */
export function sh(script: string, timeoutMs = 30_000): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const w = pool.reduce((a, b) => (b.load < a.load ? b : a));
    w.run({ script, timeoutMs, resolve, reject });
  });
}

/** Runs a script in a pooled shell and throws with its output when it fails. */
export async function shOk(script: string, timeoutMs?: number): Promise<string> {
  const r = await sh(script, timeoutMs);
  if (r.code !== 0) throw new Error(`${firstLine(script).slice(0, 80)}: ${r.output.trim() || `exit ${r.code}`}`);
  return r.output;
}

/** Single-quotes a word for sh: the project's one shell quoting function (argv arrays where no shell is needed). */
export function shq(x: string): string { return `'${x.replace(/'/g, `'\\''`)}'`; }
