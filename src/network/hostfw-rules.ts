// Coexistence with the host's firewall, as plain data and texts (no I/O): which of the host's
// forward chains would drop cocon's routed traffic, and the narrowly scoped accept rules cocon puts
// in a chain of its own that a single jump rule (tagged with the data root) reaches from there.
// What hostfw.ts applies: iptables-restore input (iptables-nft or iptables-legacy, and their
// ip6tables twins for IPv6), nft scripts for other nft tables (ip, ip6, inet), firewall-cmd argv for
// firewalld. IPv6-only places (ip6tables, `ip6` tables) get the IPv6 networks' devices only. Per bridge device, three rules: everything the
// containers send out, the replies coming back, and connections to published ports (DNATed).

/** A base chain at the forward hook as `nft -j list chains` shows it. */
export interface ForwardChain {
  family: string;
  table: string;
  chain: string;
  policy?: string;
}

/** Where cocon's accept rules go. */
export type IptablesBin = 'iptables-nft' | 'iptables-legacy' | 'ip6tables-nft' | 'ip6tables-legacy';
export const IPTABLES_BINS: readonly IptablesBin[] = [
  'iptables-nft',
  'iptables-legacy',
  'ip6tables-nft',
  'ip6tables-legacy',
];

export type Target =
  | { kind: 'iptables'; bin: IptablesBin }
  | { kind: 'nft'; family: string; table: string; chain: string }
  | { kind: 'firewalld' };

export function targetKey(t: Target): string {
  return t.kind === 'iptables' ? t.bin : t.kind === 'nft' ? `nft ${t.family} ${t.table} ${t.chain}` : 'firewalld';
}

/** Does the target filter IPv6 only (ip6tables, an `ip6` nft table)? It then gets the IPv6 networks' devices only. */
export function ipv6Only(t: Target): boolean {
  return t.kind === 'iptables' ? t.bin.startsWith('ip6') : t.kind === 'nft' && t.family === 'ip6';
}

/** The nft table an iptables-nft binary manages (`ip filter`, `ip6 filter`). */
export function nftFamilyOf(bin: IptablesBin): 'ip' | 'ip6' {
  return bin.startsWith('ip6') ? 'ip6' : 'ip';
}

/** Is this forward chain iptables-nft's (or ip6tables-nft's) FORWARD, to be reached through that tool? */
export function iptablesManaged(
  c: { family: string; table: string; chain: string },
  haveNft: (bin: IptablesBin) => boolean,
): boolean {
  return (
    c.table === 'filter' &&
    ((c.family === 'ip' && haveNft('iptables-nft')) || (c.family === 'ip6' && haveNft('ip6tables-nft')))
  );
}

/** The host as the daemon sees it at one moment. */
export interface HostFirewallState {
  /** Base chains at the forward hook of tables that are not cocon's own (families ip, ip6 and inet). */
  nftForward: ForwardChain[];
  /** iptables-nft is installed (it then manages `ip filter`). */
  iptablesNft: boolean;
  /** ip6tables-nft is installed (it then manages `ip6 filter`). */
  ip6tablesNft?: boolean;
  /** iptables-legacy's FORWARD policy, when that binary exists and its filter table is loaded. */
  legacyPolicy?: string;
  /** ip6tables-legacy's FORWARD policy, when that binary exists and its (IPv6) filter table is loaded. */
  legacy6Policy?: string;
  firewalld: boolean;
}

/**
 * The targets that need cocon's accept rules: forward base chains that drop by policy (iptables'
 * FORWARD through iptables itself, any other nft chain directly), and firewalld when it runs (its
 * zones decide, so the devices go to its `trusted` zone instead).
 */
