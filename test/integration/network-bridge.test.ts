// Networks with real traffic: the default bridge (address, route, NAT table, published ports on
// 127.0.0.1 and the host's address, busy ports), user networks (names, aliases, --ip, internal,
// connect/disconnect, rm/prune refusals), daemon restart, and cleanup (no veth, netns or rule left).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { get } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { useDaemon, uniq, cli, waitFor, type Daemon } from '../helpers/daemon.js';
import { cleanupNet, nftTableOf } from './network-common.js';

const tag = (process.pid % 200) + 20;
const BRIDGE = `cnt${process.pid.toString(36)}`;
const h = useDaemon({
  busybox: true,
  args: ['--bridge', BRIDGE, '--bip', `10.${tag}.91.1/24`, '--default-address-pool', `base=10.${tag}.128.0/17,size=24`],
});

// after the helper's own after() (daemon stopped, roots swept) and again at exit, whatever happened
after(() => {
  try {
    cleanupNet(h.d.dataRoot);
  } catch {
    /* never started */
  }
});
process.on('exit', () => {
  try {
    cleanupNet(h.d.dataRoot);
  } catch {
    /* never started */
  }
});

function hostAddress(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? [])
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.')) return a.address;
  return '127.0.0.1';
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 3000 }, (res) => {
      let b = '';
      res.on('data', (c) => {
        b += c;
      });
      res.on('end', () => resolve(b));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
  });
}

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await cli(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `cocon ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const nftTable = () => nftTableOf(h.d.dataRoot);
const nftRules = () => spawnSync('nft', ['list', 'table', 'ip', nftTable()], { encoding: 'utf8' }).stdout;
const HTTPD = 'mkdir -p /w && echo served-$HOSTNAME > /w/index.html && exec httpd -f -p 80 -h /w';

test('default bridge: eth0 with an address of --bip, default route, hosts and resolv.conf; NAT table', async () => {
  const out = await ok(h.d, [
    'run',
    '--rm',
    '--hostname',
    'box1',
    'busybox',
    'sh',
    '-c',
    'ip -o -4 addr show eth0; ip route; cat /etc/hosts; cat /etc/resolv.conf',
  ]);
  assert.match(out, new RegExp(`inet 10\\.${tag}\\.91\\.\\d+/24`));
  assert.match(out, new RegExp(`default via 10\\.${tag}\\.91\\.1 dev eth0`));
  assert.match(out, new RegExp(`10\\.${tag}\\.91\\.\\d+\\tbox1`));
  assert.match(out, /nameserver /);
  const rules = nftRules();
  assert.match(rules, new RegExp(`ip saddr 10\\.${tag}\\.91\\.0/24 oifname != "${BRIDGE}" masquerade`));
  const link = spawnSync('ip', ['-o', 'addr', 'show', 'dev', BRIDGE], { encoding: 'utf8' }).stdout;
  assert.match(link, new RegExp(`inet 10\\.${tag}\\.91\\.1/24`));
  // --network none still has only lo
  const none = await ok(h.d, ['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
  assert.doesNotMatch(none, /eth0/);
});

test('published ports: 127.0.0.1 and the host address, random port, -P, busy port refused cleanly, port/ps/inspect', async () => {
  const port = 20000 + (process.pid % 20000);
  const name = uniq('pub');
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '--hostname',
    'pubhost',
    '-p',
    `${port}:80`,
    '-p',
    '80',
    '--expose',
    '81',
    'busybox',
    'sh',
    '-c',
    HTTPD,
  ]);
  assert.equal(
    await waitFor('httpd on 127.0.0.1', () => httpGet('127.0.0.1', port).catch(() => '')),
    'served-pubhost\n',
  );
  assert.equal(await httpGet(hostAddress(), port), 'served-pubhost\n');
  const insp = JSON.parse(await ok(h.d, ['inspect', name]))[0];
  const bindings = insp.NetworkSettings.Ports['80/tcp'] as Array<{ HostIp: string; HostPort: string }>;
  assert.deepEqual(
    bindings.map((b) => b.HostIp),
    ['0.0.0.0', '0.0.0.0'],
  );
  assert.ok(bindings.some((b) => b.HostPort === String(port)));
  const random = Number(bindings.find((b) => b.HostPort !== String(port))!.HostPort);
  assert.ok(random >= 32768 && random <= 60999, `random port ${random}`);
  assert.equal(insp.NetworkSettings.Ports['81/tcp'], null);
  assert.equal(await httpGet('127.0.0.1', random), 'served-pubhost\n');
  assert.match(await ok(h.d, ['port', name, '80/tcp']), new RegExp(`0\\.0\\.0\\.0:${port}`));
  const ps = await ok(h.d, ['ps', '--filter', `name=${name}`, '--format', '{{.Ports}}']);
  assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp`));
  assert.match(ps, /81\/tcp/);
  const ip = insp.NetworkSettings.IPAddress as string;
  assert.match(nftRules(), new RegExp(`tcp dport ${port} dnat to ${ip.replace(/\./g, '\\.')}:80`));

  // a host port in use: clear error, nothing left behind
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(port + 1, '0.0.0.0', () => r()));
  try {
    const busy = uniq('busy');
    const r = await cli(h.d, ['run', '-d', '--name', busy, '-p', `${port + 1}:80`, 'busybox', 'sleep', '30']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /port is already allocated/);
    assert.doesNotMatch(nftRules(), new RegExp(`dport ${port + 1} `));
    const st = JSON.parse(await ok(h.d, ['inspect', busy]))[0];
    assert.equal(st.State.Running, false);
    assert.equal(st.NetworkSettings.SandboxKey, '', 'no namespace for the failed container');
    await ok(h.d, ['rm', busy]);
  } finally {
    srv.close();
  }

  // -P publishes every exposed port
  const all = uniq('pall');
  await ok(h.d, ['run', '-d', '--name', all, '-P', '--expose', '80', 'busybox', 'sh', '-c', HTTPD]);
  const p2 = JSON.parse(await ok(h.d, ['inspect', all]))[0].NetworkSettings.Ports['80/tcp'][0].HostPort;
  assert.match(await waitFor('-P port', () => httpGet('127.0.0.1', Number(p2)).catch(() => '')), /served-/);

  // removal releases everything
  const sandbox = insp.NetworkSettings.SandboxKey as string;
  assert.ok(sandbox.startsWith(join(h.d.execRoot, 'netns') + '/'), sandbox);
  await ok(h.d, ['rm', '-f', name, all]);
  assert.doesNotMatch(nftRules(), /dnat to/);
  assert.ok(!existsSync(sandbox), 'the namespace went with the container');
  await assert.rejects(httpGet('127.0.0.1', port));
});

