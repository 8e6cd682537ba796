// Test fixtures built from Debian's packages: a MariaDB server root filesystem, made once with
// debootstrap (--variant=minbase bookworm, from the host's own apt mirror) plus
// `apt-get install --no-install-recommends mariadb-server`, trimmed, given an entrypoint, and kept as
// a tarball in a cache directory (COCON_FIXTURE_DIR, default /var/tmp/cocon-test-fixtures), keyed
// by a version string. Tests `docker import` the tarball.
//
// The build runs in a temporary directory inside the cache dir and the tarball is renamed into
// place only when complete, so an interrupted build is never reused. Everything that mounts
// (debootstrap's own /proc, the /proc and /dev apt needs) runs in a private mount and pid
// namespace (unshare --mount --propagation private --pid --fork --kill-child): the mounts vanish
// with the namespace even when the build is killed. See reference/debian-roots.md §1, §3, §4.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Bump when the recipe below changes: the cached tarball is keyed by it. */
export const MARIADB_FIXTURE_VERSION = 'mariadb-bookworm-minbase-4';

/** Where the entrypoint lives in the image (the test imports with CMD ["/usr/local/bin/db-entry.sh"]). */
export const DB_ENTRY = '/usr/local/bin/db-entry.sh';
export const DB_SOCKET = '/run/mysqld/mysqld.sock';

export function fixtureDir(): string {
  return process.env.COCON_FIXTURE_DIR || '/var/tmp/cocon-test-fixtures';
}

/**
 * The host's Debian mirror (the machine reaches only that one): the first `deb` URI for Debian's
 * main archive in /etc/apt/sources.list or /etc/apt/sources.list.d/*.list|*.sources (deb822),
 * skipping the security archive.
 */
export function hostMirror(): string {
  const uris: string[] = [];
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const d = '/etc/apt/sources.list.d';
  if (existsSync(d))
    for (const f of readdirSync(d).sort()) if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join(d, f));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1].trim() ?? '';
        if (!/\bdeb\b/.test(field('Types')) || /^no$/i.test(field('Enabled'))) continue;
        uris.push(...field('URIs').split(/\s+/).filter(Boolean));
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
        if (m) uris.push(m[1]);
      }
    }
  }
  const main = uris.find((u) => /^https?:\/\//.test(u) && !/security/.test(u));
  return (main ?? 'http://deb.debian.org/debian').replace(/\/+$/, '');
}

interface Step {
  code: number;
  out: string;
}