export function targets(s: HostFirewallState, ownPrefix: string): Target[] {
  const out: Target[] = [];
  for (const c of s.nftForward) {
    if (c.table.startsWith(ownPrefix) || !['ip', 'ip6', 'inet'].includes(c.family) || c.policy !== 'drop') continue;
    if (s.firewalld && c.family === 'inet' && c.table === 'firewalld') continue;
    if (s.iptablesNft && c.family === 'ip' && c.table === 'filter' && c.chain === 'FORWARD')
      out.push({ kind: 'iptables', bin: 'iptables-nft' });
    else if (s.ip6tablesNft && c.family === 'ip6' && c.table === 'filter' && c.chain === 'FORWARD')
      out.push({ kind: 'iptables', bin: 'ip6tables-nft' });
    else out.push({ kind: 'nft', family: c.family, table: c.table, chain: c.chain });
  }
  if (s.legacyPolicy === 'DROP') out.push({ kind: 'iptables', bin: 'iptables-legacy' });
  if (s.legacy6Policy === 'DROP') out.push({ kind: 'iptables', bin: 'ip6tables-legacy' });
  if (s.firewalld) out.push({ kind: 'firewalld' });
  return out;
}

/** iptables rule specs (after `-A CHAIN`) that accept one device's routed traffic. */
export function acceptSpecs(device: string): string[][] {
  return [
    ['-i', device, '-j', 'ACCEPT'],
    ['-o', device, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
    ['-o', device, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'],
  ];
}

/** `iptables-restore --noflush` input that declares (and so empties) `chain` in filter and fills it. */
export function iptablesChainRestore(chain: string, devices: string[]): string {
  return [
    '*filter',
    `:${chain} - [0:0]`,
    ...devices.flatMap((d) => acceptSpecs(d).map((s) => `-A ${chain} ${s.join(' ')}`)),
    'COMMIT',
    '',
  ].join('\n');
}

/** The jump from FORWARD to cocon's chain, tagged so that it is found again (and swept once the data root is gone). */
export function iptablesJumpSpec(chain: string, tag: string): string[] {
  return ['FORWARD', '-m', 'comment', '--comment', tag, '-j', chain];
}

/** `iptables -S CHAIN` lines expected for cocon's chain. */
export function iptablesChainListing(chain: string, devices: string[]): string[] {
  return [`-N ${chain}`, ...devices.flatMap((d) => acceptSpecs(d).map((s) => `-A ${chain} ${s.join(' ')}`))];
}

/** Jumps to cocon chains in `iptables -S FORWARD` (or `ip6tables -S FORWARD`) output: the tag and the chain of each. */
export function parseIptablesJumps(listing: string): Array<{ tag: string; chain: string }> {
  const out: Array<{ tag: string; chain: string }> = [];
  for (const line of listing.split('\n')) {
    const m = /^-A FORWARD -m comment --comment "?(cocon:[^"]*?)"? -j (COCON-FORWARD-[0-9a-f]+)\s*$/.exec(line.trim());
    if (m) out.push({ tag: m[1], chain: m[2] });
  }
  return out;
}

/** The policy in `iptables -S FORWARD` output (DROP, ACCEPT), '' when absent. */
export function parseIptablesPolicy(listing: string): string {
  return /^-P FORWARD (\S+)/m.exec(listing)?.[1] ?? '';
}

/** nft rule bodies of cocon's chain inside a foreign nft table. */
export function nftAcceptRules(device: string): string[] {
  return [
    `iifname "${device}" accept`,
    `oifname "${device}" ct state established,related accept`,
    `oifname "${device}" ct status dnat accept`,
  ];
}

/** An nft script that makes (or empties) cocon's chain in a foreign table and fills it; the jump is added apart (once). */
export function nftChainScript(family: string, table: string, chain: string, devices: string[]): string {
  return [
    `add chain ${family} ${table} ${chain}`,
    `flush chain ${family} ${table} ${chain}`,
    ...devices.flatMap((d) => nftAcceptRules(d).map((r) => `add rule ${family} ${table} ${chain} ${r}`)),
    '',
  ].join('\n');
}

/** firewall-cmd argv that puts a device in (add) or takes it out of (remove) the runtime `trusted` zone. */
export function firewalldArgs(action: 'add' | 'remove', device: string): string[] {
  return ['--zone=trusted', `--${action}-interface=${device}`];
}
