// Pull benchmark (issue 3): an image of ~200 MB in 5 layers of incompressible data, pushed to a local
// registry (Debian's docker-registry on 127.0.0.1), pulled by cocon and, in the same run, by a real
// dockerd when /work/shared/anchors/dockerd-up.sh can bring one up (127.0.0.0/8 is insecure there by
// default). Both pulls go through the same docker CLI; the image is removed between runs so every
// run downloads and extracts everything.
//
//   node dist/bench/pull-bench.js [--runs N] [--mb-per-layer M] [--compressible] [--no-dockerd] [--write]
//
// --compressible fills the layers with text-like data (random words, gzip about 3:1) instead of random bytes.
//
// --write appends the figures to bench/RESULTS.md (newest first). Everything it starts (registry,
// cocon daemon) is stopped and its temp dirs removed at the end, also on failure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startDaemon, DOCKER_BIN, type Daemon } from '../test/helpers/daemon.js';
import { startRegistry, pushRawImage, makeTar, type TestRegistry } from '../test/integration/registry-helpers.js';
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
const MB = a.num('--mb-per-layer', 40);
const LAYERS = 5;
const WRITE = a.has('--write');
const WITH_DOCKERD = !a.has('--no-dockerd');
const COMPRESSIBLE = a.has('--compressible');

/** `n` bytes of lines of random lowercase words: compresses about 3:1 with gzip, like text and binaries. */
function textLike(n: number): Buffer {
  const words = Array.from({ length: 4096 }, () => randomBytes(6).toString('hex').replace(/[0-9]/g, ''));
  const out = Buffer.alloc(n);
  let off = 0;
  let i = 0;
  while (off < n) {
    const w = words[Math.floor(Math.random() * words.length)] + (++i % 12 === 0 ? '\n' : ' ');
    off += out.write(w, off);
  }
  return out;
}
const log = logger('pull-bench');

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
    log(`registry on ${reg.host}; building ${LAYERS} layers of ${MB} MB ${COMPRESSIBLE ? 'text-like' : 'random'} data`);
    const layers: Buffer[] = [];
    for (let i = 0; i < LAYERS; i++)
      layers.push(
        await makeTar([
          { name: `layer${i}/`, type: 'directory' },
          { name: `layer${i}/data.bin`, data: COMPRESSIBLE ? textLike(MB << 20) : randomBytes(MB << 20) },
        ]),
      );
    const pushed = await pushRawImage(reg.host, 'bench', 'v1', layers, { compression: 'gzip' });
    const ref = `${reg.host}/bench:v1`;
    const totalMB = layers.reduce((a, l) => a + l.length, 0) / 1e6;
    log(`pushed ${ref} (${totalMB.toFixed(0)} MB, manifest ${pushed.manifest})`);

    d = await startDaemon({ args: ['--log-level', 'info'] });
    const ref0 = WITH_DOCKERD ? referenceDockerd(log) : undefined;
    const dockerHost = ref0?.host;
    const dockerVersion = ref0?.version ?? '';
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
    const load = loadAvg();

    const c = median(coconTimes);
    const lines: string[] = [];
    lines.push(sectionTitle('pull'), '');
    lines.push(
      `${machineLine()} Image: ${LAYERS} layers x ${MB} MiB of ${COMPRESSIBLE ? 'text-like (compressible)' : 'random'} data (${totalMB.toFixed(0)} MB of layer tars, gzip level 1) on Debian's docker-registry at 127.0.0.1 (plain http); \`docker pull -q\` (docker CLI 28) wall time, the image removed before each of ${RUNS} interleaved runs; load average at the end ${load} (shared machine).`,
      '',
    );
    const rows = [summaryRow('docker CLI -> cocon', coconTimes, fmtS)];
    if (dockerTimes) rows.push(summaryRow(`docker CLI -> dockerd ${dockerVersion}`, dockerTimes, fmtS));
    lines.push(...table(['pull of the 200 MB image', 'median', 'min', 'max'], rows), '');
    if (dockerTimes)
      lines.push(
        `Speed-up cocon vs dockerd: **${(median(dockerTimes) / c).toFixed(2)}x** (target >= 1.0, aim 1.5). Throughput cocon: ${(totalMB / (c / 1000)).toFixed(0)} MB/s.`,
        '',
      );
    else lines.push(`(no dockerd in this run) Throughput cocon: ${(totalMB / (c / 1000)).toFixed(0)} MB/s.`, '');
    const text = lines.join('\n');
    process.stdout.write(`${text}\n`);
    if (WRITE) writeResults(text, log);
  } finally {
    await d?.stop().catch((e) => log(String(e)));
    await reg?.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`pull-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
