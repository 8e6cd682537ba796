// Exec sessions: extra processes in a running container (docker exec). A tty or detached session
// runs under conmon, so that the pty, stdin and the exit code outlive the client; a non-tty session
// with a client runs through `runc exec` as the daemon's child (../runtime/runcexec.ts), which is
// cheaper; a healthcheck probe runs in the container's probe runner (../runtime/proberunner.ts)
// or, failing that, through `runc exec` too. Either way the process is the container's own with
// the session's args, env, user and cwd. Sessions live in memory, as in dockerd; their files live
// under <exec-root>/exec/<id> and go when the process ends.
//
// Lifecycle: create(container, config) -> start(id, client?) -> exit code -> inspect(id).
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Conflict, InvalidArgument, NotFound } from '../core/errors.js';
import type { ContainerService } from './service.js';
import { execProcess, RuntimeError } from '../runtime/conmon.js';
import { AttachBridge } from '../runtime/attach.js';
import { detachKeysFor, parseDetachKeys } from '../runtime/detachkeys.js';
import type { OciProcess } from '../runtime/spec.js';
import { mergeEnv } from './user.js';
import { capsOfDaemon } from '../sys/limits.js';
import { PRIVATE, privateDir } from '../sys/perms.js';
import { formatGoDuration } from '../core/duration.js';
import { MAX_OUTPUT, OutputCap, PROBE_DRAIN_LIMIT } from './healthcheck.js';
import { runcExec } from '../runtime/runcexec.js';
import { ProbeRunner } from '../runtime/proberunner.js';
import { log } from '../core/log.js';

export interface ExecConfig {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Detach?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[];
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  dir: string;
  /** The pid while runc runs the process (its pid file), for a session without conmon. */
  pidOf?: () => number;
  /** A resize that arrived before the process ran (docker sends it right after start). */
  pendingSize?: [number, number];
}

const MAX_FINISHED = 200;

export class ExecService {
  private execs = new Map<string, ExecRecord>();
  /** Healthcheck probe runners by container id (not exec sessions: never in ExecIDs). */
  private runners = new Map<
    string,
    { key: string } & ({ runner: ProbeRunner } | { starting: Promise<ProbeRunner | null> } | { unavailable: true })
  >();

  constructor(
    private readonly containers: ContainerService,
    private readonly execRoot: string,
  ) {
    privateDir(join(execRoot, 'exec'));
  }

  idsOf(containerId: string): string[] | null {
    const ids = [...this.execs.values()].filter((e) => e.containerId === containerId && e.running).map((e) => e.id);
    return ids.length ? ids : null;
  }

