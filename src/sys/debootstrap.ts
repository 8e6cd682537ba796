// debootstrap and the tarball cache of its results. debootstrap runs inside a private mount
// namespace (unshare -m), so whatever it mounts in the target (proc, sys, devpts) is gone when it
// exits, even when it is interrupted.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { spawnInUserns } from './chroot.js';

export const SCRIPTS_DIR = '/usr/share/debootstrap/scripts';

export function debootstrapPath(): string | undefined {
  for (const p of ['/usr/sbin/debootstrap', '/usr/bin/debootstrap', '/sbin/debootstrap']) if (existsSync(p)) return p;
  return undefined;
}

/** The suite scripts this debootstrap knows (file names in its scripts dir). */
export function debootstrapScripts(): string[] {
  try { return readdirSync(SCRIPTS_DIR); } catch { return []; }
}

export interface DebootstrapOpts {
  suite: string;
  script: string;                // script name (usually = suite)
  arch: string;
  variant: string;               // 'default' = no --variant
  include: string[];
  mirror: string;
  target: string;
  foreign: boolean;              // first stage only (foreign architecture)
  onLine?: (line: string) => void;
}

function lineSplitter(onLine: ((l: string) => void) | undefined, sink: string[]): (b: Buffer) => void {
  let buf = '';
  return (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i); buf = buf.slice(i + 1);
      sink.push(l); if (sink.length > 200) sink.shift();
      onLine?.(l);
    }
  };
}

export class DebootstrapError extends Error {}

export const UNSAFE_IO_FILE = 'etc/dpkg/dpkg.cfg.d/cocon-build-unsafe-io';
/** Removes the build-time dpkg setting (the finished root keeps dpkg's safe default). */
export function dropUnsafeIo(target: string): void { rmSync(join(target, UNSAFE_IO_FILE), { force: true }); }

function failure(tail: string[], code: number): DebootstrapError {
  const errs = tail.filter((l) => /^E: |^W: Failure/.test(l));
  const msg = (errs.length ? errs.slice(-3) : tail.slice(-3)).join('; ').trim();
  return new DebootstrapError(`debootstrap failed (exit ${code}): ${msg || 'no output'}`);
}

/** Runs debootstrap (first stage only when foreign); throws DebootstrapError with its E: lines. */
export async function debootstrap(o: DebootstrapOpts, signal?: AbortSignal): Promise<void> {
  const bin = debootstrapPath();
  if (!bin) throw new DebootstrapError('debootstrap is not installed (apt-get install debootstrap)');
  const args = ['--mount', '--propagation', 'private', '--', bin, `--arch=${o.arch}`];
  if (o.variant !== 'default') args.push(`--variant=${o.variant}`);
  if (o.include.length) args.push(`--include=${o.include.join(',')}`);
  if (o.foreign) args.push('--foreign');
  args.push(o.suite, o.target, o.mirror);
  if (o.script !== o.suite) args.push(`${SCRIPTS_DIR}/${o.script}`);
  // dpkg inside the target reads its config from the target: without fsync per file the unpack is
  // far faster on a busy disk (a half-built root is thrown away anyway). Removed by dropUnsafeIo().
  mkdirSync(join(o.target, 'etc/dpkg/dpkg.cfg.d'), { recursive: true, mode: 0o755 });
  writeFileSync(join(o.target, UNSAFE_IO_FILE), 'force-unsafe-io\n', { mode: 0o644 });
  const tail: string[] = [];
  // --pdeathsig: debootstrap dies with cocon (no orphan keeps writing into a root being removed)
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', 'unshare', ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal });
  const split = lineSplitter(o.onLine, tail);
  child.stdout!.on('data', split); child.stderr!.on('data', split);
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(1));
    child.on('close', (c, s) => resolve(c ?? (s ? 130 : 1)));
  });
  if (code !== 0) throw failure(tail, code);
}

/**
 * debootstrap's second stage for a foreign-architecture root, run through qemu-user registered in a
 * private binfmt_misc (user + mount + pid namespace). `container=lxc` keeps debootstrap from its
 * mknod sanity check, which a user namespace refuses.
 */
export async function secondStage(target: string, binfmt: string, onLine?: (l: string) => void): Promise<void> {
  const { child, exited } = spawnInUserns('exec env container=lxc chroot "$1" /debootstrap/debootstrap --second-stage', [target],
    { binfmt, pidns: true });
  const tail: string[] = [];
  const split = lineSplitter(onLine, tail);
  child.stdout!.on('data', split); child.stderr!.on('data', split);
  const code = await exited;
  if (code !== 0) throw failure(tail, code);
}

/** Packs a root into a zstd tarball (numeric owners, xattrs). */
export async function packRoot(root: string, outFile: string): Promise<void> {
  const comp = existsSync('/usr/bin/zstd') ? ['-I', 'zstd -T0 -3'] : [];
  const r = await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', ...comp, '-C', root, '-cf', outFile, '.']);
  if (r.code !== 0) throw new Error(`tar: ${r.stderr.trim()}`);
}

/** Extracts a tarball made by packRoot into an existing directory. */
export async function unpackRoot(file: string, root: string): Promise<void> {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try { readSync(fd, head, 0, 4, 0); } finally { closeSync(fd); }
  const comp = head.readUInt32LE(0) === 0xfd2fb528 ? ['-I', 'zstd -T0'] : [];
  const r = await run('tar', ['--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*', ...comp,
    '-C', root, '-xf', file]);
  if (r.code !== 0) throw new Error(`tar: ${r.stderr.trim()}`);
}
