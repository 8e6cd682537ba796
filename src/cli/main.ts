// cocon's command-line entry: `cocon daemon` starts the daemon, `cocon chroot` manages chroots
// (./commands/chroot.ts); every other command is a client of the Docker Engine API with docker's
// commands, flags, output formats and exit codes.
//
// Contract of the CLI room:
//   - It talks to the daemon only through the API (client.ts: unix socket from -H, DOCKER_HOST or
//     /run/cocon/cocon.sock; HEAD /_ping negotiates the version; the default socket's daemon is
//     started when it does not answer). It never touches the data root.
//   - Exit status like docker's CLI: 125 for flag errors and run/create failures (126/127 when the
//     command cannot be executed), the container's or exec's status for run, start -a, attach,
//     exec, 1 for other daemon errors.
//   - Pure parts, unit-tested without a daemon: flags.ts (pflag), runconfig.ts (create body),
//     envfile.ts, filters.ts, template.ts (Go templates), humanize.ts (go-units), table.ts
//     (tabwriter), format.ts (ps/images rows), streams.ts (frames, detach keys), progress.ts,
//     refs.ts, tar.ts (cp), dockerignore.ts (build). I/O lives in client.ts, io.ts (terminal side of hijacked streams),
//     auth.ts (config.json credentials) and commands/*.ts (one module per family, loaded on use).
import { FlagError, Opts, parseFlags, renderFlagHelp } from './flags.js';
import type { FlagDef } from './flags.js';
import { ApiError, ConnectError } from './client.js';
import { CLI_VERSION, CliError, ExitStatus, RunError, UsageError, makeCtx } from './context.js';
import type { Command } from './context.js';
// Commands are loaded on use (a CLI call pays only for the modules it needs).
interface Entry {
  name: string;
  desc: string;
  load: () => Promise<Command>;
}
const runM = () => import('./commands/run.js');
const ctrM = () => import('./commands/container.js');
const imgM = () => import('./commands/image.js');
const miscM = () => import('./commands/misc.js');
const objM = () => import('./commands/objects.js');
const xferM = () => import('./commands/transfer.js');
const sysM = () => import('./commands/system.js');
const e = (name: string, desc: string, load: () => Promise<Command>): Entry => ({ name, desc, load });

