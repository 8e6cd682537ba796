// `cocon chroot ...`: chroot environments and jails, done by the CLI itself (no daemon needed,
// except for --from-image and commit). See src/chroot/chroot.ts for the design.
//
//   cocon chroot [--data-root DIR] create NAME --suite S [--arch A] [--variant V] [--include P,..] [--mirror URL] [--no-cache]
//   cocon chroot create NAME --from-image IMAGE
//   cocon chroot jail NAME --program PATH [--copy SRC[:DEST]...] [--user U]
//   cocon chroot ls [-q] [--format json]      cocon chroot inspect NAME...      cocon chroot rm [-f] NAME...
//   cocon chroot run NAME [--user U] [--workdir D] [--bind HOST:PATH[:ro]] [--env K=V] [--] CMD [ARG...]
//   cocon chroot shell NAME [--user U] ...    cocon chroot export NAME > x.tar    cocon chroot commit NAME IMAGE[:TAG]
//   cocon chroot cache [--prune [KEY-PREFIX...]]
//   cocon chroot create NAME --from-tar FILE [--profile P] [--users U,..] [--groups G,..]
//   cocon chroot run [--ephemeral] [--profile default|minimal|FILE] [--cwd] NAME -- CMD
//   cocon chroot session begin [--ephemeral] NAME | run ID -- CMD | ls | end ID... | recover
// A user who is not root runs `chroot run` through the daemon's chroot gate (../chrootgate.ts).
//
// Exit status: 0; 1 for errors of management commands; 125 for flag errors and for run/shell
// errors before the command starts; otherwise the command's own status (128+N on signal N).
import { FlagError, Opts, parseFlags, renderFlagHelp } from '../flags.js';
import type { FlagDef, ParsedFlags } from '../flags.js';
import { tabwrite } from '../table.js';
import { humanDuration, humanSize } from '../humanize.js';
import { makeCtx } from '../context.js';
import { ApiError, ConnectError, readJsonStream } from '../client.js';
import { ChrootManager, type RunOpts } from '../../chroot/chroot.js';
import type { SpawnedRoot } from '../../sys/chroot.js';
import { Conflict, EngineError, Internal, InvalidArgument, Unavailable } from '../../core/errors.js';
import type { ChrootSummary } from '../../chroot/chroot.js';
import { parseEnv } from '../../chroot/validate.js';
import { parseNames } from '../../chroot/access.js';
import { DEFAULT_DATA_ROOT } from '../../chroot/store.js';
import { resolve as resolvePath } from 'node:path';

const DATA_ROOT_FLAG: FlagDef = {
  long: 'data-root',
  type: 'string',
  desc: `Data root (default $COCON_DATA_ROOT or ${DEFAULT_DATA_ROOT})`,
};

interface Sub {
  usage: string;
  desc: string;
  flags: FlagDef[];
  min: number;
  max?: number;
  /** Flags end at the second positional (the command of run/shell). */
  command?: boolean;
  run(m: ChrootManager, o: Opts, env: { hostFlag?: string; rest: string[] }): Promise<number>;
}

const RUN_FLAGS: FlagDef[] = [
  { long: 'user', short: 'u', type: 'string', desc: 'Run as this user (name|uid[:group|gid]) of the chroot' },
  { long: 'workdir', short: 'w', type: 'string', desc: 'Working directory inside the chroot (default /)' },
  { long: 'bind', type: 'list', desc: 'Bind mount HOST:PATH[:ro] into the chroot' },
  { long: 'env', short: 'e', type: 'list', desc: 'Set environment variables (K=V)' },
  { long: 'profile', type: 'string', desc: 'What is mounted and copied in: default, minimal, or a profile file' },
  {
    long: 'cwd',
    type: 'bool',
    desc: 'Start in the current directory (it must exist inside the chroot, e.g. under /home or /tmp)',
  },
];

function out(s: string): void {
  process.stdout.write(s);
}
function err(s: string): void {
  process.stderr.write(s);
}

function source(r: ChrootSummary): string {
  if (r.kind === 'debootstrap')
    return `${r.suite}/${r.arch}${r.variant && r.variant !== 'default' ? ` (${r.variant})` : ''}`;
  if (r.kind === 'image') return `image ${r.image}`;
  if (r.kind === 'tar') return `tar ${r.tarball}`;
  return `jail ${r.program}`;
}

