// Container commands other than run/create/start/attach: ps, stop, kill, restart, rm, logs,
// wait, inspect, rename, exec, top, port, pause, unpause.
import { readFileSync } from 'node:fs';
import type { FlagDef } from '../flags.js';
import type { Opts } from '../flags.js';
import { ApiError, readAll } from '../client.js';
import { CliError, UsageError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { buildFilters, filtersParam, FilterError } from '../filters.js';
import { containerRow, PS_DEFAULT_TABLE, PS_HEADERS } from '../format.js';
import { daemonMsg, inspectObjects, renderOrFail, seg } from './common.js';
import type { ApiContainer } from '../format.js';
import { getTimestamp, ramInBytes } from '../humanize.js';
import { parseRestart } from '../runconfig.js';
import { configSetting } from '../auth.js';
import { FrameDemuxer } from '../streams.js';
import { parseEnvFile, resolveEnvArg } from '../envfile.js';
import { tabwrite } from '../table.js';
import { monitorResize, pumpStreams } from '../io.js';

// Runs `fn` for each name, prints the name on success and the error otherwise; exit 1 if any failed.
async function forEach(
  ctx: Ctx,
  names: string[],
  fn: (name: string) => Promise<void>,
  printName = true,
): Promise<number> {
  let failed = false;
  for (const n of names) {
    try {
      await fn(n);
      if (printName) ctx.out(`${n}\n`);
    } catch (e) {
      ctx.err(`${daemonMsg(e)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

function filtersFrom(o: Opts): string | undefined {
  try {
    return filtersParam(buildFilters(o.list('filter')));
  } catch (e) {
    if (e instanceof FilterError)
      throw new UsageError(`invalid argument "${(e as FilterError).arg}" for "-f, --filter" flag: ${e.message}`);
    throw e;
  }
}

export const psCommand: Command = {
  name: 'ps',
  aliases: ['container ls', 'container list', 'container ps'],
  usage: 'ps [OPTIONS]',
  desc: 'List containers',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Show all containers (default shows just running)' },
    {
      long: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      desc: 'Filter output based on conditions provided',
    },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    {
      long: 'last',
      short: 'n',
      type: 'int',
      default: -1,
      desc: 'Show n last created containers (includes all states)',
    },
    { long: 'latest', short: 'l', type: 'bool', desc: 'Show the latest created container (includes all states)' },
    { long: 'no-trunc', type: 'bool', desc: "Don't truncate output" },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Only display container IDs' },
    { long: 'size', short: 's', type: 'bool', desc: 'Display total file sizes' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    let limit = o.num('last') ?? -1;
    if (o.bool('latest') && limit === -1) limit = 1;
    const filters = filtersFrom(o);
    const client = await ctx.client();
    const list = await client.json<ApiContainer[]>('GET', '/containers/json', {
      query: {
        all: o.bool('all') ? '1' : undefined,
        limit: limit > 0 ? limit : undefined,
        size: o.bool('size') ? '1' : undefined,
        filters,
      },
    });
    const trunc = !o.bool('no-trunc');
    const rows = (list ?? []).map((c) => containerRow(c, { trunc, now: ctx.now() }));
    let format = o.str('format');
    if (o.bool('quiet') && !format) format = '{{.ID}}';
    if (!format)
      format =
        configSetting(ctx.env, 'psFormat') || (o.bool('size') ? `${PS_DEFAULT_TABLE}\t{{.Size}}` : PS_DEFAULT_TABLE);
    else if (o.bool('quiet')) format = '{{.ID}}';
    ctx.out(renderOrFail(format, rows, PS_HEADERS, PS_DEFAULT_TABLE));
    return 0;
  },
};

export const stopCommand: Command = {
  name: 'stop',
  usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Stop one or more running containers',
  flags: [
    { long: 'signal', short: 's', type: 'string', desc: 'Signal to send to the container' },
    { long: 'timeout', short: 't', type: 'int', desc: 'Seconds to wait before killing the container' },
    { long: 'time', type: 'int', hidden: true },
  ],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const t = o.has('timeout') ? o.num('timeout') : o.has('time') ? o.num('time') : undefined;
    return forEach(ctx, o.args, async (n) => {
      await client.call('POST', `/containers/${seg(n)}/stop`, { query: { t, signal: o.str('signal') || undefined } });
    });
  },
};

export const restartCommand: Command = {
  name: 'restart',
  usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Restart one or more containers',
  flags: stopCommand.flags,
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const t = o.has('timeout') ? o.num('timeout') : o.has('time') ? o.num('time') : undefined;
    return forEach(ctx, o.args, async (n) => {
      await client.call('POST', `/containers/${seg(n)}/restart`, {
        query: { t, signal: o.str('signal') || undefined },
      });
    });
  },
};

export const killCommand: Command = {
  name: 'kill',
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Kill one or more running containers',
  flags: [{ long: 'signal', short: 's', type: 'string', desc: 'Signal to send to the container' }],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    return forEach(ctx, o.args, async (n) => {
      await client.call('POST', `/containers/${seg(n)}/kill`, { query: { signal: o.str('signal') || undefined } });
    });
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'pause CONTAINER [CONTAINER...]',
  desc: 'Pause all processes within one or more containers',
  flags: [],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    return forEach(ctx, o.args, async (n) => {
      await client.call('POST', `/containers/${seg(n)}/pause`);
    });
  },
};
export const unpauseCommand: Command = {
  name: 'unpause',
  usage: 'unpause CONTAINER [CONTAINER...]',
  desc: 'Unpause all processes within one or more containers',
  flags: [],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    return forEach(ctx, o.args, async (n) => {
      await client.call('POST', `/containers/${seg(n)}/unpause`);
    });
  },
};

export const rmCommand: Command = {
  name: 'rm',
  aliases: ['container rm', 'container remove'],
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Remove one or more containers',
  flags: [
    { long: 'force', short: 'f', type: 'bool', desc: 'Force the removal of a running container (uses SIGKILL)' },
    { long: 'link', short: 'l', type: 'bool', desc: 'Remove the specified link' },
    { long: 'volumes', short: 'v', type: 'bool', desc: 'Remove anonymous volumes associated with the container' },
  ],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    let failed = false;
    for (const n of o.args) {
      const name = n.replace(/^\//, '');
      try {
        await client.call('DELETE', `/containers/${seg(name)}`, {
          query: {
            force: o.bool('force') ? '1' : undefined,
            v: o.bool('volumes') ? '1' : undefined,
            link: o.bool('link') ? '1' : undefined,
          },
        });
        ctx.out(`${n}\n`);
      } catch (e) {
        ctx.err(`${daemonMsg(e)}\n`);
        // docker rm -f: a missing container is reported but is not a failure
        if (!(o.bool('force') && e instanceof ApiError && e.status === 404)) failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

export const waitCommand: Command = {
  name: 'wait',
  usage: 'wait CONTAINER [CONTAINER...]',
  desc: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    return forEach(
      ctx,
      o.args,
      async (n) => {
        const res = await client.stream('POST', `/containers/${seg(n)}/wait`, {}, false);
        const text = (await readAll(res)).toString('utf8').trim();
        const body = JSON.parse(text.split('\n').pop() ?? '{}') as {
          StatusCode?: number;
          Error?: { Message?: string } | null;
        };
        if (body.Error?.Message) throw new Error(body.Error.Message);
        ctx.out(`${body.StatusCode ?? 0}\n`);
      },
      false,
    );
  },
};

export const renameCommand: Command = {
  name: 'rename',
  usage: 'rename CONTAINER NEW_NAME',
  desc: 'Rename a container',
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, o) {
    const client = await ctx.client();
    const [oldName, newName] = o.args;
    if (!newName.trim() || !oldName.trim()) throw new CliError('Error: neither old nor new names may be empty', 1);
    try {
      await client.call('POST', `/containers/${seg(oldName)}/rename`, { query: { name: newName } });
    } catch (e) {
      ctx.err(`${daemonMsg(e)}\n`);
      throw new CliError(`Error: failed to rename container named ${oldName}`, 1);
    }
    return 0;
  },
};

interface LogsContainer {
  Id: string;
  Config?: { Tty?: boolean };
}

export const logsCommand: Command = {
  name: 'logs',
  usage: 'logs [OPTIONS] CONTAINER',
  desc: 'Fetch the logs of a container',
  flags: [
    { long: 'details', type: 'bool', desc: 'Show extra details provided to logs' },
    { long: 'follow', short: 'f', type: 'bool', desc: 'Follow log output' },
    {
      long: 'since',
      type: 'string',
      desc: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
    {
      long: 'tail',
      short: 'n',
      type: 'string',
      default: 'all',
      desc: 'Number of lines to show from the end of the logs',
    },
    { long: 'timestamps', short: 't', type: 'bool', desc: 'Show timestamps' },
    {
      long: 'until',
      type: 'string',
      desc: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const c = await client.json<LogsContainer>('GET', `/containers/${seg(o.args[0])}/json`);
    let since: string | undefined;
    let until: string | undefined;
    try {
      if (o.str('since')) since = getTimestamp(o.str('since'), ctx.now());
      if (o.str('until')) until = getTimestamp(o.str('until'), ctx.now());
    } catch (e) {
      throw new CliError((e as Error).message, 1);
    }
    const res = await client.stream('GET', `/containers/${c.Id}/logs`, {
      query: {
        stdout: '1',
        stderr: '1',
        since,
        until,
        timestamps: o.bool('timestamps') ? '1' : undefined,
        follow: o.bool('follow') ? '1' : undefined,
        tail: o.str('tail') || 'all',
        details: o.bool('details') ? '1' : undefined,
      },
    });
    const demux = c.Config?.Tty
      ? undefined
      : new FrameDemuxer((stream, payload) => {
          if (stream === 2) process.stderr.write(payload);
          else process.stdout.write(payload);
        });
    for await (const chunk of res) {
      const b = chunk as Buffer;
      if (demux) demux.push(b);
      else process.stdout.write(b);
    }
    return 0;
  },
};

// ---- inspect ----

const INSPECT_FLAGS: FlagDef[] = [
  { long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' },
  { long: 'size', short: 's', type: 'bool', desc: 'Display total file sizes if the type is container' },
  { long: 'type', type: 'string', desc: 'Only inspect objects of the given type' },
];

export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  desc: 'Return low-level information on Docker objects',
  flags: INSPECT_FLAGS,
  minArgs: 1,
  async run(ctx, o) {
    const kind = o.str('type');
    if (kind && !['container', 'image', 'network', 'volume'].includes(kind))
      throw new CliError(`"${kind}" is not a valid value for --type`, 1);
    return inspectObjects(ctx, o.args, kind, o.str('format'), o.bool('size'));
  },
};

export const containerInspectCommand: Command = {
  name: 'container inspect',
  usage: 'container inspect [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Display detailed information on one or more containers',
  flags: INSPECT_FLAGS.filter((f) => f.long !== 'type'),
  minArgs: 1,
  async run(ctx, o) {
    return inspectObjects(ctx, o.args, 'container', o.str('format'), o.bool('size'));
  },
};

// ---- exec ----

export const execCommand: Command = {
  name: 'exec',
  usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  desc: 'Execute a command in a running container',
  flags: [
    { long: 'detach', short: 'd', type: 'bool', desc: 'Detached mode: run command in the background' },
    { long: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
    { long: 'env', short: 'e', type: 'list', desc: 'Set environment variables' },
    { long: 'env-file', type: 'list', desc: 'Read in a file of environment variables' },
    { long: 'interactive', short: 'i', type: 'bool', desc: 'Keep STDIN open even if not attached' },
    { long: 'privileged', type: 'bool', desc: 'Give extended privileges to the command' },
    { long: 'tty', short: 't', type: 'bool', desc: 'Allocate a pseudo-TTY' },
    { long: 'user', short: 'u', type: 'string', desc: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { long: 'workdir', short: 'w', type: 'string', desc: 'Working directory inside the container' },
  ],
  interspersed: false,
  minArgs: 2,
  async run(ctx, o) {
    const [name, ...cmd] = o.args;
    const tty = o.bool('tty');
    const interactive = o.bool('interactive');
    const detach = o.bool('detach');
    const env: string[] = [];
    for (const f of o.list('env-file')) {
      let content: string;
      try {
        content = readFileSync(f, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CliError(`open ${f}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, 1);
      }
      try {
        env.push(...parseEnvFile(content, f, (k) => ctx.env[k]));
      } catch (e) {
        throw new CliError((e as Error).message, 1);
      }
    }
    for (const e of o.list('env')) {
      try {
        env.push(resolveEnvArg(e, (k) => ctx.env[k]));
      } catch (err) {
        throw new CliError((err as Error).message, 1);
      }
    }
    const client = await ctx.client();
    const c = await client.json<{ Id: string }>('GET', `/containers/${seg(name)}/json`);
    if (tty && interactive && !detach && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
    const body = {
      User: o.str('user'),
      Privileged: o.bool('privileged'),
      Tty: tty,
      AttachStdin: interactive && !detach,
      AttachStderr: !detach,
      AttachStdout: !detach,
      Detach: detach,
      DetachKeys: o.str('detach-keys'),
      Env: env.length ? env : null,
      WorkingDir: o.str('workdir'),
      Cmd: cmd,
    };
    const ex = await client.json<{ Id: string }>('POST', `/containers/${c.Id}/exec`, { body });
    if (detach) {
      await client.call('POST', `/exec/${ex.Id}/start`, { body: { Detach: true, Tty: tty } });
      return 0;
    }
    const h = await client.hijack(`/exec/${ex.Id}/start`, {}, { Detach: false, Tty: tty });
    const stopResize = tty ? monitorResize(client, `/exec/${ex.Id}/resize`) : () => undefined;
    try {
      const pump = pumpStreams(h, {
        tty,
        stdin: interactive,
        detachKeys: o.str('detach-keys') || configSetting(ctx.env, 'detachKeys'),
      });
      const r = await pump.done;
      if (r === 'detached') return 0;
    } finally {
      stopResize();
    }
    const info = await client.json<{ ExitCode?: number | null; Running?: boolean }>('GET', `/exec/${ex.Id}/json`);
    return info.ExitCode ?? 0;
  },
};

// ---- top, port ----

export const topCommand: Command = {
  name: 'top',
  usage: 'top CONTAINER [ps OPTIONS]',
  desc: 'Display the running processes of a container',
  flags: [],
  interspersed: false,
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const [name, ...psArgs] = o.args;
    const r = await client.json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${seg(name)}/top`, {
      query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined },
    });
    let text = `${(r.Titles ?? []).join('\t')}\n`;
    for (const p of r.Processes ?? []) text += `${p.join('\t')}\n`;
    ctx.out(tabwrite(text, 20, 3));
    return 0;
  },
};

export const portCommand: Command = {
  name: 'port',
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  desc: 'List port mappings or a specific mapping for the container',
  flags: [],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, o) {
    const client = await ctx.client();
    const [name, want] = o.args;
    const c = await client.json<{
      NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
    }>('GET', `/containers/${seg(name)}/json`);
    const ports = c.NetworkSettings?.Ports ?? {};
    const fmt = (b: { HostIp: string; HostPort: string }): string => {
      const ip = b.HostIp || '0.0.0.0';
      return ip.includes(':') ? `[${ip}]:${b.HostPort}` : `${ip}:${b.HostPort}`;
    };
    if (want) {
      let [port, proto] = want.split('/');
      proto ||= 'tcp';
      if (!/^\d+$/.test(port)) throw new CliError(`Error: invalid port (${port}): must be a number`, 1);
      const key = `${port}/${proto}`;
      const bs = ports[key];
      if (bs?.length) {
        for (const b of bs) ctx.out(`${fmt(b)}\n`);
        return 0;
      }
      throw new CliError(`Error: No public port '${want}' published for ${name}`, 1);
    }
    const lines: string[] = [];
    const keys = Object.keys(ports).sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || (a < b ? -1 : a > b ? 1 : 0));
    for (const k of keys) for (const b of ports[k] ?? []) lines.push(`${k} -> ${fmt(b)}`);
    ctx.out(lines.map((l) => `${l}\n`).join(''));
    return 0;
  },
};

export const updateCommand: Command = {
  name: 'update',
  usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  desc: 'Update configuration of one or more containers',
  flags: [
    { long: 'blkio-weight', type: 'int', desc: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
    { long: 'cpu-period', type: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { long: 'cpu-quota', type: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { long: 'cpu-shares', short: 'c', type: 'int', desc: 'CPU shares (relative weight)' },
    { long: 'cpus', type: 'string', valueName: 'decimal', desc: 'Number of CPUs' },
    { long: 'cpuset-cpus', type: 'string', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
    { long: 'cpuset-mems', type: 'string', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
    { long: 'memory', short: 'm', type: 'string', valueName: 'bytes', desc: 'Memory limit' },
    { long: 'memory-reservation', type: 'string', valueName: 'bytes', desc: 'Memory soft limit' },
    {
      long: 'memory-swap',
      type: 'string',
      valueName: 'bytes',
      desc: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap',
    },
    { long: 'pids-limit', type: 'int', desc: 'Tune container pids limit (set -1 for unlimited)' },
    { long: 'restart', type: 'string', desc: 'Restart policy to apply when a container exits' },
  ],
  minArgs: 1,
  async run(ctx, o) {
    const body: Record<string, unknown> = {};
    const bytes = (name: string, label: string): number => {
      const v = o.str(name);
      if (v === '-1' && name === 'memory-swap') return -1;
      try {
        return ramInBytes(v);
      } catch (e) {
        throw new UsageError(`invalid argument "${v}" for "${label}" flag: ${(e as Error).message}`);
      }
    };
    if (o.has('blkio-weight')) body.BlkioWeight = o.num('blkio-weight');
    if (o.has('cpu-period')) body.CpuPeriod = o.num('cpu-period');
    if (o.has('cpu-quota')) body.CpuQuota = o.num('cpu-quota');
    if (o.has('cpu-shares')) body.CpuShares = o.num('cpu-shares');
    if (o.has('cpus')) {
      const n = Number(o.str('cpus'));
      if (!Number.isFinite(n))
        throw new UsageError(
          `invalid argument "${o.str('cpus')}" for "--cpus" flag: failed to parse ${o.str('cpus')} as a rational number`,
        );
      body.NanoCpus = Math.round(n * 1e9);
    }
    if (o.has('cpuset-cpus')) body.CpusetCpus = o.str('cpuset-cpus');
    if (o.has('cpuset-mems')) body.CpusetMems = o.str('cpuset-mems');
    if (o.has('memory')) body.Memory = bytes('memory', '-m, --memory');
    if (o.has('memory-reservation')) body.MemoryReservation = bytes('memory-reservation', '--memory-reservation');
    if (o.has('memory-swap')) body.MemorySwap = bytes('memory-swap', '--memory-swap');
    if (o.has('pids-limit')) body.PidsLimit = o.num('pids-limit');
    if (o.has('restart')) {
      try {
        body.RestartPolicy = parseRestart(o.str('restart'));
      } catch (e) {
        throw new CliError((e as Error).message, 1);
      }
    }
    if (!Object.keys(body).length) throw new CliError('you must provide one or more flags when using this command', 1);
    const client = await ctx.client();
    return forEach(ctx, o.args, async (n) => {
      const r = await client.json<{ Warnings?: string[] | null }>('POST', `/containers/${seg(n)}/update`, { body });
      for (const w of r?.Warnings ?? []) ctx.err(`${w}\n`);
    });
  },
};
