// Test daemons: a real `cocon daemon` on its own temporary data root, exec root and socket, with
// helpers to call its API, run cocon's CLI or the real docker CLI against it, and a cleanup that
// always runs (daemon, containers, conmon, mounts, temp dirs; see scripts/sweep-test-roots).
//
//   const h = useDaemon({ busybox: true });      // top level of a test file: one daemon per file
//   test('x', async () => { const r = await h.d.api('GET', '/_ping'); ... });
//
// useDaemon registers before()/after() hooks (start, stop + sweep) and beforeEach()/afterEach()
// hooks that print the daemon's log lines written during a test when that test fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, statSync, existsSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';
import { before, after, beforeEach, afterEach } from 'node:test';

/** The repository root (this file runs as dist/test/helpers/daemon.js). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** cocon's CLI as bin/cocon runs it: the esbuild bundle (scripts/bundle.mjs), which also runs the daemon. */
export const CLI_MAIN = join(REPO, 'dist/bundle/cocon.js');
export const SWEEP = join(REPO, 'scripts/sweep-test-roots');
export const DOCKER_BIN = process.env.COCON_DOCKER_BIN || '/usr/local/bin/docker';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The raw body. */
  raw: Buffer;
  /** The body as UTF-8 text. */
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: Json;
}

export interface ApiOptions {
  headers?: Record<string, string>;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: Buffer | string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals | null;
  timedOut?: boolean;
}
export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

export interface StartOptions {
  /** Extra daemon flags; '{root}' in them becomes the daemon's temp root. */
  args?: string[];
  env?: Record<string, string>;
  /** How long to wait for /_ping (default 30 s). */
  readyTimeoutMs?: number;
  /** Run the daemon inside this network namespace (a bound file, e.g. made with `unshare --net=FILE`). */
  netns?: string;
  /**
   * Give the temp root and the directories above it o+x (--userns-remap: the remapped root must pass
   * through them to a container's rootfs, and the daemon refuses a data root it cannot reach).
   */
  traversable?: boolean;
}

export interface Daemon {
  root: string;
  socket: string;
  host: string; // unix://<socket>
  dataRoot: string;
  execRoot: string;
  logFile: string;
  pid: number;
  api(method: string, path: string, body?: unknown, opts?: ApiOptions): Promise<ApiResponse>;
  /** SIGTERM the daemon and wait for it to exit (containers keep running; no cleanup). */
  shutdown(timeoutMs?: number): Promise<void>;
  /** SIGKILL the daemon and wait for it to be gone (containers keep running under conmon). */
  kill9(): Promise<void>;
  /** Starts the daemon again on the same roots and socket (after shutdown() or kill9()). */
  restart(): Promise<void>;
  /** SIGTERM the daemon, then remove everything it left: containers, conmon, mounts, temp dirs. */
  stop(): Promise<void>;
  /** The daemon's log from a byte offset. */
  log(from?: number): string;
  logSize(): number;
}

const live = new Set<Daemon>();

function sweepSync(dir: string): void {
  const r = spawnSync(SWEEP, [dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) process.stderr.write(`sweep-test-roots ${dir}: exit ${r.status}\n${r.stdout}${r.stderr}\n`);
}

process.on('exit', () => {
  for (const d of live) sweepSync(d.root);
});

function testTmpBase(): string {
  const base = process.env.COCON_TEST_TMP || '/tmp';
  mkdirSync(base, { recursive: true });
  return base;
}

/** Unique short names for containers: prefix-<pid36><counter36>. */
let nameCounter = 0;
export function uniq(prefix = 't'): string {
  return `${prefix}-${process.pid.toString(36)}${(nameCounter++).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Calls the API on a unix socket. Never throws on HTTP errors; throws on connection errors. */
export function apiCall(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<ApiResponse> {
  return new Promise((resolveP, reject) => {
    let payload: Buffer | undefined;
    const headers: Record<string, string> = { Host: 'api.moby.localhost', ...opts.headers };
    if (opts.raw !== undefined) payload = Buffer.isBuffer(opts.raw) ? opts.raw : Buffer.from(opts.raw);
    else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] ??= 'application/json';
    }
    if (payload) headers['Content-Length'] = String(payload.length);
    else if (method === 'POST' || method === 'PUT') headers['Content-Length'] = '0';
    const req = request({ socketPath: socket, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString('utf8');
        let json: Json;
        try {
          json = text.length ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolveP({ status: res.statusCode ?? 0, headers: res.headers, raw, body: text, json });
      });
      res.on('error', reject);
    });
    const t = setTimeout(
      () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 60_000} ms`)),
      opts.timeoutMs ?? 60_000,
    );
    req.on('close', () => clearTimeout(t));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Splits a multiplexed stdout/stderr stream (8-byte frame headers) into its two streams. */
