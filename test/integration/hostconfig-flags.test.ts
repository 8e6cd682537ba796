// HostConfig fields that used to be accepted and ignored (issue 9): each is now honoured for real
// (sysctls in /proc/sys, memory+swap in the memory cgroup, log max-size bounding the log file,
// log driver none) or refused with 400 and nothing created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { useDaemon, uniq, waitFor } from '../helpers/daemon.js';
import { create, createBody, exec, inspect, list, rm, runDetached, runToEnd } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

const memcg = (id: string, file: string) => readFileSync(`/sys/fs/cgroup/memory/cocon/${id}/${file}`, 'utf8').trim();
const HAS_MEMSW = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');

test('refused HostConfig fields -> 400 with a clear message, nothing created', async () => {
  const before = (await list(h.d)).length;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'log driver syslog',
      { LogConfig: { Type: 'syslog', Config: {} } },
      /logging driver 'syslog' is not supported by cocon yet/,
    ],
    ['log driver unknown', { LogConfig: { Type: 'nosuch', Config: {} } }, /no log driver named 'nosuch' is registered/],
    [
      'max-file without max-size',
      { LogConfig: { Type: 'json-file', Config: { 'max-file': '3' } } },
      /max-file can only be set together with max-size/,
    ],
    ['max-file 0', { LogConfig: { Type: 'json-file', Config: { 'max-file': '0' } } }, /max-file cannot be less than 1/],
    ['max-size junk', { LogConfig: { Type: 'json-file', Config: { 'max-size': 'lots' } } }, /invalid max-size 'lots'/],
    [
      'unknown log opt',
      { LogConfig: { Type: 'json-file', Config: { colour: 'red' } } },
      /unknown log opt 'colour' for json-file log driver/,
    ],
    ['compress junk', { LogConfig: { Type: 'json-file', Config: { compress: 'maybe' } } }, /invalid compress 'maybe'/],
    [
      'log opt tag',
      { LogConfig: { Type: 'json-file', Config: { tag: '{{.Name}}' } } },
      /log opt 'tag' is not supported by cocon/,
    ],
    [
      'opts with none',
      { LogConfig: { Type: 'none', Config: { 'max-size': '1m' } } },
      /unknown log opt 'max-size' for none log driver/,
    ],
    ['storage-opt bad size', { StorageOpt: { size: '1Q' } }, /^invalid suffix: 'Q'$/],
    ['storage-opt unknown', { StorageOpt: { 'overlay2.foo': '1' } }, /^Unknown option overlay2\.foo$/],
    ['storage-opt beyond the data root', { StorageOpt: { size: '1P' } }, /is larger than the data root's filesystem/],
    ['sysctl not namespaced', { Sysctls: { 'kernel.hostname': 'x' } }, /sysctl 'kernel.hostname=x' is not allowed/],
    ['sysctl vm', { Sysctls: { 'vm.swappiness': '1' } }, /sysctl 'vm.swappiness=1' is not allowed/],
    [
      'sysctl net in host network',
      { NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1' } },
      /not allowed in host network mode/,
    ],
    ['sysctl escaping /proc/sys', { Sysctls: { 'net.../../../etc': '1' } }, /not a valid name/],
    [
      'swap without memory',
      { MemorySwap: 64 * 1024 * 1024 },
      /always set the Memory limit when using Memoryswap limit/,
    ],
    [
      'swap below memory',
      { Memory: 64 * 1024 * 1024, MemorySwap: 32 * 1024 * 1024 },
      /Minimum memoryswap limit should be larger than memory limit/,
    ],
    ['memory below 6MB', { Memory: 1024 }, /Minimum memory limit allowed is 6MB/],
  ];
  for (const [what, hc, msg] of cases) {
    const r = await h.d.api(
      'POST',
      `/v1.41/containers/create?name=${uniq('hc')}`,
      createBody({ cmd: ['true'], hostConfig: hc }),
    );
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    assert.match(r.json?.message ?? '', msg, what);
  }
  assert.equal((await list(h.d)).length, before, 'a refused create left a container');
});

