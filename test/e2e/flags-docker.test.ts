// The real docker CLI with the run flags cocon once accepted and ignored (issue 9): --sysctl and
// --memory-swap work, --log-opt max-size bounds the log, and what cocon cannot honour yet
// (--log-driver syslog, --log-opt max-file without max-size, a bad --storage-opt size=...) fails with exit 125 and the
// daemon's message; cocon's own CLI says the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useDaemon, docker, cli, uniq } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

test('docker run --sysctl: the values are in /proc/sys inside the container', async () => {
  const r = await docker(h.d, [
    'run',
    '--rm',
    '--sysctl',
    'kernel.shmmax=987654321',
    '--sysctl',
    'net.core.somaxconn=555',
    'busybox',
    'sh',
    '-c',
    'cat /proc/sys/kernel/shmmax /proc/sys/net/core/somaxconn',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '987654321\n555\n');
  assert.notEqual(readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim(), '987654321');
});

test("docker run --memory --memory-swap: inspect shows docker's values", async () => {
  const a = uniq('sw');
  const b = uniq('sw');
  assert.equal((await docker(h.d, ['create', '--name', a, '-m', '64m', 'busybox', 'true'])).code, 0);
  assert.equal(
    (await docker(h.d, ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', a])).stdout.trim(),
    `${64 * 1024 * 1024} ${128 * 1024 * 1024}`,
  );
  assert.equal(
    (await docker(h.d, ['create', '--name', b, '-m', '64m', '--memory-swap', '-1', 'busybox', 'true'])).code,
    0,
  );
  assert.equal((await docker(h.d, ['inspect', '-f', '{{.HostConfig.MemorySwap}}', b])).stdout.trim(), '-1');
  await docker(h.d, ['rm', a, b]);
});

test("flags cocon cannot honour: docker and cocon exit 125 with the daemon's message, nothing created", async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--log-driver', 'syslog'], /logging driver 'syslog' is not supported by cocon yet/],
    [['--log-driver', 'journald'], /logging driver 'journald' is not supported by cocon yet/],
    [['--log-opt', 'max-size=1m', '--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
    [['--log-opt', 'max-file=3'], /max-file can only be set together with max-size/],
    [['--log-opt', 'mode=non-blocking'], /unknown log opt 'mode'/],
    [['--storage-opt', 'size=abc'], /invalid size: 'abc'/],
    [['--storage-opt', 'size=100k'], /--storage-opt size=100k is too small/],
    [['--storage-opt', 'foo=1'], /Unknown option foo/],
    [['--network', 'host', '--sysctl', 'net.core.somaxconn=1'], /not allowed in host network mode/],
    [['--memory-swap', '1g'], /always set the Memory limit when using Memoryswap limit/],
    [['-m', '64m', '--memory-swap', '32m'], /Minimum memoryswap limit should be larger than memory limit/],
  ];
  const before = (await docker(h.d, ['ps', '-aq'])).stdout;
  for (const [flags, msg] of cases) {
    for (const [who, run] of [
      ['docker', docker],
      ['cocon', cli],
    ] as const) {
      const r = await run(h.d, ['run', '--rm', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${who} ${flags.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, msg, `${who} ${flags.join(' ')}`);
    }
  }
  assert.equal((await docker(h.d, ['ps', '-aq'])).stdout, before, 'a refused run left a container');
});

test('docker run --log-opt max-size: docker logs shows the newest lines of a bounded log', async () => {
  const name = uniq('ms');
  const r = await docker(h.d, [
    'run',
    '--name',
    name,
    '--log-opt',
    'max-size=32k',
    'busybox',
    'sh',
    '-c',
    'i=0; while [ $i -lt 5000 ]; do echo "line $i ................................"; i=$((i+1)); done; echo the-end',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const l = await docker(h.d, ['logs', name]);
  assert.match(l.stdout, /the-end\n$/);
  assert.ok(l.stdout.length < 32 * 1024, `docker logs gave ${l.stdout.length} bytes`);
  assert.doesNotMatch(l.stdout, /^line 0 /m, 'the oldest lines should be gone');
  const path = (await docker(h.d, ['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
  assert.ok(readFileSync(path).length <= 32 * 1024);
  await docker(h.d, ['rm', name]);
});

test("docker run --log-driver none: runs; docker logs fails with docker's message", async () => {
  const name = uniq('none');
  const r = await docker(h.d, [
    'run',
    '--name',
    name,
    '--log-driver',
    'none',
    'busybox',
    'echo',
    'attached output still shows',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'attached output still shows\n');
  const l = await docker(h.d, ['logs', name]);
  assert.notEqual(l.code, 0);
  assert.match(l.stderr, /configured logging driver does not support reading/);
  await docker(h.d, ['rm', name]);
});
