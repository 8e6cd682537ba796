// The brief's scenario with the real docker CLI 28: a MariaDB server (built from Debian's packages,
// see test/helpers/debian-fixture.ts) keeps its data in a host directory, then in a named volume;
// the container is stopped, removed and recreated, and the rows are still there. A container with
// --volumes-from reads the same files.
import { describe, test, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, docker, uniq, sleep, type RunResult } from '../helpers/daemon.js';
import { mariadbRootfsTar, DB_ENTRY, DB_SOCKET } from '../helpers/debian-fixture.js';

const h = useDaemon();
const IMAGE = 'cocon-test/mariadb:1';

async function ok(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const r = await docker(h.d, args, { timeoutMs });
  assert.equal(r.code, 0, `docker ${args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

// The root filesystem tarball (built once, ~1.5 min, then cached); no daemon needed for that.
let tarball = '';
before(
  async () => {
    const fx = await mariadbRootfsTar();
    if (fx.built) process.stderr.write(`debian-fixture: built ${fx.tar} in ${fx.seconds.toFixed(1)} s\n${fx.log}\n`);
    tarball = fx.tar;
  },
  { timeout: 20 * 60_000 },
);

let imported: Promise<void> | undefined;
/** `docker import --change 'CMD [...]' TAR cocon-test/mariadb:1`, once per daemon. */
function ensureImage(t: TestContext): Promise<void> {
  imported ??= (async () => {
    assert.ok(tarball, 'the fixture tarball was not built (see the before hook)');
    const t0 = Date.now();
    await ok(['import', '--change', `CMD ["${DB_ENTRY}"]`, tarball, IMAGE], 300_000);
    t.diagnostic(`docker import of the MariaDB root: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  })();
  return imported;
}

/** Containers, volumes and host dirs of one test, removed whatever happens. */
function janitor(t: TestContext): {
  ctr: (n: string) => string;
  vol: (n: string) => string;
  dir: (p: string) => string;
} {
  const ctrs: string[] = [];
  const vols: string[] = [];
  const dirs: string[] = [];
  t.after(async () => {
    if (ctrs.length) await docker(h.d, ['rm', '-f', ...ctrs], { timeoutMs: 60_000 });
    if (vols.length) await docker(h.d, ['volume', 'rm', '-f', ...vols], { timeoutMs: 60_000 });
    for (const p of dirs) rmSync(p, { recursive: true, force: true });
  });
  return {
    ctr: (n) => {
      ctrs.push(n);
      return n;
    },
    vol: (n) => {
      vols.push(n);
      return n;
    },
    dir: (p) => {
      dirs.push(p);
      return p;
    },
  };
}