/** The run options common to run, shell and session run. */
function runOpts(o: Opts, argv: string[], shell: boolean): RunOpts {
  if (o.bool('cwd') && o.str('workdir')) throw new InvalidArgument('--cwd and --workdir cannot be combined');
  return {
    argv,
    shell,
    user: o.str('user') || undefined,
    workdir: o.bool('cwd') ? process.cwd() : o.str('workdir') || undefined,
    cwd: o.bool('cwd'),
    binds: o.list('bind'),
    env: parseEnv(o.list('env'), process.env),
    profile: o.str('profile') || undefined,
  };
}

async function runInChroot(m: ChrootManager, name: string, o: Opts, argv: string[], shell: boolean): Promise<number> {
  const ro = runOpts(o, argv, shell);
  return waitForChild(o.bool('ephemeral') ? await m.sessions.runEphemeral(name, ro) : await m.start(name, ro));
}

async function waitForChild({ child, exited }: SpawnedRoot): Promise<number> {
  // The terminal's signals (ctrl-c, ctrl-\) reach the command directly (same process group);
  // cocon ignores them and forwards the ones it gets by kill.
  const ignore = (): void => undefined;
  const forward = (sig: NodeJS.Signals) => (): void => {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  };
  const handlers: [NodeJS.Signals, () => void][] = [
    ['SIGINT', ignore],
    ['SIGQUIT', ignore],
    ['SIGTERM', forward('SIGTERM')],
    ['SIGHUP', forward('SIGHUP')],
  ];
  for (const [s, h] of handlers) process.on(s, h);
  try {
    return await exited;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}

const SUBS: Record<string, Sub> = {
  create: {
    usage: 'chroot create [OPTIONS] NAME',
    desc: 'Create a Debian chroot with debootstrap (cached), or from an image',
    flags: [
      { long: 'suite', type: 'string', desc: 'Debian suite (bookworm, trixie, sid, ...)' },
      { long: 'arch', type: 'string', desc: "Architecture (amd64, i386, arm64, ...; default: the host's)" },
      { long: 'variant', type: 'string', default: 'minbase', desc: 'debootstrap variant (minbase, buildd, default)' },
      { long: 'include', type: 'list', desc: 'Extra packages (comma separated)' },
      { long: 'mirror', type: 'string', desc: 'Debian mirror (default http://deb.debian.org/debian)' },
      { long: 'no-cache', type: 'bool', desc: 'Build afresh (the result replaces the cached root)' },
      { long: 'from-image', type: 'string', desc: 'Take the root filesystem of this image (needs the local daemon)' },
      { long: 'from-tar', type: 'string', desc: 'Unpack this root filesystem tarball (plain, gzip, xz or zstd)' },
      { long: 'profile', type: 'string', desc: 'Default profile of its runs: default, minimal, or a profile file' },
      { long: 'users', type: 'list', desc: 'Users who may run commands in it without being root (comma separated)' },
      { long: 'groups', type: 'list', desc: 'Groups whose members may run commands in it without being root' },
      { long: 'quiet', short: 'q', type: 'bool', desc: 'No progress output' },
    ],
    min: 1,
    max: 1,
    async run(m, o, env) {
      const name = o.args[0];
      const image = o.str('from-image');
      const profile = o.str('profile');
      if (profile) m.profileOf({ name, kind: 'tar', state: 'ready', created: '', arch: '' }, profile); // checked before anything is made
      const users = parseNames(o.list('users'), '--users');
      const groups = parseNames(o.list('groups'), '--groups');
      const finish = (): void => {
        m.setAccess(name, { profile: profile || undefined, users, groups });
      };
      if (o.str('from-tar')) {
        if (image || o.has('suite') || o.has('arch') || o.has('include') || o.has('mirror'))
          throw new InvalidArgument(
            '--from-tar cannot be combined with --from-image, --suite, --arch, --include or --mirror',
          );
        const rec = await m.createFromTar(name, resolvePath(o.str('from-tar')));
        finish();
        if (!o.bool('quiet')) err(`created chroot ${name} from ${rec.tarball} in ${rec.buildSeconds} s\n`);
        out(`${name}\n`);
        return 0;
      }
      if (image) {
        if (o.has('suite') || o.has('arch') || o.has('include') || o.has('mirror'))
          throw new InvalidArgument('--from-image cannot be combined with --suite, --arch, --include or --mirror');
        const { validateName } = await import('../../chroot/validate.js');
        validateName(name);
        if (m.store.exists(name)) throw new Conflict(`chroot "${name}" already exists`);
        const ctx = makeCtx(env.hostFlag, process.env);
        const client = await ctx.client();
        try {
          const img = await client.json<{
            Id: string;
            Architecture?: string;
            GraphDriver?: { Data?: Record<string, string> };
          }>('GET', `/images/${encodeURIComponent(image)}/json`);
          const data = img.GraphDriver?.Data ?? {};
          const layers = [data.UpperDir, ...(data.LowerDir ? data.LowerDir.split(':') : [])].filter(
            (x): x is string => !!x,
          );
          const rec = await m.createFromImage(name, {
            image,
            id: img.Id,
            arch: img.Architecture ?? '',
            layersTopFirst: layers,
          });
          finish();
          if (!o.bool('quiet')) err(`created chroot ${name} from image ${image} in ${rec.buildSeconds} s\n`);
          out(`${name}\n`);
          return 0;
        } finally {
          client.close();
        }
      }
      if (!o.str('suite'))
        throw new InvalidArgument('create needs --suite SUITE (e.g. bookworm) or --from-image IMAGE');
      const ac = new AbortController();
      const onSig = (): void => {
        ac.abort();
      };
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      try {
        const rec = await m.create({
          name,
          suite: o.str('suite'),
          arch: o.str('arch') || undefined,
          variant: o.str('variant'),
          include: o.list('include'),
          mirror: o.str('mirror') || undefined,
          noCache: o.bool('no-cache'),
          signal: ac.signal,
          progress: o.bool('quiet')
            ? undefined
            : (l) => {
                if (/^[IWE]: /.test(l)) err(`${l}\n`);
              },
        });
        finish();
        if (!o.bool('quiet')) {
          err(
            `created chroot ${name} (${rec.suite}/${rec.arch}, ${rec.variant}) in ${rec.buildSeconds} s${rec.fromCache ? ' from the cache' : ''}\n`,
          );
          for (const n of rec.notes ?? []) err(`note: ${n}\n`);
        }
        out(`${name}\n`);
        return 0;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    },
  },
  jail: {
    usage: 'chroot jail [OPTIONS] NAME',
    desc: 'Create a minimal jail for one program',
    flags: [
      { long: 'program', type: 'string', desc: 'The program (absolute host path)' },
      { long: 'copy', type: 'list', desc: 'Copy a host file or directory into the jail (SRC[:DEST])' },
      {
        long: 'user',
        short: 'u',
        type: 'string',
        desc: 'The jail user: NAME, NAME:UID[:GID] or UID[:GID] (default "jail")',
      },
    ],
    min: 1,
    max: 1,
    async run(m, o) {
      if (!o.str('program')) throw new InvalidArgument('jail needs --program PATH');
      const rec = await m.jail({
        name: o.args[0],
        program: o.str('program'),
        copies: o.list('copy'),
        user: o.str('user') || undefined,
      });
      err(`created jail ${rec.name}: ${rec.program} as ${rec.user!.name} (${rec.user!.uid}:${rec.user!.gid})\n`);
      out(`${rec.name}\n`);
      return 0;
    },
  },
  ls: {
    usage: 'chroot ls [OPTIONS]',
    desc: 'List chroots',
    flags: [
      { long: 'quiet', short: 'q', type: 'bool', desc: 'Only names' },
      { long: 'format', type: 'string', desc: '"json": one JSON object per line' },
    ],
    min: 0,
    max: 0,
    async run(m, o) {
      if (o.bool('quiet')) {
        for (const r of m.store.list()) out(`${r.name}\n`);
        return 0;
      }
      const list = await m.list(true);
      if (o.str('format') === 'json') {
        for (const r of list) out(`${JSON.stringify(r)}\n`);
        return 0;
      }
      if (o.str('format')) throw new InvalidArgument(`unsupported --format "${o.str('format')}" (json)`);
      const lines = ['NAME\tKIND\tSOURCE\tSIZE\tCREATED'];
      for (const r of list) {
        const created = `${humanDuration(Date.now() - Date.parse(r.created))} ago`;
        lines.push(
          `${r.name}\t${r.kind}\t${source(r)}\t${humanSize(r.size, 3)}\t${r.state === 'ready' ? created : `(${r.state})`}`,
        );
      }
      out(tabwrite(lines.join('\n') + '\n'));
      return 0;
    },
  },
  inspect: {
    usage: 'chroot inspect NAME [NAME...]',
    desc: 'Show details of chroots (JSON), including whether programs run natively or emulated',
    flags: [],
    min: 1,
    async run(m, o) {
      const res: unknown[] = [];
      let status = 0;
      for (const n of o.args) {
        try {
          res.push(await m.inspect(n));
        } catch (e) {
          if (e instanceof EngineError) {
            err(`Error: ${e.message}\n`);
            status = 1;
          } else throw e;
        }
      }
      out(JSON.stringify(res, null, 4) + '\n');
      return status;
    },
  },
  cache: {
    usage: 'chroot cache [OPTIONS] [KEY-PREFIX...]',
    desc: 'List the debootstrap cache; --prune removes entries (all, or those matching, e.g. "sid-")',
    flags: [{ long: 'prune', type: 'bool', desc: 'Remove the cached roots (the next create runs debootstrap again)' }],
    min: 0,
    async run(m, o) {
      if (o.bool('prune')) {
        for (const k of m.pruneCache(o.args)) out(`removed ${k}\n`);
        return 0;
      }
      const lines = ['KEY\tSUITE/ARCH\tINCLUDE\tSIZE\tCREATED'];
      for (const e of m.cacheEntries()) {
        const created = e.created ? `${humanDuration(Date.now() - Date.parse(e.created))} ago` : '';
        lines.push(
          `${e.key}\t${e.suite ?? '?'}/${e.arch ?? '?'}\t${e.include?.length ? e.include.join(',') : '-'}\t${humanSize(e.size, 3)}\t${created}`,
        );
      }
      out(tabwrite(lines.join('\n') + '\n'));
      return 0;
    },
  },
  rm: {
    usage: 'chroot rm [OPTIONS] NAME [NAME...]',
    desc: 'Remove chroots',
    flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'Kill processes still inside first' }],
    min: 1,
    async run(m, o) {
      let status = 0;
      for (const n of o.args) {
        try {
          await m.rm(n, o.bool('force'));
          out(`${n}\n`);
        } catch (e) {
          if (e instanceof EngineError) {
            err(`Error: ${e.message}\n`);
            status = 1;
          } else throw e;
        }
      }
      return status;
    },
  },
  run: {
    usage: 'chroot run [OPTIONS] NAME [--] [COMMAND [ARG...]]',
    desc: 'Run a command in a chroot (as an ordinary host process)',
    flags: [
      ...RUN_FLAGS,
      {
        long: 'ephemeral',
        type: 'bool',
        desc: 'Run on a throwaway overlay: changes vanish at the end, the chroot is untouched',
      },
    ],
    min: 1,
    command: true,
    async run(m, o, env) {
      return runInChroot(m, o.args[0], o, env.rest, false);
    },
  },
  shell: {
    usage: 'chroot shell [OPTIONS] NAME',
    desc: 'Start an interactive login shell in a chroot',
    flags: RUN_FLAGS,
    min: 1,
    max: 1,
    async run(m, o) {
      return runInChroot(m, o.args[0], o, [], true);
    },
  },
  export: {
    usage: 'chroot export NAME',
    desc: "Write the chroot's root filesystem as a tar archive to stdout",
    flags: [{ long: 'output', short: 'o', type: 'string', desc: 'Write to a file instead of stdout' }],
    min: 1,
    max: 1,
    async run(m, o) {
      if (!o.str('output') && process.stdout.isTTY)
        throw new InvalidArgument('refusing to write a tar archive to a terminal (redirect stdout or use -o FILE)');
      const tar = m.exportTar(o.args[0]);
      const { createWriteStream } = await import('node:fs');
      const { pipeline } = await import('node:stream/promises');
      const dest = o.str('output') ? createWriteStream(o.str('output')) : process.stdout;
      try {
        await pipeline(tar, dest);
      } catch (e) {
        throw new Internal(`export: ${(e as Error).message}`);
      }
      return 0;
    },
  },
  commit: {
    usage: 'chroot commit [OPTIONS] NAME IMAGE[:TAG]',
    desc: "Import the chroot's root filesystem as an image (docker import through the daemon)",
    flags: [
      { long: 'change', short: 'c', type: 'list', desc: 'Apply Dockerfile instruction to the created image' },
      { long: 'message', short: 'm', type: 'string', desc: 'Commit message' },
    ],
    min: 2,
    max: 2,
    async run(m, o, env) {
      const [name, ref] = o.args;
      const { parseRef } = await import('../refs.js');
      try {
        parseRef(ref);
      } catch {
        throw new InvalidArgument(`invalid reference format: ${ref}`);
      }
      const tar = m.exportTar(name);
      const ctx = makeCtx(env.hostFlag, process.env);
      const client = await ctx.client();
      try {
        const res = await client.stream('POST', '/images/create', {
          query: {
            fromSrc: '-',
            repo: ref,
            message: o.str('message') || `Imported from chroot ${name}`,
            changes: o.list('change').length ? o.list('change') : undefined,
          },
          raw: tar,
          contentType: 'application/x-tar',
        });
        let id = '';
        let failure = '';
        await readJsonStream(res, (msg) => {
          if (typeof msg.status === 'string') id = msg.status;
          const e = msg.errorDetail as { message?: string } | undefined;
          if (typeof msg.error === 'string') failure = msg.error;
          else if (e?.message) failure = e.message;
        });
        if (failure) throw new Internal(failure);
        out(`${id}\n`);
        return 0;
      } finally {
        client.close();
        tar.destroy();
      }
    },
  },
};
const SESSION_FLAGS: FlagDef[] = [
  {
    long: 'ephemeral',
    type: 'bool',
    desc: 'On a throwaway overlay: changes vanish at session end, the chroot is untouched',
  },
  { long: 'profile', type: 'string', desc: 'What is mounted and copied in: default, minimal, or a profile file' },
  { long: 'bind', type: 'list', desc: 'Bind mount HOST:PATH[:ro] into the session' },
];

