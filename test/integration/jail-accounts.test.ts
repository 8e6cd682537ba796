// Jailed SSH accounts against a real OpenSSH server the test starts on 127.0.0.1 with its own
// configuration (it includes the drop-ins cocon writes to a test sshd dir; the host's /etc/ssh is
// never touched): an SFTP-only user logs in with its key, uploads to its home, cannot read
// /etc/shadow or list the host's root, and gets no shell; a --shell user runs only the programs
// copied in; `jail check` flags a setuid file planted in a jail; `jail user rm` removes everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { CLI_MAIN, run, waitFor, type RunResult } from '../helpers/daemon.js';

// sshd wants every directory above a jail root-owned and not world-writable: not under /tmp
const DIR = `/var/lib/cocon-jail-test-${process.pid}`;
const DATA = join(DIR, 'data');
const SSHD_DIR = join(DIR, 'ssh');
const tag = (process.pid % 100000).toString(36);
const SFTP_USER = `cjs${tag}`;
const SHELL_USER = `cjh${tag}`;
let port = 0;
let sshd: ChildProcess | undefined;
let madeRunSshd = false;

function jail(args: string[]): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'jail', '--data-root', DATA, '--sshd-dir', SSHD_DIR, ...args]);
}
const SSH_OPTS = (): string[] => [
  '-i',
  join(DIR, 'client'),
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'BatchMode=yes',
  '-o',
  'LogLevel=ERROR',
  '-o',
  'ConnectTimeout=20',
];
function sftp(user: string, batch: string): Promise<RunResult> {
  const f = join(DIR, 'batch');
  writeFileSync(f, batch);
  return run('sftp', [...SSH_OPTS(), '-P', String(port), '-b', f, `${user}@127.0.0.1`], { timeoutMs: 60_000 });
}
function ssh(user: string, cmd: string): Promise<RunResult> {
  return run('ssh', [...SSH_OPTS(), '-p', String(port), `${user}@127.0.0.1`, cmd], { timeoutMs: 60_000 });
}
function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

before(async () => {
  mkdirSync(DIR, { mode: 0o755 });
  mkdirSync(SSHD_DIR, { mode: 0o755 });
  assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(DIR, 'hostkey')])).code, 0);
  assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(DIR, 'client')])).code, 0);
  port = await freePort();
  if (!existsSync('/run/sshd')) {
    mkdirSync('/run/sshd', { mode: 0o755 });
    madeRunSshd = true;
  }
  writeFileSync(
    join(DIR, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(DIR, 'hostkey')}`,
      `PidFile ${join(DIR, 'sshd.pid')}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      'Subsystem sftp internal-sftp',
      `Include ${SSHD_DIR}/sshd_config.d/*.conf`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(SSHD_DIR, 'sshd_config.d'), { recursive: true });
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(DIR, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  await waitFor(`sshd on port ${port} (${log})`, () => /Server listening/.test(log), 20_000);
});

after(async () => {
  for (const u of [SFTP_USER, SHELL_USER])
    if (existsSync(join(DATA, 'jails', `${u}.json`))) await jail(['user', 'rm', u]);
  for (const u of [SFTP_USER, SHELL_USER]) {
    await run('userdel', [u]);
    await run('groupdel', [u]);
  }
  sshd?.kill('SIGTERM');
  if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true });
  rmSync(DIR, { recursive: true, force: true });
});

