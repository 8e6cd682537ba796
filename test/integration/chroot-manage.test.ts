// Managing chroots without debootstrap, on busybox roots taken from an image (the daemon's
// busybox image, made from the host's busybox-static): rm refuses a root in use and rm -f kills
// its processes; export writes a tar, commit makes an image in the daemon and --from-image makes
// a chroot of it again; the interactive shell (a real terminal through tmux: tty, ctrl-c, exit
// status); a create interrupted during debootstrap (only its first seconds) leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, run, useDaemon, waitFor, type RunResult } from '../helpers/daemon.js';
import { mountsAnywhere, pidsIn } from '../helpers/chroot.js';
import { startPty } from '../helpers/pty.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const DATA = mkdtempSync(join(BASE, 'chroot-manage-'));
const h = useDaemon({ busybox: true });

function chroot(args: string[], opts: { timeoutMs?: number; host?: boolean } = {}): Promise<RunResult> {
  const pre = opts.host ? ['-H', h.d.host] : [];
  return run(process.execPath, ['--', CLI_MAIN, ...pre, 'chroot', '--data-root', DATA, ...args], {
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}
const rootOf = (name: string): string => join(DATA, 'chroots', name, 'root');
function chrootNames(): string[] {
  try {
    return readdirSync(join(DATA, 'chroots'))
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch {
    return [];
  }
}

before(
  async () => {
    // useDaemon's own before hook may still be starting the daemon: wait for it
    await waitFor(
      'the test daemon',
      () => {
        try {
          return h.d;
        } catch {
          return undefined;
        }
      },
      180_000,
      50,
    );
    await waitFor(
      'the busybox image',
      async () => (await h.d.api('GET', '/images/busybox/json')).status === 200,
      180_000,
      100,
    );
    const r = await chroot(['create', 'base', '--from-image', 'busybox'], { host: true });
    assert.equal(r.code, 0, r.stderr);
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const n of chrootNames())
    for (const pid of pidsIn(rootOf(n))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  for (const n of chrootNames()) await chroot(['rm', '-f', n]);
  const left = mountsAnywhere(DATA);
  rmSync(DATA, { recursive: true, force: true });
  assert.deepEqual(left, [], 'mounts left under the data root');
});

test('rm refuses a chroot in use, rm -f kills its processes, rm removes everything', async () => {
  assert.equal((await chroot(['create', 'victim', '--from-image', 'busybox'], { host: true })).code, 0);
  const child = spawn(
    process.execPath,
    ['--', CLI_MAIN, 'chroot', '--data-root', DATA, 'run', 'victim', '--', 'sleep', '300'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  try {
    await waitFor('a process inside', () => pidsIn(rootOf('victim')).length > 0, 15_000);
    const r = await chroot(['rm', 'victim']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /in use by process/);
    assert.ok(existsSync(rootOf('victim')));
    const f = await chroot(['rm', '-f', 'victim']);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(await exited, 137);
    assert.equal(existsSync(join(DATA, 'chroots', 'victim')), false);
    assert.deepEqual(mountsAnywhere(join(DATA, 'chroots', 'victim')), []);
  } finally {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

test('export writes a tar; commit makes an image in the daemon; --from-image makes a chroot of it', async () => {
  const tar = join(DATA, 'base.tar');
  const e = await chroot(['export', '-o', tar, 'base']);
  assert.equal(e.code, 0, e.stderr);
  const list = await run('tar', ['-tf', tar]);
  assert.match(list.stdout, /^\.\/bin\/busybox$/m);
  assert.match(list.stdout, /^\.\/etc\/passwd$/m);
  rmSync(tar);
  const w = await chroot(['run', 'base', '--', 'sh', '-c', 'echo made in the chroot > /etc/chroot-mark']);
  assert.equal(w.code, 0, w.stderr);
  const c = await chroot(['commit', 'base', 'chroot-base:v1'], { host: true, timeoutMs: 300_000 });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const img = await h.d.api('GET', '/images/chroot-base:v1/json');
  assert.equal(img.status, 200, img.body);
  const f = await chroot(['create', 'again', '--from-image', 'chroot-base:v1'], { host: true });
  assert.equal(f.code, 0, f.stderr);
  const r = await chroot(['run', 'again', '--', 'sh', '-c', 'cat /etc/chroot-mark; echo $(ls /proc/self/status)']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'made in the chroot\n/proc/self/status\n');
  const i = JSON.parse((await chroot(['inspect', 'again'])).stdout)[0];
  assert.equal(i.Kind, 'image');
  assert.equal(i.Image, 'chroot-base:v1');
  assert.equal(i.Execution.Mode, 'native');
  assert.equal((await chroot(['rm', 'again'])).code, 0);
  await h.d.api('DELETE', '/images/chroot-base:v1');
  const bad = await chroot(['create', 'x', '--from-image', 'no-such-image'], { host: true });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no such image/i);
  assert.equal(existsSync(join(DATA, 'chroots', 'x')), false);
});

test('shell: an interactive terminal inside, ctrl-c stops the foreground command, the exit status passes through', async () => {
  const p = await startPty([process.execPath, '--', CLI_MAIN, 'chroot', '--data-root', DATA, 'shell', 'base']);
  try {
    await p.waitFor(/# $/m, 30_000);
    await p.type('tty; echo $((6*7))\n');
    await p.waitFor(/^\/dev\/pts\/\d+\s*$/m);
    await p.waitFor(/^42\s*$/m);
    await p.type('sleep 300\n');
    await waitFor(
      'sleep in the chroot',
      () =>
        pidsIn(rootOf('base')).some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep');
          } catch {
            return false;
          }
        }),
      15_000,
    );
    await p.keys('C-c');
    await waitFor(
      'sleep to stop on ctrl-c',
      () =>
        !pidsIn(rootOf('base')).some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep');
          } catch {
            return false;
          }
        }),
      15_000,
    );
    await p.type('echo after-ctrl-c\n');
    await p.waitFor(/^after-ctrl-c\s*$/m);
    await p.type('exit 3\n');
    assert.equal(await p.exitCode(30_000), 3);
  } finally {
    await p.close();
  }
  assert.deepEqual(pidsIn(rootOf('base')), []);
  assert.deepEqual(mountsAnywhere(rootOf('base')), []);
});

test('an interrupted create (SIGINT during debootstrap or mmdebstrap) leaves nothing behind', async () => {
  const child = spawn(
    process.execPath,
    ['--', CLI_MAIN, 'chroot', '--data-root', DATA, 'create', 'intr', '--suite', 'bookworm', '--no-cache'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  try {
    await waitFor(
      'debootstrap or mmdebstrap to start',
      () => /I: Retrieving|I: Checking|I: running apt-get update|I: downloading packages/.test(err),
      60_000,
    );
    child.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0);
    assert.match(err, /interrupted; nothing was kept/);
    assert.equal(existsSync(join(DATA, 'chroots', 'intr')), false);
    assert.deepEqual(
      readdirSync(join(DATA, 'chroots', '.cache')).filter((f) => f.includes('.tmp')),
      [],
    );
    assert.deepEqual(mountsAnywhere(join(DATA, 'chroots')), []);
  } finally {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});
