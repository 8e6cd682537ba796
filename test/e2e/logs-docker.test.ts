// Bounded, rotated container logs through the real docker CLI and docker-py: json-file is the
// reported driver (also when the client sent no LogConfig) with cocon's bounded default; rotation
// keeps disk use under max-size x max-file while `docker logs --tail 1` returns the last line and
// `docker logs` reads across the rotated (and compressed) files; docker-py's containers.run gets
// the output; a daemon started with --log-driver/--log-opt applies them; a logs -f client that
// disconnects leaves the daemon healthy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
import { useDaemon, docker, uniq, run, waitFor, startDaemon, bootstrapBusybox } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

/** Bytes on disk of the container's log files, each file once (ctr.log.held is a second name). */
function logDisk(logPath: string): { bytes: number; files: string[] } {
  const dir = dirname(logPath);
  const seen = new Set<number>();
  let bytes = 0;
  const files = readdirSync(dir).filter((n) => n.startsWith('ctr.log'));
  for (const n of files) {
    const st = statSync(join(dir, n));
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    bytes += st.size;
  }
  return { bytes, files: files.sort() };
}

test("no LogConfig: the driver is json-file with cocon's bounds; inspect and info say so", async () => {
  const name = uniq('lc');
  assert.equal((await docker(h.d, ['create', '--name', name, 'busybox', 'true'])).code, 0);
  assert.equal(
    (await docker(h.d, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', name])).stdout.trim(),
    '{"Type":"json-file","Config":{"max-file":"3","max-size":"10m"}}',
  );
  const info = await docker(h.d, ['info', '-f', '{{.LoggingDriver}}']);
  assert.equal(info.stdout.trim(), 'json-file');
  const local = uniq('lc');
  assert.equal((await docker(h.d, ['create', '--name', local, '--log-driver', 'local', 'busybox', 'true'])).code, 0);
  assert.equal(
    (await docker(h.d, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', local])).stdout.trim(),
    '{"Type":"local","Config":{"compress":"true","max-file":"5","max-size":"20m"}}',
  );
  await docker(h.d, ['rm', name, local]);
});

test('rotation: disk use stays under max-size x max-file, logs --tail 1 is the last line, logs reads across files', async () => {
  const name = uniq('rot');
  // About 200 KB in batches (so the rotator keeps up), each line numbered.
  const script =
    'i=0; while [ $i -lt 2000 ]; do echo "line $i ..............................................................................."; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.05; done; echo the-end';
  const r = await docker(
    h.d,
    ['run', '--name', name, '--log-opt', 'max-size=16k', '--log-opt', 'max-file=4', 'busybox', 'sh', '-c', script],
    { timeoutMs: 120_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const path = (await docker(h.d, ['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
  await waitFor('rotated files', () => (logDisk(path).files.includes('ctr.log.3') ? true : null), 5000);
  const disk = logDisk(path);
  assert.ok(disk.bytes <= 16 * 1024 * 4, `log files take ${disk.bytes} bytes: ${disk.files.join(' ')}`);
  assert.ok(!disk.files.includes('ctr.log.4'), `max-file=4 keeps ctr.log + 3 rotated: ${disk.files.join(' ')}`);
  assert.equal((await docker(h.d, ['logs', '--tail', '1', name])).stdout, 'the-end\n');
  const all = (await docker(h.d, ['logs', name])).stdout.split('\n').filter(Boolean);
  assert.equal(all.at(-1), 'the-end');
  assert.ok(all.length > (16 * 1024 * 2) / 100, `only ${all.length} lines read: rotated files were not read`);
  // What is kept is one unbroken run of the newest lines.
  const nums = all.slice(0, -1).map((l) => Number(/^line (\d+) /.exec(l)?.[1]));
  assert.equal(nums.at(-1), 1999);
  for (let i = 1; i < nums.length; i++) assert.equal(nums[i], nums[i - 1] + 1, `gap after line ${nums[i - 1]}`);
  assert.equal((await docker(h.d, ['logs', '--tail', '3', name])).stdout.split('\n').filter(Boolean).length, 3);
  await docker(h.d, ['rm', name]);
});

test('compress=true: rotated files are gzipped and still read by docker logs', async () => {
  const name = uniq('gz');
  const script =
    'i=0; while [ $i -lt 600 ]; do echo "row $i ..............................................................................."; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.05; done';
  assert.equal(
    (
      await docker(
        h.d,
        [
          'run',
          '--name',
          name,
          '--log-opt',
          'max-size=8k',
          '--log-opt',
          'max-file=3',
          '--log-opt',
          'compress=true',
          'busybox',
          'sh',
          '-c',
          script,
        ],
        { timeoutMs: 60_000 },
      )
    ).code,
    0,
  );
  const path = (await docker(h.d, ['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
  await waitFor('gzipped', () => (logDisk(path).files.includes('ctr.log.2.gz') ? true : null), 5000);
  const lines = (await docker(h.d, ['logs', name])).stdout.split('\n').filter(Boolean);
  assert.match(lines.at(-1)!, /^row 599 /);
  assert.ok(lines.length > ((8 * 1024) / 100) * 1.5, `${lines.length} lines: the gzipped file was not read`);
  await docker(h.d, ['rm', name]);
});

test('docker logs -f follows across a rotation', async () => {
  const name = uniq('fol');
  assert.equal(
    (
      await docker(h.d, [
        'run',
        '-d',
        '--name',
        name,
        '--log-opt',
        'max-size=4k',
        '--log-opt',
        'max-file=2',
        'busybox',
        'sh',
        '-c',
        'sleep 1; i=0; while [ $i -lt 300 ]; do echo "n $i ........................................"; i=$((i+1)); [ $((i % 20)) = 0 ] && sleep 0.05; done',
      ])
    ).code,
    0,
  );
  const f = await docker(h.d, ['logs', '-f', name], { timeoutMs: 60_000 });
  const nums = f.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(/^n (\d+) /.exec(l)?.[1]));
  assert.equal(nums.length, 300, `followed ${nums.length} lines`);
  for (let i = 0; i < nums.length; i++) assert.equal(nums[i], i);
  await docker(h.d, ['rm', name]);
});

test("docker-py: containers.run('busybox', 'echo hi', remove=True) returns b'hi\\n'", async () => {
  const py = `import docker\nc = docker.DockerClient(base_url='unix://${h.d.socket}')\nprint(repr(c.containers.run('busybox', 'echo hi', remove=True)))\n`;
  const r = await run('python3', ['-c', py], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "b'hi\\n'");
});

test('clients that disconnect mid-stream (logs -f, events, attach, save, cp, export) leave the daemon healthy', async () => {
  const name = uniq('dc');
  assert.equal(
    (
      await docker(h.d, [
        'run',
        '-d',
        '--name',
        name,
        'busybox',
        'sh',
        '-c',
        'while true; do echo tick; sleep 0.01; done',
      ])
    ).code,
    0,
  );
  const logFrom = h.d.logSize();
  const paths = [
    `/containers/${name}/logs?follow=1&stdout=1&stderr=1`,
    '/events',
    `/containers/${name}/attach?stream=1&stdout=1`,
    '/images/busybox/get',
    `/containers/${name}/archive?path=/bin/busybox`,
    `/containers/${name}/export`,
  ];
  for (const path of paths) {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const sock = connect(h.d.socket);
        sock.on('error', reject);
        sock.write(`${path.includes('attach') ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        // Read a little, then vanish without a goodbye while the daemon is writing.
        sock.once('data', () => {
          sock.destroy();
          setTimeout(resolve, 100);
        });
      });
    }
  }
  await new Promise((res) => setTimeout(res, 500));
  const ping = await h.d.api('GET', '/_ping');
  assert.equal(ping.status, 200);
  assert.equal((await docker(h.d, ['logs', '--tail', '1', name])).stdout, 'tick\n');
  const log = h.d.log(logFrom);
  assert.doesNotMatch(log, /uncaught|unhandled|Writable stream closed|ERR_STREAM/i, log);
  await docker(h.d, ['rm', '-f', name]);
});

test('a daemon started with --log-driver local --log-opt max-size=1m gives containers those options', async () => {
  const d = await startDaemon({ args: ['--log-driver', 'local', '--log-opt', 'max-size=1m'] });
  try {
    await bootstrapBusybox(d);
    const name = uniq('dd');
    assert.equal((await docker(d, ['create', '--name', name, 'busybox', 'true'])).code, 0);
    assert.equal(
      (await docker(d, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', name])).stdout.trim(),
      '{"Type":"local","Config":{"compress":"true","max-file":"5","max-size":"1m"}}',
    );
    assert.equal((await docker(d, ['info', '-f', '{{.LoggingDriver}}'])).stdout.trim(), 'local');
    const bad = await docker(d, ['create', '--log-driver', 'syslog', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /logging driver 'syslog' is not supported/);
  } finally {
    await d.stop();
  }
});
