// cocon's benchmark (issue 2): end-to-end `run --rm busybox true` through cocon's CLI and through the
// docker CLI against cocon, and against a real dockerd in the same run when one can be brought up;
// daemon memory idle and with 50 running containers; `ps -a` with 200 containers through the API.
//
//   bench/run                       # build if needed, run, print the results
//   bench/run --write               # ... and write them into bench/RESULTS.md
//   options: --runs N (default 15), --no-dockerd, --containers N (default 50), --ps N (default 200)
//
// The benchmark starts its own cocon daemon on its own temp roots and removes everything it made
// (containers, conmon, mounts, temp dirs) at the end, also when it fails.
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, mkdtempSync, mkdirSync, existsSync } from 'node:fs';
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
const RUNS = opt('--runs', 15);
const NCONT = opt('--containers', 50);
const NPS = opt('--ps', 200);
const WRITE = args.includes('--write');
const WITH_DOCKERD = !args.includes('--no-dockerd');
const ANCHOR = '/work/shared/anchors/dockerd-up.sh';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

function timeCmd(what: string, cmd: string, argv: string[], env: Record<string, string>, n = RUNS): Timing {
  const runs: number[] = [];
  for (let i = 0; i < n + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${r.stderr}`);
    if (/cocon: (building|installing)/.test(String(r.stderr)) && i >= 2)
      throw new Error(
        `${what}: the launcher rebuilt during the benchmark (is the build clean? is someone editing src/?)`,
      );
    if (i >= 2) runs.push(t); // two warm-up runs
  }
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs };
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

async function settleRss(pid: number): Promise<number> {
  // let the heap settle (no GC control over another process): take the minimum of a few samples
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    best = Math.min(best, statusKb(pid, 'VmRSS'));
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
    const runs: number[] = [];
    for (let k = 0; k < RUNS + 2; k++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('runc', ['--root', rr, 'run', '--bundle', b, `bench-${process.pid}-${k}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 30_000,
      });
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`runc run: ${r.stderr}`);
      if (k >= 2) runs.push(t);
    }
    return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs };
  } catch (e) {
    log(`bare runc skipped: ${(e as Error).message}`);
    return null;
  }
}

