// The container monitor: conmon holds each container's stdio/pty, writes its k8s-file log and its
// exit code, and survives the daemon. This module spawns conmon for a container (create mode) and
// for an exec session, following the protocol verified in shared/reference/conmon-runc.md:
// sync pipe (fd 3) for the pid or error, start pipe (fd 4) to release conmon, attach pipe (fd 5)
// for exec sessions that a client attaches to before the process starts.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { PRIVATE, tighten } from '../sys/perms.js';

export interface ConmonPaths {
  conmon: string;
  runtime: string;
  runtimeRoot: string;
  socketDir: string; // --socket-dir-path: holds <uuid> -> bundle symlinks (short attach paths)
}

export interface CreateOptions {
  id: string;
  uuid: string; // name of the SOCKDIR symlink, so the attach socket is SOCKDIR/<uuid>/attach
  name: string;
  bundle: string;
  logPath: string;
  exitDir: string;
  tty: boolean;
  stdin: boolean;
  leaveStdinOpen: boolean;
  tmpDir: string; // conmon's console socket lands here (left behind on failure)
  /** No log file at all (docker --log-driver none). */
  noLog?: boolean;
  /**
   * Bytes (docker --log-opt max-size, max-file=1): conmon's --log-size-max. When a write would
   * pass it, conmon starts the log file afresh (renames a new empty file over it), as docker's
   * json-file does with max-file=1: the log never grows past about this size.
   */
  logSizeMax?: number;
}

export class RuntimeError extends Error {}

/** Reads newline-terminated JSON messages from conmon's sync/attach pipes. */
class LineReader {
  private buf = '';
  private waiters: Array<(line: string | null) => void> = [];
  private lines: string[] = [];
  private ended = false;
  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      this.buf += s;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      if (this.buf.trim()) this.push(this.buf);
      this.buf = '';
      for (const w of this.waiters.splice(0)) w(null);
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }
  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }
  next(): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(null);
    return new Promise((r) => this.waiters.push(r));
  }
}

interface SyncMessage {
  data: number;
  message?: string;
}
function parseSync(line: string | null, stderr: () => string): SyncMessage {
  if (line === null) throw new RuntimeError(`conmon failed: ${stderr().trim() || 'no answer on the sync pipe'}`);
  try {
    return JSON.parse(line) as SyncMessage;
  } catch {
    throw new RuntimeError(`conmon sent an unreadable message: ${line}`);
  }
}

function baseArgs(
  p: ConmonPaths,
  o: { id: string; uuid: string; name: string; bundle: string; pidFile: string; logPath: string; exitDir: string },
): string[] {
  return [
    '--api-version',
    '1',
    '-c',
    o.id,
    '-u',
    o.uuid,
    '-n',
    o.name,
    '-r',
    p.runtime,
    '-b',
    o.bundle,
    '-p',
    o.pidFile,
    '--exit-dir',
    o.exitDir,
    '-l',
    `k8s-file:${o.logPath}`,
    '--socket-dir-path',
    p.socketDir,
    '--log-level',
    'error',
    '--runtime-arg',
    '--root',
    '--runtime-arg',
    p.runtimeRoot,
  ];
}

/**
 * conmon runs in `cwd` (the container's bundle or the exec's dir): without --persist-dir it writes
 * its `oom` marker into its working directory, which was the daemon's (a stray ./oom file).
 */
function spawnConmon(
  p: ConmonPaths,
  args: string[],
  extraFds: number,
  tmpDir: string,
  cwd: string,
): { child: ChildProcess; stderr: () => string } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    TMPDIR: tmpDir,
    _OCI_SYNCPIPE: '3',
    _OCI_STARTPIPE: '4',
  };
  if (extraFds > 2) env._OCI_ATTACHPIPE = '5';
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
  for (let i = 0; i < extraFds; i++) stdio.push('pipe');
  const child = spawn(p.conmon, args, { stdio, env, detached: true, cwd });
  let errText = '';
  child.stdout!.on('data', (b: Buffer) => {
    errText += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    errText += b.toString();
  });
  for (let i = 3; i < stdio.length; i++) (child.stdio[i] as Readable).on('error', () => {});
  child.on('error', (e) => {
    errText += e.message;
  });
  child.unref();
  return { child, stderr: () => errText };
}

