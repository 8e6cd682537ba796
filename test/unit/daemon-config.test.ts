// Daemon -H hosts: cocon serves its API on a unix socket only. Every tcp:// host is refused, with or
// without --tlsverify (nothing listens on TCP, so accepting one would be a silent lie), and so are
// the --tls* flags; unix:// and bare paths keep working. Also the real `cocon daemon` exit status,
// and the IPv6 flags of the default bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDaemonFlags } from '../../src/daemon/main.js';
import { resolveConfig, TCP_UNSUPPORTED } from '../../src/daemon/config.js';

const refused = new RegExp(TCP_UNSUPPORTED.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
const tls = ['--tlscacert', '/etc/ca.pem', '--tlscert', '/etc/cert.pem', '--tlskey', '/etc/key.pem'];

test('unix:// hosts and bare paths are served', () => {
  assert.equal(resolveConfig(parseDaemonFlags(['-H', 'unix:///tmp/x/c.sock'])).socketPath, '/tmp/x/c.sock');
  assert.equal(resolveConfig(parseDaemonFlags(['--host=/tmp/y.sock'])).socketPath, '/tmp/y.sock');
  assert.equal(resolveConfig({}).socketPath, '/run/cocon/cocon.sock');
  assert.equal(resolveConfig({ execRoot: '/tmp/e' }).socketPath, '/tmp/e/cocon.sock');
  assert.equal('tcp' in resolveConfig(parseDaemonFlags(['-H', 'unix:///tmp/x/c.sock'])), false);
  assert.throws(
    () => resolveConfig(parseDaemonFlags(['-H', 'unix:///a', '-H', 'unix:///b'])),
    /only one -H unix:\/\/ socket/,
  );
  assert.throws(() => resolveConfig(parseDaemonFlags(['-H', 'fd://'])), /only unix:\/\/\/path sockets are served/);
});

test('every tcp:// host is refused without --tlsverify', () => {
  for (const h of [
    'tcp://127.0.0.1:2375',
    'tcp://0.0.0.0:2375',
    'tcp://[::1]:2375',
    'tcp://localhost:2375',
    'tcp://nonsense',
  ]) {
    assert.throws(() => resolveConfig(parseDaemonFlags(['-H', h])), refused, h);
  }
  // next to a unix socket too, in either order and as one comma list
  assert.throws(
    () => resolveConfig(parseDaemonFlags(['-H', 'unix:///tmp/c.sock', '-H', 'tcp://127.0.0.1:2375'])),
    refused,
  );
  assert.throws(
    () => resolveConfig(parseDaemonFlags(['-H', 'tcp://127.0.0.1:2375', '-H', 'unix:///tmp/c.sock'])),
    refused,
  );
  assert.throws(() => resolveConfig({ host: 'unix:///tmp/c.sock,tcp://10.0.0.1:2375' }), refused);
});

test('every tcp:// host is refused with --tlsverify and certificates', () => {
  for (const h of ['tcp://127.0.0.1:2376', 'tcp://0.0.0.0:2376', 'tcp://[::1]:2376']) {
    assert.throws(() => resolveConfig(parseDaemonFlags(['-H', h, '--tlsverify', ...tls])), refused, h);
    assert.throws(() => resolveConfig(parseDaemonFlags(['--tlsverify=true', ...tls, '-H', h])), refused, h);
  }
});

test('--tls* flags are refused: there is no TCP listener to protect', () => {
  assert.throws(
    () => resolveConfig(parseDaemonFlags(['--tlsverify'])),
    /--tlsverify: cocon listens only on a unix socket/,
  );
  assert.throws(
    () => resolveConfig(parseDaemonFlags(['--tlscert', '/etc/cert.pem'])),
    /--tlscert: cocon listens only on a unix socket/,
  );
  // explicitly off is not a request for TLS
  assert.equal(resolveConfig(parseDaemonFlags(['--tlsverify=false'])).socketPath, '/run/cocon/cocon.sock');
});

test('cocon daemon -H tcp:// exits non-zero with the refusal, before touching anything', () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  for (const extra of [[], ['--tlsverify', ...tls]]) {
    for (const argv of [
      ['daemon', '-H', 'tcp://127.0.0.1:2375', ...extra],
      ['-H', 'tcp://127.0.0.1:2375', 'daemon', ...extra],
    ]) {
      // a data root that must not be created: the refusal comes before any I/O
      const r = spawnSync(
        process.execPath,
        [main, ...argv, '--data-root', '/nonexistent/cocon-tcp-test', '--exec-root', '/nonexistent/cocon-tcp-test-run'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.notEqual(r.status, 0, argv.join(' '));
      assert.equal(r.status, 125, argv.join(' '));
      assert.match(r.stderr, refused, argv.join(' '));
      assert.equal(existsSync('/nonexistent/cocon-tcp-test'), false);
    }
  }
});

test('--ipv6 and --fixed-cidr-v6 (dockerd flags for the default bridge) reach the config', () => {
  const c = resolveConfig(parseDaemonFlags(['--ipv6', '--fixed-cidr-v6', 'fd00:1::/64']));
  assert.equal(c.ipv6, true);
  assert.equal(c.fixedCidrV6, 'fd00:1::/64');
  assert.equal(resolveConfig(parseDaemonFlags(['--ipv6=false'])).ipv6, undefined);
  assert.equal(resolveConfig({}).ipv6, undefined);
  assert.throws(() => resolveConfig(parseDaemonFlags(['--ipv6=maybe'])), /invalid boolean value "maybe" for --ipv6/);
});

test('--bridge none (dockerd: no default bridge) is refused, not taken as a link name', () => {
  assert.throws(() => resolveConfig(parseDaemonFlags(['--bridge', 'none'])), /--bridge=none is not supported/);
  assert.equal(resolveConfig(parseDaemonFlags(['--bridge', 'br7'])).bridge, 'br7');
});
