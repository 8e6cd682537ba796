// Container log files: bounded, rotated, read back across rotations.
//
// conmon writes the container's output to <dir>/ctr.log (k8s-file records) and, given
// --log-size-max (max-size), starts that file afresh whenever the next write would pass it: it
// creates a new file and renames it over ctr.log. The rotator keeps a second name (a hard link,
// <dir>/ctr.log.held) on the file conmon is writing, so the old file survives that rename; when
// ctr.log is a new file, the held one becomes ctr.log.1 (gzipped to ctr.log.1.gz with
// compress=true), older ones shift up and the one past max-file goes. Disk use stays under
// max-size x max-file; no byte is lost while the daemon runs (conmon writes to the held file
// until its rename). While the daemon is down only the last rotated file is kept.
//
// Lifecycle: the 'start' event begins watching a container whose max-file > 1; 'die' rotates one
// last time and stops; 'destroy' stops. resume() watches the running containers after a restart.
// Readers: logFiles() lists the rotated files oldest first; readLogFile() reads one (gunzip);
// LogTail follows ctr.log across conmon's renames without losing the end of the old file.
import {
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  type FSWatcher,
} from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { EngineEvent, EventBus } from '../core/events.js';
import { log } from '../core/log.js';
import { logBounds, type LogBounds } from './hostconfig.js';
import type { ContainerRecord } from './types.js';

const gunzipAsync = promisify(gunzip);
export const LOG_NAME = 'ctr.log';
const HELD = 'ctr.log.held';
const ROTATED_RE = /^ctr\.log\.(\d+)(\.gz)?$/;

/** The rotated files in a container directory, oldest first (ctr.log.N ... ctr.log.1), without ctr.log itself. */
export function logFiles(dir: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const byIndex = new Map<number, string>();
  for (const n of names) {
    const m = ROTATED_RE.exec(n);
    if (!m) continue;
    const i = Number(m[1]);
    // While ctr.log.1 is being compressed both exist: the plain one is complete.
    if (!byIndex.has(i) || !m[2]) byIndex.set(i, n);
  }
  return [...byIndex.entries()].sort((a, b) => b[0] - a[0]).map(([, n]) => join(dir, n));
}

/** A rotated log file's bytes (gunzipped when it ends in .gz); empty when it went meanwhile. */
export async function readLogFile(path: string): Promise<Buffer> {
  try {
    const b = await readFile(path);
    return path.endsWith('.gz') ? await gunzipAsync(b) : b;
  } catch {
    return Buffer.alloc(0);
  }
}

/** Bytes of the log files of a container (ctr.log and the rotated ones), for `system df`-like reports. */
export function logDiskUsage(dir: string): number {
  let n = 0;
  for (const p of [...logFiles(dir), join(dir, LOG_NAME)]) {
    try {
      n += statSync(p).size;
    } catch {
      /* gone */
    }
  }
  return n;
}

/**
 * Reads ctr.log incrementally: each read() returns the bytes written since the last one. When
 * conmon renamed a new file over ctr.log, the rest of the old file comes first, then the new one.
 */
export class LogTail {
  private fh: FileHandle | null = null;
  private ino = 0;
  private off = 0;
  constructor(private readonly path: string) {}

  async read(): Promise<Buffer> {
    const out: Buffer[] = [];
    if (!this.fh && !(await this.reopen())) return Buffer.alloc(0);
    out.push(await this.drain());
    let st: { ino: number; size: number } | null = null;
    try {
      st = await stat(this.path);
    } catch {
      /* between conmon's create and rename */
    }
    if (st && st.ino !== this.ino) {
      // a new ctr.log exists only once conmon reopened: what it wrote to the old file before that
      // (after the drain above) is final now, and is read before the switch
      out.push(await this.drain());
      await this.fh!.close().catch(() => undefined);
      this.fh = null;
      if (await this.reopen()) out.push(await this.drain());
    } else if (st && st.size < this.off) {
      this.off = 0; // truncated in place
      out.push(await this.drain());
    }
    return Buffer.concat(out);
  }

  private async reopen(): Promise<boolean> {
    try {
      this.fh = await open(this.path, 'r');
      this.ino = (await this.fh.stat()).ino;
      this.off = 0;
      return true;
    } catch {
      this.fh = null;
      return false;
    }
  }

  private async drain(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(256 * 1024);
      const { bytesRead } = await this.fh!.read(buf, 0, buf.length, this.off);
      if (!bytesRead) break;
      this.off += bytesRead;
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }
}

