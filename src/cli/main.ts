// cocon's command-line entry: `cocon daemon` starts the daemon; every other command is a client
// of the Docker Engine API (see ./commands/), with docker's commands, flags, output and exit codes.
import { FlagError, Opts, parseFlags, renderFlagHelp } from './flags.js';
import type { FlagDef } from './flags.js';
import { ApiError, ConnectError } from './client.js';
import { CliError, ExitStatus, UsageError, makeCtx } from './context.js';
import type { Command } from './context.js';
import { attachCommand, createCommand, runCommand, startCommand, RunError } from './commands/run.js';
import {
  containerInspectCommand, execCommand, inspectCommand, killCommand, logsCommand, pauseCommand, portCommand, psCommand,
  renameCommand, restartCommand, rmCommand, stopCommand, topCommand, unpauseCommand, waitCommand,
} from './commands/container.js';
import { bootstrapCommand, imageInspectCommand, imagesCommand, importCommand, loginCommand, logoutCommand, pullCommand, pushCommand, rmiCommand, tagCommand } from './commands/image.js';
import { CLI_VERSION, infoCommand, versionCommand } from './commands/system.js';
import { containerPruneCommand, eventsCommand, historyCommand, imagePruneCommand } from './commands/misc.js';
import { NETWORK_SUB, VOLUME_SUB } from './commands/objects.js';
import { commitCommand, diffCommand, exportCommand, loadCommand, saveCommand } from './commands/transfer.js';
import { cpCommand } from './commands/cp.js';
import { statsCommand } from './commands/stats.js';

const TOP: Command[] = [
  runCommand, createCommand, startCommand, stopCommand, restartCommand, killCommand, rmCommand, psCommand, logsCommand,
  waitCommand, inspectCommand, renameCommand, attachCommand, execCommand, topCommand, portCommand, pauseCommand,
  unpauseCommand, imagesCommand, rmiCommand, tagCommand, importCommand, pullCommand, historyCommand, eventsCommand,
  pushCommand, loginCommand, logoutCommand, cpCommand, statsCommand, saveCommand, loadCommand, exportCommand, commitCommand, diffCommand, versionCommand, infoCommand,
];

const CONTAINER_SUB: Record<string, Command> = {
  run: runCommand, create: createCommand, start: startCommand, stop: stopCommand, restart: restartCommand, kill: killCommand,
  rm: rmCommand, remove: rmCommand, ls: psCommand, list: psCommand, ps: psCommand, logs: logsCommand, wait: waitCommand,
  inspect: containerInspectCommand, rename: renameCommand, attach: attachCommand, exec: execCommand, top: topCommand,
  port: portCommand, pause: pauseCommand, unpause: unpauseCommand, prune: containerPruneCommand,
  export: exportCommand, commit: commitCommand, diff: diffCommand, cp: cpCommand, stats: statsCommand,
};
const IMAGE_SUB: Record<string, Command> = {
  ls: imagesCommand, list: imagesCommand, rm: rmiCommand, remove: rmiCommand, inspect: imageInspectCommand, tag: tagCommand,
  import: importCommand, pull: pullCommand, bootstrap: bootstrapCommand, history: historyCommand, prune: imagePruneCommand,
  save: saveCommand, load: loadCommand, push: pushCommand,
};
const SYSTEM_SUB: Record<string, Command> = { info: infoCommand, events: eventsCommand };

