// The brief's third point through the real docker CLI: a default container cannot break out (mount,
// module load, sysrq, /sys/firmware, user namespaces, keyctl, the chroot escape; raw sockets after
// --cap-drop NET_RAW, mknod after --cap-drop MKNOD), and the least-privilege tools work for real:
// --security-opt no-new-privileges and seccomp=unconfined|profile.json, --device-cgroup-rule,
// --device, --group-add, the default pids limit against a process flood, --privileged said loudly,
// --userns=private refused. Each escape is also tried where it must succeed, so the test can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, docker, run, uniq, startDaemon } from '../helpers/daemon.js';

// Bridge, addresses and pools of their own: other test daemons run at the same time.
const tag = 100 + (process.pid % 100);
const net = (n: number) => [
  '--bridge',
  `clp${n}${process.pid.toString(36)}`,
  '--bip',
  `10.${tag}.${94 + n}.1/24`,
  '--default-address-pool',
  `base=10.${tag}.${192 + 16 * n}.0/20,size=24`,
];
const h = useDaemon({ busybox: true, args: net(0) });

// One static helper: each mode tries one thing and prints ALLOWED or BLOCKED <errno>.
const BREAKOUT_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <unistd.h>
static int say(int rc) { if (rc < 0) printf("BLOCKED %s\n", strerror(errno)); else printf("ALLOWED\n"); return 0; }
int main(int argc, char **argv) {
  const char *m = argv[1];
  if (!strcmp(m, "raw")) return say(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  if (!strcmp(m, "keyctl")) return say((int)syscall(SYS_add_key, "user", "cocon-test", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */));
  if (!strcmp(m, "userns")) return say(unshare(CLONE_NEWUSER));
  if (!strcmp(m, "mount")) { mkdir("/mnt", 0755); return say(mount("none", "/mnt", "tmpfs", 0, "")); }
  if (!strcmp(m, "module")) { static char img[64]; return say((int)syscall(SYS_init_module, img, sizeof img, "")); }
  if (!strcmp(m, "sysrq")) return say(open("/proc/sysrq-trigger", O_WRONLY));
  if (!strcmp(m, "mknod")) return say(mknod("/dev/null2", S_IFCHR | 0666, makedev(1, 3)));
  if (!strcmp(m, "chroot")) {
    /* the classic escape: chroot into a subdir while keeping a cwd outside it, then walk up */
    mkdir("/jail", 0755);
    if (chroot("/jail") < 0) return say(-1);
    for (int i = 0; i < 64; i++) if (chdir("..") < 0) break;
    if (chroot(".") < 0) return say(-1);
    return say(access(argv[2], F_OK));
  }
  fprintf(stderr, "unknown mode %s\n", m); return 2;
}`;

/** Compiles the helper once, into the daemon's temp root (swept with it); returns its dir. */
let tools: Promise<string> | undefined;
function toolDir(): Promise<string> {
  tools ??= (async () => {
    const dir = join(h.d.root, 'tools');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'breakout.c'), BREAKOUT_C);
    const cc = await run('cc', ['-static', '-O1', '-o', join(dir, 'breakout'), join(dir, 'breakout.c')], {
      timeoutMs: 120_000,
    });
    assert.equal(cc.code, 0, cc.stderr);
    return dir;
  })();
  return tools;
}

/** docker run --rm [flags] busybox /t/breakout MODE [arg]: the helper's one line. */
async function tryIt(mode: string, flags: string[] = [], arg: string[] = []): Promise<string> {
  const r = await docker(h.d, [
    'run',
    '--rm',
    '-v',
    `${await toolDir()}:/t:ro`,
    ...flags,
    'busybox',
    '/t/breakout',
    mode,
    ...arg,
  ]);
  assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
  return r.stdout.trim();
}

test('break-out attempts from a default container are refused', async () => {
  assert.match(await tryIt('mount'), /^BLOCKED Operation not permitted/);
  assert.match(await tryIt('module'), /^BLOCKED Operation not permitted/);
  // Read-only where the kernel has it (CONFIG_MAGIC_SYSRQ); absent from this host's kernel otherwise.
  assert.match(
    await tryIt('sysrq'),
    existsSync('/proc/sysrq-trigger') ? /^BLOCKED Read-only file system/ : /^BLOCKED No such file or directory/,
  );
  assert.match(await tryIt('keyctl'), /^BLOCKED Operation not permitted/);
  assert.match(await tryIt('userns'), /^BLOCKED Operation not permitted/);
  const sh = await docker(h.d, [
    'run',
    '--rm',
    'busybox',
    'sh',
    '-c',
    'ls -A /sys/firmware | wc -l; unshare -U true 2>&1; echo rc=$?; mkdir -p /mnt; mount -t tmpfs x /mnt 2>&1; echo rc=$?',
  ]);
  assert.equal(sh.code, 0, sh.stderr);
  const [fw, ...rest] = sh.stdout.split('\n');
  assert.equal(fw.trim(), '0', '/sys/firmware is not masked');
  assert.ok(
    readdirSync('/sys/firmware').length > 0,
    'the host has /sys/firmware entries: the check above means something',
  );
  assert.match(
    rest.join('\n'),
    /^unshare: .*Operation not permitted\nrc=1\nmount: permission denied \(are you root\?\)\nrc=1$/m,
  );
  // The chroot trick stays inside the container's own root: a host file is not reachable.
  const marker = join(h.d.root, `host-only-${uniq('m')}`);
  writeFileSync(marker, 'host');
  assert.equal(await tryIt('chroot', [], [marker]), 'BLOCKED No such file or directory');
  assert.equal(await tryIt('chroot', [], ['/t/breakout']), 'ALLOWED', 'the walk-up must land on the container root');
});

test('raw sockets after --cap-drop NET_RAW and mknod after --cap-drop MKNOD are refused (allowed by default)', async () => {
  assert.equal(await tryIt('raw'), 'ALLOWED');
  assert.match(await tryIt('raw', ['--cap-drop', 'NET_RAW']), /^BLOCKED Operation not permitted/);
  assert.equal(await tryIt('mknod'), 'ALLOWED');
  assert.match(await tryIt('mknod', ['--cap-drop', 'MKNOD']), /^BLOCKED Operation not permitted/);
  // --privileged really opens what the defaults close (the helper is not broken).
  assert.equal(await tryIt('mount', ['--privileged']), 'ALLOWED');
});

test('--security-opt no-new-privileges and seccomp=unconfined|profile.json', async () => {
  const status = (flags: string[]) =>
    docker(h.d, ['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status']);
  assert.match((await status([])).stdout, /NoNewPrivs:\s+0\nSeccomp:\s+2/);
  assert.match((await status(['--security-opt', 'no-new-privileges'])).stdout, /NoNewPrivs:\s+1/);
  assert.match((await status(['--security-opt', 'no-new-privileges=true'])).stdout, /NoNewPrivs:\s+1/);
  assert.match((await status(['--security-opt', 'seccomp=unconfined'])).stdout, /Seccomp:\s+0/);
  const profile = join(h.d.root, 'no-mkdir.json');
  writeFileSync(
    profile,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { name: 'chmod', action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
      ],
    }),
  );
  const name = uniq('prof');
  const r = await docker(h.d, [
    'run',
    '--name',
    name,
    '--security-opt',
    `seccomp=${profile}`,
    'busybox',
    'sh',
    '-c',
    'mkdir /x 2>&1; chmod 600 /etc/hostname && echo chmod-ok; grep Seccomp: /proc/self/status',
  ]);
  assert.match(r.stdout, /mkdir: can't create directory '\/x': Permission denied/);
  assert.match(r.stdout, /chmod-ok/, 'a rule for CAP_SYS_ADMIN must not apply without it');
  assert.match(r.stdout, /Seccomp:\s+2/);
  assert.match((await docker(h.d, ['inspect', '-f', '{{json .HostConfig.SecurityOpt}}', name])).stdout, /seccomp=\{/);
  await docker(h.d, ['rm', name]);
  const bad: Array<[string, RegExp]> = [
    ['bar=1', /invalid --security-opt 2: "bar=1"/],
    ['no-new-privileges=maybe', /invalid --security-opt 2: "no-new-privileges=maybe"/],
    ['apparmor=docker-default', /AppArmor is not enabled/],
  ];
  const api = await h.d.api('POST', `/v1.41/containers/create?name=${uniq('so')}`, {
    Image: 'busybox',
    HostConfig: { SecurityOpt: ['foo'] },
  });
  assert.equal(api.status, 400);
  assert.equal(api.json.message, 'invalid --security-opt 1: "foo"');
  for (const [opt, msg] of bad) {
    const b = await docker(h.d, ['run', '--rm', '--security-opt', opt, 'busybox', 'true']);
    assert.equal(b.code, 125, opt);
    assert.match(b.stderr, msg, opt);
  }
});

test('--device-cgroup-rule and --device: the device cgroup opens exactly what is asked', async () => {
  const probe = 'mknod /tmp/d42 c 42 0 && cat /tmp/d42 2>&1; true';
  const closed = await docker(h.d, ['run', '--rm', 'busybox', 'sh', '-c', probe]);
  assert.match(closed.stdout, /Operation not permitted/);
  const open = await docker(h.d, ['run', '--rm', '--device-cgroup-rule', 'c 42:* rmw', 'busybox', 'sh', '-c', probe]);
  assert.match(open.stdout, /No such device or address/, 'with the rule the kernel reaches the (absent) driver');
  const bad = await docker(h.d, ['run', '--rm', '--device-cgroup-rule', 'x 1:2 rwm', 'busybox', 'true']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid device cgroup format/);
  const dev = await docker(h.d, [
    'run',
    '--rm',
    '--device',
    '/dev/kmsg:/dev/k:w',
    'busybox',
    'sh',
    '-c',
    'ls -l /dev/k; echo cocon-test > /dev/k && echo write-ok',
  ]);
  assert.match(dev.stdout, /^c.* 1,\s+11 .*\/dev\/k\nwrite-ok/m);
  const ro = await docker(h.d, [
    'run',
    '--rm',
    '--device',
    '/dev/kmsg:/dev/k:r',
    'busybox',
    'sh',
    '-c',
    'echo x > /dev/k 2>&1; true',
  ]);
  assert.match(ro.stdout + ro.stderr, /Operation not permitted/);
});

test("--group-add: names and numeric ids are the process's groups (id -G)", async () => {
  const r = await docker(h.d, ['run', '--rm', '--group-add', '1234', '--group-add', 'nobody', 'busybox', 'id', '-G']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split(' ')
      .map(Number)
      .sort((a, b) => a - b),
    [0, 1234, 65534],
  );
  const bad = await docker(h.d, ['run', '--rm', '--group-add', 'nosuchgroup', 'busybox', 'true']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Unable to find group nosuchgroup/);
});

test('default pids limit 2048: a flood of 3000 processes stays inside', async () => {
  const name = uniq('flood');
  const r = await docker(h.d, [
    'run',
    '-d',
    '--name',
    name,
    'busybox',
    'sh',
    '-c',
    // ash gives up at the first failed fork; the outer shell then needs no fork (exec) to stay.
    "sh -c 'i=0; while [ $i -lt 3000 ]; do sleep 300 & i=$((i+1)); done'; echo loop-finished; exec sleep 300",
  ]);
  assert.equal(r.code, 0, r.stderr);
  try {
    assert.equal((await docker(h.d, ['inspect', '-f', '{{.HostConfig.PidsLimit}}', name])).stdout.trim(), '2048');
    let logs = { stdout: '', stderr: '' };
    for (let i = 0; i < 240 && !/loop-finished/.test(logs.stdout); i++) {
      logs = await docker(h.d, ['logs', name]);
      await new Promise((s) => setTimeout(s, 500));
    }
    assert.match(logs.stdout, /loop-finished/);
    assert.match(logs.stderr, /can't fork|Resource temporarily unavailable/);
    const id = (await docker(h.d, ['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const cur = Number((await run('cat', [`/sys/fs/cgroup/pids/cocon/${id}/pids.current`])).stdout.trim());
    assert.ok(cur <= 2048 && cur > 1500, `pids.current ${cur}`);
    assert.equal((await run('cat', [`/sys/fs/cgroup/pids/cocon/${id}/pids.max`])).stdout.trim(), '2048');
  } finally {
    await docker(h.d, ['rm', '-f', name], { timeoutMs: 120_000 });
  }
  const unl = await docker(h.d, ['create', '--pids-limit', '-1', 'busybox', 'true']);
  assert.equal(
    (await docker(h.d, ['inspect', '-f', '{{.HostConfig.PidsLimit}}', unl.stdout.trim()])).stdout.trim(),
    '-1',
  );
  await docker(h.d, ['rm', unl.stdout.trim()]);
});

test('--privileged is said loudly: the CLI warning, privileged=true in events; --userns refused', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const name = uniq('priv');
  const r = await docker(h.d, ['run', '--name', name, '--privileged', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /^WARNING: --privileged grants every capability \(\d+: CHOWN, .*SYS_ADMIN.*\), every host device/m,
  );
  const plain = await docker(h.d, ['run', '--rm', 'busybox', 'true']);
  assert.doesNotMatch(plain.stderr, /WARNING/);
  const ev = await docker(h.d, [
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.floor(Date.now() / 1000) + 1),
    '--filter',
    `container=${name}`,
    '--format',
    '{{.Action}} {{index .Actor.Attributes "privileged"}}',
  ]);
  assert.match(ev.stdout, /^create true$/m);
  assert.match(ev.stdout, /^start true$/m);
  await docker(h.d, ['rm', name]);
  const u = await h.d.api('POST', `/v1.41/containers/create?name=${uniq('userns')}`, {
    Image: 'busybox',
    HostConfig: { UsernsMode: 'private' },
  });
  assert.equal(u.status, 400);
  assert.match(u.json.message, /invalid USERNS mode: private/);
});

test('daemon defaults: --no-new-privileges and --default-pids-limit', async () => {
  const d = await startDaemon({ args: ['--no-new-privileges', '--default-pids-limit', '100', ...net(1)] });
  try {
    await (await import('../helpers/daemon.js')).bootstrapBusybox(d);
    const a = await docker(d, ['run', '--rm', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']);
    assert.match(a.stdout, /NoNewPrivs:\s+1/);
    const b = await docker(d, [
      'run',
      '--rm',
      '--security-opt',
      'no-new-privileges=false',
      'busybox',
      'grep',
      'NoNewPrivs',
      '/proc/self/status',
    ]);
    assert.match(b.stdout, /NoNewPrivs:\s+0/);
    const c = await docker(d, ['create', 'busybox', 'true']);
    assert.equal(
      (
        await docker(d, [
          'inspect',
          '-f',
          '{{.HostConfig.PidsLimit}} {{json .HostConfig.SecurityOpt}}',
          c.stdout.trim(),
        ])
      ).stdout.trim(),
      '100 ["no-new-privileges"]',
    );
  } finally {
    await d.stop();
  }
});