test('--sysctl: namespaced sysctls are set in the container and do not touch the host', async () => {
  const hostShmmax = readFileSync('/proc/sys/kernel/shmmax', 'utf8');
  const hostSomaxconn = readFileSync('/proc/sys/net/core/somaxconn', 'utf8');
  const r = await runToEnd(h.d, {
    name: uniq('sysctl'),
    cmd: ['sh', '-c', 'cat /proc/sys/kernel/shmmax /proc/sys/net/core/somaxconn /proc/sys/fs/mqueue/msg_max'],
    hostConfig: { Sysctls: { 'kernel.shmmax': '123456789', 'net.core.somaxconn': '777', 'fs.mqueue.msg_max': '42' } },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '123456789\n777\n42\n');
  assert.deepEqual((await inspect(h.d, r.id)).HostConfig.Sysctls, {
    'kernel.shmmax': '123456789',
    'net.core.somaxconn': '777',
    'fs.mqueue.msg_max': '42',
  });
  assert.equal(readFileSync('/proc/sys/kernel/shmmax', 'utf8'), hostShmmax);
  assert.equal(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), hostSomaxconn);
  await rm(h.d, r.id);
});

test('--memory-swap: twice --memory by default, an explicit value, and -1, in the memory cgroup', {
  skip: !HAS_MEMSW && 'no memory.memsw on this host',
}, async () => {
  const mib = 1024 * 1024;
  const def = await runDetached(h.d, { name: uniq('swdef'), hostConfig: { Memory: 64 * mib } });
  assert.equal((await inspect(h.d, def)).HostConfig.MemorySwap, 128 * mib);
  assert.equal(memcg(def, 'memory.limit_in_bytes'), String(64 * mib));
  assert.equal(memcg(def, 'memory.memsw.limit_in_bytes'), String(128 * mib));
  const set = await runDetached(h.d, { name: uniq('swset'), hostConfig: { Memory: 64 * mib, MemorySwap: 96 * mib } });
  assert.equal(memcg(set, 'memory.memsw.limit_in_bytes'), String(96 * mib));
  const unl = await runDetached(h.d, { name: uniq('swunl'), hostConfig: { Memory: 64 * mib, MemorySwap: -1 } });
  assert.equal((await inspect(h.d, unl)).HostConfig.MemorySwap, -1);
  assert.ok(Number(memcg(unl, 'memory.memsw.limit_in_bytes')) > 1024 * 1024 * mib, 'memsw should be unlimited');
  const info = await h.d.api('GET', '/v1.41/info');
  assert.equal(info.json.SwapLimit, true);
  for (const id of [def, set, unl]) await rm(h.d, id);
});

test('--log-opt max-size: the log file stays near the limit and logs show the newest lines', async () => {
  const id = await runDetached(h.d, {
    name: uniq('maxsize'),
    hostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '64k', 'max-file': '1' } } },
    cmd: [
      'sh',
      '-c',
      'i=0; while [ $i -lt 20000 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done; echo last-line; sleep 600',
    ],
  });
  const logPath = (await inspect(h.d, id)).LogPath as string;
  await waitFor(
    'the last line',
    async () => (await h.d.api('GET', `/v1.41/containers/${id}/logs?stdout=1&tail=5`)).body.includes('last-line'),
    60_000,
    200,
  );
  // 20000 lines of ~90 bytes (with the k8s-file prefix) would be ~1.8 MB.
  const size = statSync(logPath).size;
  assert.ok(size <= 64 * 1024, `log file is ${size} bytes with max-size=64k`);
  const all = (await h.d.api('GET', `/v1.41/containers/${id}/logs?stdout=1`)).raw;
  assert.ok(all.length < 64 * 1024 && all.length > 0, `logs returned ${all.length} bytes`);
  await rm(h.d, id);
});

