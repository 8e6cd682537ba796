// The data root and exec root are closed to other local users (issue 9, part 4): a user `nobody`
// used to read a container's Env secret from cocon.db-wal, list containers, read their logs and
// their writable layers. Here the same user tries every one of those reads and gets EACCES; an
// install with an older cocon's modes (0711/0755/0644) is tightened when the daemon starts; and a
// container running as a non-root user still reads its own files and a named volume.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useDaemon, docker, run, uniq, waitFor, type RunResult } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

const SECRET = `hunter2-${randomBytes(6).toString('hex')}`;
const LOG_LINE = `log-secret-${randomBytes(6).toString('hex')}`;
const name = uniq('perm');
const vol = uniq('permv');
let id = '';
/** The container's writable layer (the snapshotter's upper dir), from inspect's GraphDriver. */
let upper = '';

/** Runs a command as the user nobody with no supplementary groups. */
function asNobody(cmd: string, args: string[]): Promise<RunResult> {
  return run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args]);
}

/** Every path a local user must not read: the records (with the Env secret), logs, layers, bundles, volumes. */
function targets(): string[] {
  const d = h.d.dataRoot;
  const x = h.d.execRoot;
  const layer = readdirSync(join(d, 'overlay')).find((e) => /^[0-9a-f]{64}$/.test(e));
  assert.ok(layer, 'no layer directory under overlay/');
  return [
    d,
    join(d, 'cocon.db'),
    join(d, 'cocon.db-wal'),
    join(d, 'engine-id'),
    join(d, 'containers'),
    join(d, 'containers', id),
    join(d, 'containers', id, 'ctr.log'),
    upper,
    join(upper, 'tmp/written'),
    join(d, 'containers', id, 'rootfs/etc/passwd'),
    join(d, 'overlay'),
    join(d, 'overlay', layer, 'diff'),
    join(d, 'overlay', layer, 'diff/etc/passwd'),
    join(d, 'content/sha256'),
    join(d, 'volumes'),
    join(d, 'volumes', vol, '_data'),
    join(d, 'volumes', vol, '_data/f'),
    x,
    join(x, 'containers', id),
    join(x, 'containers', id, 'config.json'),
    join(x, 'containers', id, 'conmon.pid'),
    join(x, 'exits'),
    join(x, 'runc'),
    join(x, 'exec'),
    join(x, 'netns'),
  ];
}

/** Lists (directories) or reads (files) each path as nobody; returns the attempts that did not fail with EACCES. */
async function nobodyReads(paths: string[]): Promise<string[]> {
  const leaks: string[] = [];
  for (const p of paths) {
    const dir = statSync(p).isDirectory();
    const r = await asNobody(dir ? 'ls' : 'cat', dir ? ['-a', p] : [p]);
    if (r.code === 0 || !/Permission denied/.test(r.stderr))
      leaks.push(
        `${dir ? 'ls' : 'cat'} ${p}: exit ${r.code} ${(r.stdout + r.stderr).slice(0, 120).replace(/\n/g, ' ')}`,
      );
  }
  return leaks;
}

const SKIP = [
  /^overlay\/[^/]+\/diff(\/|$)/,
  /^containers\/[^/]+\/(upper|rootfs|work|init)(\/|$)/,
  /^overlay\/snapshots\/[^/]+\/(fs|work)(\/|$)/,
  /^volumes\/[^/]+\/_data(\/|$)/,
  /^runc\/[^/]+(\/|$)/,
  /^netns\/./,
  /^s\/./,
];
// Bound into the container for its own users (0644 as docker has them), and the daemon's pid file
// (0644 as dockerd's); their parents are closed.
const BOUND = /^(containers\/[^/]+\/(hosts|hostname|resolv\.conf)|cocon\.pid)$/;

