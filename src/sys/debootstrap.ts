// debootstrap / mmdebstrap and the tarball cache of their results. Roots of the host's
// architecture, bookworm or later, are built by mmdebstrap (mode root) when it is installed (2.3x
// faster for bookworm minbase here, bench/RESULTS.md), otherwise by debootstrap; foreign
// architectures (and i386) and suites before bookworm stay on debootstrap. Either runs inside a
// private mount namespace (unshare -m), so whatever it mounts in the target (proc, sys, devpts) is
// gone when it exits, even when it is interrupted.
// COCON_CHROOT_BUILDER=debootstrap forces debootstrap (benchmarks, comparison).
import { spawn } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decompressor, sniff, zstdCompressor } from './compress.js';
import { extractTarStream } from './tar/extract.js';
import { packTree } from './tar/pack.js';
import { ROOTFS } from './tar/rules.js';
import { spawnInUserns } from './chroot.js';

export const SCRIPTS_DIR = '/usr/share/debootstrap/scripts';

export function debootstrapPath(): string | undefined {
  for (const p of ['/usr/sbin/debootstrap', '/usr/bin/debootstrap', '/sbin/debootstrap']) if (existsSync(p)) return p;
  return undefined;
}

export function mmdebstrapPath(): string | undefined {
  for (const p of ['/usr/bin/mmdebstrap', '/usr/local/bin/mmdebstrap']) if (existsSync(p)) return p;
  return undefined;
}

export type Builder = 'mmdebstrap' | 'debootstrap';

/**
 * Suites mmdebstrap does not build here: releases before bookworm have no usr-is-merged package,
 * so mmdebstrap's merged-/usr hook cannot give them the merged /usr debootstrap gives them (and
 * jessie needs hooks of its own). debootstrap builds them as before.
 */
export const DEBOOTSTRAP_ONLY_SUITES = ['bullseye', 'buster', 'stretch', 'jessie', 'oldoldstable'];

/**
 * Which tool builds a root: mmdebstrap for roots of the host's own architecture (execution mode
 * native) of bookworm or later when it is installed and not overridden
 * (COCON_CHROOT_BUILDER=debootstrap); debootstrap otherwise, and always for other architectures
 * (emulated, and i386 run natively as native32).
 */
export function chooseBuilder(o: {
  native: boolean;
  suite: string;
  haveMmdebstrap: boolean;
  override?: string;
}): Builder {
  if (!o.native || !o.haveMmdebstrap || o.override === 'debootstrap') return 'debootstrap';
  if (DEBOOTSTRAP_ONLY_SUITES.includes(o.suite)) return 'debootstrap';
  return 'mmdebstrap';
}

/** The suite scripts this debootstrap knows (file names in its scripts dir). */
export function debootstrapScripts(): string[] {
  try {
    return readdirSync(SCRIPTS_DIR);
  } catch {
    return [];
  }
}

export interface DebootstrapOpts {
  suite: string;
  script: string; // script name (usually = suite)
  arch: string;
  variant: string; // 'default' = no --variant
  include: string[];
  mirror: string;
  target: string;
  foreign: boolean; // first stage only (foreign architecture)
  onLine?: (line: string) => void;
}

function lineSplitter(onLine: ((l: string) => void) | undefined, sink: string[]): (b: Buffer) => void {
  let buf = '';
  return (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      sink.push(l);
      if (sink.length > 200) sink.shift();
      onLine?.(l);
    }
  };
}

export class DebootstrapError extends Error {}

export const UNSAFE_IO_FILE = 'etc/dpkg/dpkg.cfg.d/cocon-build-unsafe-io';
/** Removes the build-time dpkg setting (the finished root keeps dpkg's safe default). */
export function dropUnsafeIo(target: string): void {
  rmSync(join(target, UNSAFE_IO_FILE), { force: true });
}

/** The error for a failed build: the tool's last E: lines (or its last lines). Pure. */
export function failureMessage(tail: string[], code: number, builder: Builder = 'debootstrap'): string {
  const errs = tail.filter((l) => /^E: |^W: Failure/.test(l));
  const msg = (errs.length ? errs.slice(-3) : tail.slice(-3)).join('; ').trim();
  return `${builder} failed (exit ${code}): ${msg || 'no output'}`;
}

function failure(tail: string[], code: number, builder: Builder = 'debootstrap'): DebootstrapError {
  return new DebootstrapError(failureMessage(tail, code, builder));
}

/** debootstrap's command line (after `unshare --mount --propagation private --`). Pure. */
export function debootstrapArgs(bin: string, o: DebootstrapOpts): string[] {
  const args = [bin, `--arch=${o.arch}`];
  if (o.variant !== 'default') args.push(`--variant=${o.variant}`);
  if (o.include.length) args.push(`--include=${o.include.join(',')}`);
  if (o.foreign) args.push('--foreign');
  args.push(o.suite, o.target, o.mirror);
  if (o.script !== o.suite) args.push(`${SCRIPTS_DIR}/${o.script}`);
  return args;
}

const MM_HOOKS = '/usr/share/mmdebstrap/hooks';

/** debootstrap's variants as mmdebstrap names them ('default' = debootstrap's Priority: important set). */
const MM_VARIANT: Record<string, string> = { minbase: 'minbase', buildd: 'buildd', default: 'debootstrap' };

/**
 * mmdebstrap's command line (after `unshare --mount --propagation private --`) for the root
 * debootstrap would build from the same options. Pure.
 *  - mode root, same variant (minbase = required + apt in both), --include, the one mirror line
 *    (`deb MIRROR SUITE main` in /etc/apt/sources.list, as debootstrap writes it), merged /usr by
 *    mmdebstrap's merged-usr hook (as debootstrap does it).
 *  - the apt lists are kept (cleanup/apt/lists skipped) so the Valid-Until check and the trim after
 *    the build see what they see after debootstrap; apt does not check Valid-Until while building
 *    (debootstrap does not either); the 99mmdebstrap apt.conf that option leaves is removed again.
 *  - force-unsafe-io as UNSAFE_IO_FILE from a setup hook (mmdebstrap wants an empty target), taken
 *    out by dropUnsafeIo() like after debootstrap.
 */