Object.assign(SUBS, {
  'session begin': {
    usage: 'chroot session begin [OPTIONS] NAME',
    desc: 'Begin a session (prints its id): mounts, files and background processes stay until session end',
    flags: SESSION_FLAGS,
    min: 1,
    max: 1,
    async run(m: ChrootManager, o: Opts) {
      const rec = await m.sessions.begin(o.args[0], {
        ephemeral: o.bool('ephemeral'),
        profile: o.str('profile') || undefined,
        binds: o.list('bind'),
      });
      out(`${rec.id}\n`);
      return 0;
    },
  },
  'session run': {
    usage: 'chroot session run [OPTIONS] ID [--] [COMMAND [ARG...]]',
    desc: 'Run a command in a session',
    flags: RUN_FLAGS.filter((f) => f.long !== 'bind' && f.long !== 'profile'),
    min: 1,
    command: true,
    async run(m: ChrootManager, o: Opts, env: { rest: string[] }) {
      return waitForChild(await m.sessions.run(o.args[0], runOpts(o, env.rest, false)));
    },
  },
  'session ls': {
    usage: 'chroot session ls [OPTIONS]',
    desc: 'List sessions',
    flags: [
      { long: 'quiet', short: 'q', type: 'bool', desc: 'Only ids' },
      { long: 'format', type: 'string', desc: '"json": one JSON object per line' },
    ],
    min: 0,
    max: 0,
    async run(m: ChrootManager, o: Opts) {
      const list = m.sessions.list();
      if (o.bool('quiet')) {
        for (const r of list) out(`${r.id}\n`);
        return 0;
      }
      if (o.str('format') === 'json') {
        for (const r of list) out(`${JSON.stringify({ ...r, processes: m.sessions.processes(r) })}\n`);
        return 0;
      }
      if (o.str('format')) throw new InvalidArgument(`unsupported --format "${o.str('format')}" (json)`);
      const lines = ['ID\tCHROOT\tTYPE\tPROCESSES\tCREATED'];
      for (const r of list) {
        lines.push(
          `${r.id}\t${r.chroot}\t${r.kind === 'run' ? 'run' : r.ephemeral ? 'ephemeral' : 'persistent'}\t${m.sessions.processes(r).length}\t${humanDuration(Date.now() - Date.parse(r.created))} ago`,
        );
      }
      out(tabwrite(lines.join('\n') + '\n'));
      return 0;
    },
  },
  'session end': {
    usage: 'chroot session end ID [ID...]',
    desc: 'End sessions: kill what runs in them, unmount, remove their files',
    flags: [],
    min: 1,
    async run(m: ChrootManager, o: Opts) {
      let status = 0;
      for (const id of o.args) {
        try {
          await m.sessions.end(id);
          out(`${id}\n`);
        } catch (e) {
          if (e instanceof EngineError) {
            err(`Error: ${e.message}\n`);
            status = 1;
          } else throw e;
        }
      }
      return status;
    },
  },
  'session recover': {
    usage: 'chroot session recover',
    desc: 'End the sessions a crash left behind (every chroot command also does it first)',
    flags: [],
    min: 0,
    max: 0,
    async run(m: ChrootManager) {
      for (const id of await m.sessions.recover()) out(`${id}\n`);
      return 0;
    },
  },
} satisfies Record<string, Sub>);
SUBS.list = SUBS.ls;
SUBS.remove = SUBS.rm;

