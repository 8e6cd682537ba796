// What healthchecks cost: N containers (default 50) with a 1 s interval CMD `true` probe, on cocon
// and on the reference dockerd (DOCKER_HOST unix:///run/docker-anchor.sock, left running), against
// the same engine with the same number of containers and no checks. CPU is read from /proc
// (utime + stime, and cutime + cstime: the reaped children, i.e. every runc and probe process)
// over a window, as % of one core:
//   cocon:   the daemon, and the daemon + the conmon and the probe runner of each bench container
//            (the runner is a shell in the container that forks the probes and reaps them; runc
//            leaves it to the host's reaper, so its time is read from the runner itself);
//   dockerd: dockerd, and dockerd + containerd + the containerd-shim of each bench container.
// Also the probe latency seen in State.Health, and the CPU time per probe (less sensitive to the
// machine's load than the % of a core): the added CPU over the probes run in the window, counted
// from the spacing of the last 5 State.Health.Log entries of each container. Needs root; run
// after a build:
//   node dist/bench/health-bench.js [--containers N] [--seconds S] [--no-dockerd] [--write]
import { readdirSync, readFileSync, appendFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { RUNNER_NAME } from '../src/runtime/proberunner.js';
import { startDaemon, bootstrapBusybox, apiCall, REPO, type ApiResponse, type Daemon } from '../test/helpers/daemon.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : def);
const N = opt('--containers', 50);
const SECONDS = opt('--seconds', 20);
const WITH_DOCKERD = !argv.includes('--no-dockerd');
const WRITE = argv.includes('--write');
const ANCHOR_SOCK = '/run/docker-anchor.sock';
const HZ = 100; // USER_HZ on Linux
const log = (m: string) => process.stderr.write(`[health-bench] ${m}\n`);

function statOf(pid: number): { own: number; all: number; ppid: number } | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const own = Number(r[11]) + Number(r[12]);
    return { own, all: own + Number(r[13]) + Number(r[14]), ppid: Number(r[1]) };
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** cocon's probe runners (runtime/proberunner.ts) of the given containers, by their cgroup. */
function runnersOf(ids: string[]): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if (!cmdline(Number(e)).includes(RUNNER_NAME)) continue;
    let cg = '';
    try {
      cg = readFileSync(`/proc/${e}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (ids.some((id) => cg.includes(id))) out.push(Number(e));
  }
  return out;
}

/** Pids whose command line names one of the ids (conmon -c ID, containerd-shim -id ID). */
function monitorsOf(ids: string[], prog: RegExp): number[] {
  const want = new Set(ids);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const c = cmdline(Number(e));
    if (!prog.test(c)) continue;
    if (c.split(' ').some((w) => want.has(w))) out.push(Number(e));
  }
  return out;
}

interface Sample {
  main: number; // the daemon alone, own time
  total: number; // daemon + helpers, with reaped children
}

async function window(mainPid: number, helpers: number[]): Promise<Sample> {
  const read = () => {
    let total = 0;
    for (const p of [mainPid, ...helpers]) total += statOf(p)?.all ?? 0;
    return { main: statOf(mainPid)?.own ?? 0, total };
  };
  const a = read();
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const b = read();
  const secs = (Date.now() - w0) / 1000;
  const pct = (t: number) => (t / HZ / secs) * 100;
  return { main: pct(b.main - a.main), total: pct(b.total - a.total) };
}

const body = (health: boolean) => ({
  Image: 'busybox',
  Cmd: ['sleep', '3600'],
  HostConfig: { NetworkMode: 'none' },
  ...(health ? { Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, Timeout: 10e9, Retries: 3 } } : {}),
});

type Api = (method: string, path: string, b?: unknown) => Promise<ApiResponse>;

/** Containers to remove if the bench is interrupted (SIGINT, SIGTERM from a timeout). */
const live: { api: Api; ids: string[] }[] = [];
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    log(`${sig}: removing the bench containers`);
    void Promise.all(live.map((l) => removeAll(l.api, l.ids))).finally(() => process.exit(130));
  });

async function startContainers(api: Api, health: boolean, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  live.push({ api, ids });
  for (let i = 0; i < N; i++) {
    const c = await api('POST', `/v1.41/containers/create?name=${prefix}-${health ? 'h' : 'n'}${i}`, body(health));
    if (c.status !== 201) throw new Error(`create: ${c.body}`);
    const s = await api('POST', `/v1.41/containers/${c.json.Id}/start`);
    if (s.status !== 204) throw new Error(`start: ${s.body}`);
    ids.push(c.json.Id);
  }
  return ids;
}

async function probeTimes(api: Api, ids: string[]): Promise<{ ms: number[]; failed: number; perSecond: number }> {
  const ms: number[] = [];
  let failed = 0;
  let perSecond = 0;
  for (const id of ids) {
    const h = (await api('GET', `/v1.41/containers/${id}/json`)).json.State.Health;
    const log: Array<{ Start: string; End: string; ExitCode: number }> = h?.Log ?? [];
    for (const e of log) {
      ms.push(Date.parse(e.End) - Date.parse(e.Start));
      if (e.ExitCode !== 0) failed++;
    }
    // this container's probe rate: the spacing of its last log entries
    if (log.length >= 2) {
      const span = (Date.parse(log[log.length - 1].Start) - Date.parse(log[0].Start)) / 1000;
      if (span > 0) perSecond += (log.length - 1) / span;
    }
  }
  return { ms, failed, perSecond };
}

async function removeAll(api: Api, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => api('DELETE', `/v1.41/containers/${id}?force=1`)));
}

interface EngineResult {
  base: Sample;
  hc: Sample;
  probeMs: number[];
  failed: number;
  /** Probes per second over all containers at the end of the window. */
  perSecond: number;
}

async function measure(
  api: Api,
  pids: () => { main: number; helpers: (ids: string[]) => number[] },
): Promise<EngineResult> {
  const prefix = `hb${process.pid.toString(36)}`;
  const out: Partial<EngineResult> = {};
  for (const health of [false, true]) {
    const ids = await startContainers(api, health, prefix);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const p = pids();
      const s = await window(p.main, p.helpers(ids));
      if (health) {
        out.hc = s;
        const t = await probeTimes(api, ids);
        out.probeMs = t.ms;
        out.failed = t.failed;
        out.perSecond = t.perSecond;
      } else out.base = s;
    } finally {
      await removeAll(api, ids);
    }
  }
  return out as EngineResult;
}

const pctOf = (x: number) => `${x.toFixed(1)} %`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? NaN;

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  let cocon: EngineResult;
  let d: Daemon | null = null;
  try {
    d = await startDaemon();
    await bootstrapBusybox(d);
    const dd = d;
    log(`cocon: ${N} containers without, then with checks, ${SECONDS} s windows`);
    cocon = await measure(
      (m, p, b) => dd.api(m, p, b),
      () => ({ main: dd.pid, helpers: (ids) => [...monitorsOf(ids, /conmon/), ...runnersOf(ids)] }),
    );
    log(`cocon: ${JSON.stringify({ base: cocon.base, hc: cocon.hc, perSecond: cocon.perSecond })}`);
  } finally {
    if (d) await d.stop();
  }
  let dockerd: EngineResult | null = null;
  if (WITH_DOCKERD) {
    const api: Api = (m, p, b) => apiCall(ANCHOR_SOCK, m, p, b);
    const main = Number(readFileSync('/run/docker-anchor.pid', 'utf8').trim());
    const containerd = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number)
      .filter((p) => statOf(p)?.ppid === main && /containerd/.test(cmdline(p)));
    log(`dockerd: ${N} containers without, then with checks (containerd ${containerd.join(',')})`);
    dockerd = await measure(api, () => ({
      main,
      helpers: (ids) => [...containerd, ...monitorsOf(ids, /containerd-shim/)],
    }));
  }
  const row = (what: string, r: EngineResult, k: keyof Sample) =>
    `| ${what} | ${pctOf(r.base[k])} | ${pctOf(r.hc[k])} | **${pctOf(r.hc[k] - r.base[k])}** |`;
  // added CPU (everything counted) per probe run: % of a core / 100 = CPU seconds per second
  const perProbeMs = (r: EngineResult) => ((r.hc.total - r.base.total) / 100 / r.perSecond) * 1000;
  const lat = (what: string, r: EngineResult) =>
    `| ${what} | ${median(r.probeMs)} ms | ${p95(r.probeMs)} ms | ${r.probeMs.length} | ${r.failed} | ` +
    `${r.perSecond.toFixed(1)} | ${perProbeMs(r).toFixed(2)} ms |`;
  const lines = [
    `## Healthchecks — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}; ` +
      `\`node dist/bench/health-bench.js\` (bench/health-bench.ts): ${N} busybox containers, CMD \`true\` every 1 s, ` +
      `${SECONDS} s windows, CPU from /proc (own + reaped children) as % of one core, without and with checks. ` +
      `Load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (shared machine; ` +
      "the reference dockerd also serves other engineers' runs).",
    '',
    `| CPU, ${N} containers | no checks | 1 s checks | added by checks |`,
    '|---|---|---|---|',
    row('cocon daemon alone', cocon, 'main'),
    row('cocon daemon + conmons + probe runners + reaped children (runc, probes)', cocon, 'total'),
    ...(dockerd
      ? [row('dockerd alone', dockerd, 'main'), row('dockerd + containerd + shims + reaped children', dockerd, 'total')]
      : []),
    '',
    '| probe duration (State.Health.Log) | median | p95 | probes | failed | probes/s | added CPU per probe |',
    '|---|---|---|---|---|---|---|',
    lat('cocon', cocon),
    ...(dockerd ? [lat('dockerd', dockerd)] : []),
    '',
  ];
  if (dockerd) {
    const r = (cocon.hc.total - cocon.base.total) / (dockerd.hc.total - dockerd.base.total);
    lines.push(`Added CPU, everything counted, cocon/dockerd: **${r.toFixed(2)}**.`, '');
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (WRITE) appendFileSync(join(REPO, 'bench/RESULTS.md'), '\n' + lines.join('\n') + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`health-bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