test('an SFTP-only user: key login, upload to its home, no /etc/shadow, no host root, no shell', async () => {
  const j = join(DIR, 'jails', SFTP_USER);
  mkdirSync(join(DIR, 'jails'), { mode: 0o755 });
  const a = await jail(['user', 'add', SFTP_USER, '--sftp', '--key', join(DIR, 'client.pub'), '--jail', j]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(
    readFileSync(join(SSHD_DIR, 'sshd_config.d', `cocon-jail-${SFTP_USER}.conf`), 'utf8'),
    new RegExp(`ChrootDirectory ${j}\\n[^]*ForceCommand internal-sftp`),
  );
  assert.equal(statSync(j).uid, 0);
  assert.equal(statSync(join(j, 'home', SFTP_USER)).mode & 0o777, 0o700);
  // the sshd started before the drop-in existed: reload it
  sshd!.kill('SIGHUP');
  writeFileSync(join(DIR, 'upload.txt'), 'uploaded by sftp\n');
  const up = (await waitFor(
    'an sftp login',
    async () => {
      const r = await sftp(SFTP_USER, `put ${join(DIR, 'upload.txt')} upload.txt\npwd\nls -1 /\n`);
      return r.code === 0 ? r : undefined;
    },
    20_000,
    500,
  ))!;
  assert.equal(readFileSync(join(j, 'home', SFTP_USER, 'upload.txt'), 'utf8'), 'uploaded by sftp\n');
  assert.equal(
    statSync(join(j, 'home', SFTP_USER, 'upload.txt')).uid,
    Number((await run('id', ['-u', SFTP_USER])).stdout.trim()),
  );
  assert.match(up.stdout, new RegExp(`Remote working directory: /home/${SFTP_USER}`));
  // the root it lists is the jail's: no usr, proc or var of the host
  const listed = up.stdout
    .split('\n')
    .filter((l) => /^\/\w+$/.test(l.trim()))
    .map((l) => l.trim())
    .sort();
  assert.deepEqual(listed, ['/dev', '/etc', '/home']);
  const shadow = await sftp(SFTP_USER, `get /etc/shadow ${join(DIR, 'stolen')}\n`);
  assert.notEqual(shadow.code, 0);
  assert.equal(existsSync(join(DIR, 'stolen')), false);
  const up2 = await sftp(SFTP_USER, `put ${join(DIR, 'upload.txt')} /etc/evil\n`);
  assert.notEqual(up2.code, 0, 'the jail outside the home must not be writable');
  const sh = await ssh(SFTP_USER, 'id; cat /etc/shadow');
  assert.doesNotMatch(sh.stdout, /uid=|root:/);
  // jail check: clean, then a planted setuid file is flagged
  const c0 = await jail(['check', SFTP_USER]);
  assert.equal(c0.code, 0, c0.stdout + c0.stderr);
  copyFileSync('/bin/busybox', join(j, 'home', SFTP_USER, 'planted'));
  chmodSync(join(j, 'home', SFTP_USER, 'planted'), 0o4755);
  mkdirSync(join(j, 'pub'));
  chmodSync(join(j, 'pub'), 0o777);
  const c1 = await jail(['check', SFTP_USER]);
  assert.equal(c1.code, 1);
  assert.match(c1.stdout, new RegExp(`setuid: /home/${SFTP_USER}/planted: setuid file, mode 4755`));
  assert.match(c1.stdout, /world-writable: \/pub/);
  // rm: the account, its drop-in, its keys and its jail are gone
  const rm = await jail(['user', 'rm', SFTP_USER]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await run('id', [SFTP_USER])).code, 1);
  assert.equal(existsSync(j), false);
  assert.equal(existsSync(join(SSHD_DIR, 'sshd_config.d', `cocon-jail-${SFTP_USER}.conf`)), false);
  assert.equal(existsSync(join(SSHD_DIR, 'cocon-jail-keys', SFTP_USER)), false);
});

test('a --shell user runs the programs copied in and nothing else; update refreshes a stale copy', async () => {
  const j = join(DIR, 'jails', SHELL_USER);
  mkdirSync(join(DIR, 'jails'), { recursive: true, mode: 0o755 });
  const a = await jail([
    'user',
    'add',
    SHELL_USER,
    '--shell',
    '/bin/sh,/bin/ls,/bin/cat',
    '--key',
    join(DIR, 'client.pub'),
    '--jail',
    j,
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.ok(existsSync(join(j, 'bin/ls')));
  sshd!.kill('SIGHUP');
  const r = (await waitFor(
    'an ssh login',
    async () => {
      const x = await ssh(SHELL_USER, 'ls /; cat /etc/shadow; id');
      return x.stdout.includes('home') ? x : undefined;
    },
    20_000,
    500,
  ))!;
  assert.deepEqual(r.stdout.trim().split('\n').slice(0, 4).sort(), ['bin', 'dev', 'etc', 'home']);
  assert.match(r.stderr, /cat: \/etc\/shadow: No such file or directory/);
  assert.match(r.stderr, /id: not found/);
  // a copy that no longer matches the host's is reported, and update copies it again
  writeFileSync(join(j, 'bin/cat'), 'stale');
  const c = await jail(['check', SHELL_USER]);
  assert.equal(c.code, 1);
  assert.match(c.stdout, /differs: \/bin\/cat/);
  const u = await jail(['update', SHELL_USER]);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /updated \/bin\/cat/);
  assert.equal((await jail(['check', SHELL_USER])).code, 0);
  assert.equal((await jail(['user', 'rm', SHELL_USER])).code, 0);
  // bad input leaves nothing behind
  const bad = await jail(['user', 'add', SHELL_USER, '--sftp', '--jail', '/tmp/cocon-jail-under-tmp']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\/tmp must be owned by root and not writable by group or others/);
  assert.equal((await run('id', [SHELL_USER])).code, 1);
  assert.equal(existsSync('/tmp/cocon-jail-under-tmp'), false);
});