export function demux(buf: Buffer): {
  stdout: string;
  stderr: string;
  frames: Array<{ stream: number; data: string }>;
} {
  const frames: Array<{ stream: number; data: string }> = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const stream = buf[i];
    const len = buf.readUInt32BE(i + 4);
    const data = buf.subarray(i + 8, i + 8 + len);
    frames.push({ stream, data: data.toString('utf8') });
    (stream === 2 ? err : out).push(data);
    i += 8 + len;
  }
  if (i !== buf.length)
    throw new Error(
      `demux: ${buf.length - i} trailing bytes are not a frame (raw stream?): ${JSON.stringify(buf.subarray(i, i + 40).toString())}`,
    );
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), frames };
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((r) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      r(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      r(true);
    };
    child.once('exit', onExit);
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build first (npm run build)`);
  const root = mkdtempSync(join(testTmpBase(), 'd-'));
  const dataRoot = join(root, 'data');
  const execRoot = join(root, 'run');
  const socket = join(root, 'api.sock');
  const logFile = join(root, 'daemon.log');
  let child: ChildProcess | undefined;
  if (opts.traversable)
    for (let p = root; p !== '/'; p = dirname(p)) {
      const mode = statSync(p).mode & 0o7777;
      if (!(mode & 0o001)) chmodSync(p, mode | 0o011);
    }

  const spawnIt = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    try {
      const argv = [
        process.execPath,
        // COCON_TEST_CPU_PROF=DIR: each daemon writes a V8 CPU profile there when it exits (benches)
        ...(process.env.COCON_TEST_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.COCON_TEST_CPU_PROF}`] : []),
        '--',
        CLI_MAIN,
        'daemon',
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '-H',
        `unix://${socket}`,
        '--log-level',
        'debug',
        ...(opts.args ?? []).map((a) => a.replace('{root}', root)),
      ];
      // nsenter execs the daemon (same pid) once it joined the namespace
      if (opts.netns) argv.unshift('nsenter', `--net=${opts.netns}`, '--');
      child = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', fd, fd],
        detached: true,
        env: { ...process.env, ...opts.env },
      });
    } finally {
      closeSync(fd);
    }
    const c = child;
    c.unref();
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    let lastErr = '';
    while (Date.now() < deadline) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(
          `daemon exited (${c.exitCode ?? c.signalCode}) before answering /_ping; log:\n${tail(readLog(logFile), 60)}`,
        );
      }
      try {
        const r = await apiCall(socket, 'GET', '/_ping', undefined, { timeoutMs: 2000 });
        if (r.status === 200) return;
        lastErr = `status ${r.status}`;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      await sleep(50);
    }
    throw new Error(
      `daemon did not answer /_ping within ${opts.readyTimeoutMs ?? 30_000} ms (${lastErr}); log:\n${tail(readLog(logFile), 60)}`,
    );
  };

  const d: Daemon = {
    root,
    socket,
    host: `unix://${socket}`,
    dataRoot,
    execRoot,
    logFile,
    pid: 0,
    api: (method, path, body, o) => apiCall(socket, method, path, body, o),
    async shutdown(timeoutMs = 20_000) {
      const c = child;
      if (!c) return;
      if (c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid!, 'SIGTERM');
        } catch {
          /* gone */
        }
        if (!(await waitExit(c, timeoutMs))) {
          process.stderr.write(`daemon ${c.pid} ignored SIGTERM for ${timeoutMs} ms; killing it\n`);
          try {
            process.kill(c.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
          await waitExit(c, 5000);
          throw new Error(`daemon did not exit within ${timeoutMs} ms of SIGTERM`);
        }
      }
    },
    async kill9() {
      const c = child;
      if (!c) return;
      try {
        process.kill(c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitExit(c, 10_000);
    },
    async restart() {
      await d.shutdown();
      await spawnIt();
      d.pid = child!.pid!;
    },
    async stop() {
      try {
        await d.shutdown();
      } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
      }
      live.delete(d);
      sweepSync(root);
      if (existsSync(root)) throw new Error(`cleanup left ${root} behind`);
    },
    log: (from = 0) => readLog(logFile, from),
    logSize: () => {
      try {
        return statSync(logFile).size;
      } catch {
        return 0;
      }
    },
  };
  live.add(d);
  try {
    await spawnIt();
  } catch (e) {
    live.delete(d);
    try {
      if (child?.pid && pidAlive(child.pid)) process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    sweepSync(root);
    throw e;
  }
  d.pid = child!.pid!;
  return d;
}

function readLog(file: string, from = 0): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

export function tail(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - n - 1)).join('\n');
}

/** Makes busybox:latest from the host's busybox-static (cocon's own endpoint). Returns the image id. */
export async function bootstrapBusybox(d: Daemon): Promise<string> {
  const r = await d.api('POST', '/images/bootstrap?image=busybox', undefined, { timeoutMs: 120_000 });
  if (r.status !== 200 && r.status !== 201)
    throw new Error(`POST /images/bootstrap?image=busybox -> ${r.status} ${r.body}`);
  const id = r.json?.Id;
  if (typeof id !== 'string' || !id.startsWith('sha256:'))
    throw new Error(`bootstrap answered without an Id: ${r.body}`);
  return id;
}

export interface DaemonHolder {
  readonly d: Daemon;
}

/**
 * One daemon for the whole test file: started in before(), stopped and swept in after() (which runs
 * even when tests fail). A failing test gets the daemon log lines written during it on stderr.
 */
