// The OCI runtime driver: runc (or a compatible runtime) with a private state root per daemon.
// Containers are created by conmon (see ./conmon.ts); this module starts, signals, inspects and
// deletes them. Every call passes the same --root, so several daemons never share runc state.
import { run, runOk } from '../sys/exec.js';

export interface RuntimeState { id: string; pid: number; status: 'created' | 'running' | 'paused' | 'stopped' | string }

export class RuncDriver {
  constructor(public readonly path: string, public readonly root: string) {}

  private args(rest: string[]): string[] { return ['--root', this.root, ...rest]; }

  async start(id: string): Promise<void> { await runOk(this.path, this.args(['start', id])); }

  /** Sends a signal to the container's init (or all its processes). Throws with runc's message. */
  async kill(id: string, signal: string, all = false): Promise<void> {
    await runOk(this.path, this.args(['kill', ...(all ? ['--all'] : []), id, signal]));
  }

  async delete(id: string, force = false): Promise<void> {
    const r = await run(this.path, this.args(['delete', ...(force ? ['--force'] : []), id]));
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) throw new Error(`runc delete ${id}: ${r.stderr.trim()}`);
  }

  async state(id: string): Promise<RuntimeState | null> {
    const r = await run(this.path, this.args(['state', id]));
    if (r.code !== 0) return null;
    const j = JSON.parse(r.stdout) as { id: string; pid: number; status: string };
    return { id: j.id, pid: j.pid, status: j.status };
  }

  async pause(id: string): Promise<void> { await runOk(this.path, this.args(['pause', id])); }
  async resume(id: string): Promise<void> { await runOk(this.path, this.args(['resume', id])); }

  /** `runc ps`: the container's processes as ps(1) prints them. */
  async ps(id: string, psArgs: string[]): Promise<string> {
    return runOk(this.path, this.args(['ps', id, ...psArgs]));
  }

  async version(): Promise<string> {
    const m = /version\s+(\S+)/.exec((await run(this.path, ['--version'])).stdout);
    return m ? m[1] : 'unknown';
  }
}
