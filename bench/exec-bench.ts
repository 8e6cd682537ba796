// Exec benchmark (issue 16): `docker exec CTR true` through the real docker CLI against cocon and
// against the reference dockerd (DOCKER_HOST unix:///run/docker-anchor.sock, left running), runs
// interleaved so both see the same load, with a bare `runc exec` of the cocon container as the
// floor. Also `docker exec -t` (the conmon path) on cocon. Medians of --runs (default 15) after
// two warm-ups.
//
//   node dist/bench/exec-bench.js [--write] [--runs N]
//
// --write appends a section to bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, release } from 'node:os';
import { startDaemon, bootstrapBusybox, DOCKER_BIN, REPO, type Daemon } from '../test/helpers/daemon.js';

const argv = process.argv.slice(2);
const RUNS = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 15;
const WRITE = argv.includes('--write');
const ANCHOR_HOST = 'unix:///run/docker-anchor.sock';
const log = (m: string) => process.stderr.write(`[exec-bench] ${m}\n`);

interface Timing {
  median: number;
  min: number;
  max: number;
}
const stats = (xs: number[]): Timing => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

/** Runs a command to completion and returns its wall time in ms; throws on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, tty = false): number {
  const full = tty ? ['script', ['-qec', [cmd, ...args].join(' '), '/dev/null']] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0] as string, full[1] as string[], { env, encoding: 'utf8', timeout: 60_000 });
  const dt = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return dt;
}

async function main(): Promise<void> {
  const base = mkdtempSync('/tmp/exec-bench-');
  const cfg = join(base, 'docker-config');
  mkdirSync(cfg, { recursive: true });
  const loadBefore = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const name = `eb${process.pid.toString(36)}`;
  const envOf = (host: string) => ({ ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: cfg });
  let d: Daemon | null = null;
  let onDockerd = false;
  const t = { cocon: [] as number[], cononTty: [] as number[], dockerd: [] as number[], runc: [] as number[] };
  let dockerdVersion = '';
  try {
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    const c = envOf(d.host);
    const k = envOf(ANCHOR_HOST);
    timed(DOCKER_BIN, ['run', '-d', '--name', name, '--network', 'none', 'busybox', 'sleep', '3600'], c);
    const id = spawnSync(DOCKER_BIN, ['inspect', '-f', '{{.Id}}', name], { env: c, encoding: 'utf8' }).stdout.trim();
    dockerdVersion = spawnSync(DOCKER_BIN, ['version', '--format', '{{.Server.Version}}'], {
      env: k,
      encoding: 'utf8',
    }).stdout.trim();
    timed(DOCKER_BIN, ['run', '-d', '--name', name, '--network', 'none', 'busybox', 'sleep', '3600'], k);
    onDockerd = true;
    const runcArgs = ['--root', join(d.execRoot, 'runc'), 'exec', id, 'true'];
    for (let i = 0; i < RUNS + 2; i++) {
      const a = timed(DOCKER_BIN, ['exec', name, 'true'], c);
      const b = timed(DOCKER_BIN, ['exec', name, 'true'], k);
      const r = timed('runc', runcArgs);
      const tt = timed(DOCKER_BIN, ['exec', '-t', name, 'true'], c, true);
      if (i < 2) continue;
      t.cocon.push(a);
      t.dockerd.push(b);
      t.runc.push(r);
      t.cononTty.push(tt);
    }
  } finally {
    if (onDockerd) spawnSync(DOCKER_BIN, ['rm', '-f', name], { env: envOf(ANCHOR_HOST) });
    if (d) await d.stop().catch((e: Error) => log(`cleanup: ${e.message}`));
    spawnSync(join(REPO, 'scripts/sweep-test-roots'), [base]);
  }
  const [co, dk, rc, ct] = [stats(t.cocon), stats(t.dockerd), stats(t.runc), stats(t.cononTty)];
  const f = (x: number) => `${x.toFixed(1)} ms`;
  const row = (what: string, s: Timing) => `| ${what} | ${f(s.median)} | ${f(s.min)} | ${f(s.max)} |`;
  const lines = [
    `## Exec — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}; ` +
      `\`node dist/bench/exec-bench.js\` (bench/exec-bench.ts): ${RUNS} interleaved runs after 2 warm-ups, ` +
      `busybox \`sleep 3600\` with --network none on both engines. Load average ${loadBefore} at the start, ` +
      `${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end (a shared machine: other engineers' suites ran at the same time).`,
    '',
    '| `exec CTR true`, end to end | median | min | max |',
    '|---|---|---|---|',
    row('docker CLI 28 -> cocon', co),
    row(`docker CLI 28 -> dockerd ${dockerdVersion}`, dk),
    row('bare `runc exec` of the cocon container (floor)', rc),
    row('`docker exec -t` -> cocon (pty, through conmon; under script(1))', ct),
    '',
    `Ratio cocon/dockerd: **${(co.median / dk.median).toFixed(2)}** (target <= 0.9).`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (WRITE) appendFileSync(join(REPO, 'bench/RESULTS.md'), '\n' + lines.join('\n') + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`exec-bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
