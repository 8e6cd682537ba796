// Daemon memory benchmark (issue 16): the cocon daemon's RSS and PSS (and how much of it is
// anonymous memory, i.e. V8 heap and native allocations, rather than the mapped node binary and
// libraries) idle, then with 50 and with 200 `run -d busybox sleep` containers; beside it the reference
// dockerd + containerd idle (their own processes, not the per-container shims).
//
//   node dist/bench/mem-bench.js [--containers 50,200] [--write]
//
// It starts its own cocon daemon on temp roots and removes it (and its containers) at the end, also
// on failure. The dockerd is only read from /proc, never given containers (it is shared).
import { readdirSync, readFileSync } from 'node:fs';
import { startDaemon, bootstrapBusybox, apiCall, sleep, type Daemon } from '../test/helpers/daemon.js';
import { createBody } from '../test/helpers/containers.js';
import {
  fmtMiB,
  loadAvg,
  logger,
  machineLine,
  pssKb,
  referenceDockerd,
  sectionTitle,
  statusKb,
  table,
  writeResults,
} from './lib.js';

const argv = process.argv.slice(2);
const ci = argv.indexOf('--containers');
const STEPS = (ci >= 0 ? argv[ci + 1] : '50,200').split(',').map(Number);
const WRITE = argv.includes('--write');
const log = logger('mem-bench');

interface Mem {
  rss: number;
  pss: number;
  anon: number;
}
/** One process's memory in kB: RSS, PSS and the anonymous part of RSS (heap, native allocations). */
function memOf(pid: number): Mem {
  let anon = 0;
  try {
    const m = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    anon = m ? Number(m[1]) : 0;
  } catch {
    /* gone */
  }
  return { rss: statusKb(pid, 'VmRSS'), pss: pssKb(pid), anon };
}
const sum = (ms: Mem[]): Mem =>
  ms.reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss, anon: a.anon + m.anon }), { rss: 0, pss: 0, anon: 0 });

/** Settled memory: the median of 5 samples 200 ms apart, after 2 s of quiet. */
async function settled(pid: number): Promise<Mem> {
  await sleep(2000);
  const xs: Mem[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(memOf(pid));
    await sleep(200);
  }
  xs.sort((a, b) => a.rss - b.rss);
  return xs[2];
}

function pidsByName(name: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith(`/${name}`) || cmd[0] === name) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function runDetached(d: Daemon, n: number): Promise<void> {
  // four at a time through the API, as `docker run -d` does (create, then start)
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const c = await apiCall(d.socket, 'POST', '/containers/create', createBody({ cmd: ['sleep', '3600'] }));
      if (c.status !== 201) throw new Error(`create: ${c.status} ${c.body}`);
      const s = await apiCall(d.socket, 'POST', `/containers/${c.json.Id}/start`);
      if (s.status !== 204) throw new Error(`start: ${s.status} ${s.body}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

async function main(): Promise<void> {
  let d: Daemon | undefined;
  try {
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    const rows: string[][] = [];
    const row = (name: string, m: Mem) => rows.push([name, fmtMiB(m.rss), fmtMiB(m.pss), fmtMiB(m.anon)]);
    const idle = await settled(d.pid);
    row('cocon daemon, idle (busybox image, no container)', idle);
    log(`idle: rss ${fmtMiB(idle.rss)} pss ${fmtMiB(idle.pss)} anon ${fmtMiB(idle.anon)}`);
    let have = 0;
    for (const n of STEPS) {
      await runDetached(d, n - have);
      have = n;
      const m = await settled(d.pid);
      row(`cocon daemon, ${n} running \`sleep\` containers`, m);
      log(`${n} containers: rss ${fmtMiB(m.rss)} pss ${fmtMiB(m.pss)} anon ${fmtMiB(m.anon)}`);
    }
    const ref = referenceDockerd(log);
    let dockerNote = '';
    if (ref) {
      const dockerd = pidsByName('dockerd');
      const containerd = pidsByName('containerd');
      const both = sum([...dockerd, ...containerd].map(memOf));
      row(
        `dockerd ${ref.version} + containerd (${dockerd.length} + ${containerd.length} processes, as they are now)`,
        both,
      );
      dockerNote = ` Idle cocon / (dockerd + containerd) RSS: **${(idle.rss / both.rss).toFixed(2)}** (target <= 0.4).`;
    }
    const text = [
      sectionTitle('daemon memory'),
      '',
      `${machineLine()} The daemon's VmRSS, PSS (smaps_rollup) and anonymous memory (V8 heap and native allocations; the rest of RSS is the mapped node binary and libraries), each the median of 5 samples after 2 s of quiet; containers started 4 at a time through the API; load average at the end ${loadAvg()} (shared machine).${dockerNote}`,
      '',
      ...table(['daemon', 'RSS', 'PSS', 'anonymous'], rows),
      '',
    ].join('\n');
    process.stdout.write(`${text}\n`);
    if (WRITE) writeResults(text, log);
  } finally {
    await d?.stop().catch((e) => log(String(e)));
  }
}

main().catch((e) => {
  process.stderr.write(`mem-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
