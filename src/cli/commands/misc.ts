// events, history, container prune, image prune.
import { createInterface } from 'node:readline';
import { readJsonStream } from '../client.js';
import { CliError, UsageError } from '../context.js';
import type { Command, Ctx } from '../context.js';
import { buildFilters, filtersParam, FilterError } from '../filters.js';
import { ellipsis, getTimestamp, humanDuration, humanSize, truncateId, rfc3339 } from '../humanize.js';
import { renderOrFail } from './common.js';
import { parseTemplate, execTemplate, type TemplateError } from '../template.js';
import type { Template } from '../template.js';

function filtersOrUsage(list: string[]): string | undefined {
  try {
    return filtersParam(buildFilters(list));
  } catch (e) {
    if (e instanceof FilterError)
      throw new UsageError(`invalid argument "${e.arg}" for "-f, --filter" flag: ${e.message}`);
    throw e;
  }
}

// jsonmessage.RFC3339NanoFixed in local time
export function rfc3339NanoFixed(
  timeNano: bigint,
  tzOffsetMinutes = -new Date(Number(timeNano / 1000000n)).getTimezoneOffset(),
): string {
  const ms = Number(timeNano / 1000000n);
  const nanos = Number(timeNano % 1000000000n);
  const d = new Date(ms + tzOffsetMinutes * 60000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = Math.abs(tzOffsetMinutes);
  const zone =
    tzOffsetMinutes === 0 ? 'Z' : `${tzOffsetMinutes < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(nanos, 9)}${zone}`;
}

interface ApiEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
  status?: string;
  id?: string;
  from?: string;
}

