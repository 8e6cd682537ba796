// 32-bit roots: a root whose program is a static i386 ELF (cocon's tiny uname(2) program: it prints
// utsname.machine) runs and reports `uname -m` = i686, natively under the i686 personality where
// the kernel runs 32-bit code, and through qemu-i386-static in a private binfmt_misc (user
// namespace) where it does not, or when COCON_CHROOT_EMULATE=1 forces that path; the host's
// binfmt_misc is untouched. No debootstrap (a full i386 Debian root takes minutes under
// emulation); the real Debian i386 program is busybox-static:i386 from the bookworm mirror (one
// .deb, fetched over http and unpacked with dpkg-deb). Needs qemu-user-static (scripts/test
// installs it) and the Debian mirror.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { CLI_MAIN, run, type RunResult } from '../helpers/daemon.js';
import { tinyElf32Uname } from '../../src/chroot/validate.js';

const BASE = process.env.COCON_TEST_TMP ?? tmpdir();
mkdirSync(BASE, { recursive: true });
const DATA = mkdtempSync(join(BASE, 'chroot-i386-'));
const HOSTDIR = mkdtempSync(join(BASE, 'chroot-i386-host-'));

function chroot(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'chroot', '--data-root', DATA, ...args], { timeoutMs: 60_000, env });
}
function binfmtState(): string {
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc/sys/fs/binfmt_misc').sort();
  } catch {
    /* not there */
  }
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('binfmt_misc'));
  return JSON.stringify({ entries, mounts });
}

after(async () => {
  for (const n of ['x32', 'bb32']) await chroot(['rm', '-f', n]);
  rmSync(DATA, { recursive: true, force: true });
  rmSync(HOSTDIR, { recursive: true, force: true });
});

test('an i386 root runs a 32-bit binary: uname -m is i686, natively or emulated as the kernel allows', async () => {
  const prog = join(HOSTDIR, 'uname32');
  writeFileSync(prog, tinyElf32Uname(), { mode: 0o755 });
  const file = await run('file', ['-b', prog]);
  assert.match(file.stdout, /^ELF 32-bit LSB executable, Intel 80386/);
  const hostBinfmt = binfmtState();
  const j = await chroot(['jail', 'x32', '--program', prog]);
  assert.equal(j.code, 0, j.stderr);
  const i = JSON.parse((await chroot(['inspect', 'x32'])).stdout)[0];
  assert.equal(i.Architecture, 'i386');
  assert.ok(['native32', 'emulated'].includes(i.Execution.Mode), JSON.stringify(i.Execution));
  console.log(`# this kernel: i386 runs ${i.Execution.Mode} (${i.Execution.Reason})`);
  const r = await chroot(['run', 'x32']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'i686\n');
  assert.equal(binfmtState(), hostBinfmt, "the host's binfmt_misc changed");
});

test('the emulation path: qemu-i386-static registered in a private binfmt_misc, host registrations untouched', async () => {
  assert.ok(existsSync('/usr/bin/qemu-i386-static'), 'qemu-user-static is not installed');
  const hostBinfmt = binfmtState();
  const env = { COCON_CHROOT_EMULATE: '1' };
  const i = JSON.parse((await chroot(['inspect', 'x32'], env)).stdout)[0];
  assert.equal(i.Execution.Mode, 'emulated');
  assert.equal(i.Execution.Interpreter, '/usr/bin/qemu-i386-static');
  assert.match(i.Execution.Reason, /private binfmt_misc/);
  for (let k = 0; k < 3; k++) {
    const r = await chroot(['run', 'x32'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'i686\n');
  }
  assert.equal(binfmtState(), hostBinfmt, "the host's binfmt_misc changed");
});

const MIRROR = 'http://deb.debian.org/debian';
function download(url: string): Promise<Buffer> {
  return new Promise((res, rej) => {
    const req = get(url, (r) => {
      if (r.statusCode !== 200) {
        r.resume();
        rej(new Error(`GET ${url}: ${r.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res(Buffer.concat(chunks)));
    });
    req.on('error', rej);
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${url}: timeout`)));
  });
}

test("Debian bookworm's i386 busybox-static runs in an i386 root: a 32-bit ELF, uname -m i686, native and emulated", async () => {
  const index = gunzipSync(await download(`${MIRROR}/dists/bookworm/main/binary-i386/Packages.gz`)).toString('utf8');
  const stanza = index.split('\n\n').find((s) => /^Package: busybox-static$/m.test(s));
  const filename = stanza && /^Filename: (\S+)$/m.exec(stanza)?.[1];
  assert.ok(filename, 'busybox-static not in the i386 index');
  const deb = join(HOSTDIR, 'busybox-static_i386.deb');
  writeFileSync(deb, await download(`${MIRROR}/${filename}`));
  const x = join(HOSTDIR, 'bb32');
  assert.equal((await run('dpkg-deb', ['-x', deb, x])).code, 0);
  const prog = join(x, 'bin/busybox');
  const file = await run('file', ['-b', prog]);
  assert.match(file.stdout, /^ELF 32-bit LSB .*Intel 80386/);
  const j = await chroot(['jail', 'bb32', '--program', prog, '--user', 'web:20081']);
  assert.equal(j.code, 0, j.stderr);
  const i = JSON.parse((await chroot(['inspect', 'bb32'])).stdout)[0];
  assert.equal(i.Architecture, 'i386');
  for (const env of [{}, { COCON_CHROOT_EMULATE: '1' }] as Record<string, string>[]) {
    const r = await chroot(['run', 'bb32', '--', prog, 'sh', '-c', 'uname -m; id -u'], env);
    assert.equal(r.code, 0, `${JSON.stringify(env)}: ${r.stderr}`);
    const [m, uid] = r.stdout.trim().split('\n');
    assert.equal(m, 'i686', JSON.stringify(env));
    assert.equal(uid, '20081');
  }
});
