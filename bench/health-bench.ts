// What healthchecks cost the daemon: N containers with --health-interval 1s (a CMD `true` probe),
// the daemon's CPU time (utime + stime from /proc/PID/stat) over a window, as % of one core,
// against the same daemon with the same containers and no checks. Also the probe latency seen in
// State.Health. Needs root; run after a build: node dist/bench/health-bench.js [N] [SECONDS]
import { readFileSync } from 'node:fs';
import { startDaemon, bootstrapBusybox, type Daemon } from '../test/helpers/daemon.js';

const N = Number(process.argv[2] ?? 50);
const SECONDS = Number(process.argv[3] ?? 20);
const HZ = 100; // USER_HZ on Linux

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime
}

async function window(d: Daemon): Promise<number> {
  const t0 = cpuTicks(d.pid);
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  return ((cpuTicks(d.pid) - t0) / HZ / ((Date.now() - w0) / 1000)) * 100;
}

async function run(health: boolean): Promise<{ cpu: number; probeMs: number[] }> {
  const d = await startDaemon();
  try {
    await bootstrapBusybox(d);
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const body: Record<string, unknown> = {
        Image: 'busybox',
        Cmd: ['sleep', '3600'],
        HostConfig: { NetworkMode: 'none' },
      };
      if (health) body.Healthcheck = { Test: ['CMD', 'true'], Interval: 1e9, Retries: 3 };
      const c = await d.api('POST', '/containers/create', body);
      await d.api('POST', `/containers/${c.json.Id}/start`);
      ids.push(c.json.Id);
    }
    await new Promise((r) => setTimeout(r, 3000));
    const cpu = await window(d);
    const probeMs: number[] = [];
    for (const id of ids) {
      const h = (await d.api('GET', `/containers/${id}/json`)).json.State.Health;
      for (const e of h?.Log ?? []) probeMs.push(Date.parse(e.End) - Date.parse(e.Start));
    }
    return { cpu, probeMs };
  } finally {
    await d.stop();
  }
}

const base = await run(false);
const hc = await run(true);
const sorted = hc.probeMs.sort((a, b) => a - b);
console.log(`${N} containers, ${SECONDS} s window`);
console.log(`daemon CPU without checks: ${base.cpu.toFixed(1)} % of one core`);
console.log(
  `daemon CPU with 1 s checks: ${hc.cpu.toFixed(1)} % of one core (added: ${(hc.cpu - base.cpu).toFixed(1)} %)`,
);
console.log(
  `probe duration: median ${sorted[Math.floor(sorted.length / 2)]} ms, p95 ${sorted[Math.floor(sorted.length * 0.95)]} ms`,
);
