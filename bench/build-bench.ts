// Build benchmark (issue 11): a multi-stage Dockerfile with three RUN steps, COPY --from, ADD of a
// tar and a .dockerignore, built through the docker CLI 28 (legacy builder, DOCKER_BUILDKIT=0) by
// cocon and, in the same run, by a real dockerd when /work/shared/anchors/dockerd-up.sh brings one
// up: a cold build (--no-cache) and a no-change rebuild (every step from the cache), interleaved.
//
//   node dist/bench/build-bench.js [--runs N] [--no-dockerd] [--write]
//
// --write puts the figures at the top of bench/RESULTS.md. The cocon daemon and the temp context
// are removed at the end, also on failure.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startDaemon, bootstrapBusybox, type Daemon } from '../test/helpers/daemon.js';
import {
  benchArgs,
  dockerCmd,
  fmtS,
  loadAvg,
  logger,
  machineLine,
  median,
  referenceDockerd,
  sectionTitle,
  summaryRow,
  table,
  writeResults,
} from './lib.js';

const a = benchArgs();
const RUNS = a.num('--runs', 3);
const WRITE = a.has('--write');
const WITH_DOCKERD = !a.has('--no-dockerd');
const log = logger('build-bench');

const DOCKERFILE =
  [
    'FROM busybox AS builder',
    'WORKDIR /src',
    'COPY src/ ./',
    'RUN for i in $(seq 1 200); do echo "line $i" >> gen.txt; done',
    'RUN sort -r gen.txt > sorted.txt && wc -l sorted.txt',
    'FROM busybox',
    'ADD vendor.tar /opt/vendor/',
    'COPY --from=builder /src/sorted.txt /opt/app/',
    'RUN ls -R /opt > /opt/listing.txt',
    'CMD ["cat", "/opt/listing.txt"]',
  ].join('\n') + '\n';

function makeContext(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cocon-build-bench-'));
  mkdirSync(join(dir, 'src/lib'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, 'src/lib', `m${i}.txt`), `module ${i}\n`.repeat(100));
  writeFileSync(join(dir, 'src/main.txt'), 'main\n');
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'logs/big.log'), 'x'.repeat(5 << 20));
  const vendor = join(dir, 'vendor');
  mkdirSync(vendor);
  for (let i = 0; i < 20; i++) writeFileSync(join(vendor, `v${i}.txt`), `vendored ${i}\n`.repeat(200));
  spawnSync('tar', ['-cf', join(dir, 'vendor.tar'), '-C', vendor, '.']);
  rmSync(vendor, { recursive: true });
  writeFileSync(join(dir, '.dockerignore'), 'logs\n**/*.tmp\n');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  return dir;
}

function build(host: string, dir: string, extra: string[]): { ms: number; out: string } {
  return dockerCmd(host, ['build', ...extra, '-t', 'bench-build:1', dir], { DOCKER_BUILDKIT: '0' });
}

async function main(): Promise<void> {
  let d: Daemon | undefined;
  const dir = makeContext();
  try {
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    const ref = WITH_DOCKERD ? referenceDockerd(log) : undefined;
    const dockerHost = ref?.host;
    const dockerVersion = ref?.version ?? '';
    const hosts: Array<[string, string]> = [
      ['cocon', d.host],
      ...(dockerHost ? [['dockerd', dockerHost] as [string, string]] : []),
    ];
    const cold: Record<string, number[]> = {};
    const warm: Record<string, number[]> = {};
    for (const [name, host] of hosts) {
      build(host, dir, []);
      cold[name] = [];
      warm[name] = [];
    } // warm-up (and the cache for the first rebuild)
    for (let i = 0; i < RUNS; i++) {
      for (const [name, host] of hosts) {
        const c = build(host, dir, ['--no-cache']);
        cold[name].push(c.ms);
        const w = build(host, dir, []);
        const cached = (w.out.match(/Using cache/g) ?? []).length;
        if (cached !== 8) throw new Error(`${name}: the rebuild used the cache for ${cached} steps, not 8:\n${w.out}`);
        warm[name].push(w.ms);
        log(`${name} run ${i + 1}/${RUNS}: cold ${(c.ms / 1000).toFixed(2)} s, cached ${(w.ms / 1000).toFixed(2)} s`);
      }
    }
    const load = loadAvg();
    const lines: string[] = [];
    lines.push(sectionTitle('build'), '');
    lines.push(
      `${machineLine()} \`docker build\` (docker CLI 28, DOCKER_BUILDKIT=0) of a two-stage Dockerfile: 3 RUN, COPY of a 51-file dir, COPY --from, ADD of a tar, a .dockerignore leaving out 5 MB; ${RUNS} interleaved runs after a warm-up; load average at the end ${load} (shared machine).`,
      '',
    );
    const rows: string[][] = [];
    for (const [name] of hosts) {
      const label = name === 'cocon' ? 'docker CLI -> cocon' : `docker CLI -> dockerd ${dockerVersion}`;
      rows.push(summaryRow(`cold (--no-cache), ${label}`, cold[name], fmtS));
      rows.push(summaryRow(`no-change rebuild, ${label}`, warm[name], fmtS));
    }
    lines.push(...table(['build', 'median', 'min', 'max'], rows), '');
    if (dockerHost) {
      lines.push(
        `Ratio cocon/dockerd: cold **${(median(cold.cocon) / median(cold.dockerd)).toFixed(2)}** (target <= 0.5), cached rebuild **${(median(warm.cocon) / median(warm.dockerd)).toFixed(2)}** (target <= 1.0).`,
        '',
      );
    } else lines.push('(no dockerd in this run)', '');
    const text = lines.join('\n');
    process.stdout.write(`${text}\n`);
    if (WRITE) writeResults(text, log);
  } finally {
    await d?.stop().catch((e) => log(String(e)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`build-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