test("--log-driver none: no log file, logs answers docker's error, the container runs", async () => {
  const id = await runDetached(h.d, {
    name: uniq('nolog'),
    hostConfig: { LogConfig: { Type: 'none', Config: {} } },
    cmd: ['sh', '-c', 'echo hello; sleep 600'],
  });
  const c = await inspect(h.d, id);
  assert.equal(c.State.Running, true);
  assert.equal(c.HostConfig.LogConfig.Type, 'none');
  const e = await exec(h.d, id, ['echo', 'exec works']);
  assert.equal(e.stdout, 'exec works\n');
  const l = await h.d.api('GET', `/v1.41/containers/${id}/logs?stdout=1`);
  assert.equal(l.status, 501, l.body);
  assert.equal(l.json?.message, 'configured logging driver does not support reading');
  assert.equal(c.LogPath, '');
  assert.equal(existsSync(join(dirname(c.HostnamePath as string), 'ctr.log')), false, 'a log file was written');
  await rm(h.d, id);
});

test('--log-driver json-file and k8s-file are accepted and logged', async () => {
  for (const type of ['json-file', 'k8s-file', '']) {
    const r = await runToEnd(h.d, {
      name: uniq('logd'),
      cmd: ['echo', `via ${type}`],
      hostConfig: { LogConfig: { Type: type, Config: {} } },
    });
    assert.equal(r.stdout, `via ${type}\n`);
    await rm(h.d, r.id);
  }
  const id = await create(h.d, {
    cmd: ['true'],
    hostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } } },
  });
  assert.deepEqual((await inspect(h.d, id)).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m' } });
  await rm(h.d, id);
});

test('a container killed by the OOM killer: State.OOMKilled, exit 137, an oom event before die; a normal exit is not OOMKilled', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const mib = 1024 * 1024;
  // dd's 64 MiB buffer, filled from /dev/zero, cannot fit in 8 MiB of memory + 8 MiB of swap.
  const r = await runToEnd(h.d, {
    name: uniq('oom'),
    cmd: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
    hostConfig: { Memory: 8 * mib, MemorySwap: 16 * mib },
  });
  assert.equal(r.code, 137, r.stderr);
  const st = (await inspect(h.d, r.id)).State;
  assert.equal(st.OOMKilled, true);
  const ev = await h.d.api(
    'GET',
    `/v1.41/events?since=${since}&until=${Math.ceil(Date.now() / 1000)}&filters=${encodeURIComponent(JSON.stringify({ container: [r.id] }))}`,
  );
  const actions = ev.body
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Action: string }).Action);
  assert.ok(actions.includes('oom'), `events: ${actions.join(',')}`);
  assert.ok(actions.indexOf('oom') < actions.indexOf('die'), `events: ${actions.join(',')}`);
  // conmon drops an `oom` marker in its working directory: that is the container's, never the daemon's
  assert.equal(existsSync(join(process.cwd(), 'oom')), false, "a stray oom file in the daemon's working directory");
  const ok = await runToEnd(h.d, {
    name: uniq('nooom'),
    cmd: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1M', 'count=1'],
    hostConfig: { Memory: 8 * mib },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await inspect(h.d, ok.id)).State.OOMKilled, false);
  await rm(h.d, r.id);
  await rm(h.d, ok.id);
});

test('logs -f follows a max-size log across the restarts of its file, to the last line', async () => {
  const id = await create(h.d, {
    name: uniq('follow'),
    hostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '16k' } } },
    cmd: [
      'sh',
      '-c',
      'i=0; while [ $i -lt 3000 ]; do echo "line $i ........................................"; i=$((i+1)); [ $((i % 100)) -eq 0 ] && sleep 0.1; done; echo the-end',
    ],
  });
  const st = await h.d.api('POST', `/v1.41/containers/${id}/start`);
  assert.equal(st.status, 204, st.body);
  const r = await h.d.api('GET', `/v1.41/containers/${id}/logs?follow=1&stdout=1`, undefined, { timeoutMs: 60_000 });
  assert.equal(r.status, 200);
  const text = r.raw.toString('latin1');
  assert.match(text, /the-end\n$/, 'the follower stopped reading when the log file started afresh');
  assert.match(text, /line 2999 /);
  await rm(h.d, id);
});
