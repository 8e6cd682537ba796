// run, create, start, attach: the commands that create containers and/or attach to their
// streams. The call order follows docker's CLI (create -> attach -> wait -> start -> resize).
import { readFileSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Opts } from '../flags.js';
import type { FlagDef } from '../flags.js';
import { ApiError, type Client, readAll, readJsonStream } from '../client.js';
import type { HijackedStream } from '../client.js';
import { CREATE_FLAGS, RUN_FLAGS, buildCreateRequest, ConfigError } from '../runconfig.js';
import type { CreateRequest } from '../runconfig.js';
import { CliError, ExitStatus, RunError, UsageError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { monitorResize, proxySignals, pumpStreams, terminalSize } from '../io.js';
import { familiarString, isBusybox, normalizedName, parseRef } from '../refs.js';
import { ProgressRenderer, ProgressError } from '../progress.js';
import { configSetting, registryAuthHeader } from '../auth.js';
import { bootstrapBusybox } from './common.js';
import type { JsonMessage } from '../progress.js';

function runErr(ctx: Ctx, cmd: string, msg: string, status = 125): RunError {
  return new RunError(`${ctx.prog}: ${msg}\n\nRun '${ctx.prog} ${cmd} --help' for more information`, status);
}

// docker's rule for `run` when start fails.
export function startErrorStatus(msg: string): number {
  if (
    msg.includes('executable file not found') ||
    msg.includes('no such file or directory') ||
    msg.includes('system cannot find the file specified')
  )
    return 127;
  if (msg.includes('permission denied') || msg.includes('is a directory')) return 126;
  return 125;
}

interface WaitBody {
  StatusCode?: number;
  Error?: { Message?: string } | null;
}

async function pullImage(ctx: Ctx, client: Client, image: string, quiet = false): Promise<void> {
  const ref = parseRef(image);
  const res = await client.stream('POST', '/images/create', {
    query: { fromImage: normalizedName(ref), tag: ref.digest ? ref.digest : (ref.tag ?? 'latest') },
    headers: { 'X-Registry-Auth': registryAuthHeader(ctx.env, ref.domain) },
  });
  const r = new ProgressRenderer(quiet ? () => undefined : ctx.err, !!process.stderr.isTTY);
  let error: string | undefined;
  await readJsonStream(res, (m) => {
    if (error) return;
    try {
      r.handle(m as JsonMessage);
    } catch (e) {
      if (e instanceof ProgressError) error = e.message;
      else throw e;
    }
  });
  if (error) throw new CliError(error, 125);
}

async function createContainer(ctx: Ctx, client: Client, req: CreateRequest): Promise<string> {
  const doCreate = async (): Promise<string> => {
    const r = await client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
      query: { name: req.name, platform: req.platform },
      body: req.body,
    });
    for (const w of r.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
    return r.Id;
  };
  if (req.pull === 'always') {
    if (isBusybox(req.image)) await bootstrapBusybox(client);
    else await pullImage(ctx, client, req.image, req.quiet);
    return doCreate();
  }
  try {
    return await doCreate();
  } catch (e) {
    if (req.pull === 'never' || !(e instanceof ApiError) || e.status !== 404 || !/no such image/i.test(e.message))
      throw e;
  }
  if (isBusybox(req.image)) {
    await bootstrapBusybox(client);
  } else {
    let display = req.image;
    try {
      display = familiarString(parseRef(req.image));
    } catch {
      /* keep as typed */
    }
    if (!req.quiet) ctx.err(`Unable to find image '${display}' locally\n`);
    await pullImage(ctx, client, req.image, req.quiet);
  }
  return doCreate();
}

function startWait(
  client: Client,
  id: string,
  condition: string | undefined,
): { headers: Promise<IncomingMessage>; body: Promise<WaitBody> } {
  const headers = client.stream('POST', `/containers/${id}/wait`, { query: { condition } }, false);
  const body = headers.then(async (res) => {
    const b = await readAll(res);
    const text = b.toString('utf8').trim();
    if (!text) return { StatusCode: -1, Error: { Message: 'wait: empty response' } };
    return JSON.parse(text.split('\n').pop() ?? text) as WaitBody;
  });
  body.catch(() => undefined);
  return { headers, body };
}

// Waits for the wait call's response headers, but never more than `ms` (start must not hang
// on a daemon that holds them back).
async function headersOrTimeout(p: Promise<IncomingMessage>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p.then(() => undefined),
      new Promise<void>((r) => {
        t = setTimeout(r, ms);
      }),
    ]);
  } finally {
    if (t) clearTimeout(t);
  }
}

interface SessionOptions {
  id: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
  sigProxy: boolean;
  waitCondition?: string;
  start: boolean; // call start after attaching
  detachIsError?: boolean; // docker attach: detaching prints "read escape sequence", exit 1
  onStartError?: (e: unknown) => Promise<number>;
}