/** What the rotator needs of the containers service. */
export interface LogTarget {
  tryLookup(ref: string): ContainerRecord | null;
  all(): ContainerRecord[];
  logPath(id: string): string;
}

interface Watch {
  watcher: FSWatcher | null;
  chain: Promise<void>;
  dir: string;
  bounds: LogBounds;
}

export class LogRotator {
  private watches = new Map<string, Watch>();
  /**
   * The 1 s poll behind the directory watch, one timer for every watched container (one wakeup a
   * second, not one per container: 50 containers made 50 wakeups a second of the daemon).
   */
  private poll: NodeJS.Timeout | null = null;
  private readonly onEvent = (e: EngineEvent) => {
    if (e.Type !== 'container') return;
    if (e.Action === 'start') this.begin(e.Actor.ID);
    else if (e.Action === 'die') {
      const w = this.watches.get(e.Actor.ID);
      this.end(e.Actor.ID);
      if (w) this.rotate(e.Actor.ID, w);
    } else if (e.Action === 'destroy') this.end(e.Actor.ID);
  };

  constructor(
    private readonly containers: LogTarget,
    private readonly events: EventBus,
  ) {
    events.on('event', this.onEvent);
  }

  resume(): void {
    for (const r of this.containers.all()) if (r.state.Running) this.begin(r.id);
  }

  private begin(id: string): void {
    this.end(id);
    const r = this.containers.tryLookup(id);
    if (!r || r.hostConfig.LogConfig?.Type === 'none') return;
    const bounds = logBounds(r.hostConfig);
    if (bounds.maxFile <= 1 || !bounds.maxSize) return;
    const dir = join(this.containers.logPath(id), '..');
    const w: Watch = {
      watcher: null,
      chain: Promise.resolve(),
      dir,
      bounds,
    };
    if (!this.poll) {
      this.poll = setInterval(() => {
        for (const [wid, ww] of this.watches) this.rotate(wid, ww);
      }, 1000);
      this.poll.unref();
    }
    try {
      w.watcher = watch(dir, (_ev, f) => {
        if (f && f.toString() === LOG_NAME) this.rotate(id, w);
      });
      w.watcher.on('error', () => undefined);
    } catch (e) {
      log.warn('log watch failed; polling', { id, error: (e as Error).message });
    }
    this.watches.set(id, w);
    this.rotate(id, w);
  }

  private end(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    w.watcher?.close();
    this.watches.delete(id);
    if (!this.watches.size && this.poll) {
      clearInterval(this.poll);
      this.poll = null;
    }
  }

  /** Serialised per container: a rotation (and its compression) finishes before the next one. */
  private rotate(id: string, w: Watch): void {
    w.chain = w.chain
      .then(() => this.rotateNow(w))
      .catch((e: Error) => log.warn('log rotation failed', { id, error: e.message }));
  }

  private async rotateNow(w: Watch): Promise<void> {
    const cur = join(w.dir, LOG_NAME),
      held = join(w.dir, HELD);
    let curIno: number,
      heldIno = -1;
    try {
      curIno = statSync(cur).ino;
    } catch {
      return;
    } // conmon is between create and rename
    try {
      heldIno = statSync(held).ino;
    } catch {
      /* first time */
    }
    if (heldIno === curIno) return;
    if (heldIno !== -1) {
      const { maxFile, compress } = w.bounds;
      for (const ext of ['', '.gz']) rmSync(join(w.dir, `${LOG_NAME}.${maxFile - 1}${ext}`), { force: true });
      for (let i = maxFile - 2; i >= 1; i--) {
        for (const ext of ['', '.gz']) {
          const from = join(w.dir, `${LOG_NAME}.${i}${ext}`);
          if (existsSync(from)) renameSync(from, join(w.dir, `${LOG_NAME}.${i + 1}${ext}`));
        }
      }
      const first = join(w.dir, `${LOG_NAME}.1`);
      renameSync(held, first);
      linkSync(cur, held);
      if (compress) {
        await pipeline(createReadStream(first), createGzip(), createWriteStream(first + '.gz.tmp'));
        renameSync(first + '.gz.tmp', first + '.gz');
        rmSync(first, { force: true });
      }
      return;
    }
    linkSync(cur, held);
  }

  shutdown(): void {
    this.events.off('event', this.onEvent);
    for (const id of [...this.watches.keys()]) this.end(id);
  }
}
