// cocon's benchmark (issues 2 and 16): container start, exec, CLI and daemon memory, side by side
// with a real dockerd in the same run (the docker CLI 28 as the client of both, runs interleaved so
// that the load of a shared machine falls on both alike), and where cocon's time goes (the daemon's
// per-phase trace, COCON_TRACE).
//
//   bench/run                       # build if needed, run, print the results
//   bench/run --write               # ... and write them into bench/RESULTS.md
//   options: --runs N (default 15, at least 10), --no-dockerd, --containers N (default 50),
//            --concurrent N (default 200, from 4 clients), --ps N (default 200),
//            --only start,exec,cli,memory,load,ps (default all)
//
// The benchmark starts its own cocon daemon on its own temp roots and removes everything it made
// (containers, conmon, mounts, temp dirs, its containers on dockerd) at the end, also when it fails.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, mkdtempSync, mkdirSync, existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem, release, loadavg } from 'node:os';
import {
  startDaemon,
  bootstrapBusybox,
  apiCall,
  REPO,
  DOCKER_BIN,
  sleep,
  type Daemon,
} from '../test/helpers/daemon.js';
import { createBody } from '../test/helpers/containers.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = Math.max(10, opt('--runs', 15));
const NCONT = opt('--containers', 50);
const NCONC = opt('--concurrent', 200);
const CLIENTS = 4;
const NPS = opt('--ps', 200);
const WRITE = args.includes('--write');
const WITH_DOCKERD = !args.includes('--no-dockerd');
const onlyArg = args.indexOf('--only');
const ONLY = onlyArg >= 0 ? new Set(args[onlyArg + 1].split(',')) : null;
const want = (section: string) => !ONLY || ONLY.has(section);
const ANCHOR = '/work/shared/anchors/dockerd-up.sh';
const ANCHOR_HOST = 'unix:///run/docker-anchor.sock';
const ANCHOR_PID = '/run/docker-anchor.pid';
const TAG = `cbench-${process.pid.toString(36)}`; // names of what this run makes on dockerd

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(x < 10 ? 2 : 1)} ms`);
const secs = (x: number) => `${(x / 1000).toFixed(2)} s`;
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number[];
}
const timing = (runs: number[]): Timing => ({
  median: median(runs),
  min: Math.min(...runs),
  max: Math.max(...runs),
  runs,
});

interface Cmd {
  label: string;
  cmd: string;
  argv: string[];
  env: Record<string, string>;
}

function once(c: Cmd): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.argv, {
    env: { ...process.env, ...c.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.label}: exit ${r.status}: ${r.stderr}`);
  if (/cocon: (building|installing)/.test(String(r.stderr)))
    throw new Error(
      `${c.label}: the launcher rebuilt during the benchmark (is the build clean? is someone editing src/?)`,
    );
  return t;
}

/** Runs the commands in turn, RUNS times after 2 warm-ups, interleaved (a, b, a, b, ...). */
function interleaved(cmds: Array<Cmd | null>, n = RUNS, beforeMeasured?: () => void): Array<Timing | null> {
  const live = cmds.filter((c): c is Cmd => c !== null);
  const runs = live.map(() => [] as number[]);
  for (let i = 0; i < n + 2; i++) {
    if (i === 2) beforeMeasured?.();
    live.forEach((c, k) => {
      const t = once(c);
      if (i >= 2) runs[k].push(t);
    });
  }
  return cmds.map((c) => (c ? timing(runs[live.indexOf(c)]) : null));
}

function runAsync(c: Cmd): Promise<{ ok: boolean; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(c.cmd, c.argv, { env: { ...process.env, ...c.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    p.on('error', (e) => resolve({ ok: false, err: e.message }));
    p.on('close', (code) => resolve({ ok: code === 0, err }));
  });
}

/** `total` runs of make(i) from `clients` concurrent clients; wall time and failures. */
async function concurrently(total: number, clients: number, make: (i: number) => Cmd) {
  let next = 0;
  const failures: string[] = [];
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const r = await runAsync(make(next++));
        if (!r.ok) failures.push(r.err.trim().split('\n').pop() ?? '');
      }
    }),
  );
  return { ms: Date.now() - t0, failures };
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function procsWithCmdline(needle: string, comm: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== comm) continue;
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}
/** dockerd and its containerd (the child it started). */
function dockerdPids(): number[] {
  try {
    const pid = Number(readFileSync(ANCHOR_PID, 'utf8'));
    const kids = readdirSync('/proc').filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      try {
        const st = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid && st.includes('(containerd)');
      } catch {
        return false;
      }
    });
    return [pid, ...kids.map(Number)];
  } catch {
    return [];
  }
}

