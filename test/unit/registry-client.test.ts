// Pure parts of the registry room: challenges, insecure hosts, error rendering, credentials files,
// progress bars as dockerd renders them, platform selection, references of pull requests, manifests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseChallenge, isInsecure, errorBodyMessage, endpointHost, MEDIA } from '../../src/registry/client.js';
import {
  decodeRegistryAuth,
  encodeRegistryAuth,
  authKey,
  domainOfServer,
  storeCredentials,
  credentialsFor,
  eraseCredentials,
} from '../../src/registry/auth.js';
import { progressBar, humanSize, goJson, progressMessage } from '../../src/images/progress.js';
import { selectPlatform, pullReference, parsePlatform } from '../../src/images/pull.js';
import { buildManifest } from '../../src/images/push.js';
import { cleanEntryName, whiteoutOf } from '../../src/sys/tar/rules.js';

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'), {
    scheme: 'bearer',
    realm: 'https://auth.docker.io/token',
    service: 'registry.docker.io',
  });
  assert.deepEqual(parseChallenge('Basic realm="cocon-test"'), { scheme: 'basic' });
  assert.deepEqual(parseChallenge(undefined), { scheme: 'none' });
});

test('insecure registries: loopback, hosts, host:port, CIDRs', () => {
  assert.ok(isInsecure('127.0.0.1:5000', []));
  assert.ok(isInsecure('localhost:5000', []));
  assert.ok(!isInsecure('127.0.0.1:5000', [], false));
  assert.ok(!isInsecure('10.1.2.3:5000', []));
  assert.ok(isInsecure('10.1.2.3:5000', ['10.0.0.0/8']));
  assert.ok(isInsecure('reg.lan:5000', ['reg.lan:5000']));
  assert.ok(isInsecure('reg.lan', ['reg.lan']));
  assert.ok(!isInsecure('reg.lan:5001', ['reg.lan:5000']));
  assert.equal(endpointHost('docker.io'), 'registry-1.docker.io');
});

test('registry error bodies read like docker', () => {
  assert.deepEqual(
    errorBodyMessage('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'),
    { message: 'manifest unknown: manifest unknown', code: 'MANIFEST_UNKNOWN' },
  );
  assert.equal(errorBodyMessage('not json'), undefined);
});