test('user network: names, aliases and ids resolve; --ip; connect/disconnect while running; rm and prune', async () => {
  const net = uniq('net');
  const netId = (await ok(h.d, ['network', 'create', net])).trim();
  assert.match(netId, /^[0-9a-f]{64}$/);
  const info = (await h.d.api('GET', `/networks/${net}`)).json;
  const subnet = info.IPAM.Config[0].Subnet as string;
  assert.match(subnet, new RegExp(`^10\\.${tag}\\.\\d+\\.0/24$`));
  const base = subnet.replace(/\.0\/24$/, '');
  const srv = uniq('srv');
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    srv,
    '--network',
    net,
    '--network-alias',
    'db',
    '--ip',
    `${base}.77`,
    'busybox',
    'sh',
    '-c',
    HTTPD,
  ]);
  const out = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    net,
    'busybox',
    'sh',
    '-c',
    `cat /etc/resolv.conf; nslookup ${srv} 127.0.0.11; nslookup db; ping -c1 -W3 ${srv}; wget -qO- http://db/`,
  ]);
  assert.match(out, /^nameserver 127\.0\.0\.11$/m);
  assert.match(out, new RegExp(`Address: ${base}\\.77`));
  assert.match(out, /1 packets received/);
  assert.match(out, /served-/);
  const ninsp = (await h.d.api('GET', `/networks/${netId}`)).json;
  const eps = Object.values(ninsp.Containers) as Array<{ Name: string; IPv4Address: string; MacAddress: string }>;
  assert.deepEqual(
    eps.map((e) => [e.Name, e.IPv4Address, e.MacAddress]),
    [
      [
        srv,
        `${base}.77/24`,
        `02:42:0a:${tag.toString(16).padStart(2, '0')}:${Number(base.split('.')[2]).toString(16).padStart(2, '0')}:4d`,
      ],
    ],
  );
  const cinsp = JSON.parse(await ok(h.d, ['inspect', srv]))[0];
  assert.equal(cinsp.NetworkSettings.Networks[net].IPAddress, `${base}.77`);
  assert.deepEqual(cinsp.NetworkSettings.Networks[net].Aliases, ['db', cinsp.Id.slice(0, 12)]);

  // refusals
  const rmBusy = await h.d.api('DELETE', `/networks/${net}`);
  assert.equal(rmBusy.status, 403);
  assert.equal(rmBusy.json.message, `error while removing network: network ${net} id ${netId} has active endpoints`);
  const overlap = await h.d.api('POST', '/networks/create', {
    Name: uniq('ov'),
    IPAM: { Config: [{ Subnet: subnet }] },
  });
  assert.equal(overlap.status, 403);
  assert.match(overlap.json.message, /Pool overlaps with other one on this address space/);
  const outside = await cli(h.d, ['run', '--rm', '--network', net, '--ip', '192.168.250.9', 'busybox', 'true']);
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, /no configured subnet or ip-range contain the IP address 192\.168\.250\.9/);
  const onDefault = await h.d.api('POST', '/containers/create', {
    Image: 'busybox',
    HostConfig: { NetworkMode: 'bridge' },
    NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: `10.${tag}.91.50` } } } },
  });
  assert.equal(onDefault.status, 400);
  assert.equal((await h.d.api('GET', '/networks/nope-no-such')).status, 404);
  assert.equal((await h.d.api('DELETE', '/networks/bridge')).status, 403);

  // connect a running default-bridge container, then disconnect it
  const other = uniq('oth');
  await ok(h.d, ['run', '-d', '--name', other, 'busybox', 'sleep', '300']);
  assert.equal((await h.d.api('POST', `/networks/${net}/connect`, { Container: other })).status, 200);
  const two = await ok(h.d, [
    'exec',
    other,
    'sh',
    '-c',
    `ip -o -4 addr; cat /etc/resolv.conf /etc/hosts; wget -qO- http://${srv}/`,
  ]);
  assert.match(two, /nameserver 127\.0\.0\.11/);
  // the containers service added the new address to the running container's hosts file
  const eth1 = new RegExp(`eth1\\s+inet (${base}\\.\\d+)/`).exec(two)?.[1];
  assert.ok(eth1, two);
  assert.match(two, new RegExp(`\\n${eth1!.replace(/\./g, '\\.')}\\t[0-9a-f]{12}\\n`));
  assert.match(two, new RegExp(`eth1\\s+inet ${base}\\.`));
  assert.match(two, /served-/);
  assert.equal((await h.d.api('POST', `/networks/${net}/disconnect`, { Container: other })).status, 200);
  assert.doesNotMatch(await ok(h.d, ['exec', other, 'ip', '-o', 'link']), /eth1/);

  // network ls / inspect through the CLI, then rm
  assert.match(await ok(h.d, ['network', 'ls']), new RegExp(net));
  await ok(h.d, ['rm', '-f', srv, other]);
  await ok(h.d, ['network', 'rm', net]);
  assert.equal((await h.d.api('GET', `/networks/${netId}`)).status, 404);
  const devs = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(devs, new RegExp(`cbr-${netId.slice(0, 11)}`));
  // --subnet/--gateway/--ip-range: addresses come from the range, the gateway is the given one
  const ranged = uniq('rng');
  const rid = (
    await h.d.api('POST', '/networks/create', {
      Name: ranged,
      IPAM: {
        Config: [{ Subnet: `10.${tag}.250.0/24`, Gateway: `10.${tag}.250.254`, IPRange: `10.${tag}.250.128/25` }],
      },
    })
  ).json.Id as string;
  const inRange = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    ranged,
    'busybox',
    'sh',
    '-c',
    'ip -o -4 addr show eth0; ip route',
  ]);
  assert.match(inRange, new RegExp(`inet 10\\.${tag}\\.250\\.128/24`));
  assert.match(inRange, new RegExp(`default via 10\\.${tag}\\.250\\.254`));
  await ok(h.d, ['network', 'rm', rid]);
  // prune removes unused user networks only
  const p1 = uniq('pr');
  await ok(h.d, ['network', 'create', p1]);
  const pr = await h.d.api('POST', '/networks/prune');
  assert.equal(pr.status, 200);
  assert.deepEqual(pr.json.NetworksDeleted, [p1]);
});

