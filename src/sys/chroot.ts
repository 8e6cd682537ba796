// The OS side of chroots: entering a root (mount namespace, mounts, chroot, user drop), user
// namespaces with a private binfmt_misc for foreign architectures, device nodes, copies, sizes,
// processes inside a root, and the 32-bit exec probe. Only src/chroot calls this module.
//
// How a command enters a root (see buildRunScript):
//   unshare --mount --propagation private [--user]  -- sh -c SCRIPT sh CMD...
//     SCRIPT: [wait for the uid map; mount binfmt_misc; register qemu]   (foreign architecture)
//             mount proc, sysfs, a tmpfs /dev with its nodes, the host's /dev/pts, /dev/shm, binds
//             exec [setarch i686] [setpriv --no-new-privs --regid G --groups ...] env -i ENV...
//                  unshare --root=ROOT --wd=DIR [--setuid U] -- CMD...
// No fork anywhere: the pid cocon spawns is the command's pid, its exit status is the command's,
// and the mounts, living only in the private mount namespace, vanish when the last process in
// that namespace exits (even when it is killed).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
  unlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runOk } from './exec.js';
import { shq } from './shell.js';

/** How a root's programs execute on this host. */
export type ExecMode = 'native' | 'native32' | 'emulated';

export interface RunUser {
  uid: number;
  gid: number;
  groups: number[];
}
export interface RunBind {
  host: string;
  target: string;
  readonly: boolean;
}

export interface RunPlan {
  root: string; // host path of the root directory
  mode: ExecMode;
  /** binfmt_misc registration string (mode 'emulated'). */
  binfmt?: string;
  /** Mount /proc, /sys and a /dev with pts and shm (false for jails). */
  systemMounts: boolean;
  binds: RunBind[]; // targets already resolved to host paths inside root
  user?: RunUser;
  noNewPrivs: boolean;
  workdir: string; // inside the root
  env: Record<string, string>;
  /** Mount a throwaway overlay (lower = the base root) at `root` first. */
  overlay?: { lower: string; upper: string; work: string };
  /** The host's /dev/pts (default) or a new private devpts instance. */
  devpts?: 'host' | 'private';
}

