// Inter-container communication off (--icc=false; enable_icc=false on user networks): unlinked
// containers exchange no packet; --link opens exactly the linked container's exposed ports, in both
// directions of the flow, and brings docker's /etc/hosts entry and environment variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniq, cli, type Daemon } from '../helpers/daemon.js';
import { netTag, useBridgeDaemon } from './network-common.js';

const tag = netTag;
const h = useBridgeDaemon('cni', 92, 64, { extra: ['--icc=false'], poolPrefix: 18 });

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await cli(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `cocon ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// Two listeners: 80 is exposed (linkable), 81 is not.
const SERVE = 'while true; do echo hello80 | nc -l -p 80; done & while true; do echo hello81 | nc -l -p 81; done';

test('--icc=false: unlinked containers cannot ping or connect; the gateway still answers', async () => {
  const srv = uniq('srv');
  await ok(h.d, ['run', '-d', '--name', srv, '--expose', '80', 'busybox', 'sh', '-c', SERVE]);
  const ip = JSON.parse(await ok(h.d, ['inspect', srv]))[0].NetworkSettings.IPAddress as string;
  const out = await ok(h.d, [
    'run',
    '--rm',
    'busybox',
    'sh',
    '-c',
    `ping -c1 -W1 ${ip} >/dev/null && echo ping-ok || echo ping-blocked; nc -w2 ${ip} 80 </dev/null || echo nc-blocked; ping -c1 -W1 10.${tag}.92.1 >/dev/null && echo gw-ok`,
  ]);
  assert.match(out, /ping-blocked/);
  assert.match(out, /nc-blocked/);
  assert.doesNotMatch(out, /hello80/);
  assert.match(out, /gw-ok/);

  // linked: the exposed port only, plus the hosts entry and the variables
  const linked = await ok(h.d, [
    'run',
    '--rm',
    '--link',
    `${srv}:alpha`,
    'busybox',
    'sh',
    '-c',
    'env | sort | grep ^ALPHA; grep alpha /etc/hosts; nc -w3 alpha 80 </dev/null; nc -w2 alpha 81 </dev/null || echo port81-blocked; ping -c1 -W1 alpha >/dev/null || echo ping-blocked',
  ]);
  assert.match(linked, new RegExp(`ALPHA_PORT=tcp://${ip.replace(/\./g, '\\.')}:80`));
  assert.match(linked, new RegExp(`ALPHA_PORT_80_TCP_ADDR=${ip.replace(/\./g, '\\.')}`));
  assert.match(linked, /ALPHA_PORT_80_TCP_PORT=80/);
  assert.match(linked, /ALPHA_PORT_80_TCP_PROTO=tcp/);
  assert.match(linked, /ALPHA_NAME=\/[^/]+\/alpha/);
  assert.match(linked, new RegExp(`${ip.replace(/\./g, '\\.')}\\talpha [0-9a-f]{12} ${srv}`));
  assert.match(linked, /hello80/);
  assert.doesNotMatch(linked, /hello81/);
  assert.match(linked, /port81-blocked/);
  assert.match(linked, /ping-blocked/);
  const stopped = await cli(h.d, ['run', '--rm', '--link', 'no-such-container:x', 'busybox', 'true']);
  assert.notEqual(stopped.code, 0);
  await ok(h.d, ['rm', '-f', srv]);
});

test('user network with enable_icc=false isolates its containers; an icc network does not', async () => {
  const iso = uniq('iso');
  const open = uniq('open');
  await ok(h.d, ['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', iso]);
  await ok(h.d, ['network', 'create', open]);
  const a = uniq('ia');
  const b = uniq('ob');
  await ok(h.d, ['run', '-d', '--name', a, '--network', iso, 'busybox', 'sh', '-c', SERVE]);
  await ok(h.d, ['run', '-d', '--name', b, '--network', open, 'busybox', 'sh', '-c', SERVE]);
  const isoOut = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    iso,
    'busybox',
    'sh',
    '-c',
    `nc -w2 ${a} 80 </dev/null || echo blocked`,
  ]);
  assert.match(isoOut, /blocked/);
  const openOut = await ok(h.d, ['run', '--rm', '--network', open, 'busybox', 'sh', '-c', `nc -w3 ${b} 80 </dev/null`]);
  assert.match(openOut, /hello80/);
  await ok(h.d, ['rm', '-f', a, b]);
  await ok(h.d, ['network', 'rm', iso, open]);
});
