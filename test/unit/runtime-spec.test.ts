// Unit tests for the OCI spec builder, capabilities and the default seccomp profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSpec,
  containerCaps,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  type SpecInput,
  type OciSpec,
} from '../../src/runtime/spec.js';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  capsFromMask,
  normalizeCap,
  tweakCapabilities,
} from '../../src/runtime/caps.js';
import { defaultSeccomp, allProfileSyscalls, CLONE_NAMESPACE_FLAGS } from '../../src/runtime/seccomp.js';

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    args: ['sh', '-c', 'echo hi'],
    env: ['PATH=/usr/bin:/bin', 'HOSTNAME=abc'],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [10] },
    terminal: false,
    hostname: 'abc',
    rootfsPath: '/var/lib/cocon/containers/abc/rootfs',
    readonlyRootfs: false,
    privileged: false,
    capAdd: [],
    capDrop: [],
    networkMode: 'none',
    mounts: [],
    cgroupsPath: '/cocon/abc',
    rlimitNofileHard: 20000,
    noNewPrivileges: false,
    seccomp: true,
    ...over,
  };
}

const sorted = (a: readonly string[]) => [...a].sort();
const mount = (s: OciSpec, dest: string) => s.mounts.find((m) => m.destination === dest);

test('default spec: version, process, root, hostname, cgroupsPath', () => {
  const s = buildSpec(input());
  assert.equal(s.ociVersion, '1.0.2');
  assert.deepEqual(s.process.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(s.process.env, ['PATH=/usr/bin:/bin', 'HOSTNAME=abc']);
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.terminal, false);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [10] });
  assert.equal(s.process.noNewPrivileges, false);
  assert.equal('oomScoreAdj' in s.process, false);
  assert.deepEqual(s.root, { path: '/var/lib/cocon/containers/abc/rootfs', readonly: false });
  assert.equal(s.hostname, 'abc');
  assert.equal(s.linux.cgroupsPath, '/cocon/abc');
  // plain JSON (no undefined, no bigint): survives a round trip unchanged
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test("default capabilities are docker's 14 in bounding/effective/permitted, no inheritable", () => {
  const s = buildSpec(input());
  const c = s.process.capabilities!;
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  for (const set of [c.bounding!, c.effective!, c.permitted!])
    assert.deepEqual(sorted(set), sorted(DEFAULT_CAPABILITIES));
  assert.equal(c.inheritable, undefined);
  assert.equal(c.ambient, undefined);
  // docker's default CapEff mask, as seen in a docker container's /proc/self/status
  assert.deepEqual(sorted(capsFromMask('00000000a80425fb')), sorted(DEFAULT_CAPABILITIES));
});

test('capability list: 41 caps up to CAP_CHECKPOINT_RESTORE in bit order', () => {
  assert.equal(ALL_CAPABILITIES.length, 41);
  assert.equal(ALL_CAPABILITIES[0], 'CAP_CHOWN');
  assert.equal(ALL_CAPABILITIES[21], 'CAP_SYS_ADMIN');
  assert.equal(ALL_CAPABILITIES[24], 'CAP_SYS_RESOURCE');
  assert.equal(ALL_CAPABILITIES[40], 'CAP_CHECKPOINT_RESTORE');
  assert.equal(new Set(ALL_CAPABILITIES).size, 41);
  // this host: everything but CAP_SYS_RESOURCE
  const host = capsFromMask('000001fffeffffff');
  assert.equal(host.length, 40);
  assert.equal(host.includes('CAP_SYS_RESOURCE'), false);
});