test('internal network: no route out; containers on it still talk', async () => {
  const net = uniq('int');
  await ok(h.d, ['network', 'create', '--internal', net]);
  const a = uniq('ia');
  await ok(h.d, ['run', '-d', '--name', a, '--network', net, 'busybox', 'sleep', '300']);
  const out = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    net,
    'busybox',
    'sh',
    '-c',
    `ip route; ping -c1 -W2 ${a} >/dev/null && echo peer-ok; ping -c1 -W2 ${hostAddress()} 2>&1; echo rc=$?`,
  ]);
  assert.doesNotMatch(out, /default via/);
  assert.match(out, /peer-ok/);
  assert.match(out, /unreachable|rc=1/i);
  await ok(h.d, ['rm', '-f', a]);
  await ok(h.d, ['network', 'rm', net]);
});

test('daemon restart: running containers keep their address and published port; rules restored without duplicates', async () => {
  const port = 20000 + ((process.pid + 7) % 20000);
  const name = uniq('keep');
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    name,
    '--hostname',
    'keeper',
    '-p',
    `${port}:80`,
    'busybox',
    'sh',
    '-c',
    HTTPD,
  ]);
  await waitFor('httpd', () => httpGet('127.0.0.1', port).catch(() => ''));
  const before1 = nftRules();
  await h.d.restart();
  assert.equal(await httpGet('127.0.0.1', port), 'served-keeper\n');
  const after1 = nftRules();
  assert.equal(
    after1.split('\n').filter((l) => l.includes('dnat to')).length,
    before1.split('\n').filter((l) => l.includes('dnat to')).length,
  );
  assert.equal(
    spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(nftTable())).length,
    1,
  );
  const insp = JSON.parse(await ok(h.d, ['inspect', name]))[0];
  assert.equal(insp.NetworkSettings.Ports['80/tcp'][0].HostPort, String(port));
  // a new container does not get the running one's address
  const out = await ok(h.d, ['run', '--rm', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
  assert.ok(!out.includes(`inet ${insp.NetworkSettings.IPAddress}/`), out);
  await ok(h.d, ['rm', '-f', name]);
  assert.ok(!existsSync(insp.NetworkSettings.SandboxKey), "the removed container's namespace is gone");
});

