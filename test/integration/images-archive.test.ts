// save / load through the real docker CLI and the API: docker-archive round trip, OCI image layout,
// broken archives refused with nothing recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDaemon, bootstrapBusybox, docker, type Daemon } from '../helpers/daemon.js';
import { makeTar, sha } from './registry-helpers.js';

let d: Daemon;
let tmp: string;

before(async () => {
  tmp = mkdtempSync('/tmp/cocon-archive-');
  d = await startDaemon();
  await bootstrapBusybox(d);
});
after(async () => {
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function layerCount(): number {
  return readdirSync(join(d.dataRoot, 'overlay')).filter((x) => /^[a-f0-9]{64}$/.test(x)).length;
}

test('docker save writes the legacy docker-archive layout; docker load brings the image back', async () => {
  const id = (await d.api('GET', '/images/busybox/json')).json.Id as string;
  const file = join(tmp, 'bb.tar');
  const s = await docker(d, ['save', '-o', file, 'busybox']);
  assert.equal(s.code, 0, s.stderr);
  const names = execFileSync('tar', ['-tf', file]).toString().trim().split('\n').sort();
  const v1 = names.find((n) => n.endsWith('/'))!.replace(/\/$/, '');
  assert.deepEqual(
    names,
    [
      `${v1}/`,
      `${v1}/VERSION`,
      `${v1}/json`,
      `${v1}/layer.tar`,
      `${id.slice(7)}.json`,
      'manifest.json',
      'repositories',
    ].sort(),
  );
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json']).toString());
  assert.deepEqual(manifest, [
    { Config: `${id.slice(7)}.json`, RepoTags: ['busybox:latest'], Layers: [`${v1}/layer.tar`] },
  ]);
  assert.deepEqual(JSON.parse(execFileSync('tar', ['-xOf', file, 'repositories']).toString()), {
    busybox: { latest: v1 },
  });

  assert.equal((await d.api('DELETE', '/images/busybox')).status, 200);
  const l = await docker(d, ['load', '-i', file]);
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, 'Loaded image: busybox:latest\n');
  assert.equal((await d.api('GET', '/images/busybox/json')).json.Id, id);
  const r = await docker(d, ['run', '--rm', 'busybox', 'echo', 'loaded']);
  assert.equal(r.stdout, 'loaded\n', r.stderr);
  // the API stream itself
  const api = await d.api('POST', '/images/load?quiet=1', undefined, {
    raw: readFileSync(file),
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(api.status, 200);
  assert.equal(api.body, '{"stream":"Loaded image: busybox:latest\\n"}\r\n');
  // save by id: no tags
  const byId = await d.api('GET', `/images/${id.slice(7, 19)}/get`);
  assert.equal(byId.status, 200);
  assert.equal((await d.api('GET', '/images/get?names=nosuch')).status, 404);
});

test('OCI image layout archives load (gzip layers, ref name annotation)', async () => {
  const layer = await makeTar([{ name: 'hello.txt', data: 'hi from oci\n' }]);
  const gz = gzipSync(layer);
  const bbTar = readFileSync(join(tmp, 'bb.tar'));
  void bbTar;
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }],
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha(manifest),
        size: manifest.length,
        annotations: {
          'io.containerd.image.name': 'docker.io/library/ocitest:v1',
          'org.opencontainers.image.ref.name': 'v1',
        },
      },
    ],
  };
  const tar = await makeTar([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    { name: `blobs/sha256/${sha(config).slice(7)}`, data: config },
    { name: `blobs/sha256/${sha(manifest).slice(7)}`, data: manifest },
    { name: `blobs/sha256/${sha(gz).slice(7)}`, data: gz },
  ]);
  const r = await d.api('POST', '/images/load', undefined, {
    raw: tar,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body, '{"stream":"Loaded image: ocitest:v1\\n"}\r\n');
  assert.equal((await d.api('GET', '/images/ocitest:v1/json')).json.Id, sha(config));
});

test('broken archives are refused and leave nothing', async () => {
  const before = layerCount();
  const garbage = await d.api('POST', '/images/load', undefined, {
    raw: Buffer.from('not a tar at all'.repeat(64)),
    headers: { 'Content-Type': 'application/x-tar' },
  });
  // dockerd's shape: 200 and a JSON message with errorDetail (trace load-invalid)
  assert.equal(garbage.status, 200);
  assert.match(garbage.json.errorDetail.message, /invalid archive|tar/);
  assert.equal(garbage.json.error, garbage.json.errorDetail.message);
  // a layer that does not match its diff id
  const layer = await makeTar([{ name: 'x', data: 'x' }]);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] },
    }),
  );
  const tar = await makeTar([
    {
      name: 'manifest.json',
      data: JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:v1'], Layers: ['l/layer.tar'] }]),
    },
    { name: 'c.json', data: config },
    { name: 'l/layer.tar', data: layer },
  ]);
  const bad = await d.api('POST', '/images/load', undefined, {
    raw: tar,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(bad.status, 200);
  assert.match(bad.json.error, /diff id/);
  assert.equal((await d.api('GET', '/images/bad:v1/json')).status, 404);
  assert.equal(layerCount(), before);
  assert.deepEqual(
    readdirSync(d.dataRoot).filter((x) => x.startsWith('tmp-load-')),
    [],
  );
});
