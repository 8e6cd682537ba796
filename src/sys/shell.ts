// Shell quoting, the one copy (shq: the chroot runner's set-up script in ./chroot.ts and the jobs
// below), and a small pool of long-lived `sh` helpers that run short scripts of OS tools (ip, unshare, nsenter,
// nft) for the daemon. Spawning from Node forks the whole daemon (tens of MB of address space) for
// every tool; a helper shell forks itself instead, which costs a fraction of that. Each job runs in
// a subshell with `set -e` and stdin from /dev/null (heredocs feed the tools that read stdin); its
// output and exit status come back after a marker line carrying a per-helper random token. A helper
// that dies is replaced at the next job; jobs never keep the daemon alive.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

interface Job {
  script: string;
  resolve: (r: { code: number; output: string }) => void;
  reject: (e: Error) => void;
}

class Helper {
  private child: ChildProcess | null = null;
  private token = '';
  private buf = '';
  private current: Job | null = null;
  private readonly queue: Job[] = [];
  get load(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  submit(job: Job): void {
    this.queue.push(job);
    this.next();
  }

  private start(): ChildProcess {
    this.token = `__cocon_done_${randomBytes(8).toString('hex')}`;
    this.buf = '';
    const c = spawn('sh', ['-s'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' },
    });
    c.stdin!.on('error', () => {
      /* the helper died; the exit handler fails the job */
    });
    c.stdout!.setEncoding('utf8');
    c.stdout!.on('data', (d: string) => this.onData(d));
    c.on('exit', () => {
      if (this.child === c) this.child = null;
      const j = this.current;
      this.current = null;
      j?.reject(new Error('the helper shell exited during a job'));
      this.next();
    });
    c.on('error', () => undefined);
    return c;
  }

  /** A helper holds the event loop only while it has work (an idle one never keeps the daemon alive). */
  private hold(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdout, c.stdin] as unknown as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }

  private onData(d: string): void {
    this.buf += d;
    const m = new RegExp(`(?:^|\\n)${this.token} (\\d+)\\n`).exec(this.buf);
    if (!m || !this.current) return;
    const output = this.buf.slice(0, m.index);
    this.buf = this.buf.slice(m.index + m[0].length);
    const j = this.current;
    this.current = null;
    j.resolve({ code: Number(m[1]), output });
    this.next();
    if (!this.current) this.hold(false);
  }

  private next(): void {
    if (this.current || !this.queue.length) return;
    const j = this.queue.shift()!;
    this.current = j;
    if (!this.child) this.child = this.start();
    this.hold(true);
    this.child.stdin!.write(`( set -e\n${j.script}\n) </dev/null 2>&1\necho; echo "${this.token} $?"\n`);
  }
}

const pool: Helper[] = [new Helper(), new Helper()];

/** Runs a shell script in a pooled helper; resolves with its exit code and combined output. */
export function shellJob(script: string): Promise<{ code: number; output: string }> {
  const h = pool.reduce((a, b) => (b.load < a.load ? b : a));
  return new Promise((resolve, reject) => h.submit({ script, resolve, reject }));
}

/** Like shellJob, but throws with the output when the script fails. */
export async function shellOk(script: string, what: string): Promise<string> {
  const r = await shellJob(script);
  if (r.code !== 0) throw new Error(`${what}: ${r.output.trim() || `exit ${r.code}`}`);
  return r.output;
}

/** Quotes one word for POSIX sh: always single-quoted, inner quotes closed and escaped. */
export function shq(x: string): string {
  return `'${x.replace(/'/g, `'\\''`)}'`;
}

/** `cmd ... <<'EOF'` with `text` as its stdin (text never contains the delimiter line). */
export function heredoc(cmd: string, text: string): string {
  const tag = '__COCON_EOF__';
  if (text.split('\n').includes(tag)) throw new Error('heredoc text contains its delimiter');
  return `${cmd} <<'${tag}'\n${text.endsWith('\n') ? text : text + '\n'}${tag}`;
}