/** `docker run -d` the server, then waits until mariadb-admin ping answers; returns the seconds it took. */
async function startDb(name: string, mount: string): Promise<number> {
  const t0 = Date.now();
  await ok(['run', '-d', '--name', name, '-v', mount, IMAGE]);
  const deadline = Date.now() + 60_000;
  let last: RunResult | undefined;
  while (Date.now() < deadline) {
    last = await docker(h.d, ['exec', name, 'mariadb-admin', `--socket=${DB_SOCKET}`, 'ping'], { timeoutMs: 20_000 });
    if (last.code === 0 && /mysqld is alive/.test(last.stdout)) return (Date.now() - t0) / 1000;
    const st = await docker(h.d, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
    if (!st.stdout.startsWith('running')) {
      const l = await docker(h.d, ['logs', name]);
      assert.fail(`${name} stopped (${st.stdout.trim()}) before answering ping; logs:\n${l.stdout}${l.stderr}`);
    }
    await sleep(200);
  }
  const l = await docker(h.d, ['logs', name]);
  assert.fail(
    `${name} did not answer ping within 60 s (last: ${last?.code} ${last?.stdout}${last?.stderr}); logs:\n${l.stdout}${l.stderr}`,
  );
}

async function sql(name: string, query: string): Promise<string> {
  return (await ok(['exec', name, 'mariadb', `--socket=${DB_SOCKET}`, '-N', '-B', '-e', query])).stdout;
}

const ROWS = '1\tapple\n2\tpear\n3\tplum\n';

async function fillDb(name: string): Promise<void> {
  await sql(
    name,
    "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB; INSERT INTO shop.items VALUES (1,'apple'),(2,'pear'),(3,'plum');",
  );
  assert.equal(await sql(name, 'SELECT id, name FROM shop.items ORDER BY id'), ROWS);
}

/** docker stop (mariadbd shuts down cleanly on SIGTERM) + docker rm. */
async function stopAndRemove(name: string): Promise<void> {
  await ok(['stop', name], 60_000);
  const st = await ok(['inspect', '-f', '{{.State.Status}}', name]);
  assert.equal(st.stdout.trim(), 'exited');
  await ok(['rm', name]);
}

// The two scenarios are independent (own names, own data): they run side by side.
describe('a database keeps its data in a volume', { concurrency: 2 }, () => {
  test('docker run -v HOSTDIR:/var/lib/mysql: the rows outlive the container (stop, rm, a new container reads them)', async (t) => {
    await ensureImage(t);
    const j = janitor(t);
    const dir = j.dir(mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'mysql-')));
    const db1 = j.ctr(uniq('db1'));
    const db2 = j.ctr(uniq('db2'));
    const s1 = await startDb(db1, `${dir}:/var/lib/mysql`);
    t.diagnostic(`first start (mariadb-install-db + server) to ping: ${s1.toFixed(2)} s`);
    await fillDb(db1);
    assert.ok(existsSync(join(dir, 'shop', 'items.ibd')), 'the table lives in the host directory');
    await stopAndRemove(db1);
    assert.ok(existsSync(join(dir, 'shop', 'items.ibd')), 'the data stays on the host after docker rm');
    const s2 = await startDb(db2, `${dir}:/var/lib/mysql`);
    t.diagnostic(`second start (existing datadir) to ping: ${s2.toFixed(2)} s`);
    assert.equal(await sql(db2, 'SELECT id, name FROM shop.items ORDER BY id'), ROWS);
    const mounts = await ok([
      'inspect',
      '-f',
      '{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{end}}',
      db2,
    ]);
    assert.equal(mounts.stdout.trim(), `bind ${dir} /var/lib/mysql true`);
  });

  test('docker run -v dbdata:/var/lib/mysql: the rows outlive the container; --volumes-from sees the table files', async (t) => {
    await ensureImage(t);
    const j = janitor(t);
    const vol = j.vol(uniq('dbdata'));
    const a = j.ctr(uniq('dbv1'));
    const b = j.ctr(uniq('dbv2'));
    const s1 = await startDb(a, `${vol}:/var/lib/mysql`);
    t.diagnostic(`first start on a named volume to ping: ${s1.toFixed(2)} s`);
    await fillDb(a);
    await stopAndRemove(a);
    const ls = await ok(['volume', 'ls', '-q', '--filter', `name=${vol}`]);
    assert.equal(ls.stdout, `${vol}\n`, 'the named volume outlives the container');
    const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol])).stdout.trim();
    assert.ok(statSync(join(mp, 'shop', 'items.ibd')).size > 0);
    await startDb(b, `${vol}:/var/lib/mysql`);
    assert.equal(await sql(b, 'SELECT id, name FROM shop.items ORDER BY id'), ROWS);
    // a second container borrows the running server's volumes
    const files = await ok(['run', '--rm', '--volumes-from', b, IMAGE, 'ls', '/var/lib/mysql/shop']);
    assert.deepEqual(files.stdout.split('\n').filter(Boolean).sort(), ['db.opt', 'items.frm', 'items.ibd']);
    assert.deepEqual(readdirSync(join(mp, 'shop')).sort(), ['db.opt', 'items.frm', 'items.ibd']);
    // in use: docker volume rm refuses with docker's message
    const rm = await docker(h.d, ['volume', 'rm', vol]);
    assert.equal(rm.code, 1);
    assert.match(
      rm.stderr,
      new RegExp(`^Error response from daemon: remove ${vol}: volume is in use - \\[[0-9a-f]{64}\\]\n$`),
    );
  });
});
