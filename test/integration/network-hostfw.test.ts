// Coexistence with the host's firewall, on a "host" where the FORWARD policy is DROP (as dockerd
// and ufw leave it). The daemon runs in a network namespace of the test's own (its "host"), wired
// by a veth pair to a second namespace, the "routed host" (198.51.100.2, a TCP echo on 7000 and a
// DNS answerer on UDP 53); so the policies set here touch nothing outside. Shown: outbound TCP and
// UDP from containers to the routed host, masqueraded; a published port reached from it, while the
// container's unpublished port reached directly is still dropped; --icc=false still isolating; the host flushing its FORWARD chain and cocon restoring its jump (and logging
// it); iptables-legacy's FORWARD DROP and an nft `inet` table with policy drop handled too; network rm and daemon shutdown removing every
// rule of cocon's while the host's policies and its own rules stay exactly as they were.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { useDaemon, uniq, docker, waitFor, type Daemon } from '../helpers/daemon.js';
import { routedHost, startNetnsServer } from './network-common.js';

const HOST_IP = '198.51.100.1';
const ROUTED_IP = '198.51.100.2';
const { HOST, ROUTED, inHost, inRouted, saved } = routedHost('hostfw', `${HOST_IP}/24`, `${ROUTED_IP}/24`);
// the host's own firewall: policy DROP (iptables-nft) and a rule of its own
inHost(['iptables', '-P', 'FORWARD', 'DROP']);
inHost(['iptables', '-A', 'FORWARD', '-i', 'vh', '-o', 'vh', '-j', 'ACCEPT']);
const before = saved('iptables-save');

// The routed host: TCP echo on 7000 and a DNS answerer on UDP 53, each printing who asked.
const SERVER = `
const net = require('net'), dgram = require('dgram');
net.createServer((s) => { s.once('data', (d) => { console.log(JSON.stringify({ proto: 'tcp', from: s.remoteAddress, data: d.toString().trim() })); s.end('pong from routed host\\n'); }); }).listen(7000, '${ROUTED_IP}');
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => {
  console.log(JSON.stringify({ proto: 'udp', from: r.address }));
  const q = m.subarray(12); let i = 0; while (q[i]) i += q[i] + 1; const question = q.subarray(0, i + 5);
  const head = Buffer.from([m[0], m[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
  u.send(Buffer.concat([head, question, answer]), r.port, r.address);
});
u.bind(53, '${ROUTED_IP}', () => console.log('ready'));
`;
const seen: Array<{ proto: string; from: string; data?: string }> = [];
let server: ChildProcess | undefined;

const h = useDaemon({
  busybox: true,
  netns: HOST,
  args: ['--icc=false', '--bip', '10.77.0.1/24', '--default-address-pool', 'base=10.78.0.0/16,size=24'],
});
after(() => {
  server?.kill();
});

const chainName = () => `COCON-FORWARD-${createHash('sha256').update(h.d.dataRoot).digest('hex').slice(0, 8)}`;