const R = {
  run: e('run', 'Create and run a new container from an image', async () => (await runM()).runCommand),
  create: e('create', 'Create a new container', async () => (await runM()).createCommand),
  start: e('start', 'Start one or more stopped containers', async () => (await runM()).startCommand),
  attach: e(
    'attach',
    'Attach local standard input, output, and error streams to a running container',
    async () => (await runM()).attachCommand,
  ),
  stop: e('stop', 'Stop one or more running containers', async () => (await ctrM()).stopCommand),
  restart: e('restart', 'Restart one or more containers', async () => (await ctrM()).restartCommand),
  kill: e('kill', 'Kill one or more running containers', async () => (await ctrM()).killCommand),
  rm: e('rm', 'Remove one or more containers', async () => (await ctrM()).rmCommand),
  ps: e('ps', 'List containers', async () => (await ctrM()).psCommand),
  logs: e('logs', 'Fetch the logs of a container', async () => (await ctrM()).logsCommand),
  wait: e(
    'wait',
    'Block until one or more containers stop, then print their exit codes',
    async () => (await ctrM()).waitCommand,
  ),
  inspect: e('inspect', 'Return low-level information on Docker objects', async () => (await ctrM()).inspectCommand),
  containerInspect: e(
    'inspect',
    'Display detailed information on one or more containers',
    async () => (await ctrM()).containerInspectCommand,
  ),
  rename: e('rename', 'Rename a container', async () => (await ctrM()).renameCommand),
  exec: e('exec', 'Execute a command in a running container', async () => (await ctrM()).execCommand),
  top: e('top', 'Display the running processes of a container', async () => (await ctrM()).topCommand),
  port: e('port', 'List port mappings or a specific mapping for the container', async () => (await ctrM()).portCommand),
  pause: e('pause', 'Pause all processes within one or more containers', async () => (await ctrM()).pauseCommand),
  update: e('update', 'Update configuration of one or more containers', async () => (await ctrM()).updateCommand),
  unpause: e(
    'unpause',
    'Unpause all processes within one or more containers',
    async () => (await ctrM()).unpauseCommand,
  ),
  images: e('images', 'List images', async () => (await imgM()).imagesCommand),
  imageInspect: e(
    'inspect',
    'Display detailed information on one or more images',
    async () => (await imgM()).imageInspectCommand,
  ),
  rmi: e('rmi', 'Remove one or more images', async () => (await imgM()).rmiCommand),
  tag: e('tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', async () => (await imgM()).tagCommand),
  import: e(
    'import',
    'Import the contents from a tarball to create a filesystem image',
    async () => (await imgM()).importCommand,
  ),
  pull: e('pull', 'Download an image from a registry', async () => (await imgM()).pullCommand),
  push: e('push', 'Upload an image to a registry', async () => (await imgM()).pushCommand),
  login: e('login', 'Authenticate to a registry', async () => (await imgM()).loginCommand),
  logout: e('logout', 'Log out from a registry', async () => (await imgM()).logoutCommand),
  bootstrap: e(
    'bootstrap',
    "Build an image from the host (busybox: from the host's busybox-static)",
    async () => (await imgM()).bootstrapCommand,
  ),
  history: e('history', 'Show the history of an image', async () => (await miscM()).historyCommand),
  events: e('events', 'Get real time events from the server', async () => (await miscM()).eventsCommand),
  containerPrune: e('prune', 'Remove all stopped containers', async () => (await miscM()).containerPruneCommand),
  imagePrune: e('prune', 'Remove unused images', async () => (await miscM()).imagePruneCommand),
  systemDf: e('df', 'Show cocon disk usage', async () => (await miscM()).systemDfCommand),
  systemPrune: e('prune', 'Remove unused data', async () => (await miscM()).systemPruneCommand),
  cp: e(
    'cp',
    'Copy files/folders between a container and the local filesystem',
    async () => (await import('./commands/cp.js')).cpCommand,
  ),
  stats: e(
    'stats',
    'Display a live stream of container(s) resource usage statistics',
    async () => (await import('./commands/stats.js')).statsCommand,
  ),
  save: e(
    'save',
    'Save one or more images to a tar archive (streamed to STDOUT by default)',
    async () => (await xferM()).saveCommand,
  ),
  load: e('load', 'Load an image from a tar archive or STDIN', async () => (await xferM()).loadCommand),
  export: e('export', "Export a container's filesystem as a tar archive", async () => (await xferM()).exportCommand),
  commit: e('commit', "Create a new image from a container's changes", async () => (await xferM()).commitCommand),
  diff: e(
    'diff',
    "Inspect changes to files or directories on a container's filesystem",
    async () => (await xferM()).diffCommand,
  ),
  build: e('build', 'Build an image from a Dockerfile', async () => (await import('./commands/build.js')).buildCommand),
  version: e('version', 'Show the cocon version information', async () => (await sysM()).versionCommand),
  info: e('info', 'Display system-wide information', async () => (await sysM()).infoCommand),
  check: e(
    'check',
    'Audit the daemon and its containers against the hardening points',
    async () => (await import('./commands/check.js')).checkCommand,
  ),
};

const TOP: Entry[] = [
  R.run,
  R.create,
  R.start,
  R.stop,
  R.restart,
  R.kill,
  R.rm,
  R.ps,
  R.logs,
  R.wait,
  R.inspect,
  R.rename,
  R.attach,
  R.exec,
  R.top,
  R.port,
  R.pause,
  R.unpause,
  R.update,
  R.images,
  R.rmi,
  R.tag,
  R.import,
  R.pull,
  R.push,
  R.history,
  R.events,
  R.login,
  R.logout,
  R.build,
  R.cp,
  R.stats,
  R.save,
  R.load,
  R.export,
  R.commit,
  R.diff,
  R.version,
  R.info,
  R.check,
];