const DEV_NODES: [string, number, number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

/** The shell script run inside the new mount namespace; CMD comes as "$@". Pure. */
export function buildRunScript(p: RunPlan): string {
  return [...buildSetup(p), buildExec(p)].join('\n') + '\n';
}

/**
 * The script of a session's holder: the same mounts, then it prints a line and sleeps, keeping the
 * mount namespace alive for the commands that enter it later (buildEnterScript). Pure.
 */
export function buildHolderScript(p: RunPlan): string {
  return (
    [...buildSetup(p), 'echo cocon-session-ready', 'exec sleep infinity </dev/null >/dev/null 2>&1'].join('\n') + '\n'
  );
}

/** The script run (through nsenter) inside a session's mount namespace: only the exec. Pure. */
export function buildEnterScript(p: RunPlan): string {
  return ['set -eu', buildExec(p)].join('\n') + '\n';
}

function buildSetup(p: RunPlan): string[] {
  const R = p.root.replace(/\/+$/, '');
  if (!R.startsWith('/') || R === '') throw new Error(`refusing root path "${p.root}"`);
  const at = (rel: string): string => shq(`${R}${rel}`);
  // a failing setup step exits 125 with a message, never with a status the command could have had
  const L: string[] = ['set -eu', `fail() { echo "cocon: chroot setup failed: $1" >&2; exit 125; }`];
  const step = (cmd: string): void => {
    L.push(`{ ${cmd}; } || fail ${shq(cmd.replace(/'/g, ''))}`);
  };
  const emu = p.mode === 'emulated';
  if (emu) {
    // cocon writes this process's uid/gid maps from outside (0..65535 -> 0..65535)
    L.push('while [ -z "$(cat /proc/self/uid_map)" ]; do sleep 0.01; done');
    step('mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc');
    if (p.binfmt) step(`printf '%s' ${shq(p.binfmt)} > /proc/sys/fs/binfmt_misc/register`);
  }
  if (p.overlay) {
    for (const d of [p.overlay.lower, p.overlay.upper, p.overlay.work, R]) {
      if (/[,:\\]/.test(d))
        throw new Error(`overlay path ${d} contains a character overlayfs options cannot carry (, : \\)`);
    }
    step(
      `mount -t overlay -o ${shq(`lowerdir=${p.overlay.lower},upperdir=${p.overlay.upper},workdir=${p.overlay.work}`)} cocon-session ${shq(R)}`,
    );
  }
  if (p.systemMounts) {
    if (emu) {
      // a user namespace may not mount a new proc (not its pid ns) or sysfs (not its net ns): bind them
      step(`mount --rbind /proc ${at('/proc')}`);
      step(`mount --rbind /sys ${at('/sys')}`);
    } else {
      step(`mount -t proc -o nosuid,nodev,noexec proc ${at('/proc')}`);
      step(`mount -t sysfs -o ro,nosuid,nodev,noexec sysfs ${at('/sys')}`);
    }
    step(`mount -t tmpfs -o nosuid,noexec,mode=0755,size=64k cocon-dev ${at('/dev')}`);
    for (const [n, maj, min] of DEV_NODES) {
      if (emu) step(`: > ${at(`/dev/${n}`)}; mount --bind /dev/${n} ${at(`/dev/${n}`)}`);
      else step(`mknod -m 666 ${at(`/dev/${n}`)} c ${maj} ${min}`);
    }
    step(`ln -s /proc/self/fd ${at('/dev/fd')}`);
    for (const [i, n] of ['stdin', 'stdout', 'stderr'].entries()) step(`ln -s /proc/self/fd/${i} ${at(`/dev/${n}`)}`);
    step(`mkdir ${at('/dev/pts')} ${at('/dev/shm')}`);
    if (p.devpts === 'private' && !emu) {
      // a new devpts instance: the root's terminals are its own (profile minimal)
      step(`mount -t devpts -o newinstance,ptmxmode=0666,mode=620 cocon-devpts ${at('/dev/pts')}`);
      step(`ln -s pts/ptmx ${at('/dev/ptmx')}`);
    } else {
      // the host's devpts: the caller's terminal keeps its name inside (tty, ttyname, sudo work)
      step(`mount --bind /dev/pts ${at('/dev/pts')}`);
      if (emu) step(`: > ${at('/dev/ptmx')}; mount --bind /dev/ptmx ${at('/dev/ptmx')}`);
      else step(`mknod -m 666 ${at('/dev/ptmx')} c 5 2`);
    }
    step(`mount -t tmpfs -o nosuid,nodev,mode=1777 cocon-shm ${at('/dev/shm')}`);
  }
  for (const b of p.binds) {
    if (!b.target.startsWith(R + '/')) throw new Error(`bind target ${b.target} is outside ${R}`);
    step(`mount --rbind ${shq(b.host)} ${shq(b.target)}`);
    if (b.readonly) step(`mount -o remount,bind,ro ${shq(b.target)}`);
  }
  return L;
}

function buildExec(p: RunPlan): string {
  const R = p.root.replace(/\/+$/, '');
  const ex: string[] = ['exec'];
  if (p.mode === 'native32') ex.push('setarch', 'i686');
  if (p.noNewPrivs || p.user) {
    ex.push('setpriv');
    if (p.noNewPrivs) ex.push('--no-new-privs');
    if (p.user) {
      ex.push(`--regid=${p.user.gid}`);
      ex.push(p.user.groups.length ? `--groups=${p.user.groups.join(',')}` : '--clear-groups');
    }
  }
  ex.push('env', '-i', ...Object.entries(p.env).map(([k, v]) => shq(`${k}=${v}`)));
  ex.push('unshare', shq(`--root=${R}`), shq(`--wd=${p.workdir}`));
  if (p.user) ex.push(`--setuid=${p.user.uid}`);
  ex.push('--', '"$@"');
  return ex.join(' ');
}

/** Waits until `pid` has left our user namespace, then maps uids/gids 0..65535 1:1 into it. */
async function writeIdMaps(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  const own = readlinkSync('/proc/self/ns/user');
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    let ns: string | undefined;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      return;
    }
    if (ns !== own) break;
    if (Date.now() > deadline) throw new Error('timed out waiting for the user namespace');
    await new Promise((r) => setTimeout(r, 2));
  }
  writeFileSync(`/proc/${pid}/uid_map`, '0 0 65536');
  writeFileSync(`/proc/${pid}/gid_map`, '0 0 65536');
}

export interface SpawnedRoot {
  child: ChildProcess;
  exited: Promise<number>;
}

/**
 * Starts CMD in the root as planned. stdio is inherited unless given. The promise resolves with the
 * exit status (128+signal when killed by a signal).
 */
