// Chroot environments and jails: the room's entry module and its contract.
//
// A chroot is only a change of root directory. Its processes are ordinary host processes (the
// host's ps shows them), share the host's kernel, network, process table and memory, have no
// resource limits, and a root user inside can break out. cocon manages roots for the uses where
// that is enough (a development system with other library versions, unstable Debian, a 32-bit or
// foreign-architecture userland, a one-program jail) and says so; anything that needs isolation
// is a container.
//
// Decisions
//  - CLI only for root: `cocon chroot ...` works without a running daemon, as root. Users listed
//    in a record (--users/--groups) enter through the daemon's chroot gate (./gate.ts), which uses
//    this same manager. Sessions (throwaway overlays, named sessions) are ./session.ts; what a run
//    mounts and copies in comes from a profile (./profile.ts). State lives
//    under <data-root>/chroots (default /var/lib/cocon; `--data-root` or COCON_DATA_ROOT), one
//    directory per chroot holding `root/` and `chroot.json` (a JSON record written to a temp file
//    and renamed). mkdir of the chroot's directory is the name lock. See ./store.ts.
//    Only `--from-image` and `commit` talk to the daemon (image root filesystems and image import).
//  - Debian roots come from debootstrap (default variant minbase) inside a private mount
//    namespace; roots of the host's architecture from mmdebstrap instead (mode root; same variant,
//    includes, mirror line and resulting root) when it is installed, several times faster
//    (../sys/debootstrap.ts). inspect's Builder names the tool (for a root from the cache: the one
//    that built the cache entry). The first build of a suite/arch/variant/include/mirror is
//    trimmed (downloaded .debs and apt lists removed: run `apt-get update` before installing) and
//    packed into .cache/<key>.tar.zst; the next create of the same key extracts it (seconds, not a minute).
//    `--no-cache` builds afresh and replaces the cached tarball; `chroot cache [--prune]` lists and
//    drops entries. While building, dpkg runs with force-unsafe-io (no fsync per file: a half-built
//    root is thrown away anyway), and the builder gets PDEATHSIG=KILL (setpriv), so a killed cocon
//    leaves no writer behind; a failed or interrupted create removes everything it made.
//  - Foreign architectures: a root whose arch the kernel cannot run natively runs through
//    qemu-user-static, registered (flag F) in a private binfmt_misc instance inside a user
//    namespace that maps uids 0..65535 onto themselves; the host's binfmt registrations are never
//    touched. i386 on amd64 runs natively under the i686 personality (setarch) when the kernel
//    executes 32-bit ELF, which cocon probes with a tiny static ELF32; on kernels that answer
//    ENOEXEC (the reference machine kind, a PVM guest) it is emulated (COCON_CHROOT_EMULATE=1
//    forces that path). Emulation needs Linux 6.7+ (binfmt_misc in a user namespace). A foreign
//    debootstrap runs its second stage under emulation (user+mount+pid namespace, container=lxc).
//    `inspect` says native, native32, emulated or unavailable, and why.
//  - Entering a root: `unshare --mount --propagation private` (plus `--user` when emulated) runs a
//    small sh script that mounts /proc, /sys, a tmpfs /dev with the standard nodes, the host's
//    /dev/pts (so the caller's terminal keeps its name inside), a tmpfs /dev/shm and the --bind
//    mounts, then execs `unshare --root --wd [--setuid]` (after setpriv for gid/groups and
//    no-new-privs) with a clean environment. No fork: the spawned pid is the command, its exit
//    status is passed through, stdio is inherited (ctrl-c reaches it), and the mounts, which exist
//    only in that private mount namespace, vanish when its last process exits, even on SIGKILL.
//    Nothing is mounted in the host's namespace, so `rm` never walks into a bind mount.
//    resolv.conf and hosts are copied in before each run (not into jails). Paths inside a root
//    (mount points, --bind targets, --copy destinations, --workdir) are resolved with the root's
//    symlinks taken relative to the root (existingInRoot), never leading outside. A failing setup
//    step exits 125 with its name; the command's own 126/127 come from exec.
//  - Jails: a root with one program, the shared libraries ldd lists (copied to the same paths),
//    the files given with --copy, /etc/passwd+group (root and the jail user), /dev/null, /dev/zero,
//    /dev/urandom (mknod), /tmp. `run` on a jail mounts nothing (binds excepted), and drops to the
//    jail user with no-new-privs and only the user's group.
//  - `--from-image`: the image's layer directories (GET /images/{name}/json GraphDriver: UpperDir is
//    the top layer, LowerDir the others top-first) are read from the local daemon's data root: one
//    layer is copied with cp -a; several are merged by a read-only overlay mount (so whiteouts
//    apply) in a private mount namespace and copied from there.
//  - `export` writes the root as a tar to stdout; `commit NAME IMAGE` streams that tar to
//    POST /images/create?fromSrc=- (docker import), so a chroot that outgrows itself becomes an image.
//
// Every command but ls/inspect/cache needs root. Lifecycle: create | createFromImage | jail ->
// run / shell (any number, concurrently) -> export / commit -> rm. Errors are core errors (../core/errors.ts): InvalidArgument for bad input (checked before
// anything is written), NotFound, Conflict (name in use, root busy), Unavailable (missing tools,
// an architecture this host cannot run), Internal (debootstrap or a copy failed; nothing is left).
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  readdirSync,
  chmodSync,
  accessSync,
  renameSync,
  rmSync,
  constants as fsc,
} from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { release } from 'node:os';
import { Conflict, EngineError, Internal, InvalidArgument, NotFound, Unavailable } from '../core/errors.js';
import { ChrootStore, type ChrootRecord } from './store.js';
import {
  ARCHES,
  archOfMachine,
  cacheKey,
  chrootUser,
  cleanInnerPath,
  debianArch,
  parseBind,
  parseElfHeader,
  parseInclude,
  parseLdd,
  tinyElf32Uname,
  validateArch,
  validateMirror,
  validateName,
  validateSuite,
  validateVariant,
  type BindSpec,
} from './validate.js';
import { parseGroup, parsePasswd, type ResolvedUser } from '../core/users.js';
import {
  binfmtRegistration,
  copyTree,
  diskUsage,
  isDirectory,
  kernelRunsElf32,
  killProcessesInRoot,
  lddOutput,
  mknod,
  mountsUnderAnywhere,
  processesInRoot,
  qemuBinary,
  readHead,
  removeTree,
  spawnInRoot,
  copyLayers,
  type ExecMode,
  type RunBind,
  type RunPlan,
  type SpawnedRoot,
} from '../sys/chroot.js';
import { existingInRoot } from '../sys/rootpath.js';
import { packTree } from '../sys/tar/pack.js';
import { BaseView, type RootView } from '../sys/rootview.js';
import { SessionManager } from './session.js';
import {
  BUILTIN_PROFILES,
  accountLinesFor,
  builtinProfile,
  isProfilePath,
  mergeAccounts,
  parseProfile,
  type Profile,
} from './profile.js';
import {
  chooseBuilder,
  debootstrap,
  debootstrapPath,
  dropUnsafeIo,
  debootstrapScripts,
  mmdebstrapPath,
  packRoot,
  secondStage,
  unpackRoot,
  DebootstrapError,
  type Builder,
} from '../sys/debootstrap.js';

