// Issue 9 (parts 1-3) as an attacker plays it, through the real docker CLI: crafted image archives
// (load), crafted root filesystem tars (import), container-made symlinks and a container racing
// the copy with renameat2(RENAME_EXCHANGE) (cp in and out), symlinks planted in volumes and binds. Every test asserts that no file
// appears or changes on the host outside the target and that no host content comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { useDaemon, docker, uniq, waitFor } from '../helpers/daemon.js';
import { makeTar, type TarEntry } from '../integration/registry-helpers.js';

const h = useDaemon({ busybox: true });
let tmp: string; // the test's own files (archives, the swap program)
let hostDir: string; // a host directory an attacker aims at: must stay empty but for our marker
const MARK = 'HOST-SECRET-' + Math.random().toString(36).slice(2);
const ctrs: string[] = [];

before(() => {
  tmp = mkdtempSync('/tmp/cocon-escape-');
  hostDir = mkdtempSync('/tmp/cocon-target-');
  writeFileSync(join(hostDir, 'secret'), MARK + '\n', { mode: 0o600 });
});
after(async () => {
  for (const c of ctrs) await docker(h.d, ['rm', '-f', c]).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(hostDir, { recursive: true, force: true });
});

function hostDirUntouched(): void {
  assert.deepEqual(readdirSync(hostDir), ['secret']);
  assert.equal(readFileSync(join(hostDir, 'secret'), 'utf8'), MARK + '\n');
}

async function tarFile(name: string, entries: TarEntry[]): Promise<string> {
  const p = join(tmp, name);
  writeFileSync(p, await makeTar(entries));
  return p;
}

const rel = (abs: string) => abs.replace(/^\/+/, '');

// ---------------------------------------------------------------- load

test('load: nested symlinks (u -> ../.., u/w -> ../..) cannot write on the host; docker gets an error', async () => {
  const deep = Array(14).fill('a').join('/');
  const entries: TarEntry[] = [];
  for (let i = 1; i <= 14; i++) entries.push({ name: Array(i).fill('a').join('/') + '/', type: 'directory' });
  entries.push({ name: `${deep}/u`, type: 'symlink', linkname: Array(14).fill('..').join('/') });
  entries.push({ name: `${deep}/u/w`, type: 'symlink', linkname: Array(15).fill('..').join('/') });
  entries.push({ name: `w/${rel(hostDir)}/PWNED`, data: 'pwned\n' });
  entries.push({ name: `${deep}/u/w/${rel(hostDir)}/PWNED2`, data: 'pwned\n' });
  const plain = await tarFile('nested.tar', entries);
  const r = await docker(h.d, ['load', '-i', plain], { timeoutMs: 30_000 });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /invalid archive: no manifest\.json/);
  // the same with a manifest naming files through the links: refused while validating, before any write
  const withManifest = await tarFile('nested-m.tar', [
    ...entries,
    {
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `${deep}/u/w/etc/passwd`, RepoTags: ['pwn:1'], Layers: [`w/${rel(hostDir)}/secret`] },
      ]),
    },
  ]);
  const m = await docker(h.d, ['load', '-i', withManifest], { timeoutMs: 30_000 });
  assert.notEqual(m.code, 0, m.stdout);
  assert.match(m.stderr, /invalid archive: .* (points outside the archive|is missing)/);
  assert.ok(!m.stderr.includes(MARK) && !/root:x:0:0/.test(m.stderr));
  hostDirUntouched();
  assert.deepEqual(
    readdirSync(h.d.dataRoot).filter((x) => x.startsWith('tmp-load-')),
    [],
  );
});