const GLOBAL_FLAGS: FlagDef[] = [
  { long: 'config', type: 'string', desc: 'Location of client config files' },
  { long: 'context', short: 'c', type: 'string', desc: 'Name of the context to use to connect to the daemon' },
  { long: 'debug', short: 'D', type: 'bool', desc: 'Enable debug mode' },
  { long: 'host', short: 'H', type: 'list', desc: 'Daemon socket to connect to' },
  { long: 'log-level', short: 'l', type: 'string', default: 'info', desc: 'Set the logging level ("debug", "info", "warn", "error", "fatal")' },
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

Global Options:
${renderFlagHelp(GLOBAL_FLAGS)}

Run 'cocon COMMAND --help' for more information on a command.
`;
}

function subUsage(group: string, subs: Record<string, Command>): string {
  // one line per command (aliases such as ls/list share a Command object)
  const pref = (n: string): number => (n === 'ls' || n === 'rm' ? 0 : n === subs[n].name.split(' ').pop() ? 1 : 2);
  const byCmd = new Map<Command, string>();
  for (const n of Object.keys(subs)) {
    const cur = byCmd.get(subs[n]);
    if (cur === undefined || pref(n) < pref(cur)) byCmd.set(subs[n], n);
  }
  const names = [...byCmd.values()].sort();
  return `
Usage:  cocon ${group} COMMAND

Manage ${group}s

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

async function runCommandLine(path: string, cmd: Command, args: string[], hostFlag: string | undefined): Promise<number> {
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
  if (parsed.values.get('help') === true) { ctx.out(commandHelp(path, cmd)); return 0; }
  const countErr = argCountError(path, cmd, parsed.positionals.length);
  if (countErr) { ctx.err(`${countErr}\n`); return 1; }
  const o = new Opts(parsed, cmd.flags);
  try {
    return await cmd.run(ctx, o);
  } catch (e) {
    if (e instanceof ExitStatus) return e.status;
    if (e instanceof UsageError) {
      ctx.err(`${e.message}\n\nUsage:  ${usageLine(path, cmd)}\n\nRun 'cocon ${path} --help' for more information\n`);
      return 125;
    }
    if (e instanceof RunError) { ctx.err(`${e.message}\n`); return e.status; }
    if (e instanceof CliError) {
      if (cmd.errPrefix) { ctx.err(`cocon: ${e.message}\n\nRun 'cocon ${path} --help' for more information\n`); return e.status === 1 ? 125 : e.status; }
      ctx.err(`${e.message}\n`);
      return e.status;
    }
    const msg = e instanceof ApiError ? `Error response from daemon: ${e.message}` : e instanceof Error ? e.message : String(e);
    if (cmd.errPrefix) { ctx.err(`cocon: ${msg}\n\nRun 'cocon ${path} --help' for more information\n`); return 125; }
    if (e instanceof ApiError || e instanceof ConnectError) { ctx.err(`${msg}\n`); return 1; }
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
  if (argv[0] === 'daemon') { await runDaemon(argv.slice(1)); return -1; }
  // global flags stop at the first positional (the command)
  let g;
  try { g = parseFlags(argv, GLOBAL_FLAGS, { interspersed: false }); } catch (e) {
    if (e instanceof FlagError) { process.stderr.write(`${e.message}\nSee 'cocon --help'.\n`); return 125; }
    throw e;
  }
  const go = new Opts({ values: g.values, positionals: [] }, GLOBAL_FLAGS);
  if (go.bool('version')) { process.stdout.write(`cocon version ${CLI_VERSION}\n`); return 0; }
  const rest = g.positionals;
  if (rest.length === 0 || rest[0] === 'help') {
    if (rest[0] === 'help' && rest[1]) return main([rest[1], '--help']);
    process.stdout.write(mainUsage());
    return 0;
  }
  if (go.bool('help')) { process.stdout.write(mainUsage()); return 0; }
  const hosts = go.list('host');
  const hostFlag = hosts.length ? hosts[hosts.length - 1] : undefined;
  if (rest[0] === 'daemon') { await runDaemon([...(hostFlag ? ['-H', hostFlag] : []), ...rest.slice(1)]); return -1; }

  const [word, ...args] = rest;
  if (word === 'chroot') return (await import('./commands/chroot.js')).chrootMain(args, hostFlag);
  const groups: Record<string, Record<string, Command>> = { container: CONTAINER_SUB, image: IMAGE_SUB, system: SYSTEM_SUB, volume: VOLUME_SUB, network: NETWORK_SUB };
  if (groups[word]) {
    const subs = groups[word];
    const sub = args[0];
    if (!sub) { process.stderr.write(subUsage(word, subs)); return 0; }
    if (sub === '--help' || sub === '-h') { process.stdout.write(subUsage(word, subs)); return 0; }
    const cmd = subs[sub];
    if (!cmd) {
      process.stderr.write(`cocon: unknown command: cocon ${word} ${sub}\n\nRun 'cocon ${word} --help' for more information\n`);
      return 1;
    }
    return runCommandLine(`${word} ${sub}`, cmd, args.slice(1), hostFlag);
  }
  const cmd = TOP.find((c) => c.name === word);
  if (!cmd) {
    process.stderr.write(`cocon: unknown command: cocon ${word}\n\nRun 'cocon --help' for more information\n`);
    return 1;
  }
  return runCommandLine(word, cmd, args, hostFlag);
}

// A closed stdout (`cocon run ... | head -1`) ends the CLI like docker's: message, status 1.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') { try { process.stderr.write('write /dev/stdout: broken pipe\n'); } catch { /* ignore */ } process.exit(1); }
  throw e;
});
process.stderr.on('error', () => process.exit(1));

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) {
    process.exitCode = code;
    // stdout/stderr writes to files, pipes and ttys are synchronous on Linux: safe to exit now
    // (stdin or a keep-alive socket would otherwise hold the process open).
    process.exit(code);
  }
}, (e: unknown) => {
  process.stderr.write(`cocon: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 125;
  process.exit(125);
});
