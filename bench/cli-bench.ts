// CLI benchmark (issue 16): cocon's own CLI (bin/cocon, the launcher's fast path) against the docker
// CLI, both talking to the same cocon daemon, interleaved so that both see the same load: `run --rm
// busybox true` and `ps`; bare `node -e 0` as the floor of any Node CLI. Medians of --runs (>= 10)
// after two warm-ups.
//
//   node dist/bench/cli-bench.js [--runs N] [--write]
//
// It starts its own cocon daemon on temp roots and removes it at the end, also on failure.
import { join } from 'node:path';
import { startDaemon, bootstrapBusybox, REPO, DOCKER_BIN, type Daemon } from '../test/helpers/daemon.js';
import {
  benchArgs,
  fmtMs,
  loadAvg,
  logger,
  machineLine,
  mean,
  median,
  sectionTitle,
  summaryRow,
  table,
  timeOnce,
  writeResults,
} from './lib.js';

const a = benchArgs();
const RUNS = Math.max(10, a.num('--runs', 15));
const WRITE = a.has('--write');
const log = logger('cli-bench');
const COCON = join(REPO, 'bin/cocon');

async function main(): Promise<void> {
  let d: Daemon | undefined;
  try {
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    const host = d.host;
    const env = { DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false' };
    const cases: Array<{ name: string; cocon: string[]; docker: string[] }> = [
      {
        name: '`run --rm busybox true`',
        cocon: ['run', '--rm', 'busybox', 'true'],
        docker: ['run', '--rm', 'busybox', 'true'],
      },
      { name: '`ps`', cocon: ['ps'], docker: ['ps'] },
      { name: '`version` (one API round trip)', cocon: ['version'], docker: ['version'] },
    ];
    const results: Array<{ name: string; cocon: number[]; docker: number[]; coconCpu: number[]; dockerCpu: number[] }> =
      [];
    const nodeFloor: number[] = [];
    const nodeCpu: number[] = [];
    for (const c of cases) {
      const r = {
        name: c.name,
        cocon: [] as number[],
        docker: [] as number[],
        coconCpu: [] as number[],
        dockerCpu: [] as number[],
      };
      for (let i = 0; i < RUNS + 2; i++) {
        const tc = timeOnce(COCON, c.cocon, env);
        if (/cocon: (building|installing)/.test(tc.err))
          throw new Error('the launcher rebuilt during the benchmark (is the build fresh? is someone editing src/?)');
        const td = timeOnce(DOCKER_BIN, c.docker, env);
        if (i >= 2) {
          r.cocon.push(tc.ms);
          r.docker.push(td.ms);
          r.coconCpu.push(tc.cpuMs);
          r.dockerCpu.push(td.cpuMs);
        }
      }
      log(`${c.name}: cocon ${fmtMs(median(r.cocon))}, docker ${fmtMs(median(r.docker))}`);
      results.push(r);
    }
    for (let i = 0; i < RUNS + 2; i++) {
      const t = timeOnce(process.execPath, ['-e', '0']);
      if (i >= 2) {
        nodeFloor.push(t.ms);
        nodeCpu.push(t.cpuMs);
      }
    }
    const rows: string[][] = [];
    for (const r of results) {
      rows.push([...summaryRow(`${r.name}, cocon CLI (bin/cocon)`, r.cocon), fmtMs(mean(r.coconCpu))]);
      rows.push([...summaryRow(`${r.name}, docker CLI`, r.docker), fmtMs(mean(r.dockerCpu))]);
    }
    rows.push([...summaryRow('`node -e 0` (the floor of any Node CLI)', nodeFloor), fmtMs(mean(nodeCpu))]);
    const lines = [
      sectionTitle('CLI'),
      '',
      `${machineLine()} Both CLIs against the same cocon daemon (unix socket), interleaved, ${RUNS} measured runs after 2 warm-ups; load average at the end ${loadAvg()} (shared machine: other sessions ran at the same time).`,
      '',
      ...table(['command', 'median', 'min', 'max', 'CPU (user+sys, mean)'], rows),
      '',
      `Ratio cocon CLI / docker CLI, wall medians: ${results.map((r) => `${r.name} **${(median(r.cocon) / median(r.docker)).toFixed(2)}**`).join(', ')} (targets: run <= 1.3, ps <= 2.0); CPU: ${results.map((r) => `${r.name} ${(mean(r.coconCpu) / mean(r.dockerCpu)).toFixed(2)}`).join(', ')}.`,
      '',
    ];
    const text = lines.join('\n');
    process.stdout.write(`${text}\n`);
    if (WRITE) writeResults(text, log);
  } finally {
    await d?.stop().catch((e) => log(String(e)));
  }
}

main().catch((e) => {
  process.stderr.write(`cli-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