export function spawnInRoot(p: RunPlan, argv: string[], stdio: 'inherit' | 'pipe' | 'ignore' = 'inherit'): SpawnedRoot {
  const script = buildRunScript(p);
  const args = ['--mount', '--propagation', 'private'];
  if (p.mode === 'emulated') args.unshift('--user');
  const child = spawn('unshare', [...args, '--', 'sh', '-c', script, 'sh', ...argv], { stdio });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? (osSignal(signal) ?? 9) : 9));
    });
  });
  if (p.mode === 'emulated')
    writeIdMaps(child).catch(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    });
  return { child, exited };
}

function osSignal(s: NodeJS.Signals): number | undefined {
  const table: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGILL: 4,
    SIGTRAP: 5,
    SIGABRT: 6,
    SIGBUS: 7,
    SIGFPE: 8,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGSEGV: 11,
    SIGUSR2: 12,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15,
  };
  return table[s];
}

/**
 * Runs a shell script (with args) inside a user + mount (+ pid) namespace where uids 0..65535 map
 * to the same host uids, with a private binfmt_misc registering `binfmt` (the host's registrations
 * are untouched). Used for debootstrap's second stage of a foreign-architecture root.
 */
export function spawnInUserns(
  script: string,
  args: string[],
  opts: { binfmt?: string; pidns?: boolean; env?: NodeJS.ProcessEnv },
): SpawnedRoot {
  const pre = [
    'set -eu',
    'while [ -z "$(cat /proc/self/uid_map)" ]; do sleep 0.01; done',
    'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc',
  ];
  if (opts.binfmt) pre.push(`printf '%s' ${shq(opts.binfmt)} > /proc/sys/fs/binfmt_misc/register`);
  const ns = ['--user', '--mount', '--propagation', 'private'];
  if (opts.pidns) ns.push('--pid', '--fork', '--kill-child', '--mount-proc');
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'SIGKILL', 'unshare', ...ns, '--', 'sh', '-c', pre.join('\n') + '\n' + script, 'sh', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env },
  );
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osSignal(signal) ?? 9) : 9)));
  });
  writeIdMaps(child).catch(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  return { child, exited };
}

/** Pids of processes whose root directory is ROOT (or below it). Exact: reads /proc/PID/root. */
export function processesInRoot(root: string): number[] {
  const R = root.replace(/\/+$/, '');
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let r: string;
    try {
      r = readlinkSync(`/proc/${d}/root`);
    } catch {
      continue;
    }
    if (r === R || r.startsWith(R + '/')) out.push(Number(d));
  }
  return out;
}

