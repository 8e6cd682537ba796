// Binary xattrs through the one tar codec, end to end on a real daemon: a layer made by GNU tar
// (--xattrs) whose file carries a security.capability (bytes >= 0x80, not UTF-8) and a user.* xattr
// with every byte value 0..255 is loaded (docker load) and pulled (a real registry), and the file in
// the snapshot has both values byte for byte (getfattr -e hex); docker export of a container of that
// image carries them byte for byte too (extracted by GNU tar --xattrs, read back with getfattr), and
// docker commit keeps the security.capability of a file the container changed.
// Needs root, attr (setfattr/getfattr), GNU tar, docker-registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, bootstrapBusybox, type Daemon } from '../helpers/daemon.js';
import { create, inspect, rm } from '../helpers/containers.js';
import { makeTar, pushRawImage, sha, startRegistry, type TestRegistry } from './registry-helpers.js';

// VFS_CAP_REVISION_2|EFFECTIVE, permitted = CAP_SETGID|CAP_SETUID|CAP_NET_RAW: 0xc0 is never UTF-8
const CAP = Buffer.from('01000002c0200000000000000000000000000000', 'hex');
const ALL = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

let d: Daemon;
let reg: TestRegistry;
let tmp: string;
let busyboxLayer: Buffer;

before(async () => {
  tmp = mkdtempSync('/tmp/cocon-xattrs-');
  reg = await startRegistry();
  d = await startDaemon();
  await bootstrapBusybox(d);
  busyboxLayer = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  ]);
});
after(async () => {
  await d?.stop();
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A layer tar made by GNU tar: bin/ping (content `tag`) with the binary xattrs. */
function gnuLayer(tag: string): Buffer {
  const src = join(tmp, `src-${tag}`);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'bin/ping'), tag);
  chmodSync(join(src, 'bin/ping'), 0o755);
  execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x' + CAP.toString('hex'), join(src, 'bin/ping')]);
  execFileSync('setfattr', ['-n', 'user.all', '-v', '0x' + ALL.toString('hex'), join(src, 'bin/ping')]);
  const out = join(tmp, `layer-${tag}.tar`);
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', src, '-cf', out, 'bin/ping']);
  return readFileSync(out);
}

function xattrHex(file: string, name: string): string {
  const out = execFileSync('getfattr', ['--absolute-names', '-e', 'hex', '-n', name, file]).toString();
  const m = out.match(new RegExp(`${name.replace('.', '\\.')}=0x([0-9a-f]+)`));
  assert.ok(m, `no ${name} on ${file}: ${out}`);
  return m[1];
}

/** The bin/ping in the image's top layer snapshot (inspect's GraphDriver UpperDir). */
async function snapshotFile(ref: string, content: string): Promise<string> {
  const img = (await d.api('GET', `/images/${encodeURIComponent(ref)}/json`)).json;
  const upper = img.GraphDriver?.Data?.UpperDir as string | undefined;
  const found = upper
    ? join(upper, 'bin/ping')
    : execFileSync('find', [join(d.dataRoot, 'overlay'), '-path', '*/bin/ping'])
        .toString()
        .trim()
        .split('\n')[0];
  assert.equal(readFileSync(found, 'utf8'), content, `wrong file ${found}`);
  return found;
}

function assertBinaryXattrs(file: string, what: string): void {
  assert.equal(xattrHex(file, 'security.capability'), CAP.toString('hex'), `${what}: security.capability`);
  assert.equal(xattrHex(file, 'user.all'), ALL.toString('hex'), `${what}: user.all`);
}

/** A docker-archive (docker save's layout) of an image made of `layers`. */
function dockerArchive(tag: string, layers: Buffer[]): Buffer {
  const dir = join(tmp, `archive-${tag}`);
  mkdirSync(dir);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map(sha) },
    }),
  );
  const cfgName = `${sha(config).slice(7)}.json`;
  writeFileSync(join(dir, cfgName), config);
  const names = layers.map((l, i) => {
    mkdirSync(join(dir, `l${i}`));
    writeFileSync(join(dir, `l${i}/layer.tar`), l);
    return `l${i}/layer.tar`;
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: cfgName, RepoTags: [tag], Layers: names }]));
  execFileSync('tar', ['-C', dir, '-cf', `${dir}.tar`, 'manifest.json', cfgName, ...names]);
  return readFileSync(`${dir}.tar`);
}

test('docker load: a GNU tar layer with binary security.capability and user.* xattrs lands byte for byte', async () => {
  const r = await d.api('POST', '/images/load?quiet=1', undefined, {
    raw: dockerArchive('xattrs:load', [busyboxLayer, gnuLayer('load')]),
    headers: { 'Content-Type': 'application/x-tar' },
    timeoutMs: 60_000,
  });
  assert.equal(r.status, 200, r.body);
  assert.ok(!/error/i.test(r.body), r.body);
  assertBinaryXattrs(await snapshotFile('xattrs:load', 'load'), 'loaded layer');
});

test('pull: the same kind of layer from a registry lands byte for byte', async () => {
  await pushRawImage(reg.host, 'xattrs', 'v1', [busyboxLayer, gnuLayer('pull')]);
  const p = await d.api(
    'POST',
    `/images/create?fromImage=${encodeURIComponent(`${reg.host}/xattrs`)}&tag=v1`,
    undefined,
    {
      headers: { 'X-Registry-Auth': 'e30=' },
      timeoutMs: 120_000,
    },
  );
  assert.equal(p.status, 200, p.body);
  assert.ok(!/"error"/.test(p.body), p.body);
  assertBinaryXattrs(await snapshotFile(`${reg.host}/xattrs:v1`, 'pull'), 'pulled layer');
});

test('docker export carries binary xattrs byte for byte (GNU tar --xattrs extracts them); commit keeps security.capability', async () => {
  const id = await create(d, { image: 'xattrs:load', cmd: ['sh'] });
  try {
    // a file the container itself changed, with a capability set on it (as setcap in a RUN step would)
    const upper = (await inspect(d, id)).GraphDriver.Data.UpperDir as string;
    mkdirSync(join(upper, 'usr/bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(upper, 'usr/bin/capped'));
    execFileSync('setfattr', [
      '-n',
      'security.capability',
      '-v',
      '0x' + CAP.toString('hex'),
      join(upper, 'usr/bin/capped'),
    ]);
    const ex = await d.api('GET', `/containers/${id}/export`, undefined, { timeoutMs: 60_000 });
    assert.equal(ex.status, 200);
    const tarFile = join(tmp, 'export.tar');
    writeFileSync(tarFile, ex.raw);
    const out = join(tmp, 'export');
    mkdirSync(out);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', out, '-xf', tarFile]);
    assertBinaryXattrs(join(out, 'bin/ping'), 'exported file of the image');
    assert.equal(xattrHex(join(out, 'usr/bin/capped'), 'security.capability'), CAP.toString('hex'));

    const c = await d.api('POST', `/commit?container=${id}&repo=xattrs&tag=committed`);
    assert.equal(c.status, 201, c.body);
    const img = (await d.api('GET', '/images/xattrs:committed/json')).json;
    const top = img.GraphDriver?.Data?.UpperDir as string;
    assert.ok(top, JSON.stringify(img.GraphDriver));
    assert.equal(xattrHex(join(top, 'usr/bin/capped'), 'security.capability'), CAP.toString('hex'), 'committed layer');
  } finally {
    await rm(d, id);
  }
});
