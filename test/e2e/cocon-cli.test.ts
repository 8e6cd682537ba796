// cocon's own CLI against a cocon daemon: the docker-user suite, plus what only cocon's CLI does
// (the launcher, automatic busybox bootstrap, `image bootstrap`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useDaemon, cli, run, startDaemon, CLI_MAIN, REPO } from '../helpers/daemon.js';
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
