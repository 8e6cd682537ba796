// Rendering of Docker JSON-message progress streams (pull, push, import, load), like docker's
// jsonmessage.DisplayJSONMessagesStream: on a terminal, one line per layer id updated in place
// (progress bars); otherwise only the lines without a progress bar. Pure apart from `write`.

export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
}

export class ProgressError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

export class ProgressRenderer {
  private ids = new Map<string, number>(); // id -> line index (from the top of our block)
  private lines = 0;
  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
  ) {}

  // Throws ProgressError for an error message (after rendering what came before).
  handle(m: JsonMessage): void {
    if (m.errorDetail?.message || m.error)
      throw new ProgressError(m.errorDetail?.message ?? String(m.error), m.errorDetail?.code);
    if (m.aux !== undefined && m.status === undefined && m.stream === undefined) return;
    if (typeof m.stream === 'string') {
      this.write(m.stream);
      if (this.tty) this.resetIfNewline(m.stream);
      return;
    }
    if (m.status === undefined) return;
    const text = `${m.id ? `${m.id}: ` : ''}${m.status}${m.progress && this.tty ? ` ${m.progress}` : ''}`;
    if (!this.tty) {
      if (m.progress) return;
      this.write(`${text}\n`);
      return;
    }
    if (!m.id) {
      this.write(`${text}\n`);
      this.ids.clear();
      this.lines = 0;
      return;
    }
    const line = this.ids.get(m.id);
    if (line === undefined) {
      this.ids.set(m.id, this.lines);
      this.lines++;
      this.write(`${text}\n`);
      return;
    }
    const up = this.lines - line;
    // cursor up, clear line, write, cursor back down
    this.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }

  private resetIfNewline(s: string): void {
    if (s.endsWith('\n')) {
      this.ids.clear();
      this.lines = 0;
    }
  }
}