  create(ref: string, cfg: ExecConfig): string {
    const c = this.containers.lookup(ref);
    if (c.state.Paused) throw new Conflict(`Container ${ref} is paused, unpause the container before exec`);
    if (!c.state.Running) throw new Conflict(`Container ${c.id} is not running`);
    if (!cfg.Cmd?.length) throw new InvalidArgument('No exec command specified');
    if (cfg.DetachKeys)
      try {
        parseDetachKeys(cfg.DetachKeys);
      } catch {
        throw new InvalidArgument(`Invalid escape keys (${cfg.DetachKeys}) provided`);
      }
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, {
      id,
      containerId: c.id,
      config: cfg,
      running: false,
      started: false,
      exitCode: null,
      pid: 0,
      dir: join(this.execRoot, 'exec', id),
    });
    this.prune();
    return id;
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFound(`No such exec instance: ${id}`);
    return e;
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id);
    const [entrypoint, ...args] = e.config.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      CanRemove: !e.running && e.started,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '',
      OpenStdin: !!e.config.AttachStdin,
      OpenStdout: !!e.config.AttachStdout,
      OpenStderr: !!e.config.AttachStderr,
      Pid: e.pidOf?.() || e.pid,
      ProcessConfig: {
        tty: !!e.config.Tty,
        entrypoint,
        arguments: args,
        privileged: !!e.config.Privileged,
        user: e.config.User ?? '',
      },
    };
  }

  resize(id: string, h: number, w: number): void {
    const e = this.get(id);
    if (!e.config.Tty) return;
    if (e.started && !e.pid && e.exitCode === null) {
      e.pendingSize = [h, w];
      return;
    }
    if (!e.running) throw new Conflict(`Exec ${id} is not running`);
    writeFileSync(join(e.dir, 'ctl'), `1 ${h} ${w}\n`);
  }

  /** The process spec: the container's own process with this session's args, env, user, cwd. */
  private processSpec(e: ExecRecord, tty: boolean): OciProcess {
    const bundle = this.containers.paths.bundle(e.containerId);
    const base = (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: OciProcess }).process;
    const proc: OciProcess = {
      ...base,
      args: e.config.Cmd!,
      terminal: tty,
      env: mergeEnv(base.env ?? [], e.config.Env ?? []),
    };
    delete proc.consoleSize;
    if (e.config.WorkingDir) proc.cwd = e.config.WorkingDir;
    if (e.config.User) {
      const u = this.containers.userIn(e.containerId, e.config.User);
      proc.user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
    }
    if (e.config.Privileged) {
      const all = capsOfDaemon();
      proc.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return proc;
  }

  /**
   * Runs the session; with a client, streams it (hijacked connection) until the process ends.
   * As in dockerd, the process gets a pty when the exec was created with Tty; the start request's
   * Tty (default: the same) only says whether the client gets raw bytes or 8-byte frames.
   */
  async start(id: string, opts: { detach: boolean; tty?: boolean }, client: Duplex | null): Promise<void> {
    const e = this.get(id);
    if (e.started) throw new Conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.lookup(e.containerId);
    if (!c.state.Running) throw new Conflict(`Container ${c.id} is not running`);
    e.started = true;
    const tty = !!e.config.Tty;
    const rawStream = opts.tty ?? tty;
    privateDir(e.dir);
    const specPath = join(e.dir, 'process.json');
    writeFileSync(specPath, JSON.stringify(this.processSpec(e, tty)), { mode: PRIVATE.file });
    const attach = !!client && !opts.detach;
    const stdin = attach && !!e.config.AttachStdin;
    if (attach && client && !tty) return this.startDirect(e, specPath, rawStream, stdin, client);
    privateDir(join(e.dir, 'exits'));
    const tmpDir = privateDir(join(this.execRoot, 't', 'e' + id.slice(0, 15)));
    const sessionId = id.slice(0, 32);
    const session = await execProcess(this.containers.conmonPaths, {
      containerId: e.containerId,
      sessionId,
      dir: e.dir,
      processSpecPath: specPath,
      tty,
      stdin,
      attach,
      tmpDir,
    });
    const cleanup = () => {
      e.running = false;
      rmSync(e.dir, { recursive: true, force: true });
      rmSync(tmpDir, { recursive: true, force: true });
      rmSync(join(this.containers.paths.socks, sessionId), { force: true });
    };
    const finished = session.exited.then((code) => {
      if (e.exitCode === null) e.exitCode = code;
      cleanup();
    });
    let bridge: AttachBridge | null = null;
    if (attach && client) {
      bridge = new AttachBridge(client, {
        tty: rawStream,
        stdin,
        stdout: e.config.AttachStdout !== false,
        stderr: e.config.AttachStderr !== false,
        detachKeys: tty ? detachKeysFor(e.config.DetachKeys) : undefined,
      });
      bridge.gateEnd(finished);
      await bridge.connect(session.attachPath);
    }
    e.running = true;
    try {
      e.pid = await session.begin();
      if (e.pendingSize && e.running) writeFileSync(join(e.dir, 'ctl'), `1 ${e.pendingSize[0]} ${e.pendingSize[1]}\n`);
    } catch (err) {
      const msg = err instanceof RuntimeError ? err.message : String(err);
      e.exitCode = /executable file not found|no such file or directory/i.test(msg) ? 127 : 126;
      cleanup();
      if (bridge) bridge.fail(msg);
      else throw new InvalidArgument(msg);
      return;
    }
    if (bridge) await bridge.done;
  }

  /**
   * A non-tty exec with a client: `runc exec` as the daemon's child, its pipes bridged to the
   * client (no conmon, no attach socket: about a conmon start and three round trips less). The
   * process is the same one conmon would start (the same process.json).
   */
  private async startDirect(
    e: ExecRecord,
    specPath: string,
    rawStream: boolean,
    stdin: boolean,
    client: Duplex,
  ): Promise<void> {
    const bridge = new AttachBridge(client, {
      tty: rawStream,
      stdin,
      stdout: e.config.AttachStdout !== false,
      stderr: e.config.AttachStderr !== false,
    });
    const x = runcExec({
      runtime: this.containers.conmonPaths.runtime,
      root: this.containers.paths.runcRoot,
      containerId: e.containerId,
      process: { specPath },
      pidFile: join(e.dir, 'pid'),
      stdin,
      onStdout: (b) => bridge.deliver(1, b),
      onStderr: (b) => bridge.deliver(2, b),
    });
    bridge.connectPipes(x.stdin, { pause: () => x.pauseOutput(), resume: () => x.resumeOutput() });
    e.running = true;
    e.pidOf = () => x.pid();
    const cleanup = () => {
      e.pid = x.pid();
      e.pidOf = undefined;
      e.running = false;
      rmSync(e.dir, { recursive: true, force: true });
    };
    try {
      e.exitCode = await x.exited;
      cleanup();
      bridge.endClient();
    } catch (err) {
      const msg = err instanceof RuntimeError ? err.message : String(err);
      e.exitCode = /executable file not found|no such file or directory/i.test(msg) ? 127 : 126;
      cleanup();
      bridge.fail(msg);
    }
    await bridge.done;
  }

  /**
   * A healthcheck probe (containers/health.ts): runs argv in the container as the container's own
   * process would run and resolves with its exit code and combined output (docker's first 4096
   * bytes). The probe runs in the container's probe runner (../runtime/proberunner.ts: one
   * long-lived shell per container, started with `runc exec -d` of the container's process, that
   * forks the probe on request); when the container has no /bin/sh, the runner is busy or the
   * probe's program is missing, it runs through a plain `runc exec` (probeDirect), whose start
   * error is docker's runtime message. Output past PROBE_DRAIN_LIMIT is no longer read: a flooding
   * probe then blocks until its timeout. Past timeoutMs the probe is killed (with its runner) and
   * the result is docker's: exit code -1, "Health check exceeded timeout (30s)". Throws
   * RuntimeError when the process cannot start.
   */
  async probe(containerId: string, argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const runner = await this.runnerFor(containerId, argv, timeoutMs);
    if (!runner || runner.busy) return this.probeDirect(containerId, argv, timeoutMs);
    const out = new OutputCap(MAX_OUTPUT, PROBE_DRAIN_LIMIT);
    const r = await runner.run(out, timeoutMs);
    if (r.kind === 'exited') return { exitCode: r.exitCode, output: out.text() };
    if (r.kind === 'timeout') {
      this.runners.delete(containerId);
      return { exitCode: -1, output: `Health check exceeded timeout (${formatGoDuration(timeoutMs * 1e6)})` };
    }
    if (r.kind === 'nocmd') return this.probeDirect(containerId, argv, timeoutMs);
    // the runner ended under the probe (killed in the container, or the container stops)
    this.runners.delete(containerId);
    return { exitCode: -1, output: r.message };
  }

  /** Ends the container's probe runner, if any (the container stopped or its checks ended). */
  releaseProbes(containerId: string): void {
    const s = this.runners.get(containerId);
    this.runners.delete(containerId);
    if (s && 'runner' in s) s.runner.kill();
  }

  /** The container's live runner for argv, started when there is none; null: use probeDirect. */
  private async runnerFor(containerId: string, argv: string[], timeoutMs: number): Promise<ProbeRunner | null> {
    const key = JSON.stringify(argv);
    const s = this.runners.get(containerId);
    if (s && s.key === key) {
      if ('unavailable' in s) return null;
      if ('starting' in s) return s.starting;
      if (s.runner.usable) return s.runner;
    }
    if (s && 'runner' in s) s.runner.kill();
    const starting = ProbeRunner.start({
      runtime: this.containers.conmonPaths.runtime,
      root: this.containers.paths.runcRoot,
      containerId,
      argv,
      pidFile: join(this.execRoot, 'exec', `runner-${randomBytes(8).toString('hex')}.pid`),
      startTimeoutMs: Math.max(timeoutMs, 5000),
      readLimit: PROBE_DRAIN_LIMIT,
    }).then(
      (runner) => {
        const cur = this.runners.get(containerId);
        if (cur && 'starting' in cur && cur.starting === starting) {
          this.runners.set(containerId, { key, runner });
          return runner;
        }
        runner.kill(); // released while starting
        return null;
      },
      (e: unknown) => {
        const cur = this.runners.get(containerId);
        if (cur && 'starting' in cur && cur.starting === starting) {
          // no /bin/sh, or a shell that does not answer: every probe of this run goes through runc exec
          this.runners.set(containerId, { key, unavailable: true });
          log.debug('healthcheck runner unavailable, probes use runc exec', {
            id: containerId,
            error: e instanceof Error ? e.message : String(e),
          });
        }
        return null;
      },
    );
    this.runners.set(containerId, { key, starting });
    return starting;
  }

  /** A probe through one `runc exec` of its own (no runner). */
  private async probeDirect(
    containerId: string,
    argv: string[],
    timeoutMs: number,
  ): Promise<{ exitCode: number; output: string }> {
    const out = new OutputCap(MAX_OUTPUT, PROBE_DRAIN_LIMIT);
    const onOutput = (b: Buffer) => {
      if (!out.add(b)) x.pauseOutput();
    };
    const x = runcExec({
      runtime: this.containers.conmonPaths.runtime,
      root: this.containers.paths.runcRoot,
      containerId,
      process: { args: argv },
      pidFile: join(this.execRoot, 'exec', `probe-${randomBytes(8).toString('hex')}.pid`),
      stdin: false,
      onStdout: onOutput,
      onStderr: onOutput,
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const code = await Promise.race([x.exited, timedOut]);
      if (code === 'timeout') {
        x.kill();
        await Promise.race([x.exited.catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
        return { exitCode: -1, output: `Health check exceeded timeout (${formatGoDuration(timeoutMs * 1e6)})` };
      }
      return { exitCode: code, output: out.text() };
    } finally {
      clearTimeout(timer);
    }
  }

  private prune(): void {
    if (this.execs.size <= MAX_FINISHED) return;
    for (const [id, e] of this.execs) if (!e.running && this.execs.size > MAX_FINISHED) this.execs.delete(id);
  }
}