/** Mount points under DIR in any mount namespace on the host (from every process's mountinfo, chrooted ones included). */
export function mountsUnderAnywhere(dir: string): string[] {
  const D = dir.replace(/\/+$/, '');
  const seen = new Set<string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let text: string;
    let root: string;
    try {
      root = readlinkSync(`/proc/${d}/root`);
      text = readFileSync(`/proc/${d}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    // a chrooted process sees mount points relative to its root
    const prefix = root === '/' ? '' : root;
    for (const line of text.split('\n')) {
      const rel = line.split(' ')[4]?.replace(/\\040/g, ' ');
      const mp = rel === undefined ? undefined : prefix + (rel === '/' && prefix ? '' : rel);
      if (mp && (mp === D || mp.startsWith(D + '/'))) seen.add(mp);
    }
  }
  return [...seen].sort();
}

/** Sends SIGKILL to the pids that are (still) inside ROOT; re-checks /proc/PID/root before each kill. */
export async function killProcessesInRoot(root: string): Promise<number[]> {
  const R = root.replace(/\/+$/, '');
  const killed: number[] = [];
  for (let round = 0; round < 50; round++) {
    const pids = processesInRoot(R);
    if (!pids.length) return killed;
    for (const pid of pids) {
      try {
        const r = readlinkSync(`/proc/${pid}/root`);
        if (r === R || r.startsWith(R + '/')) {
          process.kill(pid, 'SIGKILL');
          killed.push(pid);
        }
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}

export async function mknod(path: string, type: 'c' | 'b', major: number, minor: number, mode: number): Promise<void> {
  await runOk('mknod', ['-m', mode.toString(8), path, type, String(major), String(minor)]);
}

/** `cp -a SRC DEST` (DEST must not exist, or SRC/. into an existing DEST when contents=true). */
export async function copyTree(src: string, dest: string, contents = false, followArg = false): Promise<void> {
  await runOk('cp', ['-a', ...(followArg ? ['-H'] : []), '--reflink=auto', contents ? `${src}/.` : src, dest]);
}

/** `rm -rf --one-file-system` (never crosses into a mount). */
export async function removeTree(dir: string): Promise<void> {
  const d = dir.replace(/\/+$/, '');
  if (!d.startsWith('/') || d.split('/').filter(Boolean).length < 2) throw new Error(`refusing to remove ${dir}`);
  await runOk('rm', ['-rf', '--one-file-system', d]);
}

/** Disk use in bytes (du -s). */
export async function diskUsage(dir: string): Promise<number> {
  const r = await run('du', ['-s', '--block-size=1', dir]);
  const n = parseInt(r.stdout, 10);
  return Number.isFinite(n) ? n : 0;
}

/** Runs ldd on a host program; returns its raw output (stdout + stderr). */
export async function lddOutput(prog: string): Promise<string> {
  const r = await run('ldd', [prog]);
  return `${r.stdout}\n${r.stderr}`;
}

export function readHead(path: string, n = 64): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

let elf32Native: boolean | undefined;
/**
 * Whether this kernel runs i386 programs natively: writes a tiny static ELF32 and runs it. On this
 * machine kind (a PVM guest) every 32-bit ELF gets ENOEXEC although IA32 emulation is configured.
 */
export async function kernelRunsElf32(elf: Buffer): Promise<boolean> {
  if (elf32Native !== undefined) return elf32Native;
  const f = join(tmpdir(), `cocon-elf32-probe-${process.pid}`);
  try {
    writeFileSync(f, elf);
    chmodSync(f, 0o755);
    const r = await run(f, []).catch(() => ({ code: 126, stdout: '', stderr: '' }));
    elf32Native = r.code === 0 && r.stdout.trim().length > 0;
  } finally {
    try {
      unlinkSync(f);
    } catch {
      /* ignore */
    }
  }
  return elf32Native;
}

/** The qemu-user binary for a qemu architecture name, if installed (qemu-user-static). */
export function qemuBinary(qarch: string): string | undefined {
  const dirs = [process.env.COCON_QEMU_DIR, '/usr/bin', '/usr/local/bin'].filter((d): d is string => !!d);
  for (const d of dirs) {
    const p = join(d, `qemu-${qarch}-static`);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** i386 magic/mask (Debian ships no qemu-i386 binfmt entry on amd64, so it lives here). */
const I386_MAGIC = '\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00';
const I386_MASK =
  '\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff';

/**
 * The binfmt_misc registration for qemu-<qarch>-static with the F flag (the interpreter is opened at
 * registration, so it need not exist inside the root). Magic and mask come from Debian's
 * /usr/lib/binfmt.d/qemu-<qarch>.conf when it exists, else from the built-in i386 entry.
 */
export function binfmtRegistration(qarch: string, interpreter: string): string | undefined {
  let magic: string | undefined;
  let mask: string | undefined;
  try {
    const line = readFileSync(`/usr/lib/binfmt.d/qemu-${qarch}.conf`, 'utf8').trim();
    const f = line.split(':');
    // :name:type:offset:magic:mask:interpreter:flags
    if (f.length >= 7 && f[2] === 'M') {
      magic = f[4];
      mask = f[5];
    }
  } catch {
    /* not shipped */
  }
  if (!magic && qarch === 'i386') {
    magic = I386_MAGIC;
    mask = I386_MASK;
  }
  if (!magic) return undefined;
  return `:cocon-qemu-${qarch}:M::${magic}:${mask ?? ''}:${interpreter}:F`;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Copies image layers (top first) into DEST: one layer with cp -a; several through a read-only
 * overlay mount in a private mount namespace, so that whiteouts and opaque directories apply.
 */
export async function copyLayers(layersTopFirst: string[], dest: string): Promise<void> {
  if (layersTopFirst.length === 1) {
    await copyTree(layersTopFirst[0], dest, true);
    return;
  }
  const script =
    'set -eu\nm=$(mktemp -d)\nmount -t overlay -o "ro,lowerdir=$1" cocon-chroot-src "$m"\ncp -a "$m/." "$2/"\numount "$m"\nrmdir "$m"\n';
  await runOk('unshare', [
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    script,
    'sh',
    layersTopFirst.join(':'),
    dest,
  ]);
}