test('--network container:NAME shares the namespace; --dns, --dns-search, --add-host, --domainname; UDP publishing', async () => {
  const host = uniq('nsh');
  await ok(h.d, ['run', '-d', '--name', host, 'busybox', 'sleep', '300']);
  const hostIp = JSON.parse(await ok(h.d, ['inspect', host]))[0].NetworkSettings.IPAddress as string;
  const joined = await ok(h.d, [
    'run',
    '--rm',
    '--network',
    `container:${host}`,
    'busybox',
    'ip',
    '-o',
    '-4',
    'addr',
    'show',
    'eth0',
  ]);
  assert.match(joined, new RegExp(`inet ${hostIp.replace(/\./g, '\\.')}/24`));
  const files = await ok(h.d, [
    'run',
    '--rm',
    '--hostname',
    'hx',
    '--domainname',
    'example.test',
    '--dns',
    '192.0.2.53',
    '--dns-search',
    'corp.test',
    '--add-host',
    'db.local:10.1.2.3',
    '--add-host',
    'gw.local:host-gateway',
    'busybox',
    'sh',
    '-c',
    'cat /etc/resolv.conf /etc/hosts',
  ]);
  assert.match(files, /^nameserver 192\.0\.2\.53$/m);
  assert.match(files, /^search corp\.test$/m);
  assert.match(files, /^10\.1\.2\.3\tdb\.local$/m);
  assert.match(files, new RegExp(`^10\\.${tag}\\.91\\.1\\tgw\\.local$`, 'm'));
  assert.match(files, /\thx\.example\.test hx$/m);
  await ok(h.d, ['rm', '-f', host]);
  // UDP: a published UDP port reaches a UDP listener in the container's namespace (busybox has no
  // UDP server: a Node echo server runs inside the namespace through nsenter)
  const port = 20000 + ((process.pid + 29) % 20000);
  const u = uniq('udp');
  await ok(h.d, ['run', '-d', '--name', u, '-p', `127.0.0.1:${port}:5353/udp`, 'busybox', 'sleep', '300']);
  assert.match(await ok(h.d, ['port', u]), new RegExp(`5353/udp -> 127\\.0\\.0\\.1:${port}`));
  const sandbox = JSON.parse(await ok(h.d, ['inspect', u]))[0].NetworkSettings.SandboxKey as string;
  const echo = spawn(
    'nsenter',
    [
      `--net=${sandbox}`,
      process.execPath,
      '-e',
      "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('udp-reply:'+m,r.port,r.address));s.bind(5353,()=>console.log('ready'))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve) => echo.stdout!.once('data', () => resolve()));
    const reply = await waitFor(
      'udp reply',
      () =>
        new Promise<string>((resolve) => {
          const s = createSocket('udp4');
          const t = setTimeout(() => {
            s.close();
            resolve('');
          }, 1000);
          s.on('message', (m) => {
            clearTimeout(t);
            s.close();
            resolve(m.toString());
          });
          s.send('ping', port, '127.0.0.1');
        }),
      15_000,
      200,
    );
    assert.equal(reply, 'udp-reply:ping');
  } finally {
    echo.kill();
  }
  await ok(h.d, ['rm', '-f', u]);
});
