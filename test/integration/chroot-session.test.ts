// Chroot sessions and profiles, schroot style, on a busybox root unpacked from a tar (no daemon,
// no debootstrap: seconds): a throwaway run leaves the base byte-identical; a named session keeps a
// file and a background process between commands until `session end`; after SIGKILL of a session's
// holder (or of the cocon running a throwaway command) `session recover` (or the next command)
// removes what was left; profiles default, minimal and a profile file; --user NAME taken from the
// host; --cwd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, run, waitFor, type RunResult } from '../helpers/daemon.js';
import { mountsAnywhere, pidsIn } from '../helpers/chroot.js';
import { busyboxRootTar, treeDigest } from '../helpers/busybox-root.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const DATA = mkdtempSync(join(BASE, 'chroot-session-'));
const SESSIONS = join(DATA, 'chroots', '.sessions');
const rootOf = (name: string): string => join(DATA, 'chroots', name, 'root');
// a host directory under /tmp, which the default profile binds into the chroot
const HOSTTMP = mkdtempSync('/tmp/cocon-session-test-');
const started: number[] = [];

function chroot(args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'chroot', '--data-root', DATA, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    cwd: opts.cwd,
  });
}
function sessionIds(): string[] {
  try {
    return readdirSync(SESSIONS).sort();
  } catch {
    return [];
  }
}
function pidsNamed(re: RegExp): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => {
      try {
        return re.test(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        return false;
      }
    });
}

before(async () => {
  const tar = busyboxRootTar(DATA);
  const r = await chroot(['create', 'bb', '--from-tar', tar]);
  assert.equal(r.code, 0, r.stderr);
  rmSync(tar);
});

after(async () => {
  for (const id of sessionIds()) await chroot(['session', 'end', id]);
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const pid of pidsIn(DATA)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await chroot(['rm', '-f', 'bb']);
  const left = mountsAnywhere(DATA);
  rmSync(DATA, { recursive: true, force: true });
  rmSync(HOSTTMP, { recursive: true, force: true });
  assert.deepEqual(left, [], 'mounts left under the data root');
});

test('run --ephemeral: the command sees its changes, the base stays byte-identical, nothing is left', async () => {
  const before = treeDigest(rootOf('bb'));
  const r = await chroot([
    'run',
    '--ephemeral',
    'bb',
    '--',
    'sh',
    '-c',
    'echo scratch > /etc/scratch; rm /bin/vi; mkdir -p /opt/x; cat /etc/scratch; test -e /bin/vi || echo vi-gone; grep -c " / " /proc/self/mounts',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['scratch', 'vi-gone']);
  assert.equal(treeDigest(rootOf('bb')), before, 'the base root changed');
  assert.equal(existsSync(join(rootOf('bb'), 'etc/scratch')), false);
  assert.deepEqual(sessionIds(), []);
  assert.deepEqual(mountsAnywhere(DATA), []);
  // the exit status passes through, and the throwaway state is gone after a failure too
  const f = await chroot(['run', '--ephemeral', 'bb', '--', 'sh', '-c', 'touch /new; exit 7']);
  assert.equal(f.code, 7);
  assert.deepEqual(sessionIds(), []);
  assert.equal(treeDigest(rootOf('bb')), before);
});

test('a named session keeps a file and a background process between commands until session end', async () => {
  const before = treeDigest(rootOf('bb'));
  const b = await chroot(['session', 'begin', '--ephemeral', 'bb']);
  assert.equal(b.code, 0, b.stderr);
  const id = b.stdout.trim();
  assert.match(id, /^bb-[0-9a-f]{8}$/);
  const w = await chroot([
    'session',
    'run',
    id,
    '--',
    'sh',
    '-c',
    'echo kept > /root/note; sleep 1013 >/dev/null 2>&1 & echo started',
  ]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, 'started\n');
  const bg = await waitFor('the background sleep', () => {
    const p = pidsNamed(/^sleep 1013/);
    return p.length ? p : undefined;
  });
  const r = await chroot([
    'session',
    'run',
    id,
    '--',
    'sh',
    '-c',
    'cat /root/note; ps -o args | grep -c "^sleep 1013"',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'kept\n1\n');
  const ls = await chroot(['session', 'ls', '--format', 'json']);
  const rec = ls.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; ephemeral: boolean; processes: number[] })
    .find((x) => x.id === id);
  assert.ok(rec, ls.stdout);
  assert.equal(rec.ephemeral, true);
  assert.deepEqual(rec.processes, bg);
  assert.equal(existsSync(join(rootOf('bb'), 'root/note')), false, 'an ephemeral session wrote into the base');
  assert.ok(mountsAnywhere(join(SESSIONS, id)).length > 0, 'the session has its mounts');
  const e = await chroot(['session', 'end', id]);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(pidsNamed(/^sleep 1013/), []);
  assert.deepEqual(mountsAnywhere(DATA), []);
  assert.deepEqual(sessionIds(), []);
  assert.equal(treeDigest(rootOf('bb')), before);
  const again = await chroot(['session', 'run', id, '--', 'true']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /no such chroot session/);
});