function sh(script: string, timeoutMs: number): Promise<Step> {
  return new Promise((resolve, reject) => {
    // a private mount + pid namespace: every mount made here dies with it, even on SIGKILL
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--', 'sh', '-euc', script],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
      },
    );
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

function tailOf(s: string, n = 40): string {
  return s.split('\n').slice(-n).join('\n');
}

/** Removes leftovers of builds that died (their owner pid is gone). */
function sweepStale(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('.build-')) continue;
    const p = join(dir, f);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(p, 'owner.pid'), 'utf8'));
    } catch {
      /* no pid file */
    }
    let alive = false;
    if (owner > 0) {
      try {
        process.kill(owner, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (!alive) {
      // nothing is mounted below it (all mounts lived in the build's own namespace)
      const st = statSync(p);
      if (Date.now() - st.mtimeMs > 1000) rmSync(p, { recursive: true, force: true });
    }
  }
}

// The container's entrypoint: initialise the data directory when it is empty, then run the
// server in the foreground as PID 1 (mariadbd shuts down cleanly on SIGTERM).
const ENTRY = `#!/bin/sh
set -e
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld
chown mysql:mysql /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  if ! mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \\
      --auth-root-authentication-method=socket --innodb-log-file-size=8M >/tmp/install-db.log 2>&1; then
    cat /tmp/install-db.log >&2
    exit 1
  fi
  echo "db-entry: initialised /var/lib/mysql" >&2
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=${DB_SOCKET} --innodb-log-file-size=8M
`;

// MariaDB's offline tools (table checkers, dump, binlog, import, ...): not needed to run the server,
// initialise a datadir (mariadb-install-db needs my_print_defaults, resolveip and mariadbd) or query it.
const UNUSED_TOOLS = [
  'aria_chk',
  'aria_dump_log',
  'aria_ftdump',
  'aria_pack',
  'aria_read_log',
  'innochecksum',
  'mariadb-binlog',
  'mariadb-check',
  'mariadb-conv',
  'mariadb-dump',
  'mariadb-import',
  'mariadb-plugin',
  'mariadb-show',
  'mariadb-slap',
  'mariadb-tzinfo-to-sql',
  'myisam_ftdump',
  'myisamchk',
  'myisamlog',
  'myisampack',
  'perror',
];

export interface FixtureResult {
  tar: string;
  built: boolean;
  seconds: number;
  log: string;
}

let pending: Promise<FixtureResult> | undefined;

/**
 * The MariaDB root filesystem tarball: the cached one, or built now (about 1.5 min: debootstrap
 * ~55 s, install ~22 s, tar a few s). Concurrent callers in one process share one build.
 */
export function mariadbRootfsTar(): Promise<FixtureResult> {
  pending ??= buildMariadb().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

async function buildMariadb(): Promise<FixtureResult> {
  const dir = fixtureDir();
  const tar = join(dir, `${MARIADB_FIXTURE_VERSION}.tar`);
  if (existsSync(tar)) return { tar, built: false, seconds: 0, log: '' };
  mkdirSync(dir, { recursive: true });
  sweepStale(dir);
  const t0 = Date.now();
  const work = mkdtempSync(join(dir, '.build-'));
  writeFileSync(join(work, 'owner.pid'), String(process.pid));
  const root = join(work, 'root');
  const log: string[] = [];
  try {
    const mirror = hostMirror();
    // 1. debootstrap (it mounts /proc and friends in the target itself; all inside our namespace)
    let r = await sh(`debootstrap --variant=minbase bookworm '${root}' '${mirror}'`, 600_000);
    log.push(`debootstrap ${mirror}: rc ${r.code} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (r.code !== 0) throw new Error(`debootstrap failed (rc ${r.code}):\n${tailOf(r.out)}`);
    // 2. no services started by package scripts; /etc/hosts (minbase has none; mariadb needs it)
    writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    writeFileSync(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    writeFileSync(join(root, 'etc/apt/apt.conf.d/99no-check-valid-until'), 'Acquire::Check-Valid-Until "false";\n');
    // 3. install with /proc and a minimal /dev mounted (private namespace; unmounted after)
    const t1 = Date.now();
    r = await sh(
      `
R='${root}'
mount -t proc proc "$R/proc"
mount -t tmpfs -o nosuid,mode=0755,size=64k tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5; mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8; mknod -m 666 "$R/dev/urandom" c 1 9; mknod -m 666 "$R/dev/tty" c 5 0
ln -s /proc/self/fd "$R/dev/fd"; mkdir "$R/dev/pts" "$R/dev/shm"
chroot "$R" apt-get update -q
chroot "$R" apt-get install -y -q --no-install-recommends mariadb-server
chroot "$R" apt-get clean
umount "$R/dev" "$R/proc"
`,
      600_000,
    );
    log.push(`apt-get install mariadb-server: rc ${r.code} after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    if (r.code !== 0) throw new Error(`apt-get install mariadb-server failed (rc ${r.code}):\n${tailOf(r.out)}`);
    // 4. trim: no datadir (the entrypoint makes one), no apt lists or caches, no docs or
    // translations, none of the offline tools the tests never run (a smaller tar imports faster)
    for (const p of [
      'dev',
      'tmp',
      'var/lib/mysql',
      'var/lib/apt/lists',
      'var/cache/apt',
      'usr/share/doc',
      'usr/share/man',
      'usr/share/info',
      'usr/share/locale',
      'var/log/apt',
    ]) {
      const abs = join(root, p);
      if (existsSync(abs)) for (const f of readdirSync(abs)) rmSync(join(abs, f), { recursive: true, force: true });
    }
    for (const b of UNUSED_TOOLS) rmSync(join(root, 'usr/bin', b), { force: true });
    mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    rmSync(join(root, 'usr/sbin/policy-rc.d'), { force: true });
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    writeFileSync(join(root, DB_ENTRY.slice(1)), ENTRY, { mode: 0o755 });
    // 5. tar it; the tarball appears under its final name only when complete
    const t2 = Date.now();
    const part = join(work, 'rootfs.tar');
    r = await sh(`tar --numeric-owner -C '${root}' -cf '${part}' .`, 300_000);
    log.push(
      `tar: rc ${r.code} after ${((Date.now() - t2) / 1000).toFixed(1)} s, ${(statSync(part).size / 1e6).toFixed(0)} MB`,
    );
    if (r.code !== 0) throw new Error(`tar failed (rc ${r.code}):\n${tailOf(r.out)}`);
    renameSync(part, tar);
    // older versions of this fixture are of no use any more
    for (const f of readdirSync(dir))
      if (/^mariadb-.*\.tar$/.test(f) && join(dir, f) !== tar) rmSync(join(dir, f), { force: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  return { tar, built: true, seconds, log: log.join('\n') };
}