const CONTAINER_SUB: Record<string, Entry> = {
  run: R.run,
  create: R.create,
  start: R.start,
  stop: R.stop,
  restart: R.restart,
  kill: R.kill,
  rm: R.rm,
  remove: R.rm,
  ls: R.ps,
  list: R.ps,
  ps: R.ps,
  logs: R.logs,
  wait: R.wait,
  inspect: R.containerInspect,
  rename: R.rename,
  attach: R.attach,
  exec: R.exec,
  top: R.top,
  port: R.port,
  pause: R.pause,
  unpause: R.unpause,
  prune: R.containerPrune,
  export: R.export,
  commit: R.commit,
  diff: R.diff,
  cp: R.cp,
  stats: R.stats,
  update: R.update,
};
const IMAGE_SUB: Record<string, Entry> = {
  ls: R.images,
  list: R.images,
  rm: R.rmi,
  remove: R.rmi,
  inspect: R.imageInspect,
  tag: R.tag,
  import: R.import,
  pull: R.pull,
  bootstrap: R.bootstrap,
  history: R.history,
  prune: R.imagePrune,
  save: R.save,
  load: R.load,
  push: R.push,
  build: R.build,
};
const SYSTEM_SUB: Record<string, Entry> = { info: R.info, events: R.events, df: R.systemDf, prune: R.systemPrune };

function objectSub(kind: 'volume' | 'network'): Record<string, Entry> {
  const names =
    kind === 'volume'
      ? {
          create: 'Create a volume',
          ls: 'List volumes',
          inspect: 'Display detailed information on one or more volumes',
          rm: 'Remove one or more volumes',
          prune: 'Remove unused local volumes',
        }
      : {
          create: 'Create a network',
          ls: 'List networks',
          inspect: 'Display detailed information on one or more networks',
          rm: 'Remove one or more networks',
          connect: 'Connect a container to a network',
          disconnect: 'Disconnect a container from a network',
          prune: 'Remove all unused networks',
        };
  const out: Record<string, Entry> = {};
  for (const [n, desc] of Object.entries(names)) {
    out[n] = e(n, desc, async () => {
      const m = await objM();
      return (kind === 'volume' ? m.VOLUME_SUB : m.NETWORK_SUB)[n];
    });
  }
  out.list = out.ls;
  out.remove = out.rm;
  return out;
}

const GLOBAL_FLAGS: FlagDef[] = [
  { long: 'config', type: 'string', desc: 'Location of client config files' },
  { long: 'context', short: 'c', type: 'string', desc: 'Name of the context to use to connect to the daemon' },
  { long: 'debug', short: 'D', type: 'bool', desc: 'Enable debug mode' },
  { long: 'host', short: 'H', type: 'list', desc: 'Daemon socket to connect to' },
  {
    long: 'log-level',
    short: 'l',
    type: 'string',
    default: 'info',
    desc: 'Set the logging level ("debug", "info", "warn", "error", "fatal")',
  },
  { long: 'tls', type: 'bool', hidden: true },
  { long: 'tlsverify', type: 'bool', hidden: true },
  { long: 'tlscacert', type: 'string', hidden: true },
  { long: 'tlscert', type: 'string', hidden: true },
  { long: 'tlskey', type: 'string', hidden: true },
  { long: 'version', short: 'v', type: 'bool', desc: 'Print version information and quit' },
];

function mainUsage(): string {
  const lines = TOP.map((c) => `  ${c.name.padEnd(11)} ${c.desc}`);
  return `
Usage:  cocon [OPTIONS] COMMAND

A Docker-compatible container engine

Common Commands:
${lines.join('\n')}

Management Commands:
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage cocon
  volume      Manage volumes
  daemon      Start the cocon daemon
  chroot      Manage chroot environments and jails
  jail        Manage jailed SSH/SFTP accounts

Global Options:
${renderFlagHelp(GLOBAL_FLAGS)}

Run 'cocon COMMAND --help' for more information on a command.
`;
}

