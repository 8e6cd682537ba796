// Pure container-creation rules: docker's merge of create body and image config, names,
// restart policies, signals and the STATUS column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mergeConfig,
  validateName,
  validateRestartPolicy,
  restartDelay,
  signalNumber,
  statusLine,
  isoFromNs,
  type CreateBody,
} from '../../src/containers/config.js';
import { initialState } from '../../src/containers/types.js';
import type { ImageRecord } from '../../src/images/types.js';

const image: ImageRecord = {
  id: 'sha256:' + 'a'.repeat(64),
  created: '2026-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: {
    Env: ['PATH=/bin', 'A=image'],
    Cmd: ['sh'],
    WorkingDir: '/w',
    Labels: { from: 'image' },
    StopSignal: 'SIGQUIT',
    Volumes: { '/data': {} },
  },
  diffIds: [],
  chainIds: [],
  size: 0,
};
const id = 'b'.repeat(64);

test('the image gives Cmd, Env, WorkingDir, labels and stop signal; the body overrides them', () => {
  const m = mergeConfig({ Image: 'busybox' }, image, id);
  assert.equal(m.path, 'sh');
  assert.deepEqual(m.args, []);
  assert.deepEqual(m.config.Env, ['PATH=/bin', 'A=image']);
  assert.equal(m.config.WorkingDir, '/w');
  assert.equal(m.config.StopSignal, 'SIGQUIT');
  assert.equal(m.config.Hostname, id.slice(0, 12));
  assert.deepEqual(Object.keys(m.config.Volumes ?? {}), ['/data']);
  const o = mergeConfig(
    {
      Image: 'busybox',
      Cmd: ['echo', 'hi'],
      Env: ['A=body', 'B=2'],
      WorkingDir: '/x',
      Labels: { mine: '1' },
      Hostname: 'h',
    },
    image,
    id,
  );
  assert.equal(o.path, 'echo');
  assert.deepEqual(o.args, ['hi']);
  assert.deepEqual(o.config.Env, ['PATH=/bin', 'A=body', 'B=2']);
  assert.equal(o.config.WorkingDir, '/x');
  assert.deepEqual(o.config.Labels, { from: 'image', mine: '1' });
  assert.equal(o.config.Hostname, 'h');
});

test('an Entrypoint given without Cmd drops the image Cmd; --entrypoint "" clears it', () => {
  const withEp = { ...image, config: { ...image.config, Entrypoint: ['/init'] } };
  const a = mergeConfig({ Image: 'x', Entrypoint: ['/bin/echo'] }, withEp, id);
  assert.equal(a.path, '/bin/echo');
  assert.deepEqual(a.args, []);
  const b = mergeConfig({ Image: 'x', Cmd: ['a'] }, withEp, id);
  assert.deepEqual([b.path, ...b.args], ['/init', 'a']);
  const c = mergeConfig({ Image: 'x', Entrypoint: [''], Cmd: ['ls'] }, withEp, id);
  assert.deepEqual([c.path, ...c.args], ['ls']);
  assert.throws(
    () => mergeConfig({ Image: 'x', Entrypoint: [''] }, { ...image, config: {} }, id),
    /No command specified/,
  );
});

test('host network keeps the host name; a relative WorkingDir is refused', () => {
  assert.equal(
    mergeConfig({ Image: 'x', HostConfig: { NetworkMode: 'host' } } as CreateBody, image, id).config.Hostname,
    '',
  );
  assert.throws(() => mergeConfig({ Image: 'x', WorkingDir: 'rel' }, image, id), /needs to be an absolute path/);
  assert.throws(() => mergeConfig({ Image: 'x', StopSignal: 'SIGNOPE' }, image, id), /Invalid signal/);
});

test('container names follow docker rules', () => {
  assert.equal(validateName('/web'), 'web');
  assert.equal(validateName('a.b_c-1'), 'a.b_c-1');
  assert.throws(() => validateName('a'), /Invalid container name/);
  assert.throws(() => validateName('bad name'), /Invalid container name \(bad name\)/);
  assert.throws(() => validateName('-x'), /Invalid container name/);
});

test('restart policies: validation and back-off', () => {
  assert.deepEqual(validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }, false), {
    Name: 'on-failure',
    MaximumRetryCount: 3,
  });
  assert.throws(() => validateRestartPolicy({ Name: 'sometimes' as never }, false), /invalid restart policy/);
  assert.throws(
    () => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }, false),
    /only be used with 'on-failure'/,
  );
  assert.throws(() => validateRestartPolicy({ Name: 'always' }, true), /AutoRemove/);
  assert.equal(restartDelay({ Name: 'no', MaximumRetryCount: 0 }, 1, 0, false), null);
  assert.equal(restartDelay({ Name: 'on-failure', MaximumRetryCount: 0 }, 0, 0, false), null);
  assert.equal(restartDelay({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 1, false), 200);
  assert.equal(restartDelay({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 2, false), null);
  assert.equal(restartDelay({ Name: 'always', MaximumRetryCount: 0 }, 0, 0, false), 100);
  assert.equal(restartDelay({ Name: 'always', MaximumRetryCount: 0 }, 0, 30, false), 60_000);
  assert.equal(restartDelay({ Name: 'unless-stopped', MaximumRetryCount: 0 }, 0, 0, true), null);
});

test('signals by name, short name or number', () => {
  assert.equal(signalNumber('SIGKILL'), 9);
  assert.equal(signalNumber('term'), 15);
  assert.equal(signalNumber('USR1'), 10);
  assert.equal(signalNumber('2'), 2);
  assert.throws(() => signalNumber('0'), /Invalid signal/);
  assert.throws(() => signalNumber('SIGFOO'), /Invalid signal: SIGFOO/);
});

test('STATUS column like docker ps', () => {
  const now = Date.parse('2026-11-29T10:00:00Z');
  const st = initialState();
  assert.equal(statusLine(st, now), 'Created');
  assert.equal(
    statusLine({ ...st, Status: 'running', Running: true, StartedAt: '2026-11-29T09:55:00Z' }, now),
    'Up 5 minutes',
  );
  assert.equal(
    statusLine({ ...st, Status: 'exited', ExitCode: 3, FinishedAt: '2026-11-29T09:59:59.5Z' }, now),
    'Exited (3) Less than a second ago',
  );
  assert.equal(
    statusLine({ ...st, Status: 'exited', ExitCode: 0, FinishedAt: '2026-11-29T08:00:00Z' }, now),
    'Exited (0) 2 hours ago',
  );
});

test('times keep nanoseconds in RFC3339', () => {
  assert.equal(isoFromNs(1795914021123456789n), '2026-11-29T01:00:21.123456789Z');
  assert.equal(isoFromNs(1795914021000000001n), '2026-11-29T01:00:21.000000001Z');
});
