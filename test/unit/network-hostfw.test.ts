// Coexistence with the host's firewall as data (src/network/hostfw-rules.ts): which forward chains
// need cocon's accept rules, and the exact iptables/nft/firewall-cmd texts it hands to the tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptSpecs,
  firewalldArgs,
  iptablesChainListing,
  iptablesChainRestore,
  iptablesJumpSpec,
  nftChainScript,
  parseIptablesJumps,
  parseIptablesPolicy,
  ipv6Only,
  iptablesManaged,
  targets,
  targetKey,
} from '../../src/network/hostfw-rules.js';

const ipFilter = { family: 'ip', table: 'filter', chain: 'FORWARD', policy: 'drop' };

test('targets: a DROP policy of iptables FORWARD goes through iptables-nft when installed, through nft otherwise', () => {
  assert.deepEqual(targets({ nftForward: [ipFilter], iptablesNft: true, firewalld: false }, 'cocon_'), [
    { kind: 'iptables', bin: 'iptables-nft' },
  ]);
  assert.deepEqual(targets({ nftForward: [ipFilter], iptablesNft: false, firewalld: false }, 'cocon_'), [
    { kind: 'nft', family: 'ip', table: 'filter', chain: 'FORWARD' },
  ]);
});

test('targets: ip6tables FORWARD DROP (dockerd with ip6tables, ufw) through ip6tables-nft, an ip6 nft table directly, ip6tables-legacy DROP; those are IPv6-only', () => {
  const ip6Filter = { family: 'ip6', table: 'filter', chain: 'FORWARD', policy: 'drop' };
  const t = targets(
    {
      nftForward: [ipFilter, ip6Filter, { family: 'ip6', table: 'host6', chain: 'fwd', policy: 'drop' }],
      iptablesNft: true,
      ip6tablesNft: true,
      legacy6Policy: 'DROP',
      firewalld: false,
    },
    'cocon_',
  );
  assert.deepEqual(t.map(targetKey), ['iptables-nft', 'ip6tables-nft', 'nft ip6 host6 fwd', 'ip6tables-legacy']);
  assert.deepEqual(t.map(ipv6Only), [false, true, true, true]);
  assert.equal(ipv6Only({ kind: 'nft', family: 'inet', table: 'filter', chain: 'forward' }), false);
  // without ip6tables-nft, ip6 filter is just another nft table
  assert.deepEqual(targets({ nftForward: [ip6Filter], iptablesNft: true, firewalld: false }, 'cocon_').map(targetKey), [
    'nft ip6 filter FORWARD',
  ]);
  assert.deepEqual(
    targets({ nftForward: [ip6Filter], iptablesNft: true, legacy6Policy: 'ACCEPT', firewalld: false }, 'cocon_').length,
    1,
  );
  const have = (b: string) => b === 'ip6tables-nft';
  assert.equal(iptablesManaged(ip6Filter, have), true);
  assert.equal(iptablesManaged(ipFilter, have), false);
});

test("targets: accept policies, cocon's own tables, other families and hooks are left alone", () => {
  const s = {
    nftForward: [
      { ...ipFilter, policy: 'accept' },
      { family: 'ip', table: 'cocon_12345678', chain: 'forward', policy: 'drop' },
      { family: 'bridge', table: 'x', chain: 'f', policy: 'drop' },
    ],
    iptablesNft: true,
    firewalld: false,
  };
  assert.deepEqual(targets(s, 'cocon_'), []);
});

test('targets: an nftables.conf inet filter forward with policy drop, iptables-legacy DROP, firewalld running', () => {
  const t = targets(
    {
      nftForward: [
        { family: 'inet', table: 'filter', chain: 'forward', policy: 'drop' },
        { family: 'inet', table: 'firewalld', chain: 'filter_FORWARD', policy: 'drop' },
      ],
      iptablesNft: true,
      legacyPolicy: 'DROP',
      firewalld: true,
    },
    'cocon_',
  );
  assert.deepEqual(t.map(targetKey), ['nft inet filter forward', 'iptables-legacy', 'firewalld']);
  assert.deepEqual(
    targets({ nftForward: [], iptablesNft: false, legacyPolicy: 'ACCEPT', firewalld: false }, 'cocon_'),
    [],
  );
});