function subUsage(group: string, subs: Record<string, Entry>): string {
  // one line per command (aliases such as ls/list share an entry)
  const pref = (n: string): number => (n === 'ls' || n === 'rm' ? 0 : n === subs[n].name ? 1 : 2);
  const byEntry = new Map<Entry, string>();
  for (const n of Object.keys(subs)) {
    const cur = byEntry.get(subs[n]);
    if (cur === undefined || pref(n) < pref(cur)) byEntry.set(subs[n], n);
  }
  const names = [...byEntry.values()].sort();
  return `
Usage:  cocon ${group} COMMAND

${group === 'system' ? 'Manage cocon' : `Manage ${group}s`}

Commands:
${names.map((n) => `  ${n.padEnd(11)} ${subs[n].desc}`).join('\n')}

Run 'cocon ${group} COMMAND --help' for more information on a command.
`;
}

function commandHelp(path: string, cmd: Command): string {
  const usage = `cocon ${path} ${cmd.usage.split(' ').slice(cmd.name.split(' ').length).join(' ')}`.trimEnd();
  const flags = renderFlagHelp(cmd.flags);
  return `\nUsage:  ${usage}\n\n${cmd.desc}\n${flags ? `\nOptions:\n${flags}\n` : ''}`;
}

function usageLine(path: string, cmd: Command): string {
  return `cocon ${path} ${cmd.usage.split(' ').slice(cmd.name.split(' ').length).join(' ')}`.trimEnd();
}

function argCountError(path: string, cmd: Command, n: number): string | undefined {
  const min = cmd.minArgs ?? 0;
  const max = cmd.maxArgs;
  if (n >= min && (max === undefined || n <= max)) return undefined;
  let what: string;
  const plural = (k: number): string => `${k} argument${k === 1 ? '' : 's'}`;
  if (max === 0) what = 'accepts no arguments';
  else if (max !== undefined && min === max) what = `requires ${plural(min)}`;
  else if (max !== undefined && min > 0) what = `requires at least ${min} and at most ${plural(max)}`;
  else if (max !== undefined) what = `requires at most ${plural(max)}`;
  else what = `requires at least ${plural(min)}`;
  const see = max === undefined ? 'See' : 'Run';
  return `cocon: '${`cocon ${path}`}' ${what}\n\nUsage:  ${usageLine(path, cmd)}\n\n${see} 'cocon ${path} --help' for more information`;
}