/** `chroot run` by a user who is not root: through the daemon's chroot gate (listed users only). */
async function runAsUser(o: Opts, argv: string[]): Promise<number> {
  try {
    if (o.list('bind').length) throw new InvalidArgument('--bind needs root');
    if (o.str('user')) throw new InvalidArgument('--user needs root (you enter a chroot as yourself)');
    const ro = runOpts(o, argv, false);
    const { runThroughGate, DEFAULT_GATE_SOCKET } = await import('../chrootgate.js');
    return await runThroughGate(process.env.COCON_CHROOT_SOCKET || DEFAULT_GATE_SOCKET, {
      chroot: o.args[0],
      argv,
      env: ro.env,
      ...(ro.workdir ? { workdir: ro.workdir } : {}),
      ...(ro.profile ? { profile: ro.profile } : {}),
      ephemeral: o.bool('ephemeral'),
    });
  } catch (e) {
    err(`cocon: ${e instanceof Error ? e.message : String(e)}\n`);
    return 125;
  }
}

function sessionUsage(): string {
  const names = Object.keys(SUBS).filter((n) => n.startsWith('session '));
  return `
Usage:  cocon chroot session COMMAND

Sessions: a chroot's mounts (and, with --ephemeral, a throwaway overlay) kept between commands

Commands:
${names.map((n) => `  ${n.slice(8).padEnd(9)} ${SUBS[n].desc}`).join('\n')}
`;
}

