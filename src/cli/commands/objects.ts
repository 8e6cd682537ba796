// volume and network commands (create, ls, inspect, rm, prune; network connect/disconnect).
import { ApiError } from '../client.js';
import { CliError, UsageError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { buildFilters, filtersParam, FilterError } from '../filters.js';
import { labelsToMap } from '../envfile.js';
import { goTimeStringFromIso, humanSize, truncateId } from '../humanize.js';
import { renderOrFail, printInspect } from './common.js';
import { createInterface } from 'node:readline';

const seg = (s: string): string => encodeURIComponent(s);

function daemonMsg(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function filtersOrUsage(list: string[], flag = '-f, --filter'): string | undefined {
  try {
    return filtersParam(buildFilters(list));
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(`invalid argument "${e.arg}" for "${flag}" flag: ${e.message}`);
    throw e;
  }
}

function kvMap(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const i = s.indexOf('=');
    if (i > 0) out[s.slice(0, i)] = s.slice(i + 1);
    else out[s] = '';
  }
  return out;
}

async function confirm(ctx: Ctx, warning: string): Promise<boolean> {
  ctx.out(`${warning}\nAre you sure you want to continue? [y/N] `);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function inspectEach(ctx: Ctx, names: string[], path: (n: string) => string, format: string): Promise<number> {
  const client = await ctx.client();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      found.push(await client.json<unknown>('GET', path(n)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) errors.push(daemonMsg(e));
      else throw e;
    }
  }
  if (found.length || !format) printInspect(ctx, found, format);
  for (const e of errors) ctx.err(`${e}\n`);
  return errors.length ? 1 : 0;
}

// ---- volumes ----

interface ApiVolume {
  Name: string;
  Driver: string;
  Mountpoint?: string;
  Labels?: Record<string, string> | null;
  Scope?: string;
  Options?: Record<string, string> | null;
  CreatedAt?: string;
}

export const volumeCreateCommand: Command = {
  name: 'volume create',
  usage: 'volume create [OPTIONS] [VOLUME]',
  desc: 'Create a volume',
  flags: [
    { long: 'driver', short: 'd', type: 'string', default: 'local', desc: 'Specify volume driver name' },
    { long: 'label', type: 'list', desc: 'Set metadata for a volume' },
    { long: 'name', type: 'string', hidden: true },
    { long: 'opt', short: 'o', type: 'list', valueName: 'map', desc: 'Set driver specific options' },
  ],
  maxArgs: 1,
  async run(ctx, o) {
    const name = o.args[0] ?? o.str('name');
    if (o.args[0] && o.str('name') && o.args[0] !== o.str('name'))
      throw new CliError(
        `conflicting options: cannot specify a volume-name through both --name and as a positional arg`,
        1,
      );
    const client = await ctx.client();
    const body: Record<string, unknown> = { Driver: o.str('driver') };
    if (o.list('opt').length) body.DriverOpts = kvMap(o.list('opt'));
    if (o.list('label').length) body.Labels = labelsToMap(o.list('label'));
    if (name) body.Name = name;
    const v = await client.json<ApiVolume>('POST', '/volumes/create', { body });
    ctx.out(`${v.Name}\n`);
    return 0;
  },
};

export const volumeLsCommand: Command = {
  name: 'volume ls',
  usage: 'volume ls [OPTIONS]',
  desc: 'List volumes',
  flags: [
    {
      long: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      desc: "Provide filter values (e.g. 'dangling=true')",
    },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Only display volume names' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const filters = filtersOrUsage(o.list('filter'));
    const client = await ctx.client();
    const r = await client.json<{ Volumes?: ApiVolume[] | null }>('GET', '/volumes', { query: { filters } });
    const vols = [...(r.Volumes ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    const rows = vols.map((v) => {
      const labels = v.Labels ?? {};
      const row: Record<string, unknown> = {
        Availability: 'N/A',
        Driver: v.Driver,
        Group: 'N/A',
        Labels: Object.keys(labels)
          .sort()
          .map((k) => `${k}=${labels[k]}`)
          .join(','),
        Links: 'N/A',
        Mountpoint: v.Mountpoint ?? '',
        Name: v.Name,
        Scope: v.Scope ?? 'local',
        Size: 'N/A',
        Status: 'N/A',
      };
      Object.defineProperty(row, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
      return row;
    });
    const headers = {
      Availability: 'AVAILABILITY',
      Driver: 'DRIVER',
      Group: 'GROUP',
      Labels: 'LABELS',
      Links: 'LINKS',
      Mountpoint: 'MOUNTPOINT',
      Name: 'VOLUME NAME',
      Scope: 'SCOPE',
      Size: 'SIZE',
      Status: 'STATUS',
    };
    const def = 'table {{.Driver}}\t{{.Name}}';
    ctx.out(renderOrFail(o.bool('quiet') ? '{{.Name}}' : o.str('format') || def, rows, headers, def));
    return 0;
  },
};

export const volumeInspectCommand: Command = {
  name: 'volume inspect',
  usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]',
  desc: 'Display detailed information on one or more volumes',
  flags: [{ long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' }],
  minArgs: 1,
  async run(ctx, o) {
    return inspectEach(ctx, o.args, (n) => `/volumes/${seg(n)}`, o.str('format'));
  },
};

export const volumeRmCommand: Command = {
  name: 'volume rm',
  usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]',
  desc: 'Remove one or more volumes',
  flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'Force the removal of one or more volumes' }],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    let failed = false;
    for (const n of o.args) {
      try {
        await client.call('DELETE', `/volumes/${seg(n)}`, { query: { force: o.bool('force') ? '1' : undefined } });
        ctx.out(`${n}\n`);
      } catch (e) {
        ctx.err(`${daemonMsg(e)}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

export const volumePruneCommand: Command = {
  name: 'volume prune',
  usage: 'volume prune [OPTIONS]',
  desc: 'Remove unused local volumes',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Remove all unused volumes, not just anonymous ones' },
    { long: 'filter', type: 'list', valueName: 'filter', desc: 'Provide filter values (e.g. "label=<label>")' },
    { long: 'force', short: 'f', type: 'bool', desc: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    let f;
    try {
      f = buildFilters(o.list('filter'));
    } catch (e) {
      if (e instanceof FilterError)
        throw new UsageError(`invalid argument "${e.arg}" for "--filter" flag: ${e.message}`);
      throw e;
    }
    const warning = o.bool('all')
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!o.bool('force') && !(await confirm(ctx, warning))) return 0;
    const client = await ctx.client();
    // API 1.42 added the `all` filter; before it, prune removed every unused volume anyway
    const v = client.version.split('.').map(Number);
    if (o.bool('all') && (v[0] > 1 || v[1] >= 42)) f.all = { true: true };
    const r = await client.json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>(
      'POST',
      '/volumes/prune',
      { query: { filters: filtersParam(f) } },
    );
    let s = '';
    if (r.VolumesDeleted?.length) s += `Deleted Volumes:\n${r.VolumesDeleted.map((v) => `${v}\n`).join('')}\n`;
    s += `Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0, 3)}\n`;
    ctx.out(s);
    return 0;
  },
};

// ---- networks ----

interface ApiNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Created?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
  IPAM?: unknown;
}

export const networkCreateCommand: Command = {
  name: 'network create',
  usage: 'network create [OPTIONS] NETWORK',
  desc: 'Create a network',
  flags: [
    { long: 'attachable', type: 'bool', desc: 'Enable manual container attachment' },
    {
      long: 'aux-address',
      type: 'list',
      valueName: 'map',
      desc: 'Auxiliary IPv4 or IPv6 addresses used by Network driver',
    },
    { long: 'driver', short: 'd', type: 'string', default: 'bridge', desc: 'Driver to manage the Network' },
    { long: 'gateway', type: 'list', valueName: 'strings', desc: 'IPv4 or IPv6 Gateway for the master subnet' },
    { long: 'internal', type: 'bool', desc: 'Restrict external access to the network' },
    { long: 'ip-range', type: 'list', valueName: 'strings', desc: 'Allocate container ip from a sub-range' },
    { long: 'ipam-driver', type: 'string', default: 'default', desc: 'IP Address Management Driver' },
    { long: 'ipam-opt', type: 'list', valueName: 'map', desc: 'Set IPAM driver specific options' },
    { long: 'ipv6', type: 'bool', desc: 'Enable or disable IPv6 networking' },
    { long: 'label', type: 'list', desc: 'Set metadata on a network' },
    { long: 'opt', short: 'o', type: 'list', valueName: 'map', desc: 'Set driver specific options' },
    { long: 'scope', type: 'string', desc: "Control the network's scope" },
    {
      long: 'subnet',
      type: 'list',
      valueName: 'strings',
      desc: 'Subnet in CIDR format that represents a network segment',
    },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const subnets = o.list('subnet');
    const gws = o.list('gateway');
    const ranges = o.list('ip-range');
    if (gws.length > subnets.length) throw new CliError('no matching subnet for gateway ' + gws[subnets.length], 1);
    if (ranges.length > subnets.length) throw new CliError('no matching subnet for range ' + ranges[subnets.length], 1);
    // like docker, a gateway or range goes with the subnet it belongs to (here: the next one of its
    // family, as a network has at most one subnet per family), not with the one at the same position
    const config: Array<Record<string, unknown>> = subnets.map((s) => ({ Subnet: s }));
    const v6 = (x: string) => x.includes(':');
    const attach = (key: 'Gateway' | 'IPRange', values: string[], what: string) => {
      for (const v of values) {
        const c = config.find((x) => !x[key] && v6(x.Subnet as string) === v6(v));
        if (!c) throw new CliError(`no matching subnet for ${what} ${v}`, 1);
        c[key] = v;
      }
    };
    attach('IPRange', ranges, 'range');
    attach('Gateway', gws, 'gateway');
    if (o.list('aux-address').length && config[0]) config[0].AuxiliaryAddresses = kvMap(o.list('aux-address'));
    const body = {
      Driver: o.str('driver'),
      Scope: o.str('scope'),
      EnableIPv6: o.has('ipv6') ? o.bool('ipv6') : undefined,
      IPAM: { Driver: o.str('ipam-driver'), Options: kvMap(o.list('ipam-opt')), Config: config },
      Internal: o.bool('internal'),
      Attachable: o.bool('attachable'),
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      Options: kvMap(o.list('opt')),
      Labels: labelsToMap(o.list('label')),
      Name: o.args[0],
      CheckDuplicate: true,
    };
    const client = await ctx.client();
    const r = await client.json<{ Id: string; Warning?: string }>('POST', '/networks/create', { body });
    if (r.Warning) ctx.err(`${r.Warning}\n`);
    ctx.out(`${r.Id}\n`);
    return 0;
  },
};

export const networkLsCommand: Command = {
  name: 'network ls',
  usage: 'network ls [OPTIONS]',
  desc: 'List networks',
  flags: [
    {
      long: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      desc: "Provide filter values (e.g. 'driver=bridge')",
    },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'no-trunc', type: 'bool', desc: 'Do not truncate the output' },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Only display network IDs' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const filters = filtersOrUsage(o.list('filter'));
    const client = await ctx.client();
    const nets = [...((await client.json<ApiNetwork[]>('GET', '/networks', { query: { filters } })) ?? [])].sort(
      (a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0),
    );
    const trunc = !o.bool('no-trunc');
    const rows = nets.map((n) => {
      const labels = n.Labels ?? {};
      const row: Record<string, unknown> = {
        CreatedAt: n.Created ? goTimeStringFromIso(n.Created) : '',
        Driver: n.Driver,
        ID: trunc ? truncateId(n.Id) : n.Id,
        IPv4: String(!!n.EnableIPv4),
        IPv6: String(!!n.EnableIPv6),
        Internal: String(!!n.Internal),
        Labels: Object.keys(labels)
          .sort()
          .map((k) => `${k}=${labels[k]}`)
          .join(','),
        Name: n.Name,
        Scope: n.Scope,
      };
      Object.defineProperty(row, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
      return row;
    });
    const headers = {
      CreatedAt: 'CREATED AT',
      Driver: 'DRIVER',
      ID: 'NETWORK ID',
      IPv4: 'IPV4',
      IPv6: 'IPV6',
      Internal: 'INTERNAL',
      Labels: 'LABELS',
      Name: 'NAME',
      Scope: 'SCOPE',
    };
    const def = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
    ctx.out(renderOrFail(o.bool('quiet') ? '{{.ID}}' : o.str('format') || def, rows, headers, def));
    return 0;
  },
};

export const networkInspectCommand: Command = {
  name: 'network inspect',
  usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]',
  desc: 'Display detailed information on one or more networks',
  flags: [
    { long: 'format', short: 'f', type: 'string', desc: 'Format output using a custom template' },
    { long: 'verbose', short: 'v', type: 'bool', desc: 'Verbose output for diagnostics' },
  ],
  minArgs: 1,
  async run(ctx, o) {
    return inspectEach(ctx, o.args, (n) => `/networks/${seg(n)}`, o.str('format'));
  },
};

export const networkRmCommand: Command = {
  name: 'network rm',
  usage: 'network rm NETWORK [NETWORK...]',
  desc: 'Remove one or more networks',
  flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'Do not error if the network does not exist' }],
  minArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    let failed = false;
    for (const n of o.args) {
      try {
        await client.call('DELETE', `/networks/${seg(n)}`);
        ctx.out(`${n}\n`);
      } catch (e) {
        if (o.bool('force') && e instanceof ApiError && e.status === 404) continue;
        ctx.err(`${daemonMsg(e)}\n`);
        failed = true;
      }
    }
    if (failed) ctx.err('exit status 1\n'); // docker's CLI prints this too
    return failed ? 1 : 0;
  },
};

export const networkConnectCommand: Command = {
  name: 'network connect',
  usage: 'network connect [OPTIONS] NETWORK CONTAINER',
  desc: 'Connect a container to a network',
  flags: [
    { long: 'alias', type: 'list', desc: 'Add network-scoped alias for the container' },
    { long: 'driver-opt', type: 'list', desc: 'driver options for the network' },
    { long: 'ip', type: 'string', desc: 'IPv4 address (e.g., "172.30.100.104")' },
    { long: 'ip6', type: 'string', desc: 'IPv6 address (e.g., "2001:db8::33")' },
    { long: 'link', type: 'list', desc: 'Add link to another container' },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, o) {
    const [net, ctr] = o.args;
    const ipam: Record<string, string> = {};
    if (o.str('ip')) ipam.IPv4Address = o.str('ip');
    if (o.str('ip6')) ipam.IPv6Address = o.str('ip6');
    const body = {
      Container: ctr,
      EndpointConfig: {
        IPAMConfig: Object.keys(ipam).length ? ipam : null,
        Links: o.list('link').length ? o.list('link') : null,
        Aliases: o.list('alias').length ? o.list('alias') : null,
        DriverOpts: o.list('driver-opt').length ? kvMap(o.list('driver-opt')) : null,
      },
    };
    const client = await ctx.client();
    await client.call('POST', `/networks/${seg(net)}/connect`, { body });
    return 0;
  },
};

export const networkDisconnectCommand: Command = {
  name: 'network disconnect',
  usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
  desc: 'Disconnect a container from a network',
  flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'Force the container to disconnect from a network' }],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, o) {
    const [net, ctr] = o.args;
    const client = await ctx.client();
    await client.call('POST', `/networks/${seg(net)}/disconnect`, { body: { Container: ctr, Force: o.bool('force') } });
    return 0;
  },
};

export const networkPruneCommand: Command = {
  name: 'network prune',
  usage: 'network prune [OPTIONS]',
  desc: 'Remove all unused networks',
  flags: [
    { long: 'filter', type: 'list', valueName: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', type: 'bool', desc: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const filters = filtersOrUsage(o.list('filter'), '--filter');
    if (
      !o.bool('force') &&
      !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))
    )
      return 0;
    const client = await ctx.client();
    const r = await client.json<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', {
      query: { filters },
    });
    if (r.NetworksDeleted?.length) ctx.out(`Deleted Networks:\n${r.NetworksDeleted.map((n) => `${n}\n`).join('')}`);
    return 0;
  },
};

export const VOLUME_SUB: Record<string, Command> = {
  create: volumeCreateCommand,
  ls: volumeLsCommand,
  list: volumeLsCommand,
  inspect: volumeInspectCommand,
  rm: volumeRmCommand,
  remove: volumeRmCommand,
  prune: volumePruneCommand,
};
export const NETWORK_SUB: Record<string, Command> = {
  create: networkCreateCommand,
  ls: networkLsCommand,
  list: networkLsCommand,
  inspect: networkInspectCommand,
  rm: networkRmCommand,
  remove: networkRmCommand,
  connect: networkConnectCommand,
  disconnect: networkDisconnectCommand,
  prune: networkPruneCommand,
};
