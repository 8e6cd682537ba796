// The OCI runtime driver: runc (or a compatible runtime) with a private state root per daemon.
// Containers are created by conmon (see ./conmon.ts); this module starts, signals, inspects and
// deletes them. Every call passes the same --root, so several daemons never share runc state.
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { readFile, rm, rmdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { run, runOk } from '../sys/exec.js';
import { alive } from '../sys/proc.js';
import { Internal } from '../core/errors.js';

export interface RuntimeState {
  id: string;
  pid: number;
  status: 'created' | 'running' | 'paused' | 'stopped' | string;
}

export class RuncDriver {
  constructor(
    public readonly path: string,
    public readonly root: string,
  ) {}

  private args(rest: string[]): string[] {
    return ['--root', this.root, ...rest];
  }

  /**
   * Starts a created container whose init has pid `pid`. runc's own `start` only opens the
   * container's exec fifo, reads it (which lets `runc init` exec the user process) and removes
   * it; doing that here saves a runc process (~35 ms). Falls back to `runc start` when the fifo
   * is not where runc 1.1 puts it.
   */
  async start(id: string, pid: number): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    if (!existsSync(fifo)) {
      await runOk(this.path, this.args(['start', id]));
      return;
    }
    // If init dies before opening its end, unblock our read by opening the write end ourselves.
    const watchdog = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(watchdog);
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* no reader yet or gone */
      }
    }, 100);
    try {
      const data = await readFile(fifo);
      if (data.length === 0) throw new Internal(`cannot start container ${id}: container process is already dead`);
      await execDone(pid, basename(this.path));
    } finally {
      clearInterval(watchdog);
      await unlink(fifo).catch(() => undefined);
    }
  }

  /** Sends a signal to the container's init (or all its processes). Throws with runc's message. */
  async kill(id: string, signal: string, all = false): Promise<void> {
    await runOk(this.path, this.args(['kill', ...(all ? ['--all'] : []), id, signal]));
  }

  async delete(id: string, force = false): Promise<void> {
    const r = await run(this.path, this.args(['delete', ...(force ? ['--force'] : []), id]));
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr))
      throw new Internal(`runc delete ${id}: ${r.stderr.trim()}`);
  }

  /**
   * `runc delete --force`, without starting runc (a Go binary: 20-30 ms, far more on a busy host)
   * when the container has exited: then runc 1.1 only removes its cgroups and its state dir, and
   * that is done here. Taken only when nothing of the container can still run: its init is gone
   * (not a zombie, not a reused pid), it had a pid namespace of its own (the kernel killed the rest
   * with its init), it is not merely created (exec fifo), it has no poststop hooks, and every
   * cgroup dir goes at the first tries. Anything else, or any doubt, goes to `runc delete --force`.
   */
  async deleteExited(id: string): Promise<void> {
    if (!(await this.removeExited(id))) await this.delete(id, true);
  }

  /** The fast path of deleteExited(): true when it removed the container (or there was none). */
  private async removeExited(id: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(id)) return false;
    const dir = join(this.root, id);
    let state: ExitedState;
    try {
      state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as ExitedState;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir);
    }
    if (existsSync(join(dir, 'exec.fifo'))) return false;
    if (initRuns(state.init_process_pid, state.init_process_start)) return false;
    const pidns = state.config?.namespaces?.find((n) => n.type === 'NEWPID');
    if (!pidns || pidns.path) return false;
    const hooks = state.config?.Hooks as Record<string, unknown[] | null> | undefined;
    if (hooks && Object.values(hooks).some((h) => Array.isArray(h) && h.length > 0)) return false;
    for (const p of new Set(Object.values(state.cgroup_paths ?? {}))) {
      if (!p.startsWith('/sys/fs/cgroup/') || p.includes('/../')) return false;
      if (!(await rmdirSettled(p))) return false;
    }
    await rm(dir, { recursive: true, force: true });
    return true;
  }

  async state(id: string): Promise<RuntimeState | null> {
    const r = await run(this.path, this.args(['state', id]));
    if (r.code !== 0) return null;
    const j = JSON.parse(r.stdout) as { id: string; pid: number; status: string };
    return { id: j.id, pid: j.pid, status: j.status };
  }

  /** `runc update`: new cgroup limits for a running container (OCI LinuxResources; absent fields unchanged). */
  async update(id: string, resources: object): Promise<void> {
    await runOk(this.path, this.args(['update', '--resources', '-', id]), { input: JSON.stringify(resources) });
  }

  async pause(id: string): Promise<void> {
    await runOk(this.path, this.args(['pause', id]));
  }
  async resume(id: string): Promise<void> {
    await runOk(this.path, this.args(['resume', id]));
  }

  /** `runc ps`: the container's processes as ps(1) prints them. */
  async ps(id: string, psArgs: string[]): Promise<string> {
    return runOk(this.path, this.args(['ps', id, ...psArgs]));
  }

  async version(): Promise<string> {
    const m = /version\s+(\S+)/.exec((await run(this.path, ['--version'])).stdout);
    return m ? m[1] : 'unknown';
  }
}

/** What deleteExited() reads of runc's state.json. */
interface ExitedState {
  init_process_pid: number;
  init_process_start: number | string;
  cgroup_paths?: Record<string, string>;
  config?: { namespaces?: Array<{ type: string; path: string }>; Hooks?: unknown };
}

/** Whether `pid` is still the container's init (same start time), running or a zombie. */
function initRuns(pid: number, start: number | string): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // fields after "(comm)": state is the 1st, starttime the 20th
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return String(f[19]) === String(start);
}

/** rmdir of a cgroup dir whose tasks are exiting: a few short tries; ENOENT is done. */
async function rmdirSettled(p: string): Promise<boolean> {
  for (let i = 0; i < 4; i++) {
    try {
      await rmdir(p);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY') return false;
    }
    await new Promise((r) => setTimeout(r, 5 * (i + 1)));
  }
  return false;
}

/** The fifo closes during execve: wait (briefly) until the new program image is in place. */
async function execDone(pid: number, runtimeName: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      // `runc init` shows as "<runtime path>\0init\0" until the user program replaces it.
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      if (argv[0] !== '' && !(argv[1] === 'init' && basename(argv[0]) === runtimeName)) return;
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
