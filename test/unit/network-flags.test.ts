// Daemon flags of the network room: --bridge/-b, --bip, --icc (bare, =false, false), --iptables,
// --default-address-pool, through parseDaemonFlags and resolveConfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDaemonFlags } from '../../src/daemon/main.js';
import { resolveConfig } from '../../src/daemon/config.js';

test('network daemon flags', () => {
  const f = parseDaemonFlags([
    '--bridge',
    'br9',
    '--bip=10.9.0.1/24',
    '--icc=false',
    '--iptables',
    '--default-address-pool',
    'base=10.50.0.0/16,size=24',
  ]);
  assert.deepEqual(f, {
    bridge: 'br9',
    bip: '10.9.0.1/24',
    icc: 'false',
    iptables: 'true',
    defaultAddressPool: 'base=10.50.0.0/16,size=24',
  });
  const c = resolveConfig(f);
  assert.equal(c.bridge, 'br9');
  assert.equal(c.bip, '10.9.0.1/24');
  assert.equal(c.icc, false);
  assert.equal(c.iptables, true);
  assert.equal(resolveConfig({}).icc, true);
  assert.deepEqual(parseDaemonFlags(['--icc', 'false', '-b', 'x0']), { icc: 'false', bridge: 'x0' });
  assert.deepEqual(parseDaemonFlags(['--icc', '--bridge', 'x1']), { icc: 'true', bridge: 'x1' });
  assert.throws(() => resolveConfig({ icc: 'maybe' }), /invalid boolean value "maybe" for --icc/);
});
