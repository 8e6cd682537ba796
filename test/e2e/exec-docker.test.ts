// docker exec without a tty runs through `runc exec` as the daemon's child (no conmon): through the
// real docker CLI, stdout and stderr stay apart and in order, stdin reaches the process with its EOF,
// big output arrives whole, a command that cannot start gives docker's 126/127 and the runtime's
// message (not runc's log line as process output), inspect shows the pid while it runs; a client that
// stops reading a flood holds the process back instead of filling the daemon's memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { useDaemon, docker, uniq, waitFor } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

async function ok(args: string[], input?: string) {
  const r = await docker(h.d, args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `docker ${args.join(' ')} -> ${r.code}\n${r.stderr}`);
  return r;
}

test('non-tty exec: streams apart, stdin with EOF, 4 MB of output whole, 126/127 with the runtime message', async () => {
  const name = uniq('ex');
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
  const e = await docker(h.d, ['exec', name, 'sh', '-c', 'echo first-err >&2; sleep 0.2; echo out; exit 5']);
  assert.deepEqual([e.code, e.stdout, e.stderr], [5, 'out\n', 'first-err\n']);
  const big = 'y'.repeat(300_000) + '\n';
  const wc = await ok(['exec', '-i', name, 'wc', '-c'], big);
  assert.equal(wc.stdout.trim(), String(big.length));
  const flood = await ok(['exec', name, 'sh', '-c', 'head -c 4000000 /dev/zero | tr "\\0" z']);
  assert.equal(flood.stdout.length, 4_000_000);
  const missing = await docker(h.d, ['exec', name, 'nosuchcmd']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /executable file not found/);
  assert.doesNotMatch(missing.stderr, /level=error/);
  const notExec = await docker(h.d, ['exec', name, '/etc/passwd']);
  assert.equal(notExec.code, 126, notExec.stderr);
  assert.match(notExec.stderr, /permission denied/);
  // the exit code of a process killed by a signal, as docker reports it
  const killed = await docker(h.d, ['exec', name, 'sh', '-c', 'kill -9 $$']);
  assert.equal(killed.code, 137);
  await ok(['rm', '-f', name]);
});

test('exec inspect shows the pid while the process runs, and Running false with the exit code after', async () => {
  const name = uniq('exp');
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
  const c = await h.d.api('POST', `/containers/${name}/exec`, {
    Cmd: ['sh', '-c', 'sleep 1; exit 3'],
    AttachStdout: true,
    AttachStderr: true,
  });
  assert.equal(c.status, 201, c.body);
  const id = c.json.Id as string;
  const started = h.d.api('POST', `/exec/${id}/start`, { Detach: false, Tty: false });
  const running = await waitFor(
    'exec running with a pid',
    async () => {
      const j = (await h.d.api('GET', `/exec/${id}/json`)).json;
      return j.Running && j.Pid > 0 ? j : null;
    },
    10_000,
  );
  assert.match(readFileSync(`/proc/${running.Pid}/cmdline`, 'utf8'), /^(sh|sleep)\0/);
  await started;
  const done = (await h.d.api('GET', `/exec/${id}/json`)).json;
  assert.deepEqual([done.Running, done.ExitCode], [false, 3]);
  await ok(['rm', '-f', name]);
});

test('a client that stops reading a flood holds the process back; the daemon does not buffer it', async () => {
  const name = uniq('exf');
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
  const c = await h.d.api('POST', `/containers/${name}/exec`, { Cmd: ['yes'], AttachStdout: true });
  const id = c.json.Id as string;
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${h.d.pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  const s = connect({ path: h.d.socket });
  const body = JSON.stringify({ Detach: false, Tty: false });
  s.write(
    `POST /exec/${id}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  let got = 0;
  await new Promise<void>((r) =>
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (got > 100_000) {
        s.pause();
        r();
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(rss() - before < 48 << 20, `daemon RSS grew by ${(rss() - before) >> 20} MiB`);
  // the daemon still answers, and the process is alive (blocked on its pipe)
  const j = (await h.d.api('GET', `/exec/${id}/json`)).json;
  assert.equal(j.Running, true);
  s.destroy();
  await ok(['exec', name, 'true']);
  await ok(['rm', '-f', name]);
});