export function useDaemon(opts: StartOptions & { busybox?: boolean } = {}): DaemonHolder {
  let daemon: Daemon | undefined;
  let mark = 0;
  before(
    async () => {
      daemon = await startDaemon(opts);
      if (opts.busybox) await bootstrapBusybox(daemon);
    },
    { timeout: 180_000 },
  );
  after(
    async () => {
      if (daemon) await daemon.stop();
    },
    { timeout: 180_000 },
  );
  beforeEach(() => {
    mark = daemon?.logSize() ?? 0;
  });
  afterEach((t) => {
    if (!(t as { passed?: boolean }).passed && daemon) {
      process.stderr.write(
        `\n----- daemon log during "${t.name}" (${daemon.logFile}) -----\n${tail(daemon.log(mark), 150)}\n----- end of daemon log -----\n`,
      );
    }
  });
  return {
    get d() {
      if (!daemon) throw new Error('the test daemon did not start (see before hook)');
      return daemon;
    },
  };
}

/** Runs a program and collects its output. Never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.stdin!.on('error', () => {
      /* EPIPE when the program does not read stdin */
    });
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      const r: RunResult = {
        code: code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        signal,
        timedOut,
      };
      if (timedOut) r.stderr += `\n[killed after ${opts.timeoutMs ?? 60_000} ms]`;
      resolveP(r);
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** cocon's CLI against daemon d: `node dist/bundle/cocon.js -H unix://<socket> ARGS`. */
export function cli(d: Daemon, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, '-H', d.host, ...args], {
    ...opts,
    env: { DOCKER_HOST: d.host, COCON_HOST: d.host, ...opts.env },
  });
}

/** The real docker CLI against daemon d (DOCKER_HOST=unix://<socket>, its own config dir). */
export function docker(d: Daemon, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const cfg = join(d.root, 'docker-config');
  mkdirSync(cfg, { recursive: true });
  return run(DOCKER_BIN, args, {
    ...opts,
    env: { DOCKER_HOST: d.host, DOCKER_CONFIG: cfg, DOCKER_CLI_HINTS: 'false', ...opts.env },
  });
}

/** Polls fn until it returns a truthy value; throws with the last value after timeoutMs. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)}${lastErr ? `, error: ${(lastErr as Error).message}` : ''})`,
      );
    await sleep(everyMs);
  }
}

export interface Hijacked {
  status: number;
  head: string;
  /** Bytes to the container's stdin (never framed). */
  write(data: string | Buffer): void;
  /** Half-closes our side (stdin EOF); output keeps coming. */
  end(): void;
  /** All bytes the daemon sent after the response head, resolved when it closes its side. */
  output: Promise<Buffer>;
  /** The bytes received so far (to wait for some output before writing more or closing). */
  received(): Buffer;
  destroy(): void;
}

/**
 * Opens a hijacked stream (attach, exec start) the way the docker CLI does: Connection: Upgrade,
 * Upgrade: tcp; resolves once the response head (101 or 200) has arrived.
 */
export function hijack(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 60_000,
): Promise<Hijacked> {
  return new Promise((resolveP, reject) => {
    const s = netConnect({ path: socket, allowHalfOpen: true });
    const payload = body === undefined ? '' : JSON.stringify(body);
    let head = '';
    let headDone = false;
    const chunks: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let resolveOut!: (b: Buffer) => void;
    let rejectOut!: (e: Error) => void;
    const output = new Promise<Buffer>((r, j) => {
      resolveOut = r;
      rejectOut = j;
    });
    output.catch(() => {
      /* surfaced by the awaiting test */
    });
    const t = setTimeout(() => {
      s.destroy();
      const e = new Error(`${method} ${path}: stream still open after ${timeoutMs} ms`);
      if (!headDone) reject(e);
      else rejectOut(e);
    }, timeoutMs);
    s.on('connect', () => {
      s.write(
        `${method} ${path} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
          (body === undefined
            ? 'Content-Type: text/plain\r\nContent-Length: 0\r\n'
            : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`) +
          `\r\n${payload}`,
      );
    });
    s.on('data', (c: Buffer) => {
      if (headDone) {
        chunks.push(c);
        return;
      }
      pending = Buffer.concat([pending, c]);
      const i = pending.indexOf('\r\n\r\n');
      if (i < 0) return;
      headDone = true;
      head = pending.subarray(0, i).toString('latin1');
      const rest = pending.subarray(i + 4);
      if (rest.length) chunks.push(rest);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      resolveP({
        status,
        head,
        write: (d) => {
          s.write(d);
        },
        end: () => {
          s.end();
        },
        output,
        received: () => Buffer.concat(chunks),
        destroy: () => {
          s.destroy();
        },
      });
    });
    s.on('end', () => {
      clearTimeout(t);
      if (!headDone) reject(new Error(`${method} ${path}: connection closed before a response`));
      else resolveOut(Buffer.concat(chunks));
      if (!s.writableEnded) s.end();
    });
    s.on('error', (e) => {
      clearTimeout(t);
      if (!headDone) reject(e);
      else rejectOut(e);
    });
  });
}
