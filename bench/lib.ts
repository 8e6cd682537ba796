// What every benchmark under bench/ shares: option parsing, medians and min/max, timing a command,
// the reference dockerd (/work/shared/anchors/dockerd-up.sh), the machine line, markdown result
// tables, and writing a section at the top of bench/RESULTS.md (newest first).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, release, totalmem } from 'node:os';
import { DOCKER_BIN, REPO } from '../test/helpers/daemon.js';

export const ANCHOR = '/work/shared/anchors/dockerd-up.sh';

/** `--name N` from argv as a number, else dflt; `has('--flag')` for booleans. */
export function benchArgs(argv = process.argv.slice(2)) {
  return {
    num(name: string, dflt: number): number {
      const i = argv.indexOf(name);
      if (i < 0) return dflt;
      const v = Number(argv[i + 1]);
      if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
      return v;
    },
    has: (name: string): boolean => argv.includes(name),
  };
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}
export const summarize = (runs: number[]): Summary => ({
  median: median(runs),
  min: Math.min(...runs),
  max: Math.max(...runs),
  runs,
});

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
export const fmtMs = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
export const fmtS = (x: number): string => `${(x / 1000).toFixed(2)} s`;
export const fmtMiB = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;

export function logger(name: string): (s: string) => void {
  return (s) => process.stderr.write(`${name}: ${s}\n`);
}

/** CPU time (user + system, ms) of the children this process has waited for (/proc/self/stat cutime + cstime). */
function childrenCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 (1-based) are cutime and cstime; rest starts at field 3; clock ticks of 10 ms
  return (Number(rest[13]) + Number(rest[14])) * 10;
}

/**
 * Runs argv once and returns its wall time in ms, and its CPU time (user + system of it and its
 * children, 10 ms ticks: average it over runs); throws when it exits non-zero.
 */
export function timeOnce(
  cmd: string,
  argv: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): { ms: number; cpuMs: number; out: string; err: string } {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpuMs = childrenCpuMs() - c0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
  return { ms, cpuMs, out: String(r.stdout), err: String(r.stderr) };
}

/** `docker ARGV` against host (DOCKER_HOST), timed. */
export function dockerCmd(host: string, argv: string[], env: Record<string, string> = {}) {
  return timeOnce(DOCKER_BIN, argv, { DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false', ...env });
}

/** The reference dockerd (brought up by the anchor script when needed), or undefined with a log line why not. */
export function referenceDockerd(log: (s: string) => void): { host: string; version: string } | undefined {
  const up = spawnSync('bash', [ANCHOR], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  if (up.status !== 0) {
    log(`no dockerd: ${String(up.stderr).trim().split('\n').pop()}`);
    return undefined;
  }
  const host = String(up.stdout).trim().split('\n').pop()!;
  return { host, version: dockerCmd(host, ['version', '--format', '{{.Server.Version}}']).out.trim() };
}

export function loadAvg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function machineLine(): string {
  return `Machine: ${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}.`;
}

/** A markdown table: header cells, then rows of cells. */
export function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** A row `name | median | min | max` with fmt for the figures. */
export function summaryRow(name: string, runs: number[], fmt: (x: number) => string = fmtMs): string[] {
  const s = summarize(runs);
  return [name, fmt(s.median), fmt(s.min), fmt(s.max)];
}

/** `## <ISO time> — title` for a section of bench/RESULTS.md. */
export function sectionTitle(title: string): string {
  return `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} — ${title}`;
}

/** Puts text at the top of bench/RESULTS.md (before the newest section). */
export function writeResults(text: string, log: (s: string) => void): void {
  const file = join(REPO, 'bench/RESULTS.md');
  const cur = readFileSync(file, 'utf8');
  const marker = /^## /m.exec(cur);
  const at = marker ? marker.index : cur.length;
  writeFileSync(file, `${cur.slice(0, at)}${text}\n${cur.slice(at)}`);
  log(`written to ${file}`);
}

/** kB fields of /proc/PID/status (VmRSS ...) and Pss of smaps_rollup; 0 when the process is gone. */
export function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
