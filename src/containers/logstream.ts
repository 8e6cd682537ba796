// `docker logs` as a stream: the rotated log files oldest first, then ctr.log, with --tail applied to
// the whole, filtered by stream and --since/--until, encoded as the API sends them (multiplexed unless
// the container has a TTY); with follow, ctr.log is tailed (fs.watch plus a 250 ms tick, across
// rotations) until the container stops or the reader destroys the stream.
import { watch, type FSWatcher } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { K8sFileParser, encodeEntry, selectLogs, type LogEntry } from '../runtime/logformat.js';
import { LogTail, logFiles, readLogFile } from './logfiles.js';

export interface LogSelection {
  tail: number | 'all';
  since?: string;
  until?: string;
  stdout: boolean;
  stderr: boolean;
}

export interface LogSource {
  /** The container's ctr.log and the directory holding it and its rotated files. */
  logPath: string;
  dataDir: string;
  tty: boolean;
  /** Whether the container still runs (or restarts): following goes on while it does. */
  running: () => boolean;
}

/** The log stream of a container; destroying it stops a follow. */
export async function openLogStream(
  src: LogSource,
  sel: LogSelection,
  o: { follow: boolean; timestamps: boolean },
): Promise<Readable> {
  const out = new PassThrough();
  const tailer = new LogTail(src.logPath);
  const parser = new K8sFileParser();
  let gone = false;
  let busy = false;
  let done = false;
  let watcher: FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  const write = (b: Buffer) => {
    if (!gone && !out.destroyed && !out.writableEnded) out.write(b);
  };
  const stop = () => {
    done = true;
    watcher?.close();
    if (timer) clearInterval(timer);
    void tailer.close();
  };
  // A reader that goes away (docker logs -f, then ^C) ends the follow, whenever it happens.
  out.on('close', () => {
    gone = true;
    stop();
  });
  const emit = (entries: LogEntry[], first: boolean) => {
    const picked = first ? selectLogs(entries, sel) : selectLogs(entries, { ...sel, tail: 'all' });
    for (const e of picked) write(encodeEntry(e, { timestamps: o.timestamps, tty: src.tty }));
  };
  // First pass: the rotated files oldest first, then ctr.log, with tail applied to the whole.
  const entries: LogEntry[] = [];
  for (const f of logFiles(src.dataDir)) entries.push(...parser.push(await readLogFile(f)));
  entries.push(...parser.push(await tailer.read()));
  if (!o.follow || !src.running()) entries.push(...parser.end());
  emit(entries, true);
  if (!o.follow || !src.running()) {
    stop();
    out.end();
    return out;
  }
  const finish = () => {
    if (done) return;
    stop();
    emit(parser.end(), false);
    if (!gone) out.end();
  };
  const tick = async () => {
    if (busy || done) return;
    busy = true;
    try {
      emit(parser.push(await tailer.read()), false);
      if (!src.running()) {
        emit(parser.push(await tailer.read()), false);
        finish();
      }
    } catch {
      /* the reader went away and the tail was closed under the read */
    } finally {
      busy = false;
    }
  };
  watcher = watch(src.dataDir, () => void tick());
  watcher.on('error', () => undefined);
  timer = setInterval(() => void tick(), 250);
  return out;
}