export function formatEvent(e: ApiEvent, raw = ''): string {
  let s = '';
  const exact = /"timeNano"\s*:\s*(\d+)/.exec(raw);
  if (exact) s += `${rfc3339NanoFixed(BigInt(exact[1]))} `;
  else if (e.timeNano) s += `${rfc3339NanoFixed(BigInt(Math.round(e.timeNano)))} `;
  else if (e.time) s += `${rfc3339NanoFixed(BigInt(e.time) * 1000000000n)} `;
  s += `${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return `${s}\n`;
}

export const eventsCommand: Command = {
  name: 'events',
  aliases: ['system events'],
  usage: 'events [OPTIONS]',
  desc: 'Get real time events from the server',
  flags: [
    {
      long: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      desc: 'Filter output based on conditions provided',
    },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'since', type: 'string', desc: 'Show all events created since timestamp' },
    { long: 'until', type: 'string', desc: 'Stream events until this timestamp' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const filters = filtersOrUsage(o.list('filter'));
    let since: string | undefined;
    let until: string | undefined;
    try {
      if (o.str('since')) since = getTimestamp(o.str('since'), ctx.now());
      if (o.str('until')) until = getTimestamp(o.str('until'), ctx.now());
    } catch (e) {
      throw new CliError((e as Error).message, 1);
    }
    let format = o.str('format');
    if (format === 'json') format = '{{json .}}';
    let t: Template | undefined;
    if (format) {
      try {
        t = parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      } catch (e) {
        throw new CliError(`template parsing error: ${(e as TemplateError).message}`, 1);
      }
    }
    const client = await ctx.client();
    const res = await client.stream('GET', '/events', { query: { since, until, filters } }, false);
    await readJsonStream(res, (m, raw) => {
      if (t) ctx.out(`${execTemplate(t, m)}\n`);
      else ctx.out(formatEvent(m as ApiEvent, raw));
    });
    return 0;
  },
};

interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
  Tags?: string[] | null;
}

export const historyCommand: Command = {
  name: 'history',
  aliases: ['image history'],
  usage: 'history [OPTIONS] IMAGE',
  desc: 'Show the history of an image',
  flags: [
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'human', short: 'H', type: 'bool', default: true, desc: 'Print sizes and dates in human readable format' },
    { long: 'no-trunc', type: 'bool', desc: "Don't truncate output" },
    { long: 'quiet', short: 'q', type: 'bool', desc: 'Only show image IDs' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, o) {
    const client = await ctx.client();
    const name = o.args[0]
      .split('/')
      .map((p) => encodeURIComponent(p).replace(/%3A/gi, ':').replace(/%40/g, '@'))
      .join('/');
    const items = (await client.json<HistoryItem[]>('GET', `/images/${name}/history`)) ?? [];
    const trunc = !o.bool('no-trunc');
    const human = o.bool('human');
    const rows = items.map((h) => {
      const id = h.Id && h.Id !== '<missing>' ? (trunc ? truncateId(h.Id) : h.Id) : '<missing>';
      const createdBy = (h.CreatedBy ?? '').replace(/\t/g, ' ');
      return {
        Comment: h.Comment ?? '',
        CreatedAt: rfc3339(h.Created),
        CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
        CreatedSince: human ? `${humanDuration(ctx.now() - h.Created * 1000)} ago` : rfc3339(h.Created),
        ID: id,
        Size: human ? humanSize(h.Size ?? 0, 3) : String(h.Size ?? 0),
      };
    });
    if (o.bool('quiet')) {
      for (const r of rows) ctx.out(`${r.ID}\n`);
      return 0;
    }
    const def = `table {{.ID}}\t{{.${human ? 'CreatedSince' : 'CreatedAt'}}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`;
    const headers = {
      ID: 'IMAGE',
      CreatedSince: 'CREATED',
      CreatedAt: 'CREATED AT',
      CreatedBy: 'CREATED BY',
      Size: 'SIZE',
      Comment: 'COMMENT',
    };
    ctx.out(renderOrFail(o.str('format') || def, rows, headers, def));
    return 0;
  },
};

async function confirm(ctx: Ctx, warning: string): Promise<boolean> {
  ctx.out(`${warning}\nAre you sure you want to continue? [y/N] `);
  if (!process.stdin.readable) return false;
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', (l) => resolve(l));
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

export const containerPruneCommand: Command = {
  name: 'container prune',
  usage: 'container prune [OPTIONS]',
  desc: 'Remove all stopped containers',
  flags: [
    { long: 'filter', type: 'list', valueName: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', type: 'bool', desc: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const filters = filtersOrUsage(o.list('filter'));
    if (!o.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
    const client = await ctx.client();
    const r = await client.json<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>(
      'POST',
      '/containers/prune',
      { query: { filters } },
    );
    let s = '';
    if (r.ContainersDeleted?.length)
      s += `Deleted Containers:\n${r.ContainersDeleted.map((id) => `${id}\n`).join('')}\n`;
    s += `Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0, 3)}\n`;
    ctx.out(s);
    return 0;
  },
};

export const imagePruneCommand: Command = {
  name: 'image prune',
  usage: 'image prune [OPTIONS]',
  desc: 'Remove unused images',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Remove all unused images, not just dangling ones' },
    { long: 'filter', type: 'list', valueName: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', type: 'bool', desc: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const f = buildFiltersSafe(o.list('filter'));
    if (o.bool('all')) f.dangling = { false: true };
    else f.dangling ??= { true: true };
    const warning = o.bool('all')
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!o.bool('force') && !(await confirm(ctx, warning))) return 0;
    const client = await ctx.client();
    const r = await client.json<{
      ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null;
      SpaceReclaimed?: number;
    }>('POST', '/images/prune', { query: { filters: filtersParam(f) } });
    let s = '';
    if (r.ImagesDeleted?.length) {
      s += 'Deleted Images:\n';
      for (const it of r.ImagesDeleted) {
        if (it.Untagged) s += `untagged: ${it.Untagged}\n`;
        if (it.Deleted) s += `deleted: ${it.Deleted}\n`;
      }
      s += '\n';
    }
    s += `Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0, 3)}\n`;
    ctx.out(s);
    return 0;
  },
};

function buildFiltersSafe(list: string[]): Record<string, Record<string, boolean>> {
  try {
    return buildFilters(list);
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(`invalid argument "${e.arg}" for "--filter" flag: ${e.message}`);
    throw e;
  }
}

interface DfImage {
  Containers?: number;
  Size?: number;
  SharedSize?: number;
}
interface DfContainer {
  State?: string;
  SizeRw?: number;
}
interface DfVolume {
  UsageData?: { RefCount?: number; Size?: number } | null;
}
interface DfCache {
  InUse?: boolean;
  Size?: number;
  Shared?: boolean;
}
/** cocon's addition to /system/df: the filesystem holding the data root (--storage-size/--storage-device). */
export interface DfDataRoot {
  Filesystem: string;
  Source: string;
  Image?: string;
  OwnFilesystem: boolean;
  ProjectQuota: boolean;
  Size: number;
  Used: number;
  Available: number;
}
export interface DiskUsage {
  DataRoot?: DfDataRoot;
  LayersSize?: number;
  Images?: DfImage[] | null;
  Containers?: DfContainer[] | null;
  Volumes?: DfVolume[] | null;
  BuildCache?: DfCache[] | null;
}

const pct = (part: number, total: number): string =>
  total > 0 ? `${humanSize(part)} (${Math.trunc((part * 100) / total)}%)` : humanSize(part);

// docker's formatter/disk_usage.go rows
export function diskUsageRows(du: DiskUsage): Record<string, string>[] {
  const images = du.Images ?? [];
  const total = du.LayersSize ?? 0;
  let used = 0;
  for (const i of images)
    if ((i.Containers ?? 0) !== 0 && i.Size !== -1 && i.SharedSize !== -1) used += (i.Size ?? 0) - (i.SharedSize ?? 0);
  const ctrs = du.Containers ?? [];
  const active = (c: DfContainer): boolean => /running|paused|restarting/.test(c.State ?? '');
  let cSize = 0;
  let cRecl = 0;
  for (const c of ctrs) {
    cSize += c.SizeRw ?? 0;
    if (!active(c)) cRecl += c.SizeRw ?? 0;
  }
  const vols = du.Volumes ?? [];
  let vSize = 0;
  let vRecl = 0;
  for (const v of vols) {
    const sz = v.UsageData?.Size ?? -1;
    if (sz === -1) continue;
    vSize += sz;
    if ((v.UsageData?.RefCount ?? 0) === 0) vRecl += sz;
  }
  const cache = du.BuildCache ?? [];
  let bSize = 0;
  let bRecl = 0;
  for (const b of cache) {
    if (!b.Shared) bSize += b.Size ?? 0;
    if (!b.InUse && !b.Shared) bRecl += b.Size ?? 0;
  }
  return [
    {
      Type: 'Images',
      TotalCount: String(images.length),
      Active: String(images.filter((i) => (i.Containers ?? 0) > 0).length),
      Size: humanSize(total),
      Reclaimable: pct(total - used, total),
    },
    {
      Type: 'Containers',
      TotalCount: String(ctrs.length),
      Active: String(ctrs.filter(active).length),
      Size: humanSize(cSize),
      Reclaimable: pct(cRecl, cSize),
    },
    {
      Type: 'Local Volumes',
      TotalCount: String(vols.length),
      Active: String(vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Size: humanSize(vSize),
      Reclaimable: pct(vRecl, vSize),
    },
    {
      Type: 'Build Cache',
      TotalCount: String(cache.length),
      Active: String(cache.filter((b) => b.InUse).length),
      Size: humanSize(bSize),
      Reclaimable: humanSize(bRecl),
    },
  ];
}

export const systemDfCommand: Command = {
  name: 'system df',
  usage: 'system df [OPTIONS]',
  desc: 'Show cocon disk usage',
  flags: [
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'verbose', short: 'v', type: 'bool', desc: 'Show detailed information on space usage' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const client = await ctx.client();
    const du = await client.json<DiskUsage>('GET', '/system/df');
    const def = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
    const headers = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
    ctx.out(renderOrFail(o.str('format') || def, diskUsageRows(du), headers, def));
    const dr = du.DataRoot;
    if (dr && !o.str('format')) {
      ctx.out(
        `\nData root: ${dr.Filesystem} on ${dr.Image ?? dr.Source}${dr.OwnFilesystem ? '' : ' (shared with the host, no quota)'}, ` +
          `${humanSize(dr.Used)} used of ${humanSize(dr.Size)}, ${humanSize(dr.Available)} free${dr.ProjectQuota ? ', project quotas on' : ''}\n`,
      );
    }
    return 0;
  },
};

export const systemPruneCommand: Command = {
  name: 'system prune',
  usage: 'system prune [OPTIONS]',
  desc: 'Remove unused data',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Remove all unused images not just dangling ones' },
    { long: 'filter', type: 'list', valueName: 'filter', desc: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { long: 'force', short: 'f', type: 'bool', desc: 'Do not prompt for confirmation' },
    { long: 'volumes', type: 'bool', desc: 'Prune anonymous volumes' },
  ],
  maxArgs: 0,
  async run(ctx, o) {
    const base = buildFiltersSafe(o.list('filter'));
    if (!o.bool('force')) {
      const lines = ['  - all stopped containers', '  - all networks not used by at least one container'];
      if (o.bool('volumes')) lines.push('  - all anonymous volumes not used by at least one container');
      lines.push(
        o.bool('all') ? '  - all images without at least one container associated to them' : '  - all dangling images',
      );
      lines.push('  - unused build cache');
      if (!(await confirm(ctx, `WARNING! This will remove:\n${lines.join('\n')}\n`))) return 0;
    }
    const client = await ctx.client();
    let reclaimed = 0;
    let s = '';
    const c = await client.json<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>(
      'POST',
      '/containers/prune',
      { query: { filters: filtersParam(base) } },
    );
    reclaimed += c.SpaceReclaimed ?? 0;
    if (c.ContainersDeleted?.length) s += `Deleted Containers:\n${c.ContainersDeleted.map((x) => `${x}\n`).join('')}\n`;
    try {
      const n = await client.json<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', {
        query: { filters: filtersParam(base) },
      });
      if (n.NetworksDeleted?.length) s += `Deleted Networks:\n${n.NetworksDeleted.map((x) => `${x}\n`).join('')}\n`;
    } catch {
      /* a daemon without networks */
    }
    if (o.bool('volumes')) {
      const v = await client.json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>(
        'POST',
        '/volumes/prune',
        { query: { filters: filtersParam(base) } },
      );
      reclaimed += v.SpaceReclaimed ?? 0;
      if (v.VolumesDeleted?.length) s += `Deleted Volumes:\n${v.VolumesDeleted.map((x) => `${x}\n`).join('')}\n`;
    }
    const f = { ...base, dangling: { [o.bool('all') ? 'false' : 'true']: true } };
    const i = await client.json<{
      ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null;
      SpaceReclaimed?: number;
    }>('POST', '/images/prune', { query: { filters: filtersParam(f) } });
    reclaimed += i.SpaceReclaimed ?? 0;
    if (i.ImagesDeleted?.length) {
      s += 'Deleted Images:\n';
      for (const it of i.ImagesDeleted) {
        if (it.Untagged) s += `untagged: ${it.Untagged}\n`;
        if (it.Deleted) s += `deleted: ${it.Deleted}\n`;
      }
      s += '\n';
    }
    s += `Total reclaimed space: ${humanSize(reclaimed, 3)}\n`;
    ctx.out(s);
    return 0;
  },
};