// attach -> wait -> start -> resize -> stream -> exit status
async function attachedSession(ctx: Ctx, client: Client, s: SessionOptions): Promise<number> {
  let h: HijackedStream | undefined;
  if (s.stdin || s.stdout || s.stderr) {
    h = await client.hijack(`/containers/${s.id}/attach`, {
      stderr: s.stderr ? '1' : undefined,
      stdout: s.stdout ? '1' : undefined,
      stdin: s.stdin ? '1' : undefined,
      stream: '1',
    });
  }
  const wait = startWait(client, s.id, s.waitCondition);
  wait.headers.catch(() => undefined);
  // A wait that failed at once (404 etc.) is an error to report.
  try {
    await headersOrTimeout(wait.headers, 3000);
  } catch (e) {
    h?.destroy();
    throw e;
  }
  if (s.start) {
    try {
      await client.call('POST', `/containers/${s.id}/start`);
    } catch (e) {
      h?.destroy();
      wait.headers.then(
        (r) => r.destroy(),
        () => undefined,
      );
      if (s.onStartError) return s.onStartError(e);
      throw e;
    }
  }
  const stopResize = s.tty ? monitorResize(client, `/containers/${s.id}/resize`, !s.start) : () => undefined;
  const stopSignals = !s.tty && s.sigProxy ? proxySignals(client, s.id) : () => undefined;
  try {
    if (h) {
      const pump = pumpStreams(h, { tty: s.tty, stdin: s.stdin, detachKeys: s.detachKeys });
      const r = await pump.done;
      if (r === 'detached') {
        wait.headers.then(
          (res) => res.destroy(),
          () => undefined,
        );
        if (s.detachIsError) throw new CliError('read escape sequence', 1);
        return 0;
      }
    }
    const body = await wait.body;
    if (body.Error?.Message) ctx.err(`${body.Error.Message}\n`);
    return body.StatusCode ?? 0;
  } finally {
    stopResize();
    stopSignals();
  }
}

function readFileForFlag(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT'
        ? 'no such file or directory'
        : err.code === 'EACCES'
          ? 'permission denied'
          : err.code === 'EISDIR'
            ? 'is a directory'
            : err.message;
    throw new Error(`open ${path}: ${reason}`);
  }
}

function buildRequest(ctx: Ctx, o: Opts, isRun: boolean): CreateRequest {
  const cmd = isRun ? 'run' : 'create';
  try {
    return buildCreateRequest(
      o,
      {
        readFile: readFileForFlag,
        lookupEnv: (k) => ctx.env[k],
        consoleSize: terminalSize(),
        cwd: process.cwd(),
      },
      isRun,
    );
  } catch (e) {
    if (e instanceof ConfigError) {
      if (e.flag) throw new UsageError(`invalid argument "${e.value}" for "${e.flag}" flag: ${e.message}`);
      throw runErr(ctx, cmd, e.message);
    }
    throw e;
  }
}

function daemonMsg(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

// --cidfile: refuse an existing file; write the id once created (removed again if create fails).
async function withCidfile<T extends { id: string }>(path: string, fn: () => Promise<T>): Promise<T> {
  if (!path) return fn();
  if (existsSync(path))
    throw new CliError(`container ID file found, make sure the other container isn't running or delete ${path}`, 125);
  try {
    writeFileSync(path, '', { flag: 'wx' });
  } catch (e) {
    throw new CliError(`failed to create the container ID file: ${(e as Error).message}`, 125);
  }
  try {
    const r = await fn();
    writeFileSync(path, r.id);
    return r;
  } catch (e) {
    try {
      unlinkSync(path);
    } catch {
      /* ignore */
    }
    throw e;
  }
}

async function createOrFail(
  ctx: Ctx,
  cmd: string,
  req: CreateRequest,
  cidfile = '',
): Promise<{ client: Client; id: string }> {
  return withCidfile(cidfile, () => createOrFail0(ctx, cmd, req));
}

async function createOrFail0(ctx: Ctx, cmd: string, req: CreateRequest): Promise<{ client: Client; id: string }> {
  // the image reference is checked before any call, with docker's messages
  try {
    parseRef(req.image);
  } catch (e) {
    if (cmd === 'create') throw new CliError((e as Error).message, 1);
    throw runErr(ctx, cmd, (e as Error).message);
  }
  if (cmd === 'create') {
    // docker create reports daemon errors like any other command (exit 1)
    const client = await ctx.client();
    return { client, id: await createContainer(ctx, client, req) };
  }
  let client: Client;
  try {
    client = await ctx.client();
  } catch (e) {
    throw runErr(ctx, cmd, daemonMsg(e));
  }
  try {
    const id = await createContainer(ctx, client, req);
    return { client, id };
  } catch (e) {
    if (e instanceof CliError && !(e instanceof RunError)) throw runErr(ctx, cmd, e.message, e.status);
    if (e instanceof RunError) throw e;
    throw runErr(ctx, cmd, daemonMsg(e));
  }
}

export const runCommand: Command = {
  name: 'run',
  usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  desc: 'Create and run a new container from an image',
  flags: RUN_FLAGS,
  interspersed: false,
  minArgs: 1,
  errPrefix: true,
  async run(ctx, o) {
    const req = buildRequest(ctx, o, true);
    // docker: plain message, status 1 (not the run-error format)
    if (req.tty && req.attachStdin && !process.stdin.isTTY) throw new RunError('the input device is not a TTY', 1);
    const { client, id } = await createOrFail(ctx, 'run', req, o.str('cidfile'));
    if (req.detach) {
      try {
        await client.call('POST', `/containers/${id}/start`);
      } catch (e) {
        if (req.autoRemove)
          await client.call('DELETE', `/containers/${id}`, { query: { force: '1', v: '1' } }).catch(() => undefined);
        throw runErr(ctx, 'run', daemonMsg(e), startErrorStatus(daemonMsg(e)));
      }
      ctx.out(`${id}\n`);
      return 0;
    }
    return attachedSession(ctx, client, {
      id,
      tty: req.tty,
      stdin: req.attachStdin,
      stdout: req.attachStdout,
      stderr: req.attachStderr,
      detachKeys: req.detachKeys ?? configSetting(ctx.env, 'detachKeys'),
      sigProxy: req.sigProxy,
      waitCondition: req.autoRemove ? 'removed' : 'next-exit',
      start: true,
      onStartError: async (e) => {
        const msg = daemonMsg(e);
        if (req.autoRemove)
          await client.call('DELETE', `/containers/${id}`, { query: { force: '1', v: '1' } }).catch(() => undefined);
        throw runErr(ctx, 'run', msg, startErrorStatus(msg));
      },
    });
  },
};

export const createCommand: Command = {
  name: 'create',
  usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  desc: 'Create a new container',
  flags: CREATE_FLAGS,
  interspersed: false,
  minArgs: 1,
  async run(ctx, o) {
    const req = buildRequest(ctx, o, false);
    const { id } = await createOrFail(ctx, 'create', req, o.str('cidfile'));
    ctx.out(`${id}\n`);
    return 0;
  },
};

interface InspectedContainer {
  Id: string;
  Name?: string;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean; Status?: string };
  Config?: { Tty?: boolean; OpenStdin?: boolean };
}

