// What every command gets: output streams, the (lazily connected) API client, and the
// command registry types. Exit-status rules follow docker's CLI: flag errors 125, daemon
// errors 1 (125 for run/create), a container's own status where it has one.
import type { FlagDef } from './flags.js';
import type { Opts } from './flags.js';
import { Client, resolveEndpoint } from './client.js';

// An error that carries its exit status and is printed as is.
export class CliError extends Error {
  constructor(
    message: string,
    readonly status = 1,
  ) {
    super(message);
  }
}
// A run/create failure already formatted ("cocon: MSG\n\nRun 'cocon run --help' ..."), printed as is.
export class RunError extends CliError {}

export const CLI_VERSION = '0.1.0';

// A bad flag value found by the command itself: printed with the usage, status 125.
export class UsageError extends Error {}
// Exit with a status without printing anything more.
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit status ${status}`);
  }
}

export interface Ctx {
  prog: string; // "cocon"
  hostFlag?: string;
  env: NodeJS.ProcessEnv;
  out(s: string): void;
  err(s: string): void;
  client(): Promise<Client>;
  now(): number;
}

export interface Command {
  name: string;
  aliases?: string[];
  usage: string; // "run [OPTIONS] IMAGE [COMMAND] [ARG...]"
  desc: string;
  flags: FlagDef[];
  interspersed?: boolean; // default true
  minArgs?: number;
  maxArgs?: number;
  errPrefix?: boolean; // run/create: "cocon: " before errors, exit 125
  run(ctx: Ctx, o: Opts): Promise<number>;
}

export function makeCtx(hostFlag: string | undefined, env: NodeJS.ProcessEnv): Ctx {
  let client: Client | undefined;
  let connecting: Promise<Client> | undefined;
  return {
    prog: 'cocon',
    hostFlag,
    env,
    out: (s) => {
      process.stdout.write(s);
    },
    err: (s) => {
      process.stderr.write(s);
    },
    now: () => Date.now(),
    client: () => {
      if (client) return Promise.resolve(client);
      connecting ??= (async () => {
        const c = new Client(resolveEndpoint(hostFlag, env), env);
        await c.connect(true);
        client = c;
        return c;
      })();
      return connecting;
    },
  };
}
