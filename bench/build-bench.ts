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
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { startDaemon, bootstrapBusybox, REPO, DOCKER_BIN, type Daemon } from '../test/helpers/daemon.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 3);
const WRITE = args.includes('--write');
const WITH_DOCKERD = !args.includes('--no-dockerd');
const ANCHOR = '/work/shared/anchors/dockerd-up.sh';
const log = (s: string) => process.stderr.write(`build-bench: ${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

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
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER_BIN, ['build', ...extra, '-t', 'bench-build:1', dir], {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`docker build (${host}): exit ${r.status}: ${r.stderr}${r.stdout}`);
  return { ms, out: String(r.stdout) };
}

async function main(): Promise<void> {
  let d: Daemon | undefined;
  const dir = makeContext();
  try {
    d = await startDaemon({ args: ['--log-level', 'info'] });
    await bootstrapBusybox(d);
    let dockerHost: string | undefined;
    let dockerVersion = '';
    if (WITH_DOCKERD) {
      const up = spawnSync('bash', [ANCHOR], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
      if (up.status === 0) {
        dockerHost = String(up.stdout).trim().split('\n').pop()!;
        const v = spawnSync(DOCKER_BIN, ['version', '--format', '{{.Server.Version}}'], {
          env: { ...process.env, DOCKER_HOST: dockerHost },
        });
        dockerVersion = String(v.stdout).trim();
      } else log(`no dockerd: ${String(up.stderr).trim().split('\n').pop()}`);
    }
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
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const lines: string[] = [];
    lines.push(`## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} — build`, '');
    lines.push(
      `Machine: ${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}. \`docker build\` (docker CLI 28, DOCKER_BUILDKIT=0) of a two-stage Dockerfile: 3 RUN, COPY of a 51-file dir, COPY --from, ADD of a tar, a .dockerignore leaving out 5 MB; ${RUNS} interleaved runs after a warm-up; load average at the end ${load} (shared machine).`,
      '',
    );
    lines.push('| build | median | min | max |', '|---|---|---|---|');
    const row = (n: string, t: number[]) =>
      `| ${n} | ${(median(t) / 1000).toFixed(2)} s | ${(Math.min(...t) / 1000).toFixed(2)} s | ${(Math.max(...t) / 1000).toFixed(2)} s |`;
    for (const [name] of hosts) {
      const label = name === 'cocon' ? 'docker CLI -> cocon' : `docker CLI -> dockerd ${dockerVersion}`;
      lines.push(row(`cold (--no-cache), ${label}`, cold[name]));
      lines.push(row(`no-change rebuild, ${label}`, warm[name]));
    }
    lines.push('');
    if (dockerHost) {
      lines.push(
        `Ratio cocon/dockerd: cold **${(median(cold.cocon) / median(cold.dockerd)).toFixed(2)}** (target <= 0.5), cached rebuild **${(median(warm.cocon) / median(warm.dockerd)).toFixed(2)}** (target <= 1.0).`,
        '',
      );
    } else lines.push('(no dockerd in this run)', '');
    const text = lines.join('\n');
    process.stdout.write(text + '\n');
    if (WRITE) {
      const file = join(REPO, 'bench/RESULTS.md');
      const cur = readFileSync(file, 'utf8');
      const marker = /^## /m.exec(cur);
      const at = marker ? marker.index : cur.length;
      writeFileSync(file, cur.slice(0, at) + text + '\n' + cur.slice(at));
      log(`written to ${file}`);
    }
  } finally {
    await d?.stop().catch((e) => log(String(e)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`build-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