async function runCommandLine(
  path: string,
  cmd: Command,
  args: string[],
  hostFlag: string | undefined,
): Promise<number> {
  const ctx = makeCtx(hostFlag, process.env);
  let parsed;
  try {
    parsed = parseFlags(args, cmd.flags, { interspersed: cmd.interspersed !== false });
  } catch (e) {
    if (e instanceof FlagError) {
      ctx.err(`${e.message}\n\nUsage:  ${usageLine(path, cmd)}\n\nRun 'cocon ${path} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  if (parsed.values.get('help') === true) {
    ctx.out(commandHelp(path, cmd));
    return 0;
  }
  const countErr = argCountError(path, cmd, parsed.positionals.length);
  if (countErr) {
    ctx.err(`${countErr}\n`);
    return 1;
  }
  const o = new Opts(parsed, cmd.flags);
  try {
    return await cmd.run(ctx, o);
  } catch (e) {
    if (e instanceof ExitStatus) return e.status;
    if (e instanceof UsageError) {
      ctx.err(`${e.message}\n\nUsage:  ${usageLine(path, cmd)}\n\nRun 'cocon ${path} --help' for more information\n`);
      return 125;
    }
    if (e instanceof RunError) {
      ctx.err(`${e.message}\n`);
      return e.status;
    }
    if (e instanceof CliError) {
      if (cmd.errPrefix) {
        ctx.err(`cocon: ${e.message}\n\nRun 'cocon ${path} --help' for more information\n`);
        return e.status === 1 ? 125 : e.status;
      }
      ctx.err(`${e.message}\n`);
      return e.status;
    }
    const msg =
      e instanceof ApiError ? `Error response from daemon: ${e.message}` : e instanceof Error ? e.message : String(e);
    if (cmd.errPrefix) {
      ctx.err(`cocon: ${msg}\n\nRun 'cocon ${path} --help' for more information\n`);
      return 125;
    }
    if (e instanceof ApiError || e instanceof ConnectError) {
      ctx.err(`${msg}\n`);
      return 1;
    }
    ctx.err(`cocon: ${msg}\n`);
    return 1;
  }
}

// The daemon is loaded only for `cocon daemon`: client commands stay fast and independent of it.
async function runDaemon(args: string[]): Promise<void> {
  const m = await import('../daemon/main.js');
  await m.runDaemon(args);
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'daemon') {
    await runDaemon(argv.slice(1));
    return -1;
  }
  // global flags stop at the first positional (the command)
  let g;
  try {
    g = parseFlags(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`${e.message}\nSee 'cocon --help'.\n`);
      return 125;
    }
    throw e;
  }
  const go = new Opts({ values: g.values, positionals: [] }, GLOBAL_FLAGS);
  if (go.bool('version')) {
    process.stdout.write(`cocon version ${CLI_VERSION}\n`);
    return 0;
  }
  const rest = g.positionals;
  if (rest.length === 0 || rest[0] === 'help') {
    if (rest[0] === 'help' && rest[1]) return main([rest[1], '--help']);
    process.stdout.write(mainUsage());
    return 0;
  }
  if (go.bool('help')) {
    process.stdout.write(mainUsage());
    return 0;
  }
  const hosts = go.list('host');
  const hostFlag = hosts.length ? hosts[hosts.length - 1] : undefined;
  if (rest[0] === 'daemon') {
    await runDaemon([...(hostFlag ? ['-H', hostFlag] : []), ...rest.slice(1)]);
    return -1;
  }

  const [word, ...args] = rest;
  if (word === 'chroot') return (await import('./commands/chroot.js')).chrootMain(args, hostFlag);
  if (word === 'jail') return (await import('./commands/jail.js')).jailMain(args);
  const groups: Record<string, Record<string, Entry>> = {
    container: CONTAINER_SUB,
    image: IMAGE_SUB,
    system: SYSTEM_SUB,
    volume: objectSub('volume'),
    network: objectSub('network'),
  };
  if (groups[word]) {
    const subs = groups[word];
    const sub = args[0];
    if (!sub) {
      process.stderr.write(subUsage(word, subs));
      return 0;
    }
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(subUsage(word, subs));
      return 0;
    }
    const entry = Object.hasOwn(subs, sub) ? subs[sub] : undefined;
    if (!entry) {
      process.stderr.write(
        `cocon: unknown command: cocon ${word} ${sub}\n\nUsage:  cocon ${word}${word === 'volume' ? ' COMMAND' : ''}\n\nRun 'cocon ${word} --help' for more information\n`,
      );
      return 1;
    }
    return runCommandLine(`${word} ${sub}`, await entry.load(), args.slice(1), hostFlag);
  }
  const entry = TOP.find((c) => c.name === word);
  if (!entry) {
    process.stderr.write(`cocon: unknown command: cocon ${word}\n\nRun 'cocon --help' for more information\n`);
    return 1;
  }
  return runCommandLine(word, await entry.load(), args, hostFlag);
}

// A closed stdout (`cocon run ... | head -1`) ends the CLI like docker's: message, status 1.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') {
    try {
      process.stderr.write('write /dev/stdout: broken pipe\n');
    } catch {
      /* ignore */
    }
    process.exit(1);
  }
  throw e;
});
process.stderr.on('error', () => process.exit(1));

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) {
      process.exitCode = code;
      // stdout/stderr writes to files, pipes and ttys are synchronous on Linux: safe to exit now
      // (stdin or a keep-alive socket would otherwise hold the process open).
      process.exit(code);
    }
  },
  (e: unknown) => {
    process.stderr.write(`cocon: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 125;
    process.exit(125);
  },
);
