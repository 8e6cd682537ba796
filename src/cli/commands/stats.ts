// stats: resource usage from GET /containers/{id}/stats?stream=0, computed the way docker's CLI does.
import { ApiError } from '../client.js';
import { ExitStatus } from '../context.js';
import type { Command } from '../context.js';
import { bytesSize, humanSize, truncateId } from '../humanize.js';
import { renderOrFail } from './common.js';

const seg = (s: string): string => encodeURIComponent(s);

export interface ApiStats {
  id?: string;
  name?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
}

export interface StatsRow {
  [k: string]: unknown;
}

export function statsRow(s: ApiStats, id: string, name: string, trunc: boolean): StatsRow {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const online = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const ms = s.memory_stats ?? {};
  const st = ms.stats ?? {};
  let usage = ms.usage ?? 0;
  const inactive = st.total_inactive_file ?? st.inactive_file;
  if (inactive !== undefined && inactive < usage) usage -= inactive;
  const limit = ms.limit ?? 0;
  const memPct = limit > 0 ? (usage / limit) * 100 : 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let rd = 0;
  let wr = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') rd += e.value;
    else if (op === 'write') wr += e.value;
  }
  return {
    Container: trunc ? truncateId(id) : id,
    ID: trunc ? truncateId(id) : id,
    Name: name.replace(/^\//, ''),
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${bytesSize(usage)} / ${bytesSize(limit)}`,
    MemPerc: `${memPct.toFixed(2)}%`,
    NetIO: `${humanSize(rx, 3)} / ${humanSize(tx, 3)}`,
    BlockIO: `${humanSize(rd, 3)} / ${humanSize(wr, 3)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

const HEADERS = {
  Container: 'CONTAINER ID',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};
const DEFAULT =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const statsCommand: Command = {
  name: 'stats',
  aliases: ['container stats'],
  usage: 'stats [OPTIONS] [CONTAINER...]',
  desc: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    { long: 'all', short: 'a', type: 'bool', desc: 'Show all containers (default shows just running)' },
    { long: 'format', type: 'string', desc: 'Format output using a custom template' },
    { long: 'no-stream', type: 'bool', desc: 'Disable streaming stats and only pull the first result' },
    { long: 'no-trunc', type: 'bool', desc: "Don't truncate output" },
  ],
  async run(ctx, o) {
    const client = await ctx.client();
    const trunc = !o.bool('no-trunc');
    const targets = async (): Promise<{ key: string; id: string; name: string }[]> => {
      if (o.args.length) return o.args.map((a) => ({ key: a, id: a, name: a }));
      const list =
        (await client.json<{ Id: string; Names?: string[] }[]>('GET', '/containers/json', {
          query: { all: o.bool('all') ? '1' : undefined },
        })) ?? [];
      return list.map((c) => ({ key: truncateId(c.Id), id: c.Id, name: (c.Names ?? [''])[0] }));
    };
    const collect = async (): Promise<{ rows: StatsRow[]; errors: string[] }> => {
      const ts = await targets();
      const errors: string[] = [];
      const rows = (
        await Promise.all(
          ts.map(async (t) => {
            try {
              const s = await client.json<ApiStats>('GET', `/containers/${seg(t.key)}/stats`, {
                query: { stream: '0' },
              });
              return statsRow(s, s.id ?? t.id, s.name ?? t.name, trunc);
            } catch (e) {
              errors.push(e instanceof ApiError ? `Error response from daemon: ${e.message}` : (e as Error).message);
              // docker shows a row of "--" for a container whose stats could not be read
              return o.args.length
                ? undefined
                : {
                    Container: '',
                    ID: '',
                    Name: '--',
                    CPUPerc: '--',
                    MemUsage: '-- / --',
                    MemPerc: '--',
                    NetIO: '--',
                    BlockIO: '--',
                    PIDs: '--',
                  };
            }
          }),
        )
      ).filter((r): r is StatsRow => !!r);
      return { rows, errors };
    };
    const format = o.str('format') || DEFAULT;
    if (o.bool('no-stream')) {
      const { rows, errors } = await collect();
      if (errors.length && o.args.length) {
        for (const e of errors) ctx.err(`${e}\n`);
        throw new ExitStatus(1);
      }
      ctx.out(renderOrFail(format, rows, HEADERS, DEFAULT));
      return 0;
    }
    const tty = !!process.stdout.isTTY;
    for (;;) {
      const { rows, errors } = await collect();
      if (errors.length && o.args.length && !rows.length) {
        for (const e of errors) ctx.err(`${e}\n`);
        return 1;
      }
      ctx.out((tty ? '\x1b[2J\x1b[H' : '') + renderOrFail(format, rows, HEADERS, DEFAULT));
      await new Promise((r) => setTimeout(r, 500));
    }
  },
};
