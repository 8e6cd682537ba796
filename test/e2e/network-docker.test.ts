// The real docker CLI against cocon's networks: network create/ls/inspect/connect/rm, run -p with
// port and ps, names on a user network, --link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { uniq, docker, waitFor, type Daemon } from '../helpers/daemon.js';
import { netTag, useBridgeDaemon } from '../integration/network-common.js';

const tag = netTag;
const h = useBridgeDaemon('cne', 93, 32);

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await docker(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let b = '';
      res.on('data', (c) => {
        b += c;
      });
      res.on('end', () => resolve(b));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test("docker network create/ls/inspect/rm; rm of a network in use is refused with docker's message", async () => {
  const net = uniq('dn');
  const id = (await ok(h.d, ['network', 'create', '--subnet', `10.${tag}.40.0/24`, '--label', 'k=v', net])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ls = await ok(h.d, ['network', 'ls']);
  for (const n of ['bridge', 'host', 'none', net]) assert.match(ls, new RegExp(`\\b${n}\\b`));
  const insp = JSON.parse(await ok(h.d, ['network', 'inspect', net]))[0];
  assert.equal(insp.Driver, 'bridge');
  assert.deepEqual(insp.IPAM.Config, [{ Subnet: `10.${tag}.40.0/24`, Gateway: `10.${tag}.40.1` }]);
  assert.deepEqual(insp.Labels, { k: 'v' });
  assert.equal(await ok(h.d, ['network', 'inspect', '-f', '{{.Name}}', id.slice(0, 12)]), `${net}\n`);
  const srv = uniq('srv');
  await ok(h.d, ['run', '-d', '--name', srv, '--network', net, 'busybox', 'sleep', '300']);
  const resolve = await ok(h.d, ['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `ping -c1 -W3 ${srv}`]);
  assert.match(resolve, new RegExp(`PING ${srv} \\(10\\.${tag}\\.40\\.2\\)`));
  assert.match(resolve, /1 packets received/);
  const rm = await docker(h.d, ['network', 'rm', net]);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, new RegExp(`error while removing network: network ${net} id ${id} has active endpoints`));
  const overlap = await docker(h.d, ['network', 'create', '--subnet', `10.${tag}.40.128/25`, uniq('ov')]);
  assert.notEqual(overlap.code, 0);
  assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
  await ok(h.d, ['rm', '-f', srv]);
  await ok(h.d, ['network', 'rm', net]);
});

test('docker run -p; docker port and ps show the binding; the port answers on 127.0.0.1', async () => {
  const name = uniq('pub');
  const port = 20000 + ((process.pid + 13) % 20000);
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    `${port}:80`,
    'busybox',
    'sh',
    '-c',
    'mkdir -p /w && echo via-docker > /w/index.html && exec httpd -f -p 80 -h /w',
  ]);
  assert.equal(await waitFor('published port', () => httpGet(port).catch(() => '')), 'via-docker\n');
  assert.equal(await ok(h.d, ['port', name]), `80/tcp -> 0.0.0.0:${port}\n`);
  assert.equal(await ok(h.d, ['port', name, '80/tcp']), `0.0.0.0:${port}\n`);
  assert.match(await ok(h.d, ['ps', '--filter', `name=${name}`]), new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp`));
  const ip = (await ok(h.d, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim();
  assert.match(ip, new RegExp(`^10\\.${tag}\\.93\\.\\d+$`));
  // --link: hosts entry and variables
  const linked = await ok(h.d, [
    'run',
    '--rm',
    '--link',
    `${name}:web`,
    'busybox',
    'sh',
    '-c',
    'grep web /etc/hosts; wget -qO- http://web/',
  ]);
  assert.match(linked, new RegExp(`${ip.replace(/\./g, '\\.')}\\tweb [0-9a-f]{12} ${name}`));
  assert.match(linked, /via-docker/);
  // connect a running container to a user network and back
  const net = uniq('cn');
  await ok(h.d, ['network', 'create', net]);
  await ok(h.d, ['network', 'connect', net, name]);
  assert.match(
    await ok(h.d, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name]),
    /^10\./,
  );
  await ok(h.d, ['network', 'disconnect', net, name]);
  await ok(h.d, ['rm', '-f', name]);
  await ok(h.d, ['network', 'rm', net]);
  await assert.rejects(httpGet(port));
});