function usage(): string {
  const names = Object.keys(SUBS).filter((n) => n !== 'list' && n !== 'remove' && !n.startsWith('session '));
  return `
Usage:  cocon chroot [--data-root DIR] COMMAND

Manage chroot environments and jails (no daemon needed; run as root)

Commands:
${names.map((n) => `  ${n.padEnd(9)} ${SUBS[n].desc}`).join('\n')}
  session   Begin, use, list, end and recover sessions (cocon chroot session --help)

Options:
${renderFlagHelp([DATA_ROOT_FLAG])}

Run 'cocon chroot COMMAND --help' for more information on a command.
`;
}

function mergeParsed(a: ParsedFlags, b: ParsedFlags, defs: FlagDef[]): ParsedFlags {
  const values = new Map(a.values);
  for (const [k, v] of b.values) {
    const d = defs.find((x) => x.long === k);
    const cur = values.get(k);
    values.set(k, d?.type === 'list' && Array.isArray(cur) && Array.isArray(v) ? [...cur, ...v] : v);
  }
  return { values, positionals: b.positionals };
}

/** Entry from src/cli/main.ts: `cocon chroot ARGS...`. */
export async function chrootMain(args: string[], hostFlag?: string): Promise<number> {
  // leading --data-root belongs to `cocon chroot`
  let dataRoot: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--data-root') {
      if (i + 1 >= args.length) {
        err('flag needs an argument: --data-root\n');
        return 125;
      }
      dataRoot = args[++i];
      continue;
    }
    if (a.startsWith('--data-root=')) {
      dataRoot = a.slice('--data-root='.length);
      continue;
    }
    break;
  }
  let subName = args[i];
  if (!subName || subName === '--help' || subName === '-h' || subName === 'help') {
    out(usage());
    return 0;
  }
  if (subName === 'session') {
    const w = args[i + 1];
    if (!w || w === '--help' || w === '-h') {
      out(sessionUsage());
      return 0;
    }
    subName = `session ${w}`;
    i++;
  }
  const sub = SUBS[subName];
  if (!sub) {
    err(`cocon: unknown command: cocon chroot ${subName}\n\nRun 'cocon chroot --help' for more information\n`);
    return 1;
  }
  const defs = [...sub.flags, DATA_ROOT_FLAG];
  const rest = args.slice(i + 1);
  const isRun = subName === 'run' || subName === 'shell' || subName === 'session run';
  let parsed: ParsedFlags;
  let cmdArgs: string[] = [];
  try {
    if (sub.command) {
      // flags before and after NAME; the command starts at the next positional or after `--`
      const first = parseFlags(rest, defs, { interspersed: false });
      const [name, ...after] = first.positionals;
      const second =
        name === undefined ? { values: new Map(), positionals: [] } : parseFlags(after, defs, { interspersed: false });
      parsed = mergeParsed(first, second, defs);
      parsed.positionals = name === undefined ? [] : [name];
      cmdArgs = second.positionals;
    } else parsed = parseFlags(rest, defs, { interspersed: true });
  } catch (e) {
    if (e instanceof FlagError) {
      err(`${e.message}\n\nUsage:  cocon ${sub.usage}\n\nRun 'cocon chroot ${subName} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  if (parsed.values.get('help') === true) {
    out(`\nUsage:  cocon ${sub.usage}\n\n${sub.desc}\n\nOptions:\n${renderFlagHelp(defs)}\n`);
    return 0;
  }
  const n = parsed.positionals.length;
  if (n < sub.min || (sub.max !== undefined && n > sub.max)) {
    err(
      `cocon: 'cocon chroot ${subName}' requires ${sub.max === sub.min ? 'exactly' : 'at least'} ${sub.min} argument${sub.min === 1 ? '' : 's'}\n\nUsage:  cocon ${sub.usage}\n`,
    );
    return isRun ? 125 : 1;
  }
  const o = new Opts(parsed, defs);
  dataRoot = resolvePath(o.str('data-root') || dataRoot || process.env.COCON_DATA_ROOT || DEFAULT_DATA_ROOT);
  const m = new ChrootManager(dataRoot);
  if (subName === 'run' && process.getuid?.() !== 0) return runAsUser(o, cmdArgs);
  try {
    if (
      subName !== 'ls' &&
      subName !== 'list' &&
      subName !== 'inspect' &&
      subName !== 'cache' &&
      process.getuid?.() !== 0
    ) {
      throw new Unavailable(`cocon chroot ${subName} needs root (mount namespaces, chroot, mknod)`);
    }
    // sessions a crash left behind are ended before anything else (schroot's recover, done for you)
    if (process.getuid?.() === 0 && subName !== 'session recover') await m.sessions.recover();
    return await sub.run(m, o, { hostFlag, rest: cmdArgs });
  } catch (e) {
    const msg =
      e instanceof ApiError ? `Error response from daemon: ${e.message}` : e instanceof Error ? e.message : String(e);
    if (e instanceof EngineError || e instanceof ApiError || e instanceof ConnectError) {
      err(`cocon: ${msg}\n`);
      return isRun ? 125 : 1;
    }
    err(`cocon: ${msg}\n`);
    return isRun ? 125 : 1;
  }
}
