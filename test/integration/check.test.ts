// `cocon check` against a real daemon: it fails (exit 1) with icc on and a privileged container,
// printing the commands that fix them, and passes (exit 0) once they are applied: daemon restarted
// with --icc=false, the privileged container removed. --format json gives the same findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon, cli, uniq } from '../helpers/daemon.js';

const tag = 100 + (process.pid % 100);
const args = [
  '--storage-size',
  '300M',
  '--bridge',
  `cck${process.pid.toString(36)}`,
  '--bip',
  `10.${tag}.93.1/24`,
  '--default-address-pool',
  `base=10.${tag}.128.0/18,size=24`,
];
const h = useDaemon({ busybox: true, args });

test('cocon check fails with icc on and a privileged container, passes after the fixes it prints', async () => {
  const priv = uniq('priv');
  const c = await cli(h.d, ['create', '--name', priv, '--privileged', 'busybox', 'true']);
  assert.equal(c.code, 0, c.stderr);
  const bad = await cli(h.d, ['check']);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /^\[FAIL\] inter-container traffic off but for links: icc is on/m);
  assert.match(bad.stdout, /fix: cocon daemon --icc=false/);
  assert.match(bad.stdout, new RegExp(`^\\[FAIL\\] no privileged containers: privileged: ${priv}$`, 'm'));
  assert.match(bad.stdout, new RegExp(`fix: cocon rm -f ${priv} && cocon run --cap-add`));
  assert.match(bad.stdout, /^\[PASS\] data root on its own filesystem: xfs on \/dev\/loop\d+/m);
  assert.match(bad.stdout, /^\[PASS\] API socket mode and group: \S+ 0660 root:(root|cocon)$/m);
  assert.match(bad.stdout, /^\[PASS\] TLS on TCP: the API is not served over TCP$/m);
  const json = await cli(h.d, ['check', '--format', 'json']);
  assert.equal(json.code, 1);
  const findings = JSON.parse(json.stdout) as Array<{ id: string; status: string }>;
  assert.deepEqual(
    findings
      .filter((f) => f.status === 'fail')
      .map((f) => f.id)
      .sort(),
    ['icc', 'privileged'],
  );
  // The fixes.
  assert.equal((await cli(h.d, ['rm', '-f', priv])).code, 0);
  args.push('--icc=false');
  await h.d.restart();
  const good = await cli(h.d, ['check']);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /^\[PASS\] inter-container traffic off but for links/m);
  assert.match(good.stdout, /^\[PASS\] no privileged containers/m);
  assert.doesNotMatch(good.stdout, /\[FAIL\]/);
});