test("load: a config through a symlink to the host is refused; manifest [] answers at once; null gets moby's error", async () => {
  const link = await tarFile('link.tar', [
    { name: 'cfg.json', type: 'symlink', linkname: `../../../../../../../..${hostDir}/secret` },
    { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['pwn:2'], Layers: [] }]) },
  ]);
  const l = await docker(h.d, ['load', '-i', link], { timeoutMs: 30_000 });
  assert.notEqual(l.code, 0);
  assert.match(l.stderr, /cfg\.json points outside the archive/);
  assert.ok(!l.stderr.includes(MARK));

  const empty = await tarFile('empty.tar', [{ name: 'manifest.json', data: '[]' }]);
  const t0 = Date.now();
  const e = await docker(h.d, ['load', '-i', empty], { timeoutMs: 20_000 });
  assert.ok(!e.timedOut, 'docker load of manifest [] never answered');
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(e.code, 0, e.stderr); // moby: [] is valid and loads nothing
  assert.equal(e.stdout, '');

  const nul = await tarFile('null.tar', [{ name: 'manifest.json', data: 'null' }]);
  const n = await docker(h.d, ['load', '-i', nul], { timeoutMs: 20_000 });
  assert.notEqual(n.code, 0);
  assert.match(n.stderr, /invalid manifest, manifest cannot be null \(but can be \[\]\)/);
  assert.equal((await docker(h.d, ['image', 'inspect', 'pwn:2'])).code, 1);
  hostDirUntouched();
});

// ---------------------------------------------------------------- import

test('import: ../, symlink-then-file and hard links to host files are refused; absolute names stay inside', async () => {
  const shadowLinks = lstatSync('/etc/shadow').nlink;
  const cases: Array<[string, TarEntry[], RegExp]> = [
    [
      'dotdot',
      [
        { name: 'ok', data: 'x' },
        { name: `../../../../../../..${hostDir}/PWNED`, data: 'x' },
      ],
      /'\.\.'/,
    ],
    [
      'symlink-then-file',
      [
        { name: 'l', type: 'symlink', linkname: hostDir },
        { name: 'l/PWNED', data: 'x' },
      ],
      /through a symlink/,
    ],
    [
      'relative-symlink-then-file',
      [
        { name: 'l', type: 'symlink', linkname: '../../../../../..' + hostDir },
        { name: 'l/PWNED', data: 'x' },
      ],
      /through a symlink/,
    ],
    ['hardlink-shadow', [{ name: 'h', type: 'link', linkname: '/etc/shadow' }], /missing entry/],
    ['hardlink-dotdot', [{ name: 'h', type: 'link', linkname: `../../../../../..${hostDir}/secret` }], /'\.\.'/],
    [
      'hardlink-via-symlink',
      [
        { name: 's', type: 'symlink', linkname: hostDir },
        { name: 'h', type: 'link', linkname: 's/secret' },
      ],
      /through a symlink/,
    ],
  ];
  for (const [name, entries, err] of cases) {
    const f = await tarFile(`import-${name}.tar`, entries);
    const r = await docker(h.d, ['import', f, `evil-${name}`]);
    assert.notEqual(r.code, 0, `${name}: ${r.stdout}`);
    assert.match(r.stderr, err, name);
    assert.equal((await docker(h.d, ['image', 'inspect', `evil-${name}`])).code, 1, name);
    hostDirUntouched();
    assert.equal(lstatSync('/etc/shadow').nlink, shadowLinks, name);
  }
  // absolute names count from the image root (as docker does): inside the image, never on the host
  const abs = await tarFile('import-abs.tar', [
    { name: `${hostDir}/ABS`, data: 'inside\n' },
    { name: 'bin/', type: 'directory' },
    { name: '/bin/abs-link', type: 'link', linkname: `/${rel(hostDir)}/ABS` },
  ]);
  const r = await docker(h.d, ['import', abs, 'abs-names']);
  assert.equal(r.code, 0, r.stderr);
  hostDirUntouched();
  const id = (await docker(h.d, ['create', 'abs-names', '/x'])).stdout.trim();
  ctrs.push(id);
  const out = await docker(h.d, ['cp', `${id}:${hostDir}/ABS`, '-']);
  assert.equal(out.code, 0, out.stderr);
  assert.ok(out.stdout.includes('inside\n'));
  // cp into the stopped container (its upper dir through an overlay mount), then back out
  const src = join(tmp, 'into-stopped');
  writeFileSync(src, 'stopped\n');
  const cin = await docker(h.d, ['cp', src, `${id}:/bin/`]);
  assert.equal(cin.code, 0, cin.stderr);
  const back = await docker(h.d, ['cp', `${id}:/bin/into-stopped`, '-']);
  assert.ok(back.stdout.includes('stopped\n'), back.stderr);
});

