// Engine errors are typed where they arise: bad input from a request (a -u user, --cap-add,
// --ulimit, logs' tail/since) is InvalidArgument and reaches the client as a 400; a broken
// internal invariant is Internal, a 500. Checked through the API's one mapping (statusOf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusOf } from '../../src/api/httpstatus.js';
import { Internal, InvalidArgument } from '../../src/core/errors.js';
import { containerUser } from '../../src/containers/user.js';
import { normalizeCap } from '../../src/runtime/caps.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { parseTail, selectLogs } from '../../src/runtime/logformat.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n';
const GROUP = 'root:x:0:\n';

function spec(over: Partial<SpecInput>): SpecInput {
  return {
    args: ['true'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    terminal: false,
    hostname: 'h',
    rootfsPath: '/r/rootfs',
    readonlyRootfs: false,
    privileged: false,
    capAdd: [],
    capDrop: [],
    networkMode: 'none',
    mounts: [],
    cgroupsPath: '/cocon/x',
    rlimitNofileHard: 1024,
    noNewPrivileges: false,
    seccomp: true,
    ...over,
  };
}

/** fn throws an engine error of class `kind` that the API answers with `status`, its message matching re. */
function throwsTyped(
  fn: () => unknown,
  kind: typeof InvalidArgument | typeof Internal,
  status: number,
  re: RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.equal(statusOf(e), status);
    assert.match(e.message, re);
    return true;
  });
}
const is400 = (fn: () => unknown, re: RegExp): void => throwsTyped(fn, InvalidArgument, 400, re);
const is500 = (fn: () => unknown, re: RegExp): void => throwsTyped(fn, Internal, 500, re);

test('-u / --group-add that cannot be resolved is bad input (400)', () => {
  is400(() => containerUser('ghost', PASSWD, GROUP), /^unable to find user ghost: no matching entries in passwd file$/);
  is400(() => containerUser('0:nogroup', PASSWD, GROUP), /^unable to find group nogroup/);
  is400(() => containerUser('4294967295', PASSWD, GROUP), /uids and gids must be in range/);
  is400(() => containerUser('', PASSWD, GROUP, ['nosuch']), /^Unable to find group nosuch/);
});

test('unknown capabilities and bad ulimits are bad input (400); broken spec invariants are internal (500)', () => {
  is400(() => normalizeCap('foo'), /^unknown capability: "CAP_FOO"$/);
  is400(() => buildSpec(spec({ capAdd: ['CAP_NOPE'] })), /unknown capability/);
  is400(() => buildSpec(spec({ ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] })), /^invalid ulimit type: bogus$/);
  is400(
    () => buildSpec(spec({ ulimits: [{ Name: 'nproc', Soft: 9, Hard: 1 }] })),
    /soft limit must be less than or equal to hard limit/,
  );
  is500(() => buildSpec(spec({ rootfsPath: 'rel/rootfs' })), /rootfs path must be absolute/);
  is500(() => buildSpec(spec({ networkMode: 'netns' })), /netns requires netnsPath/);
});

test('logs: bad tail / since values are bad input (400)', () => {
  is400(() => parseTail('ten'), /^invalid tail value: ten$/);
  is400(
    () => selectLogs([], { tail: 'all', since: 'yesterday', stdout: true, stderr: true }),
    /^invalid timestamp: yesterday$/,
  );
});