export type { ChrootRecord } from './store.js';

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface CreateOpts {
  name: string;
  suite: string;
  arch?: string;
  variant?: string;
  include?: string[];
  mirror?: string;
  noCache?: boolean;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

export interface ImageSource {
  image: string;
  id: string;
  arch: string;
  layersTopFirst: string[];
}

export interface JailOpts {
  name: string;
  program: string;
  copies?: string[]; // SRC[:DEST]
  user?: string; // NAME | NAME:UID[:GID] | UID[:GID]; default "jail"
}

export interface RunOpts {
  argv: string[]; // empty: the record's default (jail program / login shell)
  user?: string;
  workdir?: string;
  binds?: string[];
  env?: Record<string, string>;
  shell?: boolean;
  stdio?: 'inherit' | 'pipe' | 'ignore';
  /** default | minimal | a profile file (see ./profile.ts). */
  profile?: string;
  /** workdir came from --cwd (the caller's directory): only changes the error message. */
  cwd?: boolean;
  /** Run with no-new-privs (always for jails; for users entering through the daemon). */
  noNewPrivs?: boolean;
}

export interface ExecInfo {
  mode: ExecMode | 'unavailable';
  reason: string;
  interpreter?: string;
  binfmt?: string;
}

export interface ChrootSummary extends ChrootRecord {
  path: string;
  size: number;
}

/** The chroot manager over one data root. */
export class ChrootManager {
  readonly store: ChrootStore;
  readonly sessions: SessionManager;
  constructor(readonly dataRoot: string) {
    this.store = new ChrootStore(dataRoot);
    this.sessions = new SessionManager(this);
  }

  /** How programs of `arch` run on this host (native, native32 under setarch i686, emulated, or not at all). */
  async execInfo(arch: string): Promise<ExecInfo> {
    const host = debianArch(process.arch);
    if (arch === host) return { mode: 'native', reason: `${arch} is the host's architecture` };
    const a = ARCHES[arch];
    if (!a) return { mode: 'unavailable', reason: `unknown architecture ${arch}` };
    let why: string;
    if (arch === 'i386' && host === 'amd64') {
      // COCON_CHROOT_EMULATE=1 takes the emulation path even where the kernel runs 32-bit code (tests, debugging)
      if (process.env.COCON_CHROOT_EMULATE !== '1' && (await kernelRunsElf32(tinyElf32Uname()))) {
        return {
          mode: 'native32',
          reason: 'the kernel runs 32-bit x86 programs; they run natively under the i686 personality (setarch i686)',
        };
      }
      why =
        process.env.COCON_CHROOT_EMULATE === '1'
          ? 'COCON_CHROOT_EMULATE=1 asks for emulation'
          : 'this kernel answers "Exec format error" to every 32-bit ELF (IA32 emulation unavailable)';
    } else why = `the kernel cannot run ${arch} programs`;
    const qemu = qemuBinary(a.qemu);
    if (!qemu)
      return {
        mode: 'unavailable',
        reason: `${why}, and qemu-${a.qemu}-static is missing (apt-get install qemu-user-static)`,
      };
    const [maj, min] = release()
      .split('.')
      .map((x) => parseInt(x, 10));
    if (!(maj > 6 || (maj === 6 && min >= 7))) {
      return {
        mode: 'unavailable',
        reason: `${why}, and kernel ${release()} has no binfmt_misc for user namespaces (Linux 6.7 or later), which cocon needs to register qemu without touching the host's registrations`,
      };
    }
    const binfmt = binfmtRegistration(a.qemu, qemu);
    if (!binfmt) return { mode: 'unavailable', reason: `${why}, and there is no binfmt_misc entry for qemu-${a.qemu}` };
    return {
      mode: 'emulated',
      interpreter: qemu,
      binfmt,
      reason: `${why}; programs run through ${qemu} registered in a private binfmt_misc (user namespace), the host's registrations untouched`,
    };
  }

  // ---- create ---------------------------------------------------------------------------------

  /** Builds a Debian root with debootstrap, or from the cache. Throws InvalidArgument before writing anything. */
  async create(o: CreateOpts): Promise<ChrootRecord> {
    validateName(o.name);
    if (!debootstrapPath()) throw new Unavailable('debootstrap is not installed (apt-get install debootstrap)');
    const script = validateSuite(o.suite, debootstrapScripts());
    const arch = validateArch(o.arch ?? debianArch(process.arch));
    const variant = validateVariant(o.variant ?? 'minbase');
    const include = parseInclude(o.include ?? []);
    const mirror = validateMirror(o.mirror ?? DEFAULT_MIRROR);
    const exec = await this.execInfo(arch);
    if (exec.mode === 'unavailable') throw new Unavailable(`cannot build an ${arch} root here: ${exec.reason}`);
    const key = cacheKey({ suite: o.suite, arch, variant, include, mirror });
    const started = Date.now();
    this.store.claim(o.name);
    const rec: ChrootRecord = {
      name: o.name,
      kind: 'debootstrap',
      state: 'creating',
      created: new Date().toISOString(),
      arch,
      suite: o.suite,
      variant,
      include,
      mirror,
      cacheKey: key,
      notes: [],
    };
    const root = this.store.rootDir(o.name);
    try {
      this.store.write(rec);
      mkdirSync(root, { mode: 0o755 });
      const tar = this.store.cacheTar(key);
      if (!o.noCache && existsSync(tar)) {
        o.progress?.(`I: Extracting the cached ${o.suite}/${arch} (${variant}) root`);
        await unpackRoot(tar, root);
        rec.fromCache = true;
        const meta = this.readCacheMeta(key);
        if (meta?.notes) rec.notes = meta.notes;
        if (meta?.builder) rec.builder = meta.builder;
      } else {
        const foreign = exec.mode === 'emulated';
        const builder = chooseBuilder({
          native: exec.mode === 'native',
          suite: o.suite,
          haveMmdebstrap: !!mmdebstrapPath(),
          override: process.env.COCON_CHROOT_BUILDER,
        });
        rec.builder = builder;
        o.progress?.(`I: Building the ${o.suite}/${arch} (${variant}) root with ${builder}`);
        await debootstrap(
          { suite: o.suite, script, arch, variant, include, mirror, target: root, foreign, onLine: o.progress },
          o.signal,
          builder,
        );
        if (foreign) {
          o.progress?.(`I: Second stage through ${exec.interpreter} (emulated; this takes minutes)`);
          await secondStage(root, exec.binfmt!, o.progress);
        }
        dropUnsafeIo(root);
        rec.notes = this.finishDebianRoot(root, o.suite);
        o.progress?.('I: Caching the root for the next create');
        const tmp = `${tar}.tmp-${process.pid}`;
        await packRoot(root, tmp);
        renameSync(tmp, tar);
        writeFileSync(
          this.store.cacheMeta(key),
          JSON.stringify(
            {
              suite: o.suite,
              arch,
              variant,
              include,
              mirror,
              builder: rec.builder,
              created: new Date().toISOString(),
              notes: rec.notes,
            },
            null,
            2,
          ) + '\n',
        );
        rec.fromCache = false;
      }
      if (o.signal?.aborted) throw new Internal('interrupted');
      try {
        writeFileSync(join(root, 'etc/debian_chroot'), `${o.name}\n`);
      } catch {
        /* no /etc */
      }
      rec.state = 'ready';
      rec.buildSeconds = Math.round((Date.now() - started) / 100) / 10;
      this.store.write(rec);
      return rec;
    } catch (e) {
      await this.discard(o.name);
      if (o.signal?.aborted) throw new Internal(`create ${o.name}: interrupted; nothing was kept`);
      if (e instanceof DebootstrapError) throw new Internal(e.message);
      throw e;
    }
  }

  private readCacheMeta(key: string): { notes?: string[]; builder?: Builder } | undefined {
    try {
      return JSON.parse(readFileSync(this.store.cacheMeta(key), 'utf8')) as { notes?: string[]; builder?: Builder };
    } catch {
      return undefined;
    }
  }

  /** After debootstrap: /etc/hosts, the Valid-Until workaround where the mirror's Release expired, trim. */
  private finishDebianRoot(root: string, suite: string): string[] {
    const notes: string[] = [];
    const lists = join(root, 'var/lib/apt/lists');
    let files: string[] = [];
    try {
      files = readdirSync(lists);
    } catch {
      /* none */
    }
    for (const f of files.filter((x) => x.endsWith('_Release') || x.endsWith('_InRelease'))) {
      const m = /^Valid-Until:\s*(.+)$/m.exec(readFileSync(join(lists, f), 'utf8'));
      if (m && Date.parse(m[1]) < Date.now()) {
        mkdirSync(join(root, 'etc/apt/apt.conf.d'), { recursive: true });
        writeFileSync(
          join(root, 'etc/apt/apt.conf.d/99cocon-no-check-valid-until'),
          `// Written by cocon: the mirror's ${suite} Release file expired (Valid-Until: ${m[1]}) when this root was built.\nAcquire::Check-Valid-Until "false";\n`,
        );
        notes.push(`apt ignores Valid-Until: the mirror's ${suite} Release had expired (${m[1]})`);
        break;
      }
    }
    const hosts = join(root, 'etc/hosts');
    if (!existsSync(hosts)) writeFileSync(hosts, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    // trim like Debian's docker images: no downloaded .debs, no apt lists (apt-get update first)
    for (const f of files)
      if (f !== 'partial' && f !== 'lock') {
        try {
          removeSync(join(lists, f));
        } catch {
          /* ignore */
        }
      }
    const debs = join(root, 'var/cache/apt/archives');
    try {
      for (const f of readdirSync(debs)) if (f.endsWith('.deb')) removeSync(join(debs, f));
    } catch {
      /* none */
    }
    return notes;
  }

  /** Makes a chroot from an image's root filesystem (layer directories of the local daemon). */
  async createFromImage(name: string, src: ImageSource): Promise<ChrootRecord> {
    validateName(name);
    if (!src.layersTopFirst.length) throw new InvalidArgument(`image ${src.image} has no layers`);
    for (const d of src.layersTopFirst) {
      if (!isDirectory(d))
        throw new Unavailable(`layer directory ${d} of image ${src.image} is not on this host (is the daemon local?)`);
    }
    const started = Date.now();
    this.store.claim(name);
    const rec: ChrootRecord = {
      name,
      kind: 'image',
      state: 'creating',
      created: new Date().toISOString(),
      arch: debianArch(src.arch || process.arch),
      image: src.image,
      imageId: src.id,
    };
    return this.populate(rec, started, (root) => copyLayers(src.layersTopFirst, root), `copying image ${src.image}`);
  }

  /**
   * Makes a chroot from a root filesystem tarball (plain, gzip, xz or zstd): an exported chroot, an
   * mmdebstrap tarball, a minimal root. The archive is the admin's own, trusted like debootstrap.
   */
  async createFromTar(name: string, file: string): Promise<ChrootRecord> {
    validateName(name);
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new InvalidArgument(`--from-tar: ${file} does not exist`);
    }
    if (!st.isFile()) throw new InvalidArgument(`--from-tar: ${file} is not a file`);
    const started = Date.now();
    this.store.claim(name);
    const rec: ChrootRecord = {
      name,
      kind: 'tar',
      state: 'creating',
      created: new Date().toISOString(),
      arch: debianArch(process.arch),
      tarball: file,
    };
    return this.populate(rec, started, (root) => unpackRoot(file, root), `unpacking ${file}`);
  }

  /**
   * Fills a claimed chroot's root with `fill` and marks it ready; on failure the half-made chroot is
   * discarded and the error says `what` was being done.
   */
  private async populate(
    rec: ChrootRecord,
    started: number,
    fill: (root: string) => Promise<void>,
    what: string,
  ): Promise<ChrootRecord> {
    const root = this.store.rootDir(rec.name);
    try {
      this.store.write(rec);
      mkdirSync(root, { mode: 0o755 });
      await fill(root);
      chmodSync(root, 0o755);
      rec.state = 'ready';
      rec.buildSeconds = Math.round((Date.now() - started) / 100) / 10;
      this.store.write(rec);
      return rec;
    } catch (e) {
      await this.discard(rec.name);
      if (e instanceof EngineError) throw e;
      throw new Internal(`${what}: ${(e as Error).message}`);
    }
  }

  /** Builds a one-program jail. */
  async jail(o: JailOpts): Promise<ChrootRecord> {
    validateName(o.name);
    const program = cleanInnerPath(o.program, '--program');
    let st;
    try {
      st = statSync(program);
    } catch {
      throw new InvalidArgument(`program ${o.program} not found on the host`);
    }
    if (!st.isFile()) throw new InvalidArgument(`program ${o.program} is not a regular file`);
    try {
      accessSync(program, fsc.X_OK);
    } catch {
      throw new InvalidArgument(`program ${o.program} is not executable`);
    }
    const elf = parseElfHeader(readHead(program));
    if (!elf)
      throw new InvalidArgument(
        `program ${o.program} is not an ELF executable (scripts need their interpreter: jail the interpreter and --copy the script)`,
      );
    const copies = (o.copies ?? []).map((c) => {
      const i = c.indexOf(':');
      const srcPath = i < 0 ? c : c.slice(0, i);
      const dest = i < 0 ? c : c.slice(i + 1);
      if (!srcPath.startsWith('/')) throw new InvalidArgument(`--copy "${c}": the host path must be absolute`);
      if (!existsSync(srcPath)) throw new InvalidArgument(`--copy "${c}": ${srcPath} does not exist`);
      return { src: srcPath, dest: cleanInnerPath(dest, '--copy destination') };
    });
    const user = jailUser(o.user ?? 'jail', readText('/etc/passwd'), readText('/etc/group'));
    const ldd = parseLdd(await lddOutput(program));
    if (ldd.missing.length)
      throw new InvalidArgument(
        `program ${o.program} needs libraries that are not on this host: ${ldd.missing.join(', ')}`,
      );
    const started = Date.now();
    this.store.claim(o.name);
    const rec: ChrootRecord = {
      name: o.name,
      kind: 'jail',
      state: 'creating',
      created: new Date().toISOString(),
      arch: archOfMachine(elf.machine, elf.elfClass) ?? debianArch(process.arch),
      program,
      user,
      copies: copies.map((c) => `${c.src}:${c.dest}`),
    };
    const root = this.store.rootDir(o.name);
    try {
      this.store.write(rec);
      mkdirSync(root, { mode: 0o755 });
      // the jail's own files first, then the program and its libraries, then --copy (last, through existingInRoot)
      for (const d of ['etc', 'dev', 'tmp']) mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
      chmodSync(join(root, 'tmp'), 0o1777);
      writeFileSync(
        join(root, 'etc/passwd'),
        `root:x:0:0:root:/:/nonexistent\n${user.name}:x:${user.uid}:${user.gid}:jail user:/:/nonexistent\n`,
        { mode: 0o644 },
      );
      writeFileSync(join(root, 'etc/group'), `root:x:0:\n${user.name}:x:${user.gid}:\n`, { mode: 0o644 });
      writeFileSync(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n', {
        mode: 0o644,
      });
      for (const [n, maj, min] of [
        ['null', 1, 3],
        ['zero', 1, 5],
        ['urandom', 1, 9],
      ] as const)
        await mknod(join(root, 'dev', n), 'c', maj, min, 0o666);
      for (const f of [program, ...ldd.paths]) await copyFileInto(root, f, f);
      for (const c of copies) {
        // through existingInRoot: a symlink copied in earlier must not lead a later copy outside the jail
        const dest =
          existingInRoot(root, c.dest) ?? join(existingInRoot(root, dirname(c.dest), 'dir')!, basename(c.dest));
        await copyTree(c.src, dest, false, true);
      }
      rec.state = 'ready';
      rec.buildSeconds = Math.round((Date.now() - started) / 100) / 10;
      this.store.write(rec);
      return rec;
    } catch (e) {
      await this.discard(o.name);
      if (e instanceof EngineError) throw e;
      throw new Internal(`building jail ${o.name}: ${(e as Error).message}`);
    }
  }

  /** Removes a half-made chroot (its processes first). */
  private async discard(name: string): Promise<void> {
    const dir = this.store.chrootDir(name);
    try {
      await killProcessesInRoot(this.store.rootDir(name));
    } catch {
      /* ignore */
    }
    try {
      await removeTree(dir);
    } catch {
      /* best effort */
    }
  }

  // ---- query ----------------------------------------------------------------------------------

  async list(withSize = true): Promise<ChrootSummary[]> {
    const out: ChrootSummary[] = [];
    for (const r of this.store.list()) {
      const path = this.store.rootDir(r.name);
      out.push({ ...r, path, size: withSize ? await diskUsage(path) : 0 });
    }
    return out;
  }

  async inspect(name: string): Promise<Record<string, unknown>> {
    const r = this.store.get(name);
    const root = this.store.rootDir(name);
    const exec = await this.execInfo(r.arch);
    const osRelease = readText(existingInRoot(root, '/etc/os-release') ?? '');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1];
    const debianVersion = readText(existingInRoot(root, '/etc/debian_version') ?? '').trim() || undefined;
    const pids = processesInRoot(root);
    return {
      Name: r.name,
      Kind: r.kind,
      State: r.state,
      Created: r.created,
      Path: root,
      Size: await diskUsage(root),
      Architecture: r.arch,
      Execution: {
        Mode: exec.mode,
        Reason: exec.reason,
        ...(exec.interpreter ? { Interpreter: exec.interpreter } : {}),
      },
      ...(r.kind === 'debootstrap'
        ? {
            Suite: r.suite,
            Variant: r.variant,
            Include: r.include,
            Mirror: r.mirror,
            FromCache: r.fromCache ?? false,
            CacheKey: r.cacheKey,
            Builder: r.builder ?? null,
          }
        : {}),
      ...(r.kind === 'image' ? { Image: r.image, ImageId: r.imageId } : {}),
      ...(r.kind === 'jail' ? { Program: r.program, User: r.user, Copies: r.copies } : {}),
      ...(r.kind === 'tar' ? { Tarball: r.tarball } : {}),
      Profile: r.profile ?? 'default',
      Users: r.users ?? [],
      Groups: r.groups ?? [],
      Sessions: this.sessions.of(name).map((x) => x.id),
      OS: pretty ?? null,
      DebianVersion: debianVersion ?? null,
      BuildSeconds: r.buildSeconds ?? null,
      Processes: pids,
      Notes: r.notes ?? [],
    };
  }

  // ---- cache ----------------------------------------------------------------------------------

  /** The cached debootstrap results: key, what they hold, size and date. */
  cacheEntries(): {
    key: string;
    suite?: string;
    arch?: string;
    variant?: string;
    include?: string[];
    created?: string;
    size: number;
  }[] {
    let files: string[] = [];
    try {
      files = readdirSync(this.store.cacheDir);
    } catch {
      return [];
    }
    return files
      .filter((f) => f.endsWith('.tar.zst'))
      .map((f) => {
        const key = f.slice(0, -'.tar.zst'.length);
        let meta: Record<string, unknown> = {};
        try {
          meta = JSON.parse(readFileSync(this.store.cacheMeta(key), 'utf8')) as Record<string, unknown>;
        } catch {
          /* none */
        }
        return { key, ...(meta as object), size: statSync(this.store.cacheTar(key)).size };
      });
  }

  /** Removes cached debootstrap results (all, or those whose key starts with one of `prefixes`); returns the keys. */
  pruneCache(prefixes: string[] = []): string[] {
    const removed: string[] = [];
    for (const e of this.cacheEntries()) {
      if (prefixes.length && !prefixes.some((p) => e.key.startsWith(p))) continue;
      rmSync(this.store.cacheTar(e.key), { force: true });
      rmSync(this.store.cacheMeta(e.key), { force: true });
      removed.push(e.key);
    }
    return removed;
  }

  // ---- remove ---------------------------------------------------------------------------------

  /** Removes a chroot. Processes inside -> Conflict unless force (then they are SIGKILLed). */
  async rm(name: string, force = false): Promise<void> {
    validateName(name);
    if (!this.store.exists(name)) throw new NotFound(`no such chroot: ${name}`);
    const dir = this.store.chrootDir(name);
    const root = this.store.rootDir(name);
    await this.sessions.recover();
    const sessions = this.sessions.of(name);
    if (sessions.length && !force)
      throw new Conflict(
        `chroot ${name} has session(s) ${sessions.map((x) => x.id).join(', ')} (end them, or use --force)`,
      );
    await this.sessions.endAllOf(name);
    const pids = processesInRoot(root);
    if (pids.length && !force)
      throw new Conflict(`chroot ${name} is in use by process(es) ${pids.join(', ')} (use --force to kill them)`);
    if (pids.length) await killProcessesInRoot(root);
    const { mountsUnder, unmount } = await import('../sys/mount.js');
    for (const m of mountsUnder(dir)) await unmount(m);
    if (mountsUnder(dir).length) throw new Conflict(`chroot ${name} still has mounts: ${mountsUnder(dir).join(', ')}`);
    await removeTree(dir);
  }

  // ---- run ------------------------------------------------------------------------------------

  /** Starts a command in the chroot; resolves once it is spawned. */
  async start(name: string, o: RunOpts): Promise<SpawnedRoot> {
    const r = this.readyRecord(name);
    const root = this.store.rootDir(name);
    const { plan, argv } = await this.prepare(r, o, { view: new BaseView(root), setup: true });
    return spawnInRoot(plan, argv, o.stdio ?? 'inherit');
  }

  /** The record of a chroot that can run here (ready, and an architecture this host runs). */
  readyRecord(name: string): ChrootRecord {
    const r = this.store.get(name);
    if (r.state !== 'ready') throw new Conflict(`chroot ${name} is not ready (state ${r.state})`);
    return r;
  }

  /** Records the profile a chroot's runs use when they name none, and who may enter without root. */
  setAccess(name: string, a: { profile?: string; users?: string[]; groups?: string[] }): void {
    const r = this.store.get(name);
    if (a.profile) r.profile = isProfilePath(a.profile) ? resolvePath(a.profile) : a.profile;
    if (a.users?.length) r.users = a.users;
    if (a.groups?.length) r.groups = a.groups;
    this.store.write(r);
  }

  /** The profile a run uses: --profile (built-in name or file), else the record's, else default. */
  profileOf(r: ChrootRecord, spec?: string): Profile {
    const s = spec || r.profile || 'default';
    if (!isProfilePath(s)) return builtinProfile(s);
    let text: string;
    try {
      text = readFileSync(s, 'utf8');
    } catch (e) {
      throw new InvalidArgument(`cannot read profile ${s}: ${(e as Error).message}`);
    }
    return parseProfile(s, text);
  }

  /**
   * Plans a run: the mounts and files of the profile (setup), the user (created in the root from
   * the host's entry when missing), working directory, environment and command. Mount targets
   * and written files go through `view` (the root itself, or a throwaway overlay over it).
   */
  async prepare(
    r: ChrootRecord,
    o: RunOpts,
    at: { view: RootView; setup: boolean; planRoot?: string },
  ): Promise<{ plan: RunPlan; argv: string[] }> {
    const name = r.name;
    const view = at.view;
    const exec = await this.execInfo(r.arch);
    if (exec.mode === 'unavailable')
      throw new Unavailable(`chroot ${name} (${r.arch}) cannot run here: ${exec.reason}`);
    const jail = r.kind === 'jail';
    const profile = jail ? BUILTIN_PROFILES.minimal : this.profileOf(r, o.profile);
    const binds: BindSpec[] = [...(at.setup && !jail ? profile.binds : []), ...(o.binds ?? []).map(parseBind)];
    for (const b of binds)
      if (!existsSync(b.host)) throw new InvalidArgument(`--bind: host path ${b.host} does not exist`);
    const runBinds: RunBind[] = [];
    if (at.setup) {
      // where the command runs, the mount points must exist (created inside the root, never outside)
      if (!jail) for (const d of ['/proc', '/sys', '/dev']) view.target(d, 'dir');
      for (const b of binds)
        runBinds.push({
          host: b.host,
          readonly: b.readonly,
          target: view.target(b.inner, isDirectory(b.host) ? 'dir' : 'file'),
        });
      if (!jail && view.existing('/etc') && isDirectory(view.existing('/etc')!)) {
        for (const c of profile.copies) {
          if (!existsSync(c.host)) continue;
          try {
            view.write(c.inner, readFileSync(c.host));
          } catch {
            /* read-only root or odd file: leave it */
          }
        }
        for (const m of profile.merges) {
          const cur = readText(view.existing(m.inner) ?? '');
          try {
            view.write(m.inner, mergeAccounts(readText(m.host), cur));
          } catch {
            /* leave it */
          }
        }
      }
    } else if (binds.length) throw new InvalidArgument('--bind is set when a session begins, not for each command');
    let passwdText = readText(view.existing('/etc/passwd') ?? '');
    let groupText = readText(view.existing('/etc/group') ?? '');
    if (o.user && !jail && /^[a-z_][a-z0-9_.-]*$/i.test(o.user.split(':')[0]) && !/^\d+$/.test(o.user.split(':')[0])) {
      // --user NAME missing from the root: add the host's entry (and its primary group), as schroot users expect
      const add = accountLinesFor(
        o.user.split(':')[0],
        readText('/etc/passwd'),
        readText('/etc/group'),
        passwdText,
        groupText,
      );
      if (add?.passwd) {
        passwdText = appendLine(passwdText, add.passwd);
        view.write('/etc/passwd', passwdText);
      }
      if (add?.group) {
        groupText = appendLine(groupText, add.group);
        view.write('/etc/group', groupText);
      }
    }
    const passwd = parsePasswd(passwdText);
    const groups = parseGroup(groupText);
    let user: ResolvedUser | undefined;
    if (o.user) user = chrootUser(o.user, passwd, groups);
    else if (jail && r.user)
      user = { uid: r.user.uid, gid: r.user.gid, groups: [r.user.gid], name: r.user.name, home: '/' };
    if (user && jail) user = { ...user, groups: [user.gid] }; // jails: only the user's own group
    if (user && user.uid === 0 && user.gid === 0 && !jail) user = undefined;
    const workdir = cleanInnerPath(o.workdir ?? '/', o.cwd ? '--cwd' : '--workdir');
    // the directory may be inside a bind mount (--cwd under /home or /tmp): look on the host then
    const inBind = at.setup
      ? [...binds].reverse().find((b) => workdir === b.inner || workdir.startsWith(b.inner + '/'))
      : undefined;
    const wd = inBind ? join(inBind.host, workdir.slice(inBind.inner.length)) : view.existing(workdir);
    if (!wd || !isDirectory(wd))
      throw new InvalidArgument(`${o.cwd ? '--cwd' : '--workdir'} ${workdir} is not a directory in chroot ${name}`);
    let argv = o.argv;
    const entry = user ? passwd.find((p) => p.uid === user!.uid) : passwd.find((p) => p.uid === 0);
    if (!argv.length || o.shell) {
      if (jail) argv = [r.program!];
      else {
        const sh =
          entry?.shell && !/nologin|false$/.test(entry.shell) && view.existing(entry.shell)
            ? entry.shell
            : view.existing('/bin/bash')
              ? '/bin/bash'
              : '/bin/sh';
        argv = o.shell ? [sh, '-l'] : [sh];
      }
    }
    const home = user ? user.home || '/' : (entry?.home ?? '/root');
    const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: home };
    if (process.env.TERM) env.TERM = process.env.TERM;
    const uname = user ? user.name : 'root';
    if (uname) {
      env.USER = uname;
      env.LOGNAME = uname;
    }
    Object.assign(env, o.env ?? {});
    const plan: RunPlan = {
      root: at.planRoot ?? view.root,
      mode: exec.mode as ExecMode,
      binfmt: exec.binfmt,
      systemMounts: !jail,
      binds: runBinds,
      user: user ? { uid: user.uid, gid: user.gid, groups: user.groups } : undefined,
      noNewPrivs: jail || !!o.noNewPrivs,
      workdir,
      env,
      devpts: profile.devpts,
    };
    return { plan, argv };
  }

  // ---- export ---------------------------------------------------------------------------------

  /**
   * A tar of the root (the one tar codec: numeric owners, hard links, devices, every xattr byte for
   * byte), names './x' as `tar -C root .` writes them; the contents of /proc, /sys and /dev are left
   * out (their directories stay). Reading errors end the stream with the error.
   */
  exportTar(name: string): Readable {
    const r = this.store.get(name);
    if (r.state !== 'ready') throw new Conflict(`chroot ${name} is not ready (state ${r.state})`);
    const root = this.store.rootDir(name);
    const virtual = /^(proc|sys|dev)\//;
    return packTree(root, {
      xattrs: true,
      rootEntry: true,
      dotNames: true,
      filter: (rel) => (virtual.test(rel) ? 'skip' : 'keep'),
    });
  }

  /** Mount points of this chroot in any mount namespace (for tests and inspect). */
  mountsAnywhere(name: string): string[] {
    return mountsUnderAnywhere(this.store.rootDir(name));
  }
}