test('X-Registry-Auth and config.json credentials (0600)', () => {
  assert.equal(decodeRegistryAuth('e30='), undefined);
  assert.equal(decodeRegistryAuth(undefined), undefined);
  const c = { username: 'u', password: 'p', serveraddress: 'r:5000' };
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth(c)), c);
  assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify(c)).toString('base64url')), c);
  assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(domainOfServer('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(domainOfServer('https://r.example:5000/v2/'), 'r.example:5000');
  const dir = mkdtempSync('/tmp/cocon-cfg-');
  try {
    storeCredentials('r.example:5000', 'alice', 'pw', dir);
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), {
      auths: { 'r.example:5000': { auth: Buffer.from('alice:pw').toString('base64') } },
    });
    assert.deepEqual(credentialsFor('r.example:5000', dir), {
      username: 'alice',
      password: 'pw',
      serveraddress: 'r.example:5000',
    });
    assert.equal(credentialsFor('other:1', dir), undefined);
    assert.ok(eraseCredentials('r.example:5000', dir));
    assert.equal(credentialsFor('r.example:5000', dir), undefined);
    assert.ok(!eraseCredentials('r.example:5000', dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress bars and sizes as in the traces', () => {
  assert.equal(progressBar(116, 116), '[==================================================>]     116B/116B');
  assert.equal(progressBar(69213, 6293526), '[>                                                  ]  69.21kB/6.294MB');
  assert.equal(progressBar(196608, 6293526), '[=>                                                 ]  196.6kB/6.294MB');
  assert.equal(progressBar(2048, 7), '[==================================================>]  2.048kB');
  assert.equal(humanSize(6291456), '6.291MB');
  assert.equal(
    goJson(progressMessage('Downloading', 'abc', 116, 116)),
    '{"status":"Downloading","progressDetail":{"current":116,"total":116},"progress":"[==================================================\\u003e]     116B/116B","id":"abc"}',
  );
});

test('platform selection of manifest lists', () => {
  const ms = [
    {
      mediaType: MEDIA.ociManifest,
      digest: 'sha256:a',
      size: 1,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    { mediaType: MEDIA.ociManifest, digest: 'sha256:b', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    {
      mediaType: MEDIA.ociManifest,
      digest: 'sha256:c',
      size: 1,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    },
  ];
  assert.equal(selectPlatform(ms, parsePlatform('linux/amd64'))?.digest, 'sha256:b');
  assert.equal(selectPlatform(ms, parsePlatform('linux/arm64/v8'))?.digest, 'sha256:a');
  assert.equal(selectPlatform(ms, parsePlatform('linux/arm/v7'))?.digest, 'sha256:c');
  assert.equal(selectPlatform(ms, parsePlatform('linux/s390x')), undefined);
});

test('pull references: fromImage + tag or digest', () => {
  assert.equal(pullReference('busybox').tag, 'latest');
  assert.equal(pullReference('busybox', 'musl').tag, 'musl');
  const d = 'sha256:' + 'a'.repeat(64);
  assert.equal(pullReference('127.0.0.1:5000/x', d).digest, d);
  assert.equal(pullReference('127.0.0.1:5000/x:v1').path, 'x');
  assert.throws(() => pullReference('Foo'), /invalid reference format/);
});

test('push manifests: Docker schema 2 unless a layer type is OCI-only', () => {
  const cfg = { digest: 'sha256:' + '1'.repeat(64), size: 10 };
  const docker = buildManifest(cfg, [
    { digest: 'sha256:' + '2'.repeat(64), size: 5, mediaType: MEDIA.dockerLayerGzip },
  ]);
  assert.equal(docker.mediaType, MEDIA.dockerManifest);
  assert.equal(JSON.parse(docker.bytes.toString()).config.mediaType, MEDIA.dockerConfig);
  const oci = buildManifest(cfg, [
    { digest: 'sha256:' + '2'.repeat(64), size: 5, mediaType: MEDIA.dockerLayerGzip },
    { digest: 'sha256:' + '3'.repeat(64), size: 5, mediaType: MEDIA.ociLayerZstd },
  ]);
  assert.equal(oci.mediaType, MEDIA.ociManifest);
  assert.deepEqual(
    JSON.parse(oci.bytes.toString()).layers.map((l: { mediaType: string }) => l.mediaType),
    [MEDIA.ociLayerGzip, MEDIA.ociLayerZstd],
  );
});

test('layer entry names and whiteouts', () => {
  assert.equal(cleanEntryName('./a//b/./c/'), 'a/b/c');
  assert.equal(cleanEntryName('./'), '');
  assert.throws(() => cleanEntryName('/etc/passwd'), /absolute/);
  assert.throws(() => cleanEntryName('a/../../b'), /'\.\.'/);
  assert.deepEqual(whiteoutOf('a/b/.wh.c'), { kind: 'whiteout', path: 'a/b/c' });
  assert.deepEqual(whiteoutOf('.wh.top'), { kind: 'whiteout', path: 'top' });
  assert.deepEqual(whiteoutOf('a/.wh..wh..opq'), { kind: 'opaque', dir: 'a' });
  assert.equal(whiteoutOf('a/b'), undefined);
  assert.throws(() => whiteoutOf('a/.wh...'), /invalid whiteout/);
});

test('daemon flag --insecure-registry (repeatable, comma lists) reaches the config', async () => {
  const { parseDaemonFlags } = await import('../../src/daemon/main.js');
  const { resolveConfig } = await import('../../src/daemon/config.js');
  const flags = parseDaemonFlags(['--insecure-registry', '10.0.0.0/8', '--insecure-registry=reg.lan:5000']);
  assert.deepEqual(resolveConfig(flags).insecureRegistries, ['10.0.0.0/8', 'reg.lan:5000']);
  assert.deepEqual(resolveConfig({}).insecureRegistries, []);
});