/**
 * Creates a container through conmon (`runc create` under conmon). Resolves with the container's
 * pid once runc has created it (the caller then runs `runc start`); the conmon pid is in
 * `<bundle>/conmon.pid`. Throws RuntimeError with runc's message on failure.
 */
export async function createContainer(
  p: ConmonPaths,
  o: CreateOptions,
): Promise<{ pid: number; conmonPidFile: string }> {
  const conmonPidFile = `${o.bundle}/conmon.pid`;
  const args = [...baseArgs(p, { ...o, pidFile: `${o.bundle}/pidfile` }), '-P', conmonPidFile];
  if (o.noLog) args[args.indexOf(`k8s-file:${o.logPath}`)] = 'none:';
  if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  if (o.tty) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.leaveStdinOpen) args.push('--leave-stdin-open');
  const { child, stderr } = spawnConmon(p, args, 2, o.tmpDir, o.bundle);
  const sync = new LineReader(child.stdio[3] as Readable);
  (child.stdio[4] as Writable).end('0');
  const msg = parseSync(await sync.next(), stderr);
  (child.stdio[3] as Readable).destroy();
  child.stdout!.destroy();
  child.stderr!.destroy();
  if (msg.data < 0) throw new RuntimeError(cleanRuncMessage(msg.message ?? 'container create failed'));
  // conmon and runc write them 0644; the exec root is closed already, but state files are 0600.
  for (const f of [conmonPidFile, `${o.bundle}/pidfile`]) tighten(f, PRIVATE.file);
  return { pid: msg.data, conmonPidFile };
}

export interface ExecOptions {
  containerId: string;
  sessionId: string;
  dir: string; // per-session dir: bundle for conmon (attach, ctl, winsz), process.json, exec.log, exits/
  processSpecPath: string;
  tty: boolean;
  stdin: boolean;
  attach: boolean; // wait for the caller to connect to the attach socket before running the process
  tmpDir: string; // conmon's console socket lands here: keep it short (108-byte socket paths)
}

export interface ExecSession {
  /** Path of the attach socket (valid when attach was requested). */
  attachPath: string;
  /** Call once connected (or at once when not attaching): runs the process; resolves with its pid. */
  begin(): Promise<number>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
}

/** Starts an exec session through conmon (`runc exec` under conmon). */
export async function execProcess(p: ConmonPaths, o: ExecOptions): Promise<ExecSession> {
  const args = [
    ...baseArgs(p, {
      id: o.containerId,
      uuid: o.sessionId,
      name: o.containerId,
      bundle: o.dir,
      pidFile: `${o.dir}/exec_pid`,
      logPath: `${o.dir}/exec.log`,
      exitDir: `${o.dir}/exits`,
    }),
    '-e',
    '--exec-process-spec',
    o.processSpecPath,
  ];
  if (o.tty) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.attach) args.push('--exec-attach');
  const { child, stderr } = spawnConmon(p, args, o.attach ? 3 : 2, o.tmpDir, o.dir);
  const sync = new LineReader(child.stdio[3] as Readable);
  const start = child.stdio[4] as Writable;
  start.write('0');
  if (o.attach) {
    const ready = parseSync(await new LineReader((child.stdio as unknown as Readable[])[5]).next(), stderr);
    if (ready.data < 0) throw new RuntimeError(cleanRuncMessage(ready.message ?? 'exec attach failed'));
  }
  let began: Promise<number> | null = null;
  const begin = () => {
    if (!began) {
      began = (async () => {
        if (o.attach) start.end('0');
        else start.end();
        const m = parseSync(await sync.next(), stderr);
        if (m.data < 0) throw new RuntimeError(cleanRuncMessage(m.message ?? 'exec failed'));
        return m.data;
      })();
    }
    return began;
  };
  const exited = (async () => {
    await begin().catch(() => undefined);
    const m = await sync.next();
    return m === null ? -1 : parseSync(m, stderr).data;
  })();
  exited.catch(() => {});
  return { attachPath: `${p.socketDir}/${o.sessionId}/attach`, begin, exited };
}

/** runc's stderr carries logrus lines: keep the message, as docker shows it. */
export function cleanRuncMessage(raw: string): string {
  const msgs = [...raw.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) =>
    m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\'),
  );
  const text = msgs.length ? msgs.join('; ') : raw.trim();
  return `OCI runtime error: ${text}`;
}