async function ok(d: Daemon, args: string[]): Promise<string> {
  const r = await docker(d, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** TCP and UDP (a DNS query) from a container to the routed host; what came back. */
async function probe(network = 'bridge'): Promise<string> {
  const r = await docker(
    h.d,
    [
      'run',
      '--rm',
      '--network',
      network,
      'busybox',
      'sh',
      '-c',
      `echo tcp-hi | nc -w3 ${ROUTED_IP} 7000; nslookup -timeout=2 probe.example ${ROUTED_IP} 2>&1 | grep -A1 'Name:' || echo no-dns-answer`,
    ],
    { timeoutMs: 60_000 },
  );
  return r.stdout + r.stderr;
}

test('FORWARD policy DROP (iptables-nft): outbound TCP and UDP masqueraded, a published port reached from the routed host, --icc=false kept', async () => {
  server = await startNetnsServer(ROUTED, SERVER, seen);
  // cocon's chain, reached by one tagged jump; the policy and the host's rule untouched
  const fwd = inHost(['iptables', '-S', 'FORWARD']);
  assert.match(fwd, /^-P FORWARD DROP$/m);
  assert.match(fwd, /^-A FORWARD -i vh -o vh -j ACCEPT$/m);
  assert.ok(fwd.includes(`-A FORWARD -m comment --comment "cocon:${h.d.dataRoot}" -j ${chainName()}`), fwd);
  assert.match(inHost(['iptables', '-S', chainName()]), /-A COCON-FORWARD-\w+ -i cocon\w+ -j ACCEPT/);
  assert.match(h.d.log(), /the host firewall drops forwarded packets by policy; accepting cocon's bridges there/);

  const out = await probe();
  assert.match(out, /pong from routed host/);
  assert.match(out, /Address:\s*203\.0\.113\.7/);
  // both arrived masqueraded to the host's address (nslookup may ask twice: A and AAAA)
  assert.deepEqual([...new Set(seen.map((s) => `${s.proto} ${s.from}`))], [`tcp ${HOST_IP}`, `udp ${HOST_IP}`]);
  assert.equal(seen[0].data, 'tcp-hi');

  const web = uniq('web');
  await ok(h.d, [
    'run',
    '-d',
    '--name',
    web,
    '-p',
    '8080:80',
    'busybox',
    'sh',
    '-c',
    'mkdir -p /w && echo published > /w/index.html && exec httpd -f -p 80 -h /w',
  ]);
  const got = await waitFor('the published port from the routed host', () => {
    const r = spawnSync('nsenter', [`--net=${ROUTED}`, 'busybox', 'wget', '-qO-', `http://${HOST_IP}:8080/`], {
      encoding: 'utf8',
      timeout: 5000,
    });
    return r.status === 0 ? r.stdout : '';
  });
  assert.equal(got, 'published\n');
  // --icc=false: containers of the default bridge still cannot reach each other
  const ip = (await ok(h.d, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', web])).trim();
  const icc = await ok(h.d, ['run', '--rm', 'busybox', 'sh', '-c', `wget -qO- -T 2 http://${ip}/ || echo icc-blocked`]);
  assert.match(icc, /icc-blocked/);
  // narrow: the same server reached directly (routed, not published) is still dropped by the host's policy
  inRouted(['ip', 'route', 'replace', '10.77.0.0/24', 'via', HOST_IP]);
  const direct = spawnSync('nsenter', [`--net=${ROUTED}`, 'busybox', 'wget', '-qO-', `http://${ip}/`], {
    encoding: 'utf8',
    timeout: 3000,
  });
  assert.notEqual(direct.status, 0, `reached ${ip} directly: ${direct.stdout}`);
  await ok(h.d, ['rm', '-f', web]);
});

test("the host deletes cocon's jump, then flushes its FORWARD chain: cocon notices, restores its jump and logs it", async () => {
  const mark = h.d.logSize();
  const jump = ['FORWARD', '-m', 'comment', '--comment', `cocon:${h.d.dataRoot}`, '-j', chainName()];
  inHost(['iptables', '-D', ...jump]);
  // without it the policy drops the container's traffic (what cocon fixes is real)...
  // ...but the daemon watches nftables and puts the jump back within moments
  await waitFor(
    'the jump restored',
    () => spawnSync('nsenter', [`--net=${HOST}`, 'iptables', '-C', ...jump]).status === 0,
    10_000,
  );
  assert.match(h.d.log(mark), /the host firewall changed and lost cocon's accept rules; restored them/);
  // a whole flush of FORWARD (the host's own rule goes too, as the host asked) is repaired the same way
  inHost(['iptables', '-F', 'FORWARD']);
  await waitFor(
    'the jump restored after a flush',
    () => spawnSync('nsenter', [`--net=${HOST}`, 'iptables', '-C', ...jump]).status === 0,
    10_000,
  );
  inHost(['iptables', '-A', 'FORWARD', '-i', 'vh', '-o', 'vh', '-j', 'ACCEPT']); // the host's rule back, as it was
  seen.length = 0;
  const out = await probe();
  assert.match(out, /pong from routed host/);
  assert.match(out, /Address:\s*203\.0\.113\.7/);
});

test('user networks: their devices get rules, internal ones none; iptables-legacy DROP handled; network rm removes them', async () => {
  const net = uniq('fw');
  const internal = uniq('fwi');
  inHost(['iptables-legacy', '-P', 'FORWARD', 'DROP']);
  try {
    await ok(h.d, ['network', 'create', net]);
    await ok(h.d, ['network', 'create', '--internal', internal]);
    const dev = `cbr-${(await ok(h.d, ['network', 'inspect', '-f', '{{.Id}}', net])).trim().slice(0, 11)}`;
    const idev = `cbr-${(await ok(h.d, ['network', 'inspect', '-f', '{{.Id}}', internal])).trim().slice(0, 11)}`;
    for (const bin of ['iptables', 'iptables-legacy']) {
      const chain = inHost([bin, '-S', chainName()]);
      assert.ok(chain.includes(`-i ${dev} -j ACCEPT`), `${bin}: ${chain}`);
      assert.ok(!chain.includes(idev), `${bin}: ${chain}`);
    }
    seen.length = 0;
    const out = await probe(net);
    assert.match(out, /pong from routed host/);
    assert.match(out, /Address:\s*203\.0\.113\.7/);
    await ok(h.d, ['network', 'rm', net, internal]);
    for (const bin of ['iptables', 'iptables-legacy']) assert.ok(!inHost([bin, '-S', chainName()]).includes(dev));
  } finally {
    inHost(['iptables-legacy', '-P', 'FORWARD', 'ACCEPT']);
  }
  // legacy no longer drops: cocon's legacy chain goes at the next check (a network change triggers one)
  const n2 = uniq('fw2');
  await ok(h.d, ['network', 'create', n2]);
  await ok(h.d, ['network', 'rm', n2]);
  assert.doesNotMatch(inHost(['iptables-legacy', '-S']), /COCON/);
});

test("an nftables.conf-style `inet` table whose forward chain drops by policy: cocon's chain and jump go in there, and away when the policy is accept again", async () => {
  inHost(
    ['nft', '-f', '-'],
    'table inet hostfilter {\n chain forward {\n  type filter hook forward priority 0; policy drop;\n  iifname "vh" oifname "vh" accept\n }\n}\n',
  );
  try {
    await waitFor(
      "cocon's chain in inet hostfilter",
      () => inHost(['nft', 'list', 'table', 'inet', 'hostfilter']).includes(`jump ${chainName()}`),
      10_000,
    );
    const t = inHost(['nft', 'list', 'table', 'inet', 'hostfilter']);
    assert.match(t, /iifname "cocon\w+" accept/);
    assert.match(t, /policy drop;/);
    seen.length = 0;
    const out = await probe();
    assert.match(out, /pong from routed host/);
    assert.match(out, /Address:\s*203\.0\.113\.7/);
    inHost(['nft', 'add', 'chain', 'inet', 'hostfilter', 'forward', '{ policy accept; }']);
    await waitFor(
      "cocon's chain gone from inet hostfilter",
      () => !inHost(['nft', 'list', 'table', 'inet', 'hostfilter']).includes('COCON'),
      10_000,
    );
    assert.match(inHost(['nft', 'list', 'table', 'inet', 'hostfilter']), /iifname "vh" oifname "vh" accept/);
  } finally {
    spawnSync('nsenter', [`--net=${HOST}`, 'nft', 'delete', 'table', 'inet', 'hostfilter']);
  }
});

test("daemon shutdown with no running container removes every rule of cocon's; the host's own stay as they were", async () => {
  const left = (await ok(h.d, ['ps', '-aq'])).split('\n').filter(Boolean);
  if (left.length) await ok(h.d, ['rm', '-f', ...left]);
  await h.d.shutdown();
  assert.doesNotMatch(inHost(['iptables-save']), /COCON|cocon:/);
  assert.equal(saved('iptables-save'), before);
  assert.doesNotMatch(inHost(['iptables-legacy-save']), /COCON|cocon:/);
  assert.match(inHost(['iptables', '-S', 'FORWARD']), /^-P FORWARD DROP$/m);
});
