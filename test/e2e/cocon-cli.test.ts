// cocon's own CLI against a cocon daemon: the docker-user suite, plus what only cocon's CLI does
// (the launcher, automatic busybox bootstrap, `image bootstrap`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { useDaemon, cli, run, startDaemon, uniq, CLI_MAIN, REPO } from '../helpers/daemon.js';
import { clientSuite } from './suite.js';

const h = useDaemon({ busybox: true });

clientSuite(h, {
  name: 'cocon',
  run: cli,
  argv: (d, args) => ({
    argv: [process.execPath, '--', CLI_MAIN, '-H', d.host, ...args],
    env: { DOCKER_HOST: d.host, COCON_HOST: d.host },
  }),
});

test('cocon: bin/cocon (the launcher) runs the CLI with nothing to install or build', async () => {
  const t0 = Date.now();
  const r = await run(join(REPO, 'bin/cocon'), ['-H', h.d.host, 'run', '--rm', 'busybox', 'echo', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  assert.doesNotMatch(r.stderr, /installing|building/, 'the launcher installed or built although nothing was missing');
  assert.ok(Date.now() - t0 < 10_000, 'launcher too slow');
  // node itself must not take cocon's --env-file (Node 20 scans the whole argv for it)
  const e = await run(join(REPO, 'bin/cocon'), [
    '-H',
    h.d.host,
    'run',
    '--rm',
    '--env-file',
    '/nonexistent/e.env',
    'busybox',
    'true',
  ]);
  assert.equal(e.code, 125, e.stderr);
  assert.match(e.stderr, /\/nonexistent\/e\.env/);
});

test('cocon: first use of busybox bootstraps busybox:latest from the host; image bootstrap is explicit too', async () => {
  const d = await startDaemon();
  try {
    const before = await cli(d, ['images', '-q']);
    assert.equal(before.code, 0, before.stderr);
    assert.equal(before.stdout, '', 'a fresh daemon already has images');
    const r = await cli(d, ['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
    const imgs = await cli(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(imgs.stdout, 'busybox:latest\n');
    const again = await cli(d, ['image', 'bootstrap', 'busybox']);
    assert.equal(again.code, 0, again.stderr);
    const insp = await cli(d, ['image', 'inspect', '-f', '{{json .Config.Cmd}} {{json .Config.Env}}', 'busybox']);
    assert.equal(insp.code, 0, insp.stderr);
    assert.match(insp.stdout, /^\["sh"\] \[.*PATH=/);
  } finally {
    await d.stop();
  }
});

test('cocon: ps -n/-l and --format with Go-template fields', async () => {
  const a = `fmt-${process.pid}-a`;
  const b = `fmt-${process.pid}-b`;
  for (const n of [a, b])
    assert.equal((await cli(h.d, ['create', '--name', n, '-l', 'k=v', 'busybox', 'true'])).code, 0);
  const l = await cli(h.d, ['ps', '-l', '--format', '{{.Names}}']);
  assert.equal(l.stdout, `${b}\n`);
  const n2 = await cli(h.d, [
    'ps',
    '-n',
    '2',
    '--format',
    '{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Label "k"}}',
  ]);
  assert.deepEqual(n2.stdout.split('\n').filter(Boolean), [
    `${b}|busybox|"true"|Created|v`,
    `${a}|busybox|"true"|Created|v`,
  ]);
  const tbl = await cli(h.d, ['ps', '-a', '--filter', 'label=k=v', '--format', 'table {{.ID}}\t{{.Names}}']);
  assert.match(tbl.stdout.split('\n')[0], /^CONTAINER ID\s+NAMES$/);
  assert.equal(tbl.stdout.split('\n').filter(Boolean).length, 3);
  assert.equal((await cli(h.d, ['rm', a, b])).code, 0);
});

test('cocon: cp in and out with the docker path rules, through the one tar codec; container symlinks come out as symlinks', async () => {
  const name = uniq('cp');
  const tmp = mkdtempSync('/tmp/cocon-cli-cp-');
  try {
    assert.equal((await cli(h.d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600'])).code, 0);
    const setup =
      'mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b && ln -s / /data/root && ln -s /etc/passwd /data/pw';
    assert.equal((await cli(h.d, ['exec', name, 'sh', '-c', setup])).code, 0);
    // out: a directory to a new name, its content into an existing directory, a file to a file name
    let r = await cli(h.d, ['cp', `${name}:/data`, join(tmp, 'out')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(tmp, 'out/sub/b'), 'utf8'), 'b\n');
    assert.equal(readlinkSync(join(tmp, 'out/root')), '/');
    assert.equal(readlinkSync(join(tmp, 'out/pw')), '/etc/passwd');
    mkdirSync(join(tmp, 'existing'));
    r = await cli(h.d, ['cp', `${name}:/data/.`, join(tmp, 'existing')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(tmp, 'existing/a'), 'utf8'), 'a\n');
    assert.ok(!existsSync(join(tmp, 'existing/data')));
    r = await cli(h.d, ['cp', `${name}:/data/a`, join(tmp, 'file.txt')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(tmp, 'file.txt'), 'utf8'), 'a\n');
    r = await cli(h.d, ['cp', `${name}:/data`, join(tmp, 'file.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot copy directory to non-directory/);
    // in: a directory, its content, a file with -a keeping the owner (without -a: root)
    mkdirSync(join(tmp, 'src/deep'), { recursive: true });
    writeFileSync(join(tmp, 'src/deep/f'), 'f\n');
    writeFileSync(join(tmp, 'owned'), 'o\n');
    chownSync(join(tmp, 'owned'), 1234, 1234);
    for (const args of [
      [join(tmp, 'src'), `${name}:/in`],
      [join(tmp, 'src') + '/.', `${name}:/data/`],
      ['-a', join(tmp, 'owned'), `${name}:/owned-a`],
      [join(tmp, 'owned'), `${name}:/owned`],
    ]) {
      r = await cli(h.d, ['cp', ...args]);
      assert.equal(r.code, 0, `cp ${args.join(' ')}: ${r.stderr}`);
    }
    r = await cli(h.d, ['exec', name, 'sh', '-c', 'cat /in/deep/f /data/deep/f; stat -c %u /owned-a /owned']);
    assert.equal(r.stdout, 'f\nf\n1234\n0\n');
    assert.ok(lstatSync(join(tmp, 'out')).isDirectory());
  } finally {
    await cli(h.d, ['rm', '-f', name]);
    rmSync(tmp, { recursive: true, force: true });
  }
});
