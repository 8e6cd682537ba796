import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseNormalized,
  normalize,
  familiarize,
  familiarString,
  withDefaultTag,
  targetReference,
  idPrefix,
  isIdPrefixOf,
  shortId,
  notFoundName,
  pathMatch,
  familiarMatch,
  isFullId,
  ERR_FORMAT,
  ERR_LOWERCASE,
} from '../../src/images/reference.js';
import { InvalidArgument } from '../../src/core/errors.js';

const H = 'a'.repeat(64);

test('normalises docker references', () => {
  assert.equal(normalize('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalize('busybox:1.36'), 'docker.io/library/busybox:1.36');
  assert.equal(normalize('user/repo'), 'docker.io/user/repo:latest');
  assert.equal(normalize('docker.io/busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalize('index.docker.io/library/busybox:x'), 'docker.io/library/busybox:x');
  assert.equal(normalize('localhost/foo'), 'localhost/foo:latest');
  assert.equal(normalize('localhost:5000/a/b:tag'), 'localhost:5000/a/b:tag');
  assert.equal(normalize('127.0.0.1:5056/x'), '127.0.0.1:5056/x:latest');
  assert.equal(normalize('quay.io/org/app:v1.2-rc_3'), 'quay.io/org/app:v1.2-rc_3');
  assert.equal(normalize(`busybox@sha256:${H}`), `docker.io/library/busybox@sha256:${H}`);
  assert.equal(normalize(`busybox:1@sha256:${H}`), `docker.io/library/busybox:1@sha256:${H}`);
  assert.equal(normalize('a__b/c-d.e--f'), 'docker.io/a__b/c-d.e--f:latest');
});

test('parts of a parsed reference', () => {
  const r = parseNormalized('localhost:5000/a/b:tag');
  assert.equal(r.domain, 'localhost:5000');
  assert.equal(r.path, 'a/b');
  assert.equal(r.tag, 'tag');
  assert.equal(r.digest, undefined);
  assert.equal(parseNormalized('busybox').tag, undefined);
  assert.equal(withDefaultTag(parseNormalized('busybox')).tag, 'latest');
});

test('familiar form', () => {
  assert.equal(familiarize('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.equal(familiarize('docker.io/user/repo:1'), 'user/repo:1');
  assert.equal(familiarize('docker.io/library/a/b:1'), 'library/a/b:1');
  assert.equal(familiarize('localhost:5000/x:y'), 'localhost:5000/x:y');
  assert.equal(familiarString(parseNormalized(`busybox@sha256:${H}`)), `busybox@sha256:${H}`);
});

function err(f: () => unknown, msg: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof InvalidArgument, String(e));
    if (typeof msg === 'string') assert.equal((e as Error).message, msg);
    else assert.match((e as Error).message, msg);
    return true;
  });
}

test('invalid references use docker wording', () => {
  err(() => parseNormalized('Busybox'), ERR_LOWERCASE);
  err(() => parseNormalized('user/Repo:tag'), ERR_LOWERCASE);
  err(() => parseNormalized(''), ERR_FORMAT);
  err(() => parseNormalized('busybox:'), ERR_FORMAT);
  err(() => parseNormalized('bu sybox'), ERR_FORMAT);
  err(() => parseNormalized('-busybox'), ERR_FORMAT);
  err(() => parseNormalized('busybox::1'), ERR_FORMAT);
  err(() => parseNormalized('busybox:-bad'), ERR_FORMAT);
  err(() => parseNormalized(`busybox:${'x'.repeat(129)}`), ERR_FORMAT);
  err(() => parseNormalized('a//b'), ERR_FORMAT);
  err(() => parseNormalized(H), /cannot specify 64-byte hexadecimal strings/);
  err(() => parseNormalized('busybox@sha256:abc'), ERR_FORMAT);
  err(() => parseNormalized(`busybox@sha256:${'a'.repeat(63)}b0`), /invalid checksum digest length/);
});

test('tag targets', () => {
  assert.equal(targetReference('foo', 'v1').tag, 'v1');
  assert.equal(targetReference('foo').tag, 'latest');
  assert.equal(targetReference('imported:v1').tag, 'v1');
  err(() => targetReference('foo', 'bad tag'), ERR_FORMAT);
  err(() => targetReference(`foo@sha256:${H}`), /digest/);
});

test('image ids and prefixes', () => {
  const id = 'sha256:9028355e83a4132114f583b5e8e8a86df06b1c501e0f594f9aad9b52f744fe7c';
  assert.equal(shortId(id), '9028355e83a4');
  assert.ok(isIdPrefixOf(id, '9028355e83a4'));
  assert.ok(isIdPrefixOf(id, 'sha256:9028'));
  assert.ok(isIdPrefixOf(id, id));
  assert.ok(!isIdPrefixOf(id, 'busybox'));
  assert.ok(!isIdPrefixOf(id, '9029'));
  assert.equal(idPrefix('busybox'), undefined);
  assert.equal(idPrefix('sha256:abc'), 'abc');
  assert.ok(isFullId(id) && isFullId(id.slice(7)) && !isFullId('abc'));
});

test('not-found names add :latest like docker', () => {
  assert.equal(notFoundName('nosuchimage'), 'nosuchimage:latest');
  assert.equal(notFoundName('nosuchimage:latest'), 'nosuchimage:latest');
  assert.equal(notFoundName('docker.io/library/x'), 'x:latest');
  assert.equal(notFoundName('sha256:abcd'), 'sha256:abcd');
});

test('reference filter matching (path.Match)', () => {
  assert.ok(pathMatch('busy*', 'busybox'));
  assert.ok(!pathMatch('*', 'a/b'));
  assert.ok(pathMatch('a/*', 'a/b'));
  assert.ok(pathMatch('b?sybox', 'busybox'));
  assert.ok(pathMatch('[a-c]usybox', 'busybox'));
  assert.ok(familiarMatch('busybox', 'docker.io/library/busybox:latest'));
  assert.ok(familiarMatch('busybox:latest', 'docker.io/library/busybox:latest'));
  assert.ok(familiarMatch('busybox:*', 'docker.io/library/busybox:1'));
  assert.ok(!familiarMatch('busybox:2', 'docker.io/library/busybox:1'));
  assert.ok(familiarMatch('user/*', 'docker.io/user/repo:1'));
});