test("iptables texts: three rules per device in cocon's chain, declared (so emptied) by restore; the tagged jump", () => {
  assert.deepEqual(acceptSpecs('cbr-1'), [
    ['-i', 'cbr-1', '-j', 'ACCEPT'],
    ['-o', 'cbr-1', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
    ['-o', 'cbr-1', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'],
  ]);
  assert.equal(
    iptablesChainRestore('COCON-FORWARD-ab', ['a', 'b']),
    [
      '*filter',
      ':COCON-FORWARD-ab - [0:0]',
      '-A COCON-FORWARD-ab -i a -j ACCEPT',
      '-A COCON-FORWARD-ab -o a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A COCON-FORWARD-ab -o a -m conntrack --ctstate DNAT -j ACCEPT',
      '-A COCON-FORWARD-ab -i b -j ACCEPT',
      '-A COCON-FORWARD-ab -o b -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A COCON-FORWARD-ab -o b -m conntrack --ctstate DNAT -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.equal(iptablesChainRestore('C', []), '*filter\n:C - [0:0]\nCOMMIT\n');
  assert.deepEqual(iptablesChainListing('C', ['a']), [
    '-N C',
    '-A C -i a -j ACCEPT',
    '-A C -o a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A C -o a -m conntrack --ctstate DNAT -j ACCEPT',
  ]);
  assert.deepEqual(iptablesJumpSpec('C', 'cocon:/var/lib/cocon'), [
    'FORWARD',
    '-m',
    'comment',
    '--comment',
    'cocon:/var/lib/cocon',
    '-j',
    'C',
  ]);
});

test('iptables -S parsing: the policy, and cocon jumps with their data root tags (others ignored)', () => {
  const listing = [
    '-P FORWARD DROP',
    '-A FORWARD -j DOCKER-USER',
    '-A FORWARD -m comment --comment "cocon:/var/lib/cocon" -j COCON-FORWARD-0a1b2c3d',
    '-A FORWARD -m comment --comment "cocon:/tmp/d-1/data" -j COCON-FORWARD-99887766',
    '-A FORWARD -m comment --comment "mine" -j ACCEPT',
    '',
  ].join('\n');
  assert.equal(parseIptablesPolicy(listing), 'DROP');
  assert.equal(parseIptablesPolicy('-A FORWARD -j X'), '');
  assert.deepEqual(parseIptablesJumps(listing), [
    { tag: 'cocon:/var/lib/cocon', chain: 'COCON-FORWARD-0a1b2c3d' },
    { tag: 'cocon:/tmp/d-1/data', chain: 'COCON-FORWARD-99887766' },
  ]);
});

test("nft script for a foreign table: cocon's chain made, emptied and filled; firewalld argv", () => {
  assert.equal(
    nftChainScript('inet', 'filter', 'COCON-FORWARD-ab', ['d0']),
    [
      'add chain inet filter COCON-FORWARD-ab',
      'flush chain inet filter COCON-FORWARD-ab',
      'add rule inet filter COCON-FORWARD-ab iifname "d0" accept',
      'add rule inet filter COCON-FORWARD-ab oifname "d0" ct state established,related accept',
      'add rule inet filter COCON-FORWARD-ab oifname "d0" ct status dnat accept',
      '',
    ].join('\n'),
  );
  assert.deepEqual(firewalldArgs('add', 'cbr-x'), ['--zone=trusted', '--add-interface=cbr-x']);
  assert.deepEqual(firewalldArgs('remove', 'cbr-x'), ['--zone=trusted', '--remove-interface=cbr-x']);
});
