// Drives an interactive program through a real terminal: a private tmux server (its own socket in a
// temp dir) runs the command in a 100x30 window; tests type keys and read the screen.
//
//   const p = await startPty([process.execPath, '--', CLI_MAIN, '-H', host, 'run', '-ti', 'busybox', 'sh']);
//   await p.waitFor(/# $/m); await p.type('exit 3\n'); const code = await p.exitCode(); await p.close();
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { run, sleep } from './daemon.js';
import { shq } from '../../src/sys/shell.js';

export interface Pty {
  /** Types text; '\n' is sent as Enter. */
  type(text: string): Promise<void>;
  /** Sends tmux key names (e.g. 'C-p', 'C-q', 'C-c'). */
  keys(...names: string[]): Promise<void>;
  /** The visible screen plus scrollback, as text. */
  screen(): Promise<string>;
  waitFor(re: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Waits for the program to end and returns its exit status. */
  exitCode(timeoutMs?: number): Promise<number>;
  resize(cols: number, rows: number): Promise<void>;
  close(): Promise<void>;
}

// tmux servers still open when the test process exits (a test that never reached close()).
const open = new Map<string, string>();
process.on('exit', () => {
  for (const [sock, dir] of open) {
    spawnSync('tmux', ['-S', sock, 'kill-server'], { stdio: 'ignore', timeout: 5000 });
    rmSync(dir, { recursive: true, force: true });
  }
});

export async function startPty(
  argv: string[],
  opts: { env?: Record<string, string>; cols?: number; rows?: number } = {},
): Promise<Pty> {
  const dir = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'pty-'));
  const sock = join(dir, 'tmux.sock');
  const codeFile = join(dir, 'code');
  const wrapper = join(dir, 'run.sh');
  const envLines = Object.entries(opts.env ?? {})
    .map(([k, v]) => `export ${k}=${shq(v)}`)
    .join('\n');
  writeFileSync(
    wrapper,
    `#!/bin/sh\n${envLines}\n${argv.map(shq).join(' ')}\necho $? > ${shq(codeFile)}.tmp && mv ${shq(codeFile)}.tmp ${shq(codeFile)}\nsleep 120\n`,
  );
  chmodSync(wrapper, 0o755);
  const tmux = (...args: string[]) => run('tmux', ['-S', sock, ...args], { env: { TERM: 'xterm' }, timeoutMs: 15_000 });
  const r = await tmux(
    '-f',
    '/dev/null',
    'new-session',
    '-d',
    '-s',
    'p',
    '-x',
    String(opts.cols ?? 100),
    '-y',
    String(opts.rows ?? 30),
    wrapper,
  );
  if (r.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`tmux new-session failed: ${r.stderr}`);
  }
  open.set(sock, dir);
  await tmux('set-option', '-g', 'history-limit', '5000');
  let closed = false;
  const p: Pty = {
    async type(text) {
      const parts = text.split('\n');
      for (let i = 0; i < parts.length; i++) {
        if (parts[i]) await tmux('send-keys', '-t', 'p', '-l', parts[i]);
        if (i < parts.length - 1) await tmux('send-keys', '-t', 'p', 'Enter');
      }
    },
    async keys(...names) {
      await tmux('send-keys', '-t', 'p', ...names);
    },
    async screen() {
      return (await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'p')).stdout;
    },
    async waitFor(re, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let s = '';
      while (Date.now() < deadline) {
        s = await p.screen();
        if (typeof re === 'string' ? s.includes(re) : re.test(s)) return s;
        if (existsSync(codeFile)) break;
        await sleep(100);
      }
      s = await p.screen();
      if (typeof re === 'string' ? s.includes(re) : re.test(s)) return s;
      throw new Error(`terminal never showed ${String(re)} within ${timeoutMs} ms; screen:\n${s}`);
    },
    async exitCode(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (existsSync(codeFile)) return Number(readFileSync(codeFile, 'utf8').trim());
        await sleep(100);
      }
      throw new Error(`program did not exit within ${timeoutMs} ms; screen:\n${await p.screen()}`);
    },
    async resize(cols, rows) {
      await tmux('resize-window', '-t', 'p', '-x', String(cols), '-y', String(rows));
    },
    async close() {
      if (closed) return;
      closed = true;
      await tmux('kill-server');
      open.delete(sock);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return p;
}
