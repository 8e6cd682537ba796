import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges, shellWords, parseExpose } from '../../src/images/changes.js';
import { InvalidArgument } from '../../src/core/errors.js';

test('CMD and ENTRYPOINT: JSON and shell forms', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["sh"]']).Cmd, ['sh']);
  assert.deepEqual(applyChanges({}, ['CMD echo hi there']).Cmd, ['/bin/sh', '-c', 'echo hi there']);
  assert.deepEqual(applyChanges({}, ['ENTRYPOINT ["/bin/app","-x"]']).Entrypoint, ['/bin/app', '-x']);
  assert.deepEqual(applyChanges({}, ['entrypoint run it']).Entrypoint, ['/bin/sh', '-c', 'run it']);
  // ENTRYPOINT resets an inherited CMD unless CMD is set by the same changes
  assert.equal(applyChanges({ Cmd: ['sh'] }, ['ENTRYPOINT ["x"]']).Cmd, undefined);
  assert.deepEqual(applyChanges({ Cmd: ['sh'] }, ['CMD ["y"]', 'ENTRYPOINT ["x"]']).Cmd, ['y']);
  // not JSON -> shell form
  assert.deepEqual(applyChanges({}, ['CMD [oops']).Cmd, ['/bin/sh', '-c', '[oops']);
});

test('ENV forms, replacement and expansion', () => {
  assert.deepEqual(applyChanges({}, ['ENV A=1 B="two words"']).Env, ['A=1', 'B=two words']);
  assert.deepEqual(applyChanges({}, ['ENV A one two']).Env, ['A=one two']);
  assert.deepEqual(applyChanges({ Env: ['PATH=/bin', 'A=0'] }, ['ENV A=1']).Env, ['PATH=/bin', 'A=1']);
  assert.deepEqual(applyChanges({ Env: ['PATH=/bin'] }, ['ENV PATH=/usr/bin:$PATH']).Env, ['PATH=/usr/bin:/bin']);
  assert.deepEqual(applyChanges({ Env: ['X=1'] }, ["ENV Y='$X' Z=${X}2 W=${NOPE:-d}"]).Env, [
    'X=1',
    'Y=$X',
    'Z=12',
    'W=d',
  ]);
  assert.deepEqual(applyChanges({}, ['ENV A=x\\ y']).Env, ['A=x y']);
});

test('WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL, ONBUILD', () => {
  const c = applyChanges({}, [
    'WORKDIR /app',
    'WORKDIR sub',
    'USER nobody',
    'EXPOSE 80 53/udp 8000-8001',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /x /y',
    'LABEL a=b "c d"="e f"',
    'STOPSIGNAL SIGUSR1',
    'ONBUILD RUN echo hi',
  ]);
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, 'nobody');
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(Object.keys(c.Volumes!), ['/data', '/logs', '/x', '/y']);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e f' });
  assert.equal(c.StopSignal, 'SIGUSR1');
  assert.deepEqual(c.OnBuild, ['RUN echo hi']);
  assert.equal(applyChanges({}, ['STOPSIGNAL 9']).StopSignal, '9');
  assert.deepEqual(parseExpose(['1/TCP']), ['1/tcp']);
});

test('does not mutate its input', () => {
  const base = { Env: ['A=1'] };
  applyChanges(base, ['ENV A=2']);
  assert.deepEqual(base, { Env: ['A=1'] });
});

function bad(changes: string[], msg: string | RegExp): void {
  assert.throws(
    () => applyChanges({}, changes),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgument, String(e));
      if (typeof msg === 'string') assert.equal((e as Error).message, msg);
      else assert.match((e as Error).message, msg);
      return true;
    },
  );
}

test('bad changes', () => {
  bad(['RUN echo'], 'run is not a valid change command');
  bad(['FROM busybox'], 'from is not a valid change command');
  bad(['ENV'], 'ENV requires at least one argument');
  bad(['ENV A'], 'ENV must have two arguments');
  bad(['ENV =x'], /can't find =|must be of the form/);
  bad(['EXPOSE abc'], /invalid containerPort: abc/);
  bad(['EXPOSE 70000'], /invalid range/);
  bad(['STOPSIGNAL NOPE'], 'Invalid signal: NOPE');
  bad(['WORKDIR a b'], /exactly one argument/);
  bad(['ENV A="unterminated'], /double-quote/);
  bad(['ONBUILD ONBUILD X'], /Chaining ONBUILD/);
});

test('shell words', () => {
  assert.deepEqual(shellWords(`a "b c" 'd e' f\\ g`), ['a', 'b c', 'd e', 'f g']);
  assert.deepEqual(shellWords('  '), []);
});
