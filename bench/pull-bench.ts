// Pull benchmark (issue 3): an image of ~200 MB in 5 layers of incompressible data, pushed to a local
// registry (Debian's docker-registry on 127.0.0.1), pulled by cocon and, in the same run, by a real
// dockerd when /work/shared/anchors/dockerd-up.sh can bring one up (127.0.0.0/8 is insecure there by
// default). Both pulls go through the same docker CLI; the image is removed between runs so every
// run downloads and extracts everything.
//
//   node dist/bench/pull-bench.js [--runs N] [--mb-per-layer M] [--no-dockerd] [--write]
//
// --write appends the figures to bench/RESULTS.md (newest first). Everything it starts (registry,
// cocon daemon) is stopped and its temp dirs removed at the end, also on failure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem, release } from 'node:os';
import { startDaemon, REPO, DOCKER_BIN, type Daemon } from '../test/helpers/daemon.js';
import { startRegistry, pushRawImage, makeTar, type TestRegistry } from '../test/integration/registry-helpers.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 3);
const MB = opt('--mb-per-layer', 40);
const LAYERS = 5;
const WRITE = args.includes('--write');
const WITH_DOCKERD = !args.includes('--no-dockerd');
const ANCHOR = '/work/shared/anchors/dockerd-up.sh';
const log = (s: string) => process.stderr.write(`pull-bench: ${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function dockerCmd(host: string, argv: string[]): { ms: number; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER_BIN, argv, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`docker ${argv.join(' ')} (${host}): exit ${r.status}: ${r.stderr}`);
  return { ms, out: String(r.stdout) };
}

function pullOnce(host: string, ref: string): number {
  spawnSync(DOCKER_BIN, ['rmi', '-f', ref], { env: { ...process.env, DOCKER_HOST: host }, stdio: 'ignore' });
  const { ms } = dockerCmd(host, ['pull', '-q', ref]);
  spawnSync(DOCKER_BIN, ['rmi', '-f', ref], { env: { ...process.env, DOCKER_HOST: host }, stdio: 'ignore' });
  spawnSync('sync');
  return ms;
}

async function main(): Promise<void> {
  let reg: TestRegistry | undefined;
  let d: Daemon | undefined;
  try {
    reg = await startRegistry();
    log(`registry on ${reg.host}; building ${LAYERS} layers of ${MB} MB random data`);
    const layers: Buffer[] = [];
    for (let i = 0; i < LAYERS; i++)
      layers.push(
        await makeTar([
          { name: `layer${i}/`, type: 'directory' },
          { name: `layer${i}/data.bin`, data: randomBytes(MB << 20) },
        ]),
      );
    const pushed = await pushRawImage(reg.host, 'bench', 'v1', layers, { compression: 'gzip' });
    const ref = `${reg.host}/bench:v1`;
    const totalMB = layers.reduce((a, l) => a + l.length, 0) / 1e6;
    log(`pushed ${ref} (${totalMB.toFixed(0)} MB, manifest ${pushed.manifest})`);

    d = await startDaemon({ args: ['--log-level', 'info'] });
    let dockerHost: string | undefined;
    let dockerVersion = '';
    if (WITH_DOCKERD) {
      const up = spawnSync('bash', [ANCHOR], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
      if (up.status === 0) {
        dockerHost = String(up.stdout).trim().split('\n').pop()!;
        dockerVersion = dockerCmd(dockerHost, ['version', '--format', '{{.Server.Version}}']).out.trim();
      } else log(`no dockerd: ${String(up.stderr).trim().split('\n').pop()}`);
    }
    // interleaved (cocon, dockerd, cocon, ...) so that both see the same load on this shared machine
    const coconTimes: number[] = [];
    const dockerRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      coconTimes.push(pullOnce(d.host, ref));
      log(`cocon pull ${i + 1}/${RUNS}: ${(coconTimes[i] / 1000).toFixed(2)} s`);
      if (dockerHost) {
        dockerRuns.push(pullOnce(dockerHost, ref));
        log(`dockerd pull ${i + 1}/${RUNS}: ${(dockerRuns[i] / 1000).toFixed(2)} s`);
      }
    }
    const dockerTimes = dockerHost ? dockerRuns : undefined;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

    const c = median(coconTimes);
    const lines: string[] = [];
    lines.push(`## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} — pull`, '');
    lines.push(
      `Machine: ${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}. Image: ${LAYERS} layers x ${MB} MiB of random data (gzip, ${totalMB.toFixed(0)} MB compressed) on Debian's docker-registry at 127.0.0.1 (plain http); \`docker pull -q\` (docker CLI 28) wall time, the image removed before each of ${RUNS} interleaved runs; load average at the end ${load} (shared machine).`,
      '',
    );
    lines.push('| pull of the 200 MB image | median | min | max |', '|---|---|---|---|');
    const row = (name: string, t: number[]) =>
      `| ${name} | ${(median(t) / 1000).toFixed(2)} s | ${(Math.min(...t) / 1000).toFixed(2)} s | ${(Math.max(...t) / 1000).toFixed(2)} s |`;
    lines.push(row('docker CLI -> cocon', coconTimes));
    if (dockerTimes) lines.push(row(`docker CLI -> dockerd ${dockerVersion}`, dockerTimes));
    lines.push('');
    if (dockerTimes)
      lines.push(
        `Speed-up cocon vs dockerd: **${(median(dockerTimes) / c).toFixed(2)}x** (target >= 1.0, aim 1.5). Throughput cocon: ${(totalMB / (c / 1000)).toFixed(0)} MB/s.`,
        '',
      );
    else lines.push(`(no dockerd in this run) Throughput cocon: ${(totalMB / (c / 1000)).toFixed(0)} MB/s.`, '');
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
    await reg?.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`pull-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
