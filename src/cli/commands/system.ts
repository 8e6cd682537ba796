// version and info.
import os from 'node:os';
import { CLIENT_API_VERSION, ConnectError } from '../client.js';
import { CLI_VERSION, CliError } from '../context.js';
import type { Command } from '../context.js';
import { bytesSize } from '../humanize.js';
import { printInspect } from './common.js';

export { CLI_VERSION };

interface ServerVersion {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  BuildTime?: string;
  Experimental?: boolean;
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
  Platform?: { Name?: string };
}

function arch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

export const versionCommand: Command = {
  name: 'version',
  usage: 'version [OPTIONS]',
  desc: 'Show the cocon version information',
  flags: [{ long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' }],
  maxArgs: 0,
  async run(ctx, o) {
    let server: ServerVersion | undefined;
    let serverErr: unknown;
    let apiVersion = CLIENT_API_VERSION;
    try {
      const client = await ctx.client();
      apiVersion = client.version;
      server = await client.json<ServerVersion>('GET', '/version');
    } catch (e) {
      serverErr = e;
    }
    const clientInfo = {
      Version: CLI_VERSION,
      ApiVersion: apiVersion,
      DefaultAPIVersion: CLIENT_API_VERSION,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: arch(),
      BuildTime: '',
      Context: 'default',
    };
    if (o.str('format')) {
      // Go field names (APIVersion) next to the JSON ones, hidden from {{json}}
      const alias = <T extends object>(x: T, v: unknown): T =>
        Object.defineProperty({ ...x }, 'APIVersion', { value: v, enumerable: false });
      const srv = server ? alias(server, server.ApiVersion) : null;
      const f = o.str('format') === 'json' ? '{{json .}}' : o.str('format');
      printInspect(ctx, [{ Client: alias(clientInfo, clientInfo.ApiVersion), Server: srv }], f);
      if (serverErr) throw serverErr;
      return 0;
    }
    let s = 'Client:\n';
    s += ` Version:           ${CLI_VERSION}\n`;
    s += ` API version:       ${apiVersion}${apiVersion !== CLIENT_API_VERSION ? ` (downgraded from ${CLIENT_API_VERSION})` : ''}\n`;
    s += ` Node version:      ${process.version}\n`;
    s += ' Git commit:        \n';
    s += ` OS/Arch:           linux/${arch()}\n`;
    s += ' Context:           default\n';
    if (server) {
      s += `\nServer:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}\n`;
      s += ` Engine:\n`;
      s += `  Version:          ${server.Version ?? ''}\n`;
      s += `  API version:      ${server.ApiVersion ?? ''}${server.MinAPIVersion ? ` (minimum version ${server.MinAPIVersion})` : ''}\n`;
      s += `  Go version:       ${server.GoVersion ?? ''}\n`;
      s += `  Git commit:       ${server.GitCommit ?? ''}\n`;
      s += `  Built:            ${server.BuildTime ?? ''}\n`;
      s += `  OS/Arch:          ${server.Os ?? ''}/${server.Arch ?? ''}\n`;
      s += `  Experimental:     ${server.Experimental ? 'true' : 'false'}\n`;
      for (const c of server.Components ?? []) {
        if (c.Name === 'Engine') continue;
        s += ` ${c.Name}:\n`;
        s += `  Version:          ${c.Version}\n`;
        for (const [k, v] of Object.entries(c.Details ?? {})) s += `  ${(k + ':').padEnd(17)} ${v}\n`;
      }
    }
    ctx.out(s);
    if (serverErr) {
      if (serverErr instanceof ConnectError) throw new CliError(serverErr.message, 1);
      throw serverErr;
    }
    return 0;
  },
};

type Info = Record<string, unknown>;

export const infoCommand: Command = {
  name: 'info',
  aliases: ['system info'],
  usage: 'info [OPTIONS]',
  desc: 'Display system-wide information',
  flags: [{ long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' }],
  maxArgs: 0,
  async run(ctx, o) {
    const client = await ctx.client();
    const info = await client.json<Info>('GET', '/info');
    if (o.str('format')) {
      printInspect(ctx, [info], o.str('format') === 'json' ? '{{json .}}' : o.str('format'));
      return 0;
    }
    const g = (k: string): string => (info[k] === undefined || info[k] === null ? '' : String(info[k]));
    let s = 'Client:\n';
    s += ` Version:    ${CLI_VERSION}\n`;
    s += ' Context:    default\n';
    s += ' Debug Mode: false\n';
    s += '\nServer:\n';
    s += ` Containers: ${g('Containers')}\n`;
    s += `  Running: ${g('ContainersRunning')}\n`;
    s += `  Paused: ${g('ContainersPaused')}\n`;
    s += `  Stopped: ${g('ContainersStopped')}\n`;
    s += ` Images: ${g('Images')}\n`;
    s += ` Server Version: ${g('ServerVersion')}\n`;
    s += ` Storage Driver: ${g('Driver')}\n`;
    for (const pair of (info.DriverStatus as [string, string][] | null) ?? []) s += `  ${pair[0]}: ${pair[1]}\n`;
    const lo = (info as { LoggingDriverOptions?: Record<string, string> }).LoggingDriverOptions;
    s += ` Logging Driver: ${g('LoggingDriver')}${
      lo && Object.keys(lo).length
        ? ` (${Object.entries(lo)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : ''
    }\n`;
    s += ` Cgroup Driver: ${g('CgroupDriver')}\n`;
    s += ` Cgroup Version: ${g('CgroupVersion')}\n`;
    const plugins = info.Plugins as Record<string, string[] | null> | undefined;
    if (plugins) {
      s += ' Plugins:\n';
      for (const k of ['Volume', 'Network', 'Log']) if (plugins[k]) s += `  ${k}: ${(plugins[k] ?? []).join(' ')}\n`;
    }
    const runtimes = info.Runtimes as Record<string, unknown> | undefined;
    if (runtimes) s += ` Runtimes: ${Object.keys(runtimes).sort().join(' ')}\n`;
    s += ` Default Runtime: ${g('DefaultRuntime')}\n`;
    const secopts = (info.SecurityOptions as string[] | null) ?? [];
    if (secopts.length) {
      s += ' Security Options:\n';
      for (const so of secopts) {
        const parts = so.split(',');
        for (const p of parts) {
          const [k, v] = p.split('=');
          if (k === 'name') s += `  ${v}\n`;
          else if (v !== undefined) s += `   ${k[0].toUpperCase()}${k.slice(1)}: ${v}\n`;
        }
      }
    }
    s += ` Kernel Version: ${g('KernelVersion') || os.release()}\n`;
    s += ` Operating System: ${g('OperatingSystem')}\n`;
    s += ` OSType: ${g('OSType')}\n`;
    s += ` Architecture: ${g('Architecture')}\n`;
    s += ` CPUs: ${g('NCPU')}\n`;
    s += ` Total Memory: ${typeof info.MemTotal === 'number' ? bytesSize(info.MemTotal) : ''}\n`;
    s += ` Name: ${g('Name')}\n`;
    s += ` ID: ${g('ID')}\n`;
    s += ` Docker Root Dir: ${g('DockerRootDir')}\n`;
    s += ` Debug Mode: ${info.Debug ? 'true' : 'false'}\n`;
    s += ` Experimental: ${info.ExperimentalBuild ? 'true' : 'false'}\n`;
    const reg = info.RegistryConfig as
      | { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Secure?: boolean }> }
      | undefined;
    const insecure = [
      ...Object.entries(reg?.IndexConfigs ?? {})
        .filter(([, v]) => v && v.Secure === false)
        .map(([k]) => k),
      ...(reg?.InsecureRegistryCIDRs ?? []),
    ];
    if (insecure.length) s += ` Insecure Registries:\n${insecure.map((x) => `  ${x}\n`).join('')}`;
    s += ` Live Restore Enabled: ${info.LiveRestoreEnabled ? 'true' : 'false'}\n`;
    ctx.out(`${s}\n`);
    for (const w of (info.Warnings as string[] | null) ?? []) ctx.err(`${w}\n`);
    return 0;
  },
};