test('cap names: case, CAP_ prefix, ALL, unknown -> docker error', () => {
  assert.equal(normalizeCap('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCap('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCap('cap_sys_admin'), 'CAP_SYS_ADMIN');
  assert.equal(normalizeCap('all'), 'ALL');
  assert.throws(() => normalizeCap('foo'), { message: 'unknown capability: "CAP_FOO"' });
  assert.throws(() => buildSpec(input({ capAdd: ['CAP_FOO'] })), { message: 'unknown capability: "CAP_FOO"' });
  assert.throws(() => buildSpec(input({ capDrop: ['bogus'] })), { message: 'unknown capability: "CAP_BOGUS"' });
});

test('cap-add / cap-drop', () => {
  let s = buildSpec(input({ capAdd: ['net_admin'], capDrop: ['CAP_MKNOD', 'chown'] }));
  let eff = s.process.capabilities!.effective!;
  assert.ok(eff.includes('CAP_NET_ADMIN'));
  assert.ok(!eff.includes('CAP_MKNOD'));
  assert.ok(!eff.includes('CAP_CHOWN'));
  assert.equal(eff.length, 13);
  assert.deepEqual(s.process.capabilities!.bounding, eff);
  assert.deepEqual(s.process.capabilities!.permitted, eff);

  // drop ALL then add
  s = buildSpec(input({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] }));
  assert.deepEqual(s.process.capabilities!.effective, ['CAP_NET_BIND_SERVICE']);
  s = buildSpec(input({ capDrop: ['all'] }));
  assert.deepEqual(s.process.capabilities!.bounding, []);

  // add ALL, drop some
  s = buildSpec(input({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] }));
  eff = s.process.capabilities!.effective!;
  assert.equal(eff.length, 40);
  assert.ok(!eff.includes('CAP_SYS_ADMIN'));

  // add ALL and drop ALL: docker keeps all
  assert.equal(tweakCapabilities(DEFAULT_CAPABILITIES, ['ALL'], ['ALL']).length, 41);
  // no duplicates when adding a default cap
  assert.equal(tweakCapabilities(DEFAULT_CAPABILITIES, ['CHOWN'], []).length, 14);
});

test('availableCaps limits "everything" but keeps explicitly named caps', () => {
  const avail = capsFromMask('000001fffeffffff');
  assert.equal(containerCaps({ privileged: true, capAdd: [], capDrop: [], availableCaps: avail }).length, 40);
  assert.equal(containerCaps({ privileged: true, capAdd: [], capDrop: [] }).length, 41);
  const all = containerCaps({ privileged: false, capAdd: ['ALL'], capDrop: [], availableCaps: avail });
  assert.ok(!all.includes('CAP_SYS_RESOURCE'));
  const named = containerCaps({ privileged: false, capAdd: ['SYS_RESOURCE'], capDrop: [], availableCaps: avail });
  assert.ok(named.includes('CAP_SYS_RESOURCE'));
});