async function settleRss(pids: number[]): Promise<number> {
  // let the heap settle (no GC control over another process): take the minimum of a few samples
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    best = Math.min(
      best,
      pids.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0),
    );
  }
  return best;
}

async function apiOk(d: Daemon, method: string, path: string, body?: unknown, ...ok: number[]) {
  const r = await d.api(method, path, body, { timeoutMs: 120_000 });
  if (!ok.includes(r.status)) throw new Error(`${method} ${path} -> ${r.status} ${r.body}`);
  return r;
}

function bareRunc(root: string): Timing | null {
  // bare `runc run` of the same busybox rootfs, for reference
  try {
    const b = join(root, 'bundle');
    const rf = join(b, 'rootfs');
    mkdirSync(join(rf, 'bin'), { recursive: true });
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rf, d), { recursive: true });
    execFileSync('cp', ['/bin/busybox', join(rf, 'bin/busybox')]);
    execFileSync('ln', ['-s', 'busybox', join(rf, 'bin/true')]);
    execFileSync('runc', ['spec'], { cwd: b });
    const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['/bin/true'];
    delete spec.process.rlimits;
    spec.root.readonly = false;
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const rr = join(root, 'runc-root');
    let k = 0;
    const [t] = interleaved([
      {
        label: 'runc run',
        cmd: 'runc',
        get argv() {
          return ['--root', rr, 'run', '--bundle', b, `bench-${process.pid}-${k++}`];
        },
        env: {},
      },
    ]);
    return t;
  } catch (e) {
    log(`bare runc skipped: ${(e as Error).message}`);
    return null;
  }
}

// ---- the daemon's trace (COCON_TRACE) ---------------------------------------------------------

