// The OS side of chroot sessions: a holder process that owns a private mount namespace with the
// root's mounts (and, for a throwaway session, the overlay), commands entering that namespace with
// nsenter, and finding and killing every process of a namespace. Processes are told apart by what
// the kernel says (/proc/PID/ns/mnt, /proc/PID/stat start time), never by name.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { buildEnterScript, buildHolderScript, type RunPlan, type SpawnedRoot } from './chroot.js';

/** A process identity that survives pid reuse: pid plus its start time (clock ticks since boot). */
export interface ProcId {
  pid: number;
  start: number;
}

/** Start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
export function startTime(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[19]);
  } catch {
    return undefined;
  }
}

export function procId(pid: number): ProcId | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { pid, start };
}

/** Whether the process is still the one recorded (same pid and start time, not a zombie). */
export function alive(p: ProcId): boolean {
  if (startTime(p.pid) !== p.start) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The mount namespace of a process ("mnt:[4026532...]"), or undefined when it is gone. */
export function mountNs(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Pids in the mount namespace `ns`. */
export function pidsInMountNs(ns: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/mnt`) === ns) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** SIGKILLs every process of the mount namespace `ns` (re-checked before each kill) until none is left. */
export async function killMountNs(ns: string): Promise<number[]> {
  if (ns === readlinkSync('/proc/self/ns/mnt'))
    throw new Error('refusing to kill the processes of our own mount namespace');
  const killed: number[] = [];
  for (let round = 0; round < 100; round++) {
    const pids = pidsInMountNs(ns);
    if (!pids.length) return killed;
    for (const pid of pids) {
      try {
        if (readlinkSync(`/proc/${pid}/ns/mnt`) === ns) {
          process.kill(pid, 'SIGKILL');
          killed.push(pid);
        }
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`processes of ${ns} did not die: ${pidsInMountNs(ns).join(', ')}`);
}

/**
 * Starts a session's holder: `unshare --mount` running the plan's mounts, then sleeping in a new
 * session (it survives the cocon that started it). Resolves once the mounts are made, with the
 * holder's identity and mount namespace; rejects with the setup's message otherwise.
 */
export function startHolder(p: RunPlan): Promise<{ holder: ProcId; ns: string }> {
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', buildHolderScript(p), 'sh'],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(err.trim() || `session setup exited with status ${code}`)));
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (!out.includes('cocon-session-ready')) return;
      child.removeAllListeners('exit');
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
      const holder = procId(child.pid!);
      const ns = mountNs(child.pid!);
      if (!holder || !ns) {
        reject(new Error('the session holder died right after its setup'));
        return;
      }
      resolve({ holder, ns });
    });
  });
}

/** Runs CMD inside the holder's mount namespace as planned (chroot, user, env), without forking. */
export function enterSession(
  holderPid: number,
  p: RunPlan,
  argv: string[],
  stdio: 'inherit' | 'pipe' | 'ignore' = 'inherit',
): SpawnedRoot {
  const child = spawn(
    'nsenter',
    [`--target=${holderPid}`, '--mount', '--', 'sh', '-c', buildEnterScript(p), 'sh', ...argv],
    { stdio },
  );
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 9)),
    );
  });
  return { child, exited };
}
