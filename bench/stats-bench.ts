// Stats benchmark: `docker stats --no-stream` of N running containers (default 50), the real docker
// CLI against cocon and against Debian's dockerd (brought up by ../shared/anchors/dockerd-up.sh,
// stopped again when this run started it). The containers are named on the command line, so other
// containers on a shared dockerd are not counted. Also the API alone (GET /stats?stream=0 for all,
// in parallel) on cocon.
//
//   node dist/bench/stats-bench.js [--write] [--containers N] [--runs N] [--no-dockerd]
//
// --write appends a section to bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, release } from 'node:os';
import { startDaemon, bootstrapBusybox, DOCKER_BIN, REPO, type Daemon } from '../test/helpers/daemon.js';
import { createBody } from '../test/helpers/containers.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const N = opt('--containers', 50);
const RUNS = opt('--runs', 5);
const WRITE = argv.includes('--write');
const WITH_DOCKERD = !argv.includes('--no-dockerd');
const ANCHOR = '/work/shared/anchors/dockerd-up.sh';
const ANCHOR_HOST = 'unix:///run/docker-anchor.sock';
const log = (m: string) => process.stderr.write(`[stats-bench] ${m}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

interface Timing {
  median: number;
  min: number;
  max: number;
}

function docker(
  host: string,
  cfg: string,
  args: string[],
  timeout = 300_000,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER_BIN, args, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: cfg },
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Times `docker stats --no-stream NAMES...`: one warm-up, then RUNS runs; checks every row came back. */
function timeStats(host: string, cfg: string, names: string[]): Timing {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = docker(host, cfg, ['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}}', ...names]);
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.code !== 0) throw new Error(`docker stats on ${host}: ${r.stderr}`);
    const rows = r.stdout.split('\n').filter(Boolean).length;
    if (rows !== names.length) throw new Error(`docker stats on ${host}: ${rows} rows for ${names.length} containers`);
    if (i > 0) times.push(dt);
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

async function main(): Promise<void> {
  const base = mkdtempSync('/tmp/stats-bench-');
  const cfg = join(base, 'docker-config');
  mkdirSync(cfg, { recursive: true });
  const loadBefore = loadavg()[0];
  const prefix = `sb${process.pid.toString(36)}`;
  const names = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
  let d: Daemon | null = null;
  let startedDockerd = false;
  let dockerdVersion = '';
  let cocon: Timing | null = null;
  let dockerd: Timing | null = null;
  let api: Timing | null = null;
  try {
    log('starting a cocon daemon on temp roots');
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    log(`starting ${N} containers on cocon`);
    for (const name of names) {
      const c = await d.api('POST', `/v1.41/containers/create?name=${name}`, createBody({ cmd: ['sleep', '3600'] }));
      if (c.status !== 201) throw new Error(`create: ${c.body}`);
      const s = await d.api('POST', `/v1.41/containers/${c.json.Id}/start`);
      if (s.status !== 204) throw new Error(`start: ${s.body}`);
    }
    log(`docker stats --no-stream x${RUNS} against cocon`);
    cocon = timeStats(d.host, cfg, names);
    const times: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      // 6 s apart from the CLI runs: no recent sample to reuse, each answer takes two samples
      await new Promise((r) => setTimeout(r, 5200));
      const t0 = process.hrtime.bigint();
      const rs = await Promise.all(names.map((n) => d!.api('GET', `/v1.41/containers/${n}/stats?stream=0`)));
      if (rs.some((r) => r.status !== 200)) throw new Error('GET /stats failed');
      if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    api = { median: median(times), min: Math.min(...times), max: Math.max(...times) };

    if (WITH_DOCKERD && existsSync(ANCHOR)) {
      const was = docker(ANCHOR_HOST, cfg, ['version'], 10_000).code === 0;
      log('bringing up the reference dockerd');
      const up = spawnSync('bash', [ANCHOR], { encoding: 'utf8', timeout: 600_000 });
      if (up.status === 0) {
        startedDockerd = !was;
        dockerdVersion = docker(ANCHOR_HOST, cfg, [
          'version',
          '--format',
          '{{.Server.Version}} (API {{.Server.APIVersion}})',
        ]).stdout.trim();
        log(`starting ${N} containers on dockerd ${dockerdVersion}`);
        for (const name of names) {
          const r = docker(ANCHOR_HOST, cfg, ['run', '-d', '--name', name, 'busybox', 'sleep', '3600']);
          if (r.code !== 0) throw new Error(`dockerd run: ${r.stderr}`);
        }
        log(`docker stats --no-stream x${RUNS} against dockerd`);
        dockerd = timeStats(ANCHOR_HOST, cfg, names);
      } else log(`dockerd could not be brought up: ${up.stderr.slice(-500)}`);
    }
  } finally {
    if (dockerdVersion) {
      log('removing the containers from dockerd');
      docker(ANCHOR_HOST, cfg, ['rm', '-f', ...names]);
    }
    if (startedDockerd) {
      log('stopping the reference dockerd this run started');
      try {
        process.kill(Number(readFileSync('/run/docker-anchor.pid', 'utf8')), 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    if (d) {
      log('stopping the cocon daemon and removing everything it made');
      await d.stop().catch((e: Error) => log(`cleanup: ${e.message}`));
    }
    spawnSync(join(REPO, 'scripts/sweep-test-roots'), [base]);
  }

  const row = (what: string, t: Timing | null) =>
    t ? `| ${what} | ${ms(t.median)} | ${ms(t.min)} | ${ms(t.max)} |` : `| ${what} | n/a | | |`;
  const lines = [
    `## Stats — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}; produced by ` +
      `\`node dist/bench/stats-bench.js${WRITE ? ' --write' : ''}\` (bench/stats-bench.ts). ${N} running busybox containers, ` +
      `${RUNS} measured runs after a warm-up. Load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end ` +
      '(other suites share this machine).',
    '',
    `| \`docker stats --no-stream\` of ${N} containers | median | min | max |`,
    '|---|---|---|---|',
    row('docker CLI 28 -> cocon', cocon),
    row(`docker CLI 28 -> dockerd ${dockerdVersion}`.trim(), dockerd),
    row(`GET /containers/{id}/stats?stream=0 x${N} in parallel, no recent sample (API, cocon)`, api),
    '',
    cocon && dockerd
      ? `cocon / dockerd: ${(cocon.median / dockerd.median).toFixed(2)}x. Target: 0.5x or less.`
      : 'Target: 0.5x of dockerd or less (dockerd not measured).',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (WRITE) appendFileSync(join(REPO, 'bench/RESULTS.md'), '\n' + lines.join('\n') + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`stats-bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