function appendLine(text: string, line: string): string {
  return (text && !text.endsWith('\n') ? text + '\n' : text) + line + '\n';
}
export function readText(p: string): string {
  try {
    return p ? readFileSync(p, 'utf8') : '';
  } catch {
    return '';
  }
}
function removeSync(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** Copies a host file (dereferenced) to the same path inside root, creating real parent dirs. */
async function copyFileInto(root: string, hostPath: string, inner: string): Promise<void> {
  const dest = join(root, inner);
  mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
  copyFileSync(hostPath, dest);
  chmodSync(dest, statSync(hostPath).mode & 0o7777);
}

/** The jail user: NAME (host uid/gid when the host has NAME, else a free uid >= 10000), NAME:UID[:GID], or UID[:GID]. */
export function jailUser(
  spec: string,
  hostPasswd: string,
  hostGroup: string,
): { name: string; uid: number; gid: number } {
  const f = spec.split(':');
  const pw = parsePasswd(hostPasswd);
  const gr = parseGroup(hostGroup);
  let name: string;
  let uid: number | undefined;
  let gid: number | undefined;
  if (/^\d+$/.test(f[0])) {
    name = 'jail';
    uid = Number(f[0]);
    if (f[1] !== undefined) gid = Number(f[1]);
  } else {
    name = f[0];
    if (f[1] !== undefined) uid = Number(f[1]);
    if (f[2] !== undefined) gid = Number(f[2]);
  }
  if (
    !/^[a-z_][a-z0-9_-]{0,31}$/.test(name) ||
    (uid !== undefined && !Number.isInteger(uid)) ||
    (gid !== undefined && !Number.isInteger(gid))
  ) {
    throw new InvalidArgument(`invalid --user "${spec}": expected NAME, NAME:UID[:GID] or UID[:GID]`);
  }
  if (uid === undefined) {
    const host = pw.find((p) => p.name === name);
    if (host) {
      uid = host.uid;
      gid = gid ?? host.gid;
    } else {
      uid = 10000;
      while (pw.some((p) => p.uid === uid) || gr.some((g) => g.gid === uid)) uid++;
    }
  }
  gid = gid ?? uid;
  if (uid === 0) throw new InvalidArgument(`invalid --user "${spec}": a jail user must not be root`);
  if (uid > 65535 || gid > 65535)
    throw new InvalidArgument(`invalid --user "${spec}": uid and gid must be at most 65535`);
  return { name, uid, gid };
}