const START_FLAGS: FlagDef[] = [
  { long: 'attach', short: 'a', type: 'bool', desc: 'Attach STDOUT/STDERR and forward signals' },
  { long: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
  { long: 'interactive', short: 'i', type: 'bool', desc: "Attach container's STDIN" },
  { long: 'checkpoint', type: 'string', hidden: true },
  { long: 'checkpoint-dir', type: 'string', hidden: true },
];

export const startCommand: Command = {
  name: 'start',
  usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Start one or more stopped containers',
  flags: START_FLAGS,
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const attach = o.bool('attach') || o.bool('interactive');
    if (attach) {
      if (o.args.length > 1) throw new CliError('you cannot start and attach multiple containers at once', 1);
      const c = await client.json<InspectedContainer>('GET', `/containers/${encodeURIComponent(o.args[0])}/json`);
      const tty = !!c.Config?.Tty;
      const stdin = o.bool('interactive') && !!c.Config?.OpenStdin;
      if (tty && stdin && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
      return attachedSession(ctx, client, {
        id: c.Id,
        tty,
        stdin,
        stdout: true,
        stderr: true,
        detachKeys: o.str('detach-keys') || configSetting(ctx.env, 'detachKeys'),
        sigProxy: true,
        waitCondition: 'next-exit',
        start: true,
      });
    }
    const failed: string[] = [];
    for (const name of o.args) {
      try {
        await client.call('POST', `/containers/${encodeURIComponent(name)}/start`);
        ctx.out(`${name}\n`);
      } catch (e) {
        ctx.err(`${daemonMsg(e)}\n`);
        failed.push(name);
      }
    }
    if (failed.length) throw new CliError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
    return 0;
  },
};

export const attachCommand: Command = {
  name: 'attach',
  usage: 'attach [OPTIONS] CONTAINER',
  desc: 'Attach local standard input, output, and error streams to a running container',
  flags: [
    { long: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
    { long: 'no-stdin', type: 'bool', desc: 'Do not attach STDIN' },
    { long: 'sig-proxy', type: 'bool', default: true, desc: 'Proxy all received signals to the process' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const c = await client.json<InspectedContainer>('GET', `/containers/${encodeURIComponent(o.args[0])}/json`);
    if (!c.State?.Running) throw new CliError('You cannot attach to a stopped container, start it first', 1);
    if (c.State?.Paused) throw new CliError('You cannot attach to a paused container, unpause it first', 1);
    if (c.State?.Restarting)
      throw new CliError('You cannot attach to a restarting container, wait until it is running', 1);
    const tty = !!c.Config?.Tty;
    const stdin = !o.bool('no-stdin') && !!c.Config?.OpenStdin;
    if (tty && stdin && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
    return attachedSession(ctx, client, {
      id: c.Id,
      tty,
      stdin,
      stdout: true,
      stderr: true,
      detachKeys: o.str('detach-keys') || configSetting(ctx.env, 'detachKeys'),
      sigProxy: o.bool('sig-proxy'),
      waitCondition: undefined,
      start: false,
      detachIsError: true,
    });
  },
};

export { ExitStatus };
