// One-program jails (`cocon chroot jail`): a real service (the host's static busybox httpd) serving
// a file from inside the jail on 127.0.0.1, fetched from the host; the jailed program runs as the
// unprivileged jail user with no-new-privs and no capabilities, and cannot read host files outside
// its root; a dynamic program gets its shared libraries; bad input leaves nothing behind.
// No debootstrap, no daemon. Needs /bin/busybox (busybox-static).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, run, waitFor, type RunResult } from '../helpers/daemon.js';
import { pidsIn } from '../helpers/chroot.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const DATA = mkdtempSync(join(BASE, 'chroot-jail-'));
const HOSTDIR = mkdtempSync(join(BASE, 'chroot-jail-host-'));

function chroot(args: string[]): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'chroot', '--data-root', DATA, ...args], { timeoutMs: 60_000 });
}
const rootOf = (name: string): string => join(DATA, 'chroots', name, 'root');
function names(): string[] {
  try {
    return readdirSync(join(DATA, 'chroots'))
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch {
    return [];
  }
}
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}
function fetch(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = get(url, (r) => {
      let b = '';
      r.on('data', (c: Buffer) => {
        b += c.toString();
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body: b }));
    });
    req.on('error', rej);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}
function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return out;
}

after(async () => {
  for (const n of names())
    for (const pid of pidsIn(rootOf(n))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  for (const n of names()) await chroot(['rm', '-f', n]);
  rmSync(DATA, { recursive: true, force: true });
  rmSync(HOSTDIR, { recursive: true, force: true });
});

test('busybox httpd in a jail serves a file on 127.0.0.1 as the unprivileged user with no-new-privs', async () => {
  const site = join(HOSTDIR, 'site');
  mkdirSync(site);
  writeFileSync(join(site, 'index.html'), '<h1>served from the jail</h1>\n');
  const j = await chroot([
    'jail',
    'web',
    '--program',
    '/bin/busybox',
    '--copy',
    `${site}:/www`,
    '--user',
    'web:20080:20080',
  ]);
  assert.equal(j.code, 0, j.stderr);
  const root = rootOf('web');
  for (const f of ['bin/busybox', 'www/index.html', 'etc/passwd', 'etc/group', 'tmp'])
    assert.ok(existsSync(join(root, f)), f);
  for (const d of ['null', 'zero', 'urandom']) {
    const st = await run('stat', ['-c', '%F %t:%T', join(root, 'dev', d)]);
    st.stdout = st.stdout.trim();
    assert.match(st.stdout, /^character special file [0-9a-f]+:[0-9a-f]+$/, d);
  }
  assert.equal(
    readFileSync(join(root, 'etc/passwd'), 'utf8'),
    'root:x:0:0:root:/:/nonexistent\nweb:x:20080:20080:jail user:/:/nonexistent\n',
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--',
      CLI_MAIN,
      'chroot',
      '--data-root',
      DATA,
      'run',
      'web',
      '--',
      '/bin/busybox',
      'httpd',
      '-f',
      '-p',
      `127.0.0.1:${port}`,
      '-h',
      '/www',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  try {
    const r = (await waitFor(
      `httpd on port ${port}`,
      async () => {
        try {
          return await fetch(`http://127.0.0.1:${port}/index.html`);
        } catch {
          return undefined;
        }
      },
      15_000,
    ))!;
    assert.equal(r.status, 200);
    assert.equal(r.body, '<h1>served from the jail</h1>\n');
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope.html`)).status, 404);
    // busybox httpd forks one child per connection; the last one may still be exiting
    const pids = (await waitFor(
      'the per-request httpd children to exit',
      async () => {
        const p = pidsIn(root);
        return p.length === 1 ? p : undefined;
      },
      5_000,
    ).catch(() => pidsIn(root)))!;
    assert.equal(pids.length, 1, `processes in the jail: ${pids}`);
    const s = status(pids[0]);
    assert.match(s.Uid, /^20080\s+20080\s+20080\s+20080$/);
    assert.match(s.Gid, /^20080\s+20080\s+20080\s+20080$/);
    assert.equal(s.Groups, '20080');
    assert.equal(s.NoNewPrivs, '1');
    assert.equal(s.CapEff, '0000000000000000');
    assert.equal(s.CapPrm, '0000000000000000');
    assert.equal(readlinkSync(`/proc/${pids[0]}/root`), root);
    // SIGTERM to the CLI is forwarded to the service
    child.kill('SIGTERM');
    assert.equal(await exited, 143, err);
    assert.deepEqual(pidsIn(root), []);
  } finally {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    for (const p of pidsIn(root)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});

test('a jailed program cannot read a host file outside its root and sees only the jail', async () => {
  const secret = join(HOSTDIR, 'secret.txt');
  writeFileSync(secret, 'host secret\n', { mode: 0o644 });
  assert.equal((await chroot(['jail', 'box', '--program', '/bin/busybox'])).code, 0);
  const r1 = await chroot(['run', 'box', '--', '/bin/busybox', 'cat', secret]);
  assert.notEqual(r1.code, 0);
  assert.doesNotMatch(r1.stdout, /host secret/);
  const r2 = await chroot(['run', 'box', '--', '/bin/busybox', 'cat', `../../../../../../../..${secret}`]);
  assert.notEqual(r2.code, 0);
  assert.doesNotMatch(r2.stdout, /host secret/);
  const r3 = await chroot(['run', 'box', '--', '/bin/busybox', 'ls', '/']);
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual(r3.stdout.trim().split(/\s+/).sort(), ['bin', 'dev', 'etc', 'tmp']);
  const r4 = await chroot(['run', 'box', '--', '/bin/busybox', 'id']);
  assert.match(r4.stdout, /^uid=\d+\(jail\) gid=\d+\(jail\) groups=\d+\(jail\)$/m);
  assert.doesNotMatch(r4.stdout, /uid=0/);
  // the jail user cannot write outside /tmp, even inside the jail
  const r5 = await chroot([
    'run',
    'box',
    '--',
    '/bin/busybox',
    'sh',
    '-c',
    'echo x > /etc/x || echo denied; echo y > /tmp/y && echo tmp-ok',
  ]);
  assert.deepEqual(r5.stdout.trim().split('\n'), ['denied', 'tmp-ok']);
  const r6 = await chroot(['run', 'box', '--', '/bin/busybox', 'sh', '-c', 'exit 42']);
  assert.equal(r6.code, 42);
});

test('a dynamically linked program gets its shared libraries (ldd) and runs in the jail', async () => {
  const j = await chroot(['jail', 'lsjail', '--program', '/usr/bin/ls']);
  assert.equal(j.code, 0, j.stderr);
  const root = rootOf('lsjail');
  assert.ok(existsSync(join(root, 'lib64/ld-linux-x86-64.so.2')), 'the loader');
  assert.ok(existsSync(join(root, 'lib/x86_64-linux-gnu/libc.so.6')), 'libc');
  const r = await chroot(['run', 'lsjail', '--', '/usr/bin/ls', '/']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['dev', 'etc', 'lib', 'lib64', 'tmp', 'usr']);
});

test('jail bad input: missing program, not executable, not ELF, bad user, name in use; nothing left', async () => {
  const before = names();
  const script = join(HOSTDIR, 'script.sh');
  writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  const plain = join(HOSTDIR, 'plain.txt');
  writeFileSync(plain, 'x', { mode: 0o644 });
  const cases: [string[], RegExp][] = [
    [['jail', 'j1', '--program', '/no/such/prog'], /program \/no\/such\/prog not found/],
    [['jail', 'j2'], /needs --program/],
    [['jail', 'j3', '--program', 'busybox'], /must be an absolute path/],
    [['jail', 'j4', '--program', plain], /not executable/],
    [['jail', 'j5', '--program', script], /not an ELF executable/],
    [['jail', 'j6', '--program', '/bin/busybox', '--user', '0'], /must not be root/],
    [['jail', 'j7', '--program', '/bin/busybox', '--copy', 'rel/path'], /must be absolute/],
    [['jail', 'j8', '--program', '/bin/busybox', '--copy', '/no/such/file'], /does not exist/],
    [['jail', 'box', '--program', '/bin/busybox'], /chroot "box" already exists/],
  ];
  for (const [args, re] of cases) {
    const r = await chroot(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} succeeded`);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.deepEqual(names(), before);
});