test('a persistent session writes to the chroot itself; rm refuses a chroot with a session', async () => {
  const b = await chroot(['session', 'begin', 'bb']);
  assert.equal(b.code, 0, b.stderr);
  const id = b.stdout.trim();
  try {
    assert.equal((await chroot(['session', 'run', id, '--', 'sh', '-c', 'echo persisted > /root/persist'])).code, 0);
    assert.equal(readFileSync(join(rootOf('bb'), 'root/persist'), 'utf8'), 'persisted\n');
    const rm = await chroot(['rm', 'bb']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, new RegExp(`has session\\(s\\) ${id}`));
  } finally {
    assert.equal((await chroot(['session', 'end', id])).code, 0);
    rmSync(join(rootOf('bb'), 'root/persist'), { force: true });
  }
  assert.deepEqual(mountsAnywhere(DATA), []);
});

test('after SIGKILL of the session holder, session recover kills what is left and removes its mounts', async () => {
  const b = await chroot(['session', 'begin', '--ephemeral', 'bb']);
  assert.equal(b.code, 0, b.stderr);
  const id = b.stdout.trim();
  assert.equal((await chroot(['session', 'run', id, '--', 'sh', '-c', 'sleep 1014 >/dev/null 2>&1 &'])).code, 0);
  await waitFor('the background sleep', () => pidsNamed(/^sleep 1014/).length > 0);
  const rec = JSON.parse(readFileSync(join(SESSIONS, id, 'session.json'), 'utf8')) as { owner: { pid: number } };
  process.kill(rec.owner.pid, 'SIGKILL');
  await waitFor(
    'the holder to die',
    () =>
      !existsSync(`/proc/${rec.owner.pid}/stat`) || /\) Z /.test(readFileSync(`/proc/${rec.owner.pid}/stat`, 'utf8')),
  );
  // the background process keeps the namespace and its overlay alive
  assert.ok(mountsAnywhere(join(SESSIONS, id)).length > 0, 'the crashed session should still hold its mounts');
  const r = await chroot(['session', 'recover']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${id}\n`);
  assert.deepEqual(pidsNamed(/^sleep 1014/), []);
  assert.deepEqual(mountsAnywhere(DATA), []);
  assert.deepEqual(sessionIds(), []);
});

test('after SIGKILL of the cocon running a throwaway command, the next chroot command cleans up', async () => {
  const child = spawn(
    process.execPath,
    ['--', CLI_MAIN, 'chroot', '--data-root', DATA, 'run', '--ephemeral', 'bb', '--', 'sleep', '1015'],
    { stdio: 'ignore' },
  );
  started.push(child.pid!);
  await waitFor('the command', () => pidsNamed(/^sleep 1015/).length > 0);
  assert.equal(sessionIds().length, 1);
  child.kill('SIGKILL');
  await new Promise((res) => child.on('exit', res));
  assert.equal(pidsNamed(/^sleep 1015/).length, 1, 'the command outlives its cocon');
  const ls = await chroot(['session', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.stdout.trim().split('\n').slice(1), []);
  assert.deepEqual(pidsNamed(/^sleep 1015/), []);
  assert.deepEqual(sessionIds(), []);
  assert.deepEqual(mountsAnywhere(DATA), []);
});

test('profile default: /home and /tmp from the host, passwd merged, hosts copied; minimal: none of it', async () => {
  writeFileSync(join(HOSTTMP, 'from-host'), 'hello from the host\n');
  const script =
    `cat ${HOSTTMP}/from-host 2>/dev/null || echo no-tmp; grep -c "^nobody:" /etc/passwd; grep -q "^root:" /etc/passwd && echo root-kept; ` +
    'grep -c " /dev/pts " /proc/self/mounts; test -s /etc/hosts && echo hosts || echo no-hosts';
  const d = await chroot(['run', '--ephemeral', 'bb', '--', 'sh', '-c', script]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(d.stdout.trim().split('\n'), ['hello from the host', '1', 'root-kept', '1', 'hosts']);
  const m = await chroot([
    'run',
    '--ephemeral',
    '--profile',
    'minimal',
    'bb',
    '--',
    'sh',
    '-c',
    `cat ${HOSTTMP}/from-host 2>/dev/null || echo no-tmp; cat /etc/passwd; grep -c " /dev/pts " /proc/self/mounts; ls /dev/pts; ls /proc/self/fd >/dev/null && echo proc`,
  ]);
  assert.equal(m.code, 0, m.stderr);
  // the root's own passwd, untouched; a private devpts holds only ptmx
  assert.equal(m.stdout, `no-tmp\n${readFileSync(join(rootOf('bb'), 'etc/passwd'), 'utf8')}1\nptmx\nproc\n`);
  const bad = await chroot(['run', '--profile', 'nosuch', 'bb', '--', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown profile "nosuch"/);
});

test('a profile file: bind read-only, copy; a bad line is refused with its number', async () => {
  const src = join(HOSTTMP, 'data');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'data\n');
  writeFileSync(join(HOSTTMP, 'motd'), 'profile motd\n');
  const prof = join(HOSTTMP, 'profile');
  writeFileSync(prof, `# test profile\nbind ${src} /srv/data ro\ncopy ${HOSTTMP}/motd /etc/motd\ndevpts private\n`);
  const r = await chroot([
    'run',
    '--ephemeral',
    '--profile',
    prof,
    'bb',
    '--',
    'sh',
    '-c',
    'cat /srv/data/f /etc/motd; echo x > /srv/data/g 2>/dev/null || echo ro; test -e /home/. && ls /home | wc -l',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['data', 'profile motd', 'ro', '0']);
  writeFileSync(prof, 'bind /srv\nmount /x\n');
  const b = await chroot(['run', '--profile', prof, 'bb', '--', 'true']);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /line 2: unknown directive "mount"/);
});

test("--user NAME is created in the root from the host's entry; --cwd keeps the directory", async () => {
  const before = treeDigest(rootOf('bb'));
  const r = await chroot([
    'run',
    '--ephemeral',
    '--profile',
    'minimal',
    '--user',
    'nobody',
    'bb',
    '--',
    'sh',
    '-c',
    'id -u; id -g; grep "^nobody:" /etc/passwd | cut -d: -f1,3',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['65534', '65534', 'nobody:65534']);
  assert.equal(treeDigest(rootOf('bb')), before, '--ephemeral must add the user to the overlay only');
  const c = await chroot(['run', '--ephemeral', '--cwd', 'bb', '--', 'pwd'], { cwd: HOSTTMP });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, `${HOSTTMP}\n`);
  const n = await chroot(['run', '--ephemeral', '--cwd', '--profile', 'minimal', 'bb', '--', 'pwd'], { cwd: HOSTTMP });
  assert.equal(n.code, 125);
  assert.match(n.stderr, /--cwd .* is not a directory in chroot bb/);
  const u = await chroot(['run', '--user', 'no-such-user-anywhere', 'bb', '--', 'true']);
  assert.equal(u.code, 125);
  assert.match(u.stderr, /unable to find user no-such-user-anywhere/);
});