async function main(): Promise<void> {
  const base = mkdtempSync('/tmp/cocon-bench.');
  process.env.COCON_TEST_TMP = base; // startDaemon puts its roots here; the helper sweeps them at exit
  const results: string[] = [];
  const loadBefore = loadavg()[0];
  const facts: Record<string, string> = {};
  let d: Daemon | undefined;
  let startedDockerd = false;
  try {
    log('starting a cocon daemon on temp roots');
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    const cocon = join(REPO, 'bin/cocon');

    // ---- run --rm busybox true ---------------------------------------------------------------
    log(`run --rm busybox true x${RUNS} through bin/cocon`);
    const viaCocon = timeCmd('cocon run', cocon, ['-H', d.host, 'run', '--rm', 'busybox', 'true'], {});
    const dockerCfg = join(base, 'docker-config');
    mkdirSync(dockerCfg, { recursive: true });
    log(`run --rm busybox true x${RUNS} through the docker CLI against cocon`);
    const viaDocker = timeCmd('docker run (cocon)', DOCKER_BIN, ['run', '--rm', 'busybox', 'true'], {
      DOCKER_HOST: d.host,
      DOCKER_CONFIG: dockerCfg,
    });
    let viaDockerd: Timing | null = null;
    if (WITH_DOCKERD && existsSync(ANCHOR)) {
      const was =
        spawnSync(DOCKER_BIN, ['version'], {
          env: { ...process.env, DOCKER_HOST: 'unix:///run/docker-anchor.sock', DOCKER_CONFIG: dockerCfg },
          stdio: 'ignore',
          timeout: 10_000,
        }).status === 0;
      log('bringing up the reference dockerd (../shared/anchors/dockerd-up.sh)');
      const up = spawnSync('bash', [ANCHOR], { encoding: 'utf8', timeout: 600_000 });
      const host = up.stdout.trim().split('\n').pop() ?? '';
      if (up.status === 0 && host.startsWith('unix://')) {
        startedDockerd = !was;
        facts.dockerd = spawnSync(
          DOCKER_BIN,
          ['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}})'],
          { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dockerCfg }, encoding: 'utf8' },
        ).stdout.trim();
        log(`run --rm busybox true x${RUNS} through the docker CLI against dockerd ${facts.dockerd}`);
        viaDockerd = timeCmd('docker run (dockerd)', DOCKER_BIN, ['run', '--rm', 'busybox', 'true'], {
          DOCKER_HOST: host,
          DOCKER_CONFIG: dockerCfg,
        });
      } else log(`dockerd could not be brought up: ${up.stderr.slice(-500)}`);
    }
    log(`bare runc run x${RUNS}`);
    const runc = bareRunc(join(base, 'runc'));

    results.push('| `run --rm busybox true`, end to end | median | min | max |', '|---|---|---|---|');
    const row = (label: string, t: Timing | null) =>
      t && results.push(`| ${label} | ${ms(t.median)} | ${ms(t.min)} | ${ms(t.max)} |`);
    row('cocon CLI (`bin/cocon`) -> cocon', viaCocon);
    row('docker CLI 28 -> cocon', viaDocker);
    row(`docker CLI 28 -> dockerd ${facts.dockerd ?? ''}`, viaDockerd);
    row('bare `runc run` (no engine, reference)', runc);
    results.push('');
    if (viaDockerd) {
      results.push(
        `Ratio cocon/dockerd through the docker CLI: **${(viaDocker.median / viaDockerd.median).toFixed(2)}** (target <= 0.25); ` +
          `cocon CLI vs dockerd: ${(viaCocon.median / viaDockerd.median).toFixed(2)}.`,
        '',
      );
    } else results.push('dockerd was not available in this run: no ratio.', '');

    // ---- memory ------------------------------------------------------------------------------
    log('daemon memory idle');
    const idleRss = await settleRss(d.pid);
    const idlePss = pssKb(d.pid);
    log(`starting ${NCONT} containers (sleep 600)`);
    const ids: string[] = [];
    for (let i = 0; i < NCONT; i++) {
      const c = await apiOk(
        d,
        'POST',
        `/v1.41/containers/create?name=bench-run-${i}`,
        createBody({ cmd: ['sleep', '600'] }),
        201,
      );
      await apiOk(d, 'POST', `/v1.41/containers/${c.json.Id}/start`, undefined, 204);
      ids.push(c.json.Id);
    }
    const running = (await apiOk(d, 'GET', '/v1.41/containers/json', undefined, 200)).json.length;
    if (running !== NCONT) throw new Error(`${running} containers running, expected ${NCONT}`);
    const busyRss = await settleRss(d.pid);
    const busyPss = pssKb(d.pid);
    const conmons = procsWithCmdline(d.execRoot, 'conmon');
    const conmonRss = conmons.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0);
    const conmonPss = conmons.reduce((a, p) => a + pssKb(p), 0);
    const sleeps = procsWithCmdline('sleep\u0000600', 'sleep');
    const ctrPss = sleeps.reduce((a, p) => a + pssKb(p), 0);
    const perRss = (busyRss - idleRss + conmonRss) / NCONT;
    const perPss = (busyPss - idlePss + conmonPss) / NCONT;
    results.push('| memory | RSS | PSS |', '|---|---|---|');
    results.push(`| daemon, idle (busybox image present) | ${mib(idleRss)} | ${mib(idlePss)} |`);
    results.push(`| daemon, ${NCONT} containers running | ${mib(busyRss)} | ${mib(busyPss)} |`);
    results.push(`| ${conmons.length} conmon processes, total | ${mib(conmonRss)} | ${mib(conmonPss)} |`);
    results.push(
      `| **added per running container** (daemon delta + its conmon) | **${mib(perRss)}** | **${mib(perPss)}** |`,
    );
    results.push(
      `| the container's own process (busybox sleep), each | - | ${mib(ctrPss / Math.max(1, sleeps.length))} |`,
    );
    results.push('', 'Target: at most 3 MiB per running container, conmon included.', '');

    // ---- ps -a with NPS containers -------------------------------------------------------------
    log(`creating ${NPS - NCONT} more containers (created, not started) for ps -a with ${NPS}`);
    for (let i = NCONT; i < NPS; i++)
      await apiOk(d, 'POST', `/v1.41/containers/create?name=bench-ps-${i}`, createBody({ cmd: ['true'] }), 201);
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = process.hrtime.bigint();
      const r = await apiCall(d.socket, 'GET', '/v1.41/containers/json?all=1');
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 200 || r.json.length !== NPS)
        throw new Error(`ps -a: ${r.status}, ${r.json?.length} containers`);
      if (i >= 2) times.push(t);
    }
    const cliPs = timeCmd('cocon ps -a', cocon, ['-H', d.host, 'ps', '-a'], {}, 5);
    results.push(`| \`ps -a\` with ${NPS} containers (${NCONT} running) | median | min | max |`, '|---|---|---|---|');
    results.push(
      `| GET /containers/json?all=1 (API, 10 runs) | ${ms(median(times))} | ${ms(Math.min(...times))} | ${ms(Math.max(...times))} |`,
    );
    results.push(
      `| \`bin/cocon ps -a\` end to end (5 runs) | ${ms(cliPs.median)} | ${ms(cliPs.min)} | ${ms(cliPs.max)} |`,
    );
    results.push('', 'Target: under 100 ms through the API.', '');
  } finally {
    if (d) {
      log('stopping the daemon and removing everything it made');
      await d.stop().catch((e) => log(`cleanup: ${(e as Error).message}`));
    }
    spawnSync(join(REPO, 'scripts/sweep-test-roots'), [base]);
    if (startedDockerd) {
      log('stopping the reference dockerd this run started');
      try {
        const pid = Number(readFileSync('/run/docker-anchor.pid', 'utf8'));
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  }

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const head = [
    `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}; ` +
      `${RUNS} measured runs after 2 warm-ups; the cocon daemon at --log-level info. ` +
      `Load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end` +
      `${Math.max(loadBefore, loadavg()[0]) > cpus().length ? ' - the machine was busy with other work: figures are inflated' : ''}.`,
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