// ---------------------------------------------------------------- cp through container-made symlinks

async function runCtr(script: string, extra: string[] = []): Promise<string> {
  const name = uniq('esc');
  const r = await docker(h.d, ['run', '-d', '--name', name, ...extra, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  ctrs.push(name);
  await waitFor(
    'container setup',
    async () => (await docker(h.d, ['exec', name, 'test', '-e', '/tmp/ready'])).code === 0,
    15_000,
  );
  return name;
}

test('cp in: a container-made symlink to / cannot lead a copy onto the host', async () => {
  const c = await runCtr('ln -s / /tmp/hostroot && touch /tmp/ready && exec sleep 1000');
  // the request: one entry through the link, no directory entry
  const tar = await makeTar([{ name: `hostroot/${rel(hostDir)}/PWNED`, data: 'pwned\n' }]);
  const put = await h.d.api('PUT', `/containers/${c}/archive?path=/tmp`, undefined, {
    raw: tar,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(put.status, 200, put.body);
  hostDirUntouched();
  const inside = await docker(h.d, ['exec', c, 'cat', `${hostDir}/PWNED`]);
  assert.equal(inside.stdout, 'pwned\n', 'the file lands inside the container');
  // the real CLI: docker cp FILE ctr:/tmp/hostroot/<hostDir>/
  const src = join(tmp, 'PWNED-cli');
  writeFileSync(src, 'cli\n');
  await docker(h.d, ['exec', c, 'mkdir', '-p', `/tmp/hostroot${hostDir}`]);
  const cp = await docker(h.d, ['cp', src, `${c}:/tmp/hostroot${hostDir}/`]);
  assert.equal(cp.code, 0, cp.stderr);
  hostDirUntouched();
  assert.equal((await docker(h.d, ['exec', c, 'cat', `${hostDir}/PWNED-cli`])).stdout, 'cli\n');
  // a symlink entry in the tar, then a file through it: resolved inside the container's root
  const tar2 = await makeTar([
    { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
    { name: `up/${rel(hostDir)}/PWNED3`, data: 'x' },
  ]);
  const put2 = await h.d.api('PUT', `/containers/${c}/archive?path=/tmp`, undefined, {
    raw: tar2,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(put2.status, 200, put2.body);
  hostDirUntouched();
  assert.equal((await docker(h.d, ['exec', c, 'cat', `${hostDir}/PWNED3`])).stdout, 'x');
  // '..' entries are refused with an answer (400), the rest of the body drained
  const tar3 = await makeTar([
    { name: `../../../../../..${hostDir}/PWNED4`, data: 'x' },
    { name: 'big', data: Buffer.alloc(1 << 20) },
  ]);
  const put3 = await h.d.api('PUT', `/containers/${c}/archive?path=/tmp`, undefined, {
    raw: tar3,
    headers: { 'Content-Type': 'application/x-tar' },
    timeoutMs: 10_000,
  });
  assert.equal(put3.status, 400, put3.body);
  assert.match(put3.json.message, /'\.\.'/);
  hostDirUntouched();
});

test('cp out: a container-made symlink to / never returns host content', async () => {
  const c = await runCtr('ln -s / /tmp/hostroot && touch /tmp/ready && exec sleep 1000');
  for (const p of [
    `/tmp/hostroot${hostDir}/secret`,
    `/tmp/hostroot${hostDir}/`,
    '/tmp/hostroot/etc/shadow',
    `/tmp/hostroot/../../..${hostDir}/secret`,
  ]) {
    const r = await docker(h.d, ['cp', `${c}:${p}`, '-']);
    assert.ok(!r.stdout.includes(MARK), p);
    assert.notEqual(r.code, 0, `${p}: the path does not exist inside the container`);
  }
  // a plain cp out of a directory still works: names, contents, symlinks
  await docker(h.d, [
    'exec',
    c,
    'sh',
    '-c',
    'mkdir -p /tmp/tree/sub && echo hello > /tmp/tree/sub/f && ln -s sub/f /tmp/tree/l',
  ]);
  const out = join(tmp, 'tree-out');
  mkdirSync(out);
  const r = await docker(h.d, ['cp', `${c}:/tmp/tree`, out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'tree/sub/f'), 'utf8'), 'hello\n');
  assert.ok(lstatSync(join(out, 'tree/l')).isSymbolicLink());
});

// ---------------------------------------------------------------- cp through volumes and binds

test('cp through a volume or bind: a container-made symlink to / in it stays inside that mount (running and stopped)', async () => {
  const vol = uniq('escvol');
  const bindDir = mkdtempSync('/tmp/cocon-bind-');
  try {
    const c = await runCtr(
      `ln -s / /vol1/esc && ln -s ../../../../../../.. /vol1/up && ln -s / /bnd/esc && mkdir -p ${hostDir} && touch /tmp/ready && exec sleep 1000`,
      ['-v', `${vol}:/vol1`, '-v', `${bindDir}:/bnd`],
    );
    const mp = (await docker(h.d, ['volume', 'inspect', '-f', '{{.Mountpoint}}', vol])).stdout.trim();
    assert.ok(mp && existsSync(mp), mp);
    const attack = async (when: string) => {
      for (const p of [
        `/vol1/esc${hostDir}/secret`,
        `/vol1/up${hostDir}/secret`,
        `/bnd/esc${hostDir}/secret`,
        '/vol1/esc/etc/shadow',
        `/vol1/esc/../../..${hostDir}/secret`,
      ]) {
        const r = await docker(h.d, ['cp', `${c}:${p}`, '-']);
        assert.ok(!r.stdout.includes(MARK) && !/root:[^:]*:0:/.test(r.stdout), `${when} ${p}`);
        assert.notEqual(r.code, 0, `${when} ${p}: not in the volume`);
      }
      // in: a tar entry through the link, and the docker CLI into a directory through it
      const tar = await makeTar([{ name: `esc/${rel(hostDir)}/PWNED-${when}`, data: 'pwned\n' }]);
      for (const dest of ['/vol1', '/bnd']) {
        const put = await h.d.api('PUT', `/containers/${c}/archive?path=${dest}`, undefined, {
          raw: tar,
          headers: { 'Content-Type': 'application/x-tar' },
        });
        assert.equal(put.status, 200, `${when} ${dest}: ${put.body}`);
      }
      const src = join(tmp, `cli-${when}`);
      writeFileSync(src, 'cli\n');
      const cp = await docker(h.d, ['cp', src, `${c}:/vol1/esc/`]);
      assert.equal(cp.code, 0, cp.stderr);
      hostDirUntouched();
      // everything landed inside the mounts' host directories
      assert.equal(readFileSync(join(mp, rel(hostDir), `PWNED-${when}`), 'utf8'), 'pwned\n');
      assert.equal(readFileSync(join(bindDir, rel(hostDir), `PWNED-${when}`), 'utf8'), 'pwned\n');
      assert.equal(readFileSync(join(mp, `cli-${when}`), 'utf8'), 'cli\n');
      assert.ok(!existsSync(`/cli-${when}`));
    };
    await attack('running');
    assert.equal((await docker(h.d, ['stop', '-t', '0', c])).code, 0);
    await attack('stopped');
  } finally {
    rmSync(bindDir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- cp with a racing container

const SWAP_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  for (;;) if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */) != 0) { perror("renameat2"); return 1; }
}
`;

/** The swap program, built static at test time (gcc is in scripts/test's NEEDS). */
function swapBinary(): string {
  const dir = join(tmp, 'swapbin');
  if (!existsSync(join(dir, 'swap'))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'swap.c'), SWAP_C);
    execFileSync('cc', ['-static', '-O2', '-o', join(dir, 'swap'), join(dir, 'swap.c')]);
  }
  return dir;
}

/** A container that swaps /tmp/a (a real directory holding hostDir's path) and /tmp/b (-> /) forever. */
async function racer(): Promise<string> {
  const bin = swapBinary();
  const c = await runCtr(
    `mkdir -p /tmp/a${hostDir} && echo container > /tmp/a${hostDir}/secret && ln -s / /tmp/b && touch /tmp/ready && exec /swap/swap /tmp/a /tmp/b`,
    ['-v', `${bin}:/swap:ro`],
  );
  await waitFor(
    'the swap loop',
    async () => (await docker(h.d, ['exec', c, 'readlink', '/tmp/a'])).stdout.trim() === '/',
    10_000,
    20,
  );
  return c;
}

const RACE_MS = 40_000;

test('cp in with a racing container (renameat2 RENAME_EXCHANGE): nothing lands on the host', {
  timeout: 120_000,
}, async () => {
  const c = await racer();
  const src = join(tmp, 'race-in');
  writeFileSync(src, 'race\n');
  let tries = 0,
    ok = 0;
  const end = Date.now() + RACE_MS;
  while (Date.now() < end && tries < 400) {
    tries++;
    const r = await docker(h.d, ['cp', src, `${c}:/tmp/a${hostDir}/`]);
    if (r.code === 0) ok++;
    hostDirUntouched();
  }
  // the API directly, many more tries in the same kind of window
  const tar = await makeTar([
    { name: 'PWNED', data: 'x' },
    { name: 'd/', type: 'directory' },
    { name: 'd/PWNED', data: 'x' },
  ]);
  const end2 = Date.now() + RACE_MS / 2;
  let apiTries = 0;
  while (Date.now() < end2 && apiTries < 2000) {
    apiTries++;
    await h.d.api('PUT', `/containers/${c}/archive?path=/tmp/a${hostDir}`, undefined, {
      raw: tar,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  }
  hostDirUntouched();
  process.stderr.write(`cp in race: ${tries} docker cp (${ok} succeeded), ${apiTries} PUT\n`);
  assert.ok(tries >= 50, `only ${tries} tries`); // 400 on an idle 2-core machine, fewer under load
  assert.ok(ok > 0, 'no copy succeeded: the test did not exercise the copy');
});

test('cp out with a racing container (renameat2 RENAME_EXCHANGE): host content never comes back', {
  timeout: 120_000,
}, async () => {
  const c = await racer();
  let tries = 0,
    gotContainer = 0,
    missing = 0;
  const end = Date.now() + RACE_MS;
  while (Date.now() < end && tries < 400) {
    tries++;
    const r = await docker(h.d, ['cp', `${c}:/tmp/a${hostDir}/secret`, '-']);
    assert.ok(!r.stdout.includes(MARK), `try ${tries}: host content came back`);
    if (r.code === 0 && r.stdout.includes('container\n')) gotContainer++;
    else missing++;
  }
  let apiTries = 0;
  const end2 = Date.now() + RACE_MS / 2;
  while (Date.now() < end2 && apiTries < 2000) {
    apiTries++;
    const r = await h.d.api('GET', `/containers/${c}/archive?path=/tmp/a${hostDir}`);
    assert.ok(!r.raw.includes(MARK), `API try ${apiTries}: host content came back`);
  }
  process.stderr.write(
    `cp out race: ${tries} docker cp (${gotContainer} read the container's file, ${missing} found the link), ${apiTries} GET\n`,
  );
  assert.ok(tries >= 50, `only ${tries} tries`); // 400 on an idle 2-core machine, fewer under load
  assert.ok(gotContainer > 0 && missing > 0, 'the swap loop was not racing the copies');
  hostDirUntouched();
  assert.equal(statSync(join(hostDir, 'secret')).mode & 0o777, 0o600);
});