test('default mounts like docker, extra mounts appended after', () => {
  const extra = {
    destination: '/etc/hosts',
    source: '/run/cocon/abc/hosts',
    type: 'bind',
    options: ['rbind', 'rprivate', 'ro'],
  };
  const s = buildSpec(input({ mounts: [extra] }));
  assert.deepEqual(
    s.mounts.map((m) => m.destination),
    ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/hosts'],
  );
  assert.deepEqual(mount(s, '/proc'), {
    destination: '/proc',
    type: 'proc',
    source: 'proc',
    options: ['nosuid', 'noexec', 'nodev'],
  });
  assert.equal(mount(s, '/dev')!.type, 'tmpfs');
  assert.deepEqual(mount(s, '/dev')!.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
  assert.equal(mount(s, '/dev/pts')!.type, 'devpts');
  for (const o of ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'])
    assert.ok(mount(s, '/dev/pts')!.options!.includes(o));
  assert.equal(mount(s, '/sys')!.type, 'sysfs');
  assert.ok(mount(s, '/sys')!.options!.includes('ro'));
  assert.equal(mount(s, '/sys/fs/cgroup')!.type, 'cgroup');
  assert.ok(mount(s, '/sys/fs/cgroup')!.options!.includes('ro'));
  assert.equal(mount(s, '/dev/mqueue')!.type, 'mqueue');
  assert.equal(mount(s, '/dev/shm')!.type, 'tmpfs');
  assert.ok(mount(s, '/dev/shm')!.options!.includes('size=65536k'));
  assert.deepEqual(mount(s, '/etc/hosts'), extra);
});

test('a user mount replaces the default at the same destination; a user /dev replaces /dev/*', () => {
  let s = buildSpec(
    input({ mounts: [{ destination: '/dev/shm', source: '/host/shm', type: 'bind', options: ['rbind'] }] }),
  );
  const shm = s.mounts.filter((m) => m.destination === '/dev/shm');
  assert.equal(shm.length, 1);
  assert.equal(shm[0]!.source, '/host/shm');
  s = buildSpec(input({ mounts: [{ destination: '/dev', source: '/dev', type: 'bind', options: ['rbind'] }] }));
  assert.deepEqual(
    s.mounts.filter((m) => m.destination.startsWith('/dev')).map((m) => m.source),
    ['/dev'],
  );
});

test('masked and read-only paths like docker', () => {
  const s = buildSpec(input());
  assert.deepEqual(s.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.deepEqual(s.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  for (const p of ['/proc/kcore', '/proc/keys', '/sys/firmware', '/sys/devices/virtual/powercap', '/proc/scsi'])
    assert.ok(s.linux.maskedPaths!.includes(p), p);
  for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/bus', '/proc/fs', '/proc/irq'])
    assert.ok(s.linux.readonlyPaths!.includes(p), p);
});

test('device cgroup: deny all first, docker allowlist, no device nodes', () => {
  const s = buildSpec(input());
  const d = s.linux.resources!.devices!;
  assert.deepEqual(d[0], { allow: false, access: 'rwm' });
  const allowed = d.filter((r) => r.allow).map((r) => `${r.type} ${r.major}:${r.minor ?? '*'}`);
  for (const x of ['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:1', 'c 5:2', 'c 136:*'])
    assert.ok(allowed.includes(x), x);
  assert.ok(!d.some((r) => r.allow && r.type === 'a'));
  assert.ok(!d.some((r) => r.allow && r.major === undefined));
  assert.ok(d.some((r) => !r.allow && r.major === 10 && r.minor === 229)); // fuse denied
  assert.equal(s.linux.devices, undefined);
});

test('privileged: all caps, all devices, no masks, no seccomp, rw /sys and cgroup', () => {
  const s = buildSpec(input({ privileged: true, seccomp: true }));
  const c = s.process.capabilities!;
  assert.deepEqual(c.bounding, [...ALL_CAPABILITIES]);
  assert.deepEqual(c.effective, [...ALL_CAPABILITIES]);
  assert.deepEqual(c.permitted, [...ALL_CAPABILITIES]);
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.equal(s.linux.seccomp, undefined);
  assert.ok(mount(s, '/sys')!.options!.includes('rw'));
  assert.ok(!mount(s, '/sys')!.options!.includes('ro'));
  assert.ok(!mount(s, '/sys/fs/cgroup')!.options!.includes('ro'));
  // host devices are passed through when given
  const dev = { type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
  assert.deepEqual(buildSpec(input({ privileged: true, hostDevices: [dev] })).linux.devices, [dev]);
  assert.equal(buildSpec(input({ hostDevices: [dev] })).linux.devices, undefined);
});

test('rlimits: nofile clamped to the daemon hard limit; ulimits clamped likewise', () => {
  let s = buildSpec(input({ rlimitNofileHard: 20000 }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  s = buildSpec(input({ rlimitNofileHard: 4194304 }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
  s = buildSpec(input({ rlimitNofileHard: 20000, ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 65536 }] }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 1024 }]);
  s = buildSpec(input({ rlimitNofileHard: 20000, ulimits: [{ Name: 'nofile', Soft: 30000, Hard: 30000 }] }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  s = buildSpec(input({ ulimits: [{ Name: 'nproc', Soft: 100, Hard: 200 }], rlimitHard: { nproc: 150 } }));
  assert.deepEqual(
    s.process.rlimits!.find((r) => r.type === 'RLIMIT_NPROC'),
    { type: 'RLIMIT_NPROC', hard: 150, soft: 100 },
  );
  s = buildSpec(input({ ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }], rlimitHard: { core: 0 } }));
  assert.deepEqual(
    s.process.rlimits!.find((r) => r.type === 'RLIMIT_CORE'),
    { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
  );
  for (const r of s.process.rlimits!) assert.ok(r.soft <= r.hard);
});

test('readonly rootfs', () => {
  assert.equal(buildSpec(input({ readonlyRootfs: true })).root.readonly, true);
  assert.throws(() => buildSpec(input({ rootfsPath: 'relative/rootfs' })));
});

test('namespaces: none, host, netns', () => {
  const types = (s: OciSpec) => s.linux.namespaces.map((n) => n.type).sort();
  let s = buildSpec(input({ networkMode: 'none' }));
  assert.deepEqual(types(s), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(s.linux.namespaces.find((n) => n.type === 'network')!.path, undefined);
  s = buildSpec(input({ networkMode: 'host' }));
  assert.deepEqual(types(s), ['ipc', 'mount', 'pid', 'uts']);
  assert.equal(s.linux.sysctl, undefined); // net.* sysctls need a private netns
  s = buildSpec(input({ networkMode: 'netns', netnsPath: '/run/netns/cocon-abc' }));
  assert.deepEqual(types(s), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(s.linux.namespaces.find((n) => n.type === 'network')!.path, '/run/netns/cocon-abc');
  assert.throws(() => buildSpec(input({ networkMode: 'netns' })));
});

test('sysctls: docker defaults in a private netns, user values win', () => {
  const s = buildSpec(input({ sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024', 'kernel.msgmax': '65536' } }));
  assert.deepEqual(s.linux.sysctl, {
    'net.ipv4.ip_unprivileged_port_start': '1024',
    'net.ipv4.ping_group_range': '0 2147483647',
    'kernel.msgmax': '65536',
  });
});

test('sysctls: --network none on a host with IPv6 gets IPv6 off, as dockerd; a user net.ipv6.conf.* sysctl wins; a netns or no IPv6 gets nothing', () => {
  assert.equal(
    buildSpec(input({ networkMode: 'none', hostIpv6: true })).linux.sysctl!['net.ipv6.conf.all.disable_ipv6'],
    '1',
  );
  const user = buildSpec(
    input({ networkMode: 'none', hostIpv6: true, sysctls: { 'net.ipv6.conf.lo.disable_ipv6': '0' } }),
  );
  assert.equal(user.linux.sysctl!['net.ipv6.conf.all.disable_ipv6'], undefined);
  assert.equal(user.linux.sysctl!['net.ipv6.conf.lo.disable_ipv6'], '0');
  assert.equal(buildSpec(input({ networkMode: 'none' })).linux.sysctl!['net.ipv6.conf.all.disable_ipv6'], undefined);
  assert.equal(
    buildSpec(input({ networkMode: 'netns', netnsPath: '/run/netns/x', hostIpv6: true })).linux.sysctl![
      'net.ipv6.conf.all.disable_ipv6'
    ],
    undefined,
  );
  assert.equal(buildSpec(input({ networkMode: 'host', hostIpv6: true })).linux.sysctl, undefined);
});

test('init: /dev/init -- args, bind-mounted read-only', () => {
  const s = buildSpec(input({ initPath: '/usr/libexec/cocon/docker-init' }));
  assert.deepEqual(s.process.args, ['/dev/init', '--', 'sh', '-c', 'echo hi']);
  assert.deepEqual(mount(s, '/dev/init'), {
    destination: '/dev/init',
    type: 'bind',
    source: '/usr/libexec/cocon/docker-init',
    options: ['bind', 'ro'],
  });
  // after the /dev tmpfs, so that it is not hidden
  const idx = (d: string) => s.mounts.findIndex((m) => m.destination === d);
  assert.ok(idx('/dev/init') > idx('/dev'));
  assert.equal(mount(buildSpec(input()), '/dev/init'), undefined);
});

test('resources: memory, cpus, shares, pids', () => {
  let s = buildSpec(input());
  assert.deepEqual(Object.keys(s.linux.resources!), ['devices']);
  s = buildSpec(input({ memory: 64 * 1024 * 1024, nanoCpus: 1.5e9, cpuShares: 512, pidsLimit: 100 }));
  assert.deepEqual(s.linux.resources!.memory, { limit: 67108864 });
  assert.deepEqual(s.linux.resources!.cpu, { shares: 512, period: 100000, quota: 150000 });
  assert.deepEqual(s.linux.resources!.pids, { limit: 100 });
  s = buildSpec(input({ memory: 1 << 20, memorySwap: -1, pidsLimit: 0 }));
  assert.deepEqual(s.linux.resources!.memory, { limit: 1048576, swap: -1 });
  assert.equal(s.linux.resources!.pids, undefined);
});

test('terminal, noNewPrivileges, seccomp off', () => {
  const s = buildSpec(input({ terminal: true, noNewPrivileges: true, seccomp: false }));
  assert.equal(s.process.terminal, true);
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(s.linux.seccomp, undefined);
});

test('no additionalGids field when there are none', () => {
  const s = buildSpec(input({ user: { uid: 1000, gid: 1000, additionalGids: [] } }));
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000 });
});

// ---------------------------------------------------------------------------
// seccomp

function allowed(p: ReturnType<typeof defaultSeccomp>): Set<string> {
  const s = new Set<string>();
  for (const r of p.syscalls ?? []) if (r.action === 'SCMP_ACT_ALLOW' && !r.args) for (const n of r.names) s.add(n);
  return s;
}

test('seccomp: default profile shape', () => {
  const p = buildSpec(input()).linux.seccomp!;
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const a = allowed(p);
  // what a busybox shell, ps, wget, sleep need
  for (const n of [
    'read',
    'write',
    'openat',
    'execve',
    'fork',
    'vfork',
    'wait4',
    'getdents64',
    'nanosleep',
    'clock_nanosleep',
    'connect',
    'sendto',
    'recvfrom',
    'poll',
    'arch_prctl',
    'rt_sigaction',
    'exit_group',
    'newfstatat',
    'statx',
    'ptrace',
  ])
    assert.ok(a.has(n), n);
  // chroot is allowed through CAP_SYS_CHROOT (a default cap)
  assert.ok(a.has('chroot'));
  // privileged operations are not
  for (const n of [
    'mount',
    'umount2',
    'unshare',
    'setns',
    'reboot',
    'init_module',
    'kexec_load',
    'bpf',
    'perf_event_open',
    'open_by_handle_at',
    'sethostname',
    'settimeofday',
    'keyctl',
    'add_key',
    'userfaultfd',
    'swapon',
  ])
    assert.ok(!a.has(n), n);
  // no name twice in one rule, names are plain identifiers
  for (const r of p.syscalls!) {
    assert.equal(new Set(r.names).size, r.names.length);
    for (const n of r.names) assert.match(n, /^_?[a-z0-9_]+$/);
  }
  // socket(): every family but AF_ALG (38) and AF_VSOCK (40), as three OR-ed rules
  assert.deepEqual(
    p.syscalls!.filter((r) => r.names.includes('socket')).map((r) => r.args),
    [
      [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }],
      [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }],
      [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }],
    ],
  );
  // getrandom (glibc, OpenSSL) allowed; io_uring not (docker 25+)
  assert.ok(a.has('getrandom'));
  for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register']) assert.ok(!a.has(n), n);
});

test('seccomp: clone without CAP_SYS_ADMIN may not create namespaces; clone3 -> ENOSYS', () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES);
  const clone = p.syscalls!.filter((r) => r.names.includes('clone'));
  assert.equal(clone.length, 1);
  assert.deepEqual(clone[0]!.args, [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.equal(CLONE_NAMESPACE_FLAGS, 2114060288);
  const clone3 = p.syscalls!.find((r) => r.names.includes('clone3'))!;
  assert.equal(clone3.action, 'SCMP_ACT_ERRNO');
  assert.equal(clone3.errnoRet, 38);
});

test('seccomp: personality only for the allowed personas', () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES);
  const rules = p.syscalls!.filter((r) => r.names.includes('personality'));
  assert.deepEqual(
    rules.map((r) => r.args![0]!.value).sort((a, b) => a - b),
    [0, 8, 131072, 131080, 4294967295],
  );
  for (const r of rules) assert.equal(r.args![0]!.op, 'SCMP_CMP_EQ');
});

test('seccomp: capability groups open with the capability', () => {
  const admin = defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
  const a = allowed(admin);
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'sethostname']) assert.ok(a.has(n), n);
  assert.ok(!admin.syscalls!.some((r) => r.action === 'SCMP_ACT_ERRNO' && r.names.includes('clone3')));
  assert.ok(allowed(defaultSeccomp(['sys_time'])).has('settimeofday'));
  assert.ok(allowed(defaultSeccomp(['CAP_SYS_MODULE'])).has('finit_module'));
  assert.ok(allowed(defaultSeccomp(['CAP_DAC_READ_SEARCH'])).has('open_by_handle_at'));
  assert.ok(allowed(defaultSeccomp(['CAP_SYS_PTRACE'])).has('kcmp'));
  assert.ok(!allowed(defaultSeccomp(DEFAULT_CAPABILITIES)).has('kcmp'));
  assert.ok(!allowed(defaultSeccomp([])).has('chroot'));
  // cap-drop ALL: the spec's profile follows the container's capabilities
  assert.ok(!allowed(buildSpec(input({ capDrop: ['ALL'] })).linux.seccomp!).has('chroot'));
  assert.ok(allowed(buildSpec(input({ capAdd: ['SYS_ADMIN'] })).linux.seccomp!).has('mount'));
});

test('seccomp: profile size is docker-like', () => {
  const n = allowed(defaultSeccomp(DEFAULT_CAPABILITIES)).size;
  assert.ok(n > 300 && n < 400, String(n));
  assert.ok(allProfileSyscalls().length > n);
});

test('more resources: reservation, oom-kill-disable, cpu quota/period, cpuset', () => {
  const s = buildSpec(
    input({
      memoryReservation: 1 << 20,
      oomKillDisable: true,
      cpuQuota: 50000,
      cpuPeriod: 200000,
      cpusetCpus: '0-1',
      cpusetMems: '0',
    }),
  );
  assert.deepEqual(s.linux.resources!.memory, { reservation: 1048576, disableOOMKiller: true });
  assert.deepEqual(s.linux.resources!.cpu, { period: 200000, quota: 50000, cpus: '0-1', mems: '0' });
  // --cpus wins over quota/period
  const t = buildSpec(input({ nanoCpus: 2e9, cpuQuota: 1, cpuPeriod: 2 }));
  assert.deepEqual(t.linux.resources!.cpu, { period: 100000, quota: 200000 });
});

test('shm size and console size', () => {
  assert.ok(mount(buildSpec(input({ shmSize: 128 * 1024 * 1024 })), '/dev/shm')!.options!.includes('size=131072k'));
  assert.ok(mount(buildSpec(input()), '/dev/shm')!.options!.includes('size=65536k'));
  assert.deepEqual(buildSpec(input({ terminal: true, consoleSize: { height: 40, width: 120 } })).process.consoleSize, {
    height: 40,
    width: 120,
  });
  assert.equal(
    buildSpec(input({ terminal: false, consoleSize: { height: 40, width: 120 } })).process.consoleSize,
    undefined,
  );
});

test('ulimits: unknown names and soft > hard are refused', () => {
  assert.throws(() => buildSpec(input({ ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] })), {
    message: 'invalid ulimit type: bogus',
  });
  assert.throws(() => buildSpec(input({ ulimits: [{ Name: 'nproc', Soft: 10, Hard: 5 }] })), /soft limit/);
  const s = buildSpec(input({ ulimits: [{ Name: 'NOFILE', Soft: 100, Hard: 200 }] }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 200, soft: 100 }]);
});

test('ulimits: unlimited (-1) clamps to a known hard limit, else is left to inherit', () => {
  let s = buildSpec(input({ ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] }));
  assert.equal(
    s.process.rlimits!.find((r) => r.type === 'RLIMIT_CORE'),
    undefined,
  );
  s = buildSpec(input({ ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }], rlimitHard: { core: 4096 } }));
  assert.deepEqual(
    s.process.rlimits!.find((r) => r.type === 'RLIMIT_CORE'),
    { type: 'RLIMIT_CORE', hard: 4096, soft: 4096 },
  );
  s = buildSpec(input({ ulimits: [{ Name: 'nofile', Soft: -1, Hard: -1 }] }));
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  // every rlimit in the spec is a plain non-negative integer (runc reads uint64)
  for (const r of s.process.rlimits!)
    assert.ok(Number.isSafeInteger(r.hard) && r.hard >= 0 && Number.isSafeInteger(r.soft) && r.soft >= 0);
});