interface TraceLine {
  op: string;
  id: string;
  total: number;
  phases: Record<string, number>;
}
function readTrace(file: string): TraceLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TraceLine);
}
/** One table row per operation and phase: median milliseconds over the traced runs. */
function traceTable(lines: TraceLine[], title: string): string[] {
  const out = [`| ${title}: daemon-side phase | median | runs |`, '|---|---|---|'];
  for (const op of ['create', 'start', 'exit', 'remove']) {
    const ls = lines.filter((l) => l.op === op);
    if (!ls.length) continue;
    out.push(`| **${op}** (total) | **${ms(median(ls.map((l) => l.total)))}** | ${ls.length} |`);
    const names = [...new Set(ls.flatMap((l) => Object.keys(l.phases)))];
    for (const n of names) {
      const xs = ls.map((l) => l.phases[n]).filter((x) => x !== undefined);
      out.push(`| ${op} / ${n} | ${ms(median(xs))} | ${xs.length} |`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const base = mkdtempSync('/tmp/cocon-bench.');
  process.env.COCON_TEST_TMP = base; // startDaemon puts its roots here; the helper sweeps them at exit
  const traceFile = join(base, 'trace.jsonl');
  const results: string[] = [];
  const loadBefore = loadavg()[0];
  const facts: Record<string, string> = {};
  let d: Daemon | undefined;
  let dockerHost: string | null = null;
  const dockerCfg = join(base, 'docker-config');
  mkdirSync(dockerCfg, { recursive: true });
  const dockerVia = (host: string) => ({ DOCKER_HOST: host, DOCKER_CONFIG: dockerCfg });
  const dockerCmd = (label: string, host: string | null, argv: string[]): Cmd | null =>
    host ? { label, cmd: DOCKER_BIN, argv, env: dockerVia(host) } : null;
  try {
    log('starting a cocon daemon on temp roots (COCON_TRACE on)');
    d = await startDaemon({ args: ['--log-level', 'info'], env: { COCON_TRACE: traceFile } });
    await bootstrapBusybox(d);
    const cocon = join(REPO, 'bin/cocon');

    if (WITH_DOCKERD) {
      const answers = () =>
        spawnSync(DOCKER_BIN, ['version'], {
          env: { ...process.env, ...dockerVia(ANCHOR_HOST) },
          stdio: 'ignore',
          timeout: 10_000,
        }).status === 0;
      if (!answers() && existsSync(ANCHOR)) {
        log('bringing up the reference dockerd (../shared/anchors/dockerd-up.sh)');
        spawnSync('bash', [ANCHOR], { encoding: 'utf8', timeout: 600_000 });
      }
      if (answers()) {
        dockerHost = ANCHOR_HOST;
        facts.dockerd = spawnSync(
          DOCKER_BIN,
          ['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}})'],
          {
            env: { ...process.env, ...dockerVia(ANCHOR_HOST) },
            encoding: 'utf8',
          },
        ).stdout.trim();
      } else log('no dockerd answers: figures without ratios');
    }
    const dd = `dockerd ${facts.dockerd ?? ''}`;
    const row = (label: string, t: Timing | null) =>
      t && results.push(`| ${label} | ${ms(t.median)} | ${ms(t.min)} | ${ms(t.max)} |`);

    // ---- memory, idle ---------------------------------------------------------------------------
    let idleRss = 0;
    let idlePss = 0;
    if (want('memory')) {
      log('daemon memory idle');
      idleRss = await settleRss([d.pid]);
      idlePss = pssKb(d.pid);
      const dpids = dockerHost ? dockerdPids() : [];
      const dRss = dpids.length ? await settleRss(dpids) : 0;
      results.push('| daemon idle (busybox image present) | RSS | PSS |', '|---|---|---|');
      results.push(`| cocon daemon | ${mib(idleRss)} | ${mib(idlePss)} |`);
      if (dRss)
        results.push(
          `| dockerd + containerd (shared anchor; other sessions may have containers on it) | ${mib(dRss)} | ${mib(dpids.reduce((a, p) => a + pssKb(p), 0))} |`,
        );
      results.push('', `Ratio cocon/dockerd idle RSS: **${ratio(idleRss, dRss)}** (target <= 0.4).`, '');
    }

    // ---- run --rm busybox true ------------------------------------------------------------------
    if (want('start')) {
      for (const net of [null, 'none']) {
        const extra = net ? ['--network', net] : [];
        const what = `run --rm${net ? ` --network ${net}` : ''} busybox true`;
        log(`${what} x${RUNS}, docker CLI -> cocon and -> dockerd, interleaved`);
        const [c, k] = interleaved(
          [
            dockerCmd('docker run (cocon)', d.host, ['run', '--rm', ...extra, 'busybox', 'true']),
            dockerCmd('docker run (dockerd)', dockerHost, ['run', '--rm', ...extra, 'busybox', 'true']),
          ],
          RUNS,
          () => existsSync(traceFile) && truncateSync(traceFile, 0),
        );
        results.push(`| \`${what}\`, docker CLI 28 | median | min | max |`, '|---|---|---|---|');
        row('-> cocon', c);
        row(`-> ${dd}`, k);
        results.push('', `Ratio cocon/dockerd: **${k ? ratio(c!.median, k.median) : '-'}** (target <= 0.25).`, '');
        results.push(...traceTable(readTrace(traceFile), `\`${what}\``), '');
      }
      log(`bare runc run x${RUNS}`);
      const runc = bareRunc(join(base, 'runc'));
      results.push('| floor | median | min | max |', '|---|---|---|---|');
      row('bare `runc run` of busybox true (no engine)', runc);
      const ver = interleaved([dockerCmd('docker version', d.host, ['version'])])[0];
      row('docker CLI round trip (`docker version` -> cocon)', ver);
      results.push('');
    }

    // ---- exec -----------------------------------------------------------------------------------
    if (want('exec')) {
      const name = `${TAG}-exec`;
      for (const host of [d.host, dockerHost])
        if (host)
          once({
            label: 'run -d',
            cmd: DOCKER_BIN,
            argv: ['run', '-d', '--name', name, 'busybox', 'sleep', '600'],
            env: dockerVia(host),
          });
      log(`exec CTR true x${RUNS}, interleaved`);
      const [c, k] = interleaved([
        dockerCmd('docker exec (cocon)', d.host, ['exec', name, 'true']),
        dockerCmd('docker exec (dockerd)', dockerHost, ['exec', name, 'true']),
      ]);
      for (const host of [d.host, dockerHost])
        if (host)
          spawnSync(DOCKER_BIN, ['rm', '-f', name], { env: { ...process.env, ...dockerVia(host) }, stdio: 'ignore' });
      results.push('| `exec CTR true`, docker CLI 28 | median | min | max |', '|---|---|---|---|');
      row('-> cocon', c);
      row(`-> ${dd}`, k);
      results.push('', `Ratio cocon/dockerd: **${k ? ratio(c!.median, k.median) : '-'}** (target <= 0.9).`, '');
    }

    // ---- cocon CLI vs docker CLI, both against cocon --------------------------------------------
    if (want('cli')) {
      log(`cocon CLI vs docker CLI against cocon: run --rm and ps, x${RUNS} each, interleaved`);
      const [cr, dr, cp, dp] = interleaved([
        { label: 'cocon run', cmd: cocon, argv: ['-H', d.host, 'run', '--rm', 'busybox', 'true'], env: {} },
        dockerCmd('docker run (cocon)', d.host, ['run', '--rm', 'busybox', 'true']),
        { label: 'cocon ps', cmd: cocon, argv: ['-H', d.host, 'ps'], env: {} },
        dockerCmd('docker ps (cocon)', d.host, ['ps']),
      ]);
      results.push('| CLI against cocon | median | min | max |', '|---|---|---|---|');
      row('`bin/cocon run --rm busybox true`', cr);
      row('`docker run --rm busybox true`', dr);
      row('`bin/cocon ps`', cp);
      row('`docker ps`', dp);
      results.push(
        '',
        `Ratio cocon CLI/docker CLI: run --rm **${ratio(cr!.median, dr!.median)}** (target <= 1.3), ps **${ratio(cp!.median, dp!.median)}** (target <= 2.0).`,
        '',
      );
    }

    // ---- load: N sequential run -d, memory with them, M concurrent run --rm from 4 clients ------
    if (want('load')) {
      const seq: Record<string, number> = {};
      for (const [who, host] of [
        ['cocon', d.host],
        ['dockerd', dockerHost],
      ] as const) {
        if (!host) continue;
        log(`${NCONT} sequential docker run -d -> ${who}`);
        const t0 = Date.now();
        for (let i = 0; i < NCONT; i++)
          once({
            label: `run -d (${who})`,
            cmd: DOCKER_BIN,
            argv: ['run', '-d', '--name', `${TAG}-d${i}`, 'busybox', 'sleep', '600'],
            env: dockerVia(host),
          });
        seq[who] = Date.now() - t0;
        if (who === 'cocon' && want('memory')) {
          const busyRss = await settleRss([d.pid]);
          const busyPss = pssKb(d.pid);
          const conmons = procsWithCmdline(d.execRoot, 'conmon');
          const conmonRss = conmons.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0);
          const conmonPss = conmons.reduce((a, p) => a + pssKb(p), 0);
          results.push(`| cocon memory with ${NCONT} containers running | RSS | PSS |`, '|---|---|---|');
          results.push(`| daemon | ${mib(busyRss)} | ${mib(busyPss)} |`);
          results.push(`| ${conmons.length} conmon processes, total | ${mib(conmonRss)} | ${mib(conmonPss)} |`);
          results.push(
            `| added per running container (daemon delta + its conmon) | ${mib((busyRss - idleRss + conmonRss) / NCONT)} | ${mib((busyPss - idlePss + conmonPss) / NCONT)} |`,
            '',
          );
        }
        log(`removing them (${who})`);
        const names = Array.from({ length: NCONT }, (_, i) => `${TAG}-d${i}`);
        spawnSync(DOCKER_BIN, ['rm', '-f', ...names], {
          env: { ...process.env, ...dockerVia(host) },
          stdio: 'ignore',
          timeout: 300_000,
        });
      }
      const conc: Record<string, { ms: number; failures: string[] }> = {};
      for (const [who, host] of [
        ['cocon', d.host],
        ['dockerd', dockerHost],
      ] as const) {
        if (!host) continue;
        log(`${NCONC} docker run --rm from ${CLIENTS} concurrent clients -> ${who}`);
        conc[who] = await concurrently(
          NCONC,
          CLIENTS,
          () => dockerCmd('run --rm', host, ['run', '--rm', 'busybox', 'true'])!,
        );
        if (conc[who].failures.length)
          log(`${who}: ${conc[who].failures.length} failed, e.g. ${conc[who].failures[0]}`);
      }
      results.push('| load, docker CLI 28 | cocon | dockerd | ratio |', '|---|---|---|---|');
      results.push(
        `| ${NCONT} sequential \`run -d busybox sleep 600\`, total | ${secs(seq.cocon)} | ${seq.dockerd ? secs(seq.dockerd) : '-'} | ${ratio(seq.cocon, seq.dockerd)} |`,
      );
      results.push(
        `| ${NCONC} \`run --rm busybox true\` from ${CLIENTS} concurrent clients, total | ${secs(conc.cocon.ms)} (${NCONC - conc.cocon.failures.length}/${NCONC} ok) | ${conc.dockerd ? `${secs(conc.dockerd.ms)} (${NCONC - conc.dockerd.failures.length}/${NCONC} ok)` : '-'} | ${ratio(conc.cocon.ms, conc.dockerd?.ms ?? 0)} |`,
        '',
      );
      if (conc.cocon.failures.length)
        throw new Error(`${conc.cocon.failures.length} concurrent runs failed on cocon: ${conc.cocon.failures[0]}`);
    }

    // ---- ps -a with NPS containers --------------------------------------------------------------
    if (want('ps')) {
      log(`creating ${NPS} containers (created, not started) for ps -a`);
      for (let i = 0; i < NPS; i++)
        await apiOk(d, 'POST', `/v1.41/containers/create?name=bench-ps-${i}`, createBody({ cmd: ['true'] }), 201);
      const times: number[] = [];
      for (let i = 0; i < RUNS + 2; i++) {
        const t0 = process.hrtime.bigint();
        const r = await apiCall(d.socket, 'GET', '/v1.41/containers/json?all=1');
        const t = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 200 || r.json.length !== NPS)
          throw new Error(`ps -a: ${r.status}, ${r.json?.length} containers`);
        if (i >= 2) times.push(t);
      }
      const [cliPs] = interleaved([{ label: 'cocon ps -a', cmd: cocon, argv: ['-H', d.host, 'ps', '-a'], env: {} }], 5);
      results.push(`| \`ps -a\` with ${NPS} containers | median | min | max |`, '|---|---|---|---|');
      row(`GET /containers/json?all=1 (API, ${RUNS} runs)`, timing(times));
      row('`bin/cocon ps -a` end to end (5 runs)', cliPs);
      results.push('', 'Target: under 100 ms through the API.', '');
    }
  } finally {
    if (d) {
      log('stopping the daemon and removing everything it made');
      await d.stop().catch((e) => log(`cleanup: ${(e as Error).message}`));
    }
    if (dockerHost) {
      const left = spawnSync(DOCKER_BIN, ['ps', '-aq', '--filter', `name=${TAG}-`], {
        env: { ...process.env, ...dockerVia(dockerHost) },
        encoding: 'utf8',
      })
        .stdout.split('\n')
        .filter(Boolean);
      if (left.length)
        spawnSync(DOCKER_BIN, ['rm', '-f', ...left], {
          env: { ...process.env, ...dockerVia(dockerHost) },
          stdio: 'ignore',
        });
    }
    spawnSync(join(REPO, 'scripts/sweep-test-roots'), [base]);
  }

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const loadAfter = loadavg()[0];
  const head = [
    `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}; ` +
      `${RUNS} measured runs after 2 warm-ups, cocon and dockerd interleaved in the same run; the cocon daemon at --log-level info with COCON_TRACE on. ` +
      `Load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end` +
      `${Math.max(loadBefore, loadAfter) > cpus().length / 2 ? ' - the machine was shared with other work: absolute figures are inflated, the ratios are the figures to read' : ''}.`,
    '',
  ];
  const text = [...head, ...results].join('\n');
  process.stdout.write(`${text}\n`);
  if (WRITE) {
    const file = join(REPO, 'bench/RESULTS.md');
    const intro = '# Benchmark results\n\nProduced by `bench/run --write` (bench/run-bench.ts). Newest run first.\n\n';
    let old = '';
    try {
      old = readFileSync(file, 'utf8').replace(/^# Benchmark results[\s\S]*?(?=^## )/m, '');
    } catch {
      /* first run */
    }
    if (!old.startsWith('## ')) old = '';
    writeFileSync(file, `${intro}${text}\n\n${old}`);
    log(`wrote ${file}`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