/** Every directory and file the daemon keeps under `root` that other users could read: mode & 0o007, or group write. */
function openModes(root: string): string[] {
  const bad: string[] = [];
  const walk = (p: string): void => {
    const rel = relative(root, p);
    if (rel && SKIP.some((re) => re.test(rel))) return;
    const st = lstatSync(p);
    if (st.isSymbolicLink() || st.isSocket()) return;
    if (!BOUND.test(rel) && (st.mode & 0o027) !== 0 && !(rel === '' && (st.mode & 0o7777) === 0o710))
      bad.push(`${(st.mode & 0o7777).toString(8)} ${rel || '.'}`);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(root);
  return bad;
}

/** One container with an Env secret, a log line, a file in its writable layer and one in a volume (made once). */
let made: Promise<void> | undefined;
const opened: Array<[string, number]> = [];
after(() => {
  for (const [p, m] of opened.reverse()) {
    try {
      chmodSync(p, m);
    } catch {
      /* removed */
    }
  }
});
const setup = (): Promise<void> => (made ??= makeContainer());
async function makeContainer(): Promise<void> {
  // The helper's temp root (and the suite's temp base) are 0700: open them to others (x, and r on
  // the daemon's root) so that only the daemon's own modes stand in the way; restored after.
  for (let p = h.d.root; p !== dirname(p); p = dirname(p)) {
    const m = statSync(p).mode & 0o7777;
    const want = p === h.d.root ? m | 0o005 : m | 0o001;
    if (want !== m) {
      opened.push([p, m]);
      chmodSync(p, want);
    }
  }
  const probe = await asNobody('ls', [h.d.root]);
  assert.equal(
    probe.code,
    0,
    `nobody cannot reach the test daemon's root, so no read below would mean anything: ${probe.stderr}`,
  );
  assert.equal((await docker(h.d, ['volume', 'create', vol])).code, 0);
  const r = await docker(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '-e',
    `DB_PASSWORD=${SECRET}`,
    '-v',
    `${vol}:/data`,
    'busybox',
    'sh',
    '-c',
    `echo ${LOG_LINE}; echo w > /tmp/written; echo v > /data/f; exec sleep 1000`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  id = r.stdout.trim();
  upper = JSON.parse((await docker(h.d, ['inspect', id])).stdout)[0].GraphDriver.Data.UpperDir;
  assert.ok(upper.startsWith(h.d.dataRoot + '/'), `upper dir ${upper}`);
  await waitFor('the log line', async () => (await docker(h.d, ['logs', name])).stdout.includes(LOG_LINE));
  const e = await docker(h.d, ['exec', name, 'cat', '/data/f']);
  assert.equal(e.stdout, 'v\n', e.stderr);
}

test('the secret is on disk (so the reads below mean something), and nobody can read or list anything under the data root and exec root', async () => {
  await setup();
  const db =
    readFileSync(join(h.d.dataRoot, 'cocon.db')).toString('latin1') +
    readFileSync(join(h.d.dataRoot, 'cocon.db-wal')).toString('latin1');
  assert.ok(db.includes(SECRET), 'the Env secret is not in cocon.db or its -wal');
  assert.ok(readFileSync(join(h.d.dataRoot, 'containers', id, 'ctr.log'), 'utf8').includes(LOG_LINE));
  assert.deepEqual(await nobodyReads(targets()), []);
  // A direct open of the secret-holding files by name, not only through ls/cat of the tree.
  for (const f of ['cocon.db', 'cocon.db-wal', 'cocon.db-shm']) {
    const r = await asNobody('sh', ['-c', `exec 3< '${join(h.d.dataRoot, f)}'`]);
    assert.notEqual(r.code, 0, `nobody opened ${f}`);
  }
});

test("every directory and state file the daemon made has docker's modes (0710 roots, 0700 dirs, 0600/0640 files)", async () => {
  await setup();
  assert.equal(statSync(h.d.dataRoot).mode & 0o7777, 0o710);
  assert.equal(statSync(h.d.execRoot).mode & 0o7777, 0o710);
  for (const f of ['cocon.db', 'cocon.db-wal', 'cocon.db-shm', 'engine-id'])
    assert.equal(statSync(join(h.d.dataRoot, f)).mode & 0o7777, 0o600, f);
  assert.equal(statSync(join(h.d.dataRoot, 'containers', id, 'ctr.log')).mode & 0o7777, 0o640);
  assert.equal(statSync(join(h.d.execRoot, 'containers', id, 'config.json')).mode & 0o7777, 0o600);
  assert.deepEqual(openModes(h.d.dataRoot), [], 'open modes under the data root');
  assert.deepEqual(openModes(h.d.execRoot), [], 'open modes under the exec root');
  // What the container sees keeps its modes: its "/" and the volume's "/".
  assert.equal(statSync(upper).mode & 0o777, 0o755);
  assert.equal(statSync(join(h.d.dataRoot, 'volumes', vol, '_data')).mode & 0o777, 0o755);
});

test('a container running as uid 1000 still reads its files, its /etc/hosts, a named volume, and mount points runc made', async () => {
  await setup();
  const nested = uniq('permn');
  try {
    const r = await docker(h.d, [
      'run',
      '--rm',
      '--user',
      '1000:1000',
      '-v',
      `${vol}:/data:ro`,
      '-v',
      `${nested}:/deep/er/mnt`,
      'busybox',
      'sh',
      '-c',
      'id -u; cat /data/f; cat /etc/hostname /etc/hosts /etc/resolv.conf >/dev/null && echo etc-ok; ls /deep/er/mnt >/dev/null && echo deep-ok; ' +
        'stat -c %a /deep /deep/er; cat /etc/passwd >/dev/null && echo image-ok; echo mine > /tmp/u && cat /tmp/u',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['1000', 'v', 'etc-ok', 'deep-ok', '755', '755', 'image-ok', 'mine']);
  } finally {
    await docker(h.d, ['volume', 'rm', '-f', nested]);
  }
});

test("an install with an older cocon's modes (0711/0755/0644) leaks, and is tightened when the daemon starts", async () => {
  await setup();
  const d = h.d.dataRoot;
  const x = h.d.execRoot;
  await h.d.shutdown(); // the container keeps running under conmon
  const old: Array<[string, number]> = [
    [d, 0o711],
    [join(d, 'containers'), 0o755],
    [join(d, 'containers', id), 0o755],
    [join(d, 'containers', id, 'ctr.log'), 0o644],
    [join(d, 'cocon.db'), 0o644],
    [join(d, 'engine-id'), 0o644],
    [join(d, 'volumes'), 0o701],
    [join(d, 'volumes', vol), 0o755],
    [x, 0o755],
    [join(x, 'containers'), 0o755],
    [join(x, 'containers', id), 0o755],
    [join(x, 'containers', id, 'config.json'), 0o644],
  ];
  for (const [p, m] of old) chmodSync(p, m);
  for (const f of ['cocon.db-wal', 'cocon.db-shm']) if (existsSync(join(d, f))) chmodSync(join(d, f), 0o644);
  // The attack of the issue works on such an install: the checks below could fail.
  const leakedLog = await asNobody('cat', [join(d, 'containers', id, 'ctr.log')]);
  assert.ok(leakedLog.stdout.includes(LOG_LINE), `nobody could not read the old install's log: ${leakedLog.stderr}`);
  const leakedDb = await asNobody('cat', [join(d, 'cocon.db')]);
  assert.ok(leakedDb.stdout.includes(SECRET), "nobody could not read the old install's cocon.db");

  await h.d.restart();
  for (const [p] of old) {
    const want = p === d || p === x ? 0o710 : /ctr\.log$/.test(p) ? 0o640 : statSync(p).isDirectory() ? 0o700 : 0o600;
    assert.equal((statSync(p).mode & 0o7777).toString(8), want.toString(8), `${p} not tightened`);
  }
  assert.deepEqual(await nobodyReads(targets()), []);
  // The running container was adopted and still works, logs and all.
  assert.ok((await docker(h.d, ['logs', name])).stdout.includes(LOG_LINE));
  const e = await docker(h.d, ['exec', name, 'cat', '/tmp/written', '/data/f']);
  assert.equal(e.stdout, 'w\nv\n', e.stderr);
  await docker(h.d, ['rm', '-f', name]);
  await docker(h.d, ['volume', 'rm', '-f', vol]);
});