export function mmdebstrapArgs(bin: string, o: DebootstrapOpts): string[] {
  if (o.foreign) throw new Error('mmdebstrapArgs: foreign roots are built by debootstrap');
  const variant = MM_VARIANT[o.variant];
  if (!variant) throw new Error(`mmdebstrapArgs: unknown variant ${o.variant}`);
  const args = [bin, '--mode=root', '--format=directory', `--architectures=${o.arch}`, `--variant=${variant}`];
  if (o.include.length) args.push(`--include=${o.include.join(',')}`);
  // merged /usr the way debootstrap makes it (directory symlinks + usr-is-merged); without the hook
  // apt satisfies init-system-helpers' "usrmerge | usr-is-merged" with usrmerge, which pulls in perl
  args.push(`--hook-dir=${MM_HOOKS}/merged-usr`);
  args.push(
    '--aptopt=Acquire::Check-Valid-Until "false"',
    '--skip=cleanup/apt/lists',
    `--setup-hook=mkdir -p "$1/etc/dpkg/dpkg.cfg.d" && printf 'force-unsafe-io\\n' > "$1/${UNSAFE_IO_FILE}"`,
    '--customize-hook=rm -f "$1/etc/apt/apt.conf.d/99mmdebstrap"',
  );
  args.push(o.suite, o.target, o.mirror);
  return args;
}

/**
 * Builds a root with `builder` (debootstrap: first stage only when foreign); throws DebootstrapError
 * with the tool's E: lines.
 */
export async function debootstrap(
  o: DebootstrapOpts,
  signal?: AbortSignal,
  builder: Builder = 'debootstrap',
): Promise<void> {
  let tool: string[];
  if (builder === 'mmdebstrap') {
    const bin = mmdebstrapPath();
    if (!bin) throw new DebootstrapError('mmdebstrap is not installed (apt-get install mmdebstrap)');
    tool = mmdebstrapArgs(bin, o);
  } else {
    const bin = debootstrapPath();
    if (!bin) throw new DebootstrapError('debootstrap is not installed (apt-get install debootstrap)');
    tool = debootstrapArgs(bin, o);
    // dpkg inside the target reads its config from the target: without fsync per file the unpack is
    // far faster on a busy disk (a half-built root is thrown away anyway). Removed by dropUnsafeIo().
    mkdirSync(join(o.target, 'etc/dpkg/dpkg.cfg.d'), { recursive: true, mode: 0o755 });
    writeFileSync(join(o.target, UNSAFE_IO_FILE), 'force-unsafe-io\n', { mode: 0o644 });
  }
  const tail: string[] = [];
  // --pdeathsig: the builder dies with cocon (no orphan keeps writing into a root being removed)
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'SIGKILL', 'unshare', '--mount', '--propagation', 'private', '--', ...tool],
    { stdio: ['ignore', 'pipe', 'pipe'], signal },
  );
  const split = lineSplitter(o.onLine, tail);
  child.stdout!.on('data', split);
  child.stderr!.on('data', split);
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(1));
    child.on('close', (c, s) => resolve(c ?? (s ? 130 : 1)));
  });
  if (code !== 0) throw failure(tail, code, builder);
}

/**
 * debootstrap's second stage for a foreign-architecture root, run through qemu-user registered in a
 * private binfmt_misc (user + mount + pid namespace). `container=lxc` keeps debootstrap from its
 * mknod sanity check, which a user namespace refuses.
 */
export async function secondStage(target: string, binfmt: string, onLine?: (l: string) => void): Promise<void> {
  const { child, exited } = spawnInUserns(
    'exec env container=lxc chroot "$1" /debootstrap/debootstrap --second-stage',
    [target],
    { binfmt, pidns: true },
  );
  const tail: string[] = [];
  const split = lineSplitter(onLine, tail);
  child.stdout!.on('data', split);
  child.stderr!.on('data', split);
  const code = await exited;
  if (code !== 0) throw failure(tail, code);
}

/**
 * Packs a root into a tarball (zstd when the host has it) with the one tar codec: numeric owners,
 * modes, mtimes, hard links, device nodes and every xattr byte for byte (security.capability of
 * ping); names './x' as `tar -C root .` writes them. Sparse files are stored whole (as GNU tar without -S).
 */
export async function packRoot(root: string, outFile: string): Promise<void> {
  const tar = packTree(root, { xattrs: true, rootEntry: true, dotNames: true });
  const out = createWriteStream(outFile, { flags: 'wx', mode: 0o600 });
  if (existsSync('/usr/bin/zstd')) await pipeline(tar, zstdCompressor(), out);
  else await pipeline(tar, out);
}

/**
 * Extracts a root tarball (one packRoot made, or the admin's own: plain, gzip, bzip2, xz or zstd)
 * into an existing directory with the codec's ROOTFS rules (owners, modes, devices, hard links, xattrs
 * kept; nothing lands outside the directory).
 */
export async function unpackRoot(file: string, root: string): Promise<void> {
  const head = Buffer.alloc(6);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 6, 0);
  } finally {
    closeSync(fd);
  }
  const src = createReadStream(file);
  const plain = decompressor(sniff(head));
  src.on('error', (e) => plain.destroy(e));
  src.pipe(plain);
  try {
    await extractTarStream(plain, root, ROOTFS);
  } finally {
    src.destroy();
    plain.destroy();
  }
}
