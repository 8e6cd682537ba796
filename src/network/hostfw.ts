// Coexistence with the host's firewall. When another program's forward chain drops by policy
// (dockerd and ufw set iptables' FORWARD policy to DROP; an nftables.conf may do the same), the
// routed traffic of cocon's bridges (outbound NAT, published ports reached from other hosts) would
// die there: in nftables a packet dropped by any base chain is dropped. HostFirewall keeps, for the
// bridge devices it is given, accept rules in a chain cocon owns (COCON-FORWARD-<hash>) reached by
// one tagged jump rule, in each such place: iptables-nft's and iptables-legacy's FORWARD through
// iptables itself (and ip6tables' for IPv6: dockerd with ip6tables, ufw), other nft tables (ip, ip6,
// inet) directly, firewalld's runtime `trusted` zone when firewalld runs. IPv6-only places get only
// the devices of the IPv6 networks. It never changes a policy or another program's rule.
//
// Lifecycle: start(devices, devices6) (daemon start: puts what is missing in place, removes what is no longer
// wanted, then watches: `nft monitor` for nftables changes, a slow timer for iptables-legacy and
// firewalld) -> setDevices(devices, devices6) (networks created or removed) -> stop(remove) (daemon shutdown;
// with remove, every rule and chain of this daemon goes). Every change to the host is logged.
// Failures are logged, never thrown: the host's firewall is not cocon's to own.
import { log } from '../core/log.js';
import { nftApply } from '../sys/nft.js';
import {
  firewallCmd,
  firewalldRunning,
  haveTool,
  iptables,
  iptablesRestore,
  iptablesTry,
  legacyFilterLoaded,
  nftChainRules,
  nftForwardChains,
  nftRun,
  watchNftables,
} from '../sys/hostfw.js';
import {
  IPTABLES_BINS,
  firewalldArgs,
  ipv6Only,
  iptablesManaged,
  nftFamilyOf,
  iptablesChainListing,
  iptablesChainRestore,
  iptablesJumpSpec,
  nftAcceptRules,
  nftChainScript,
  parseIptablesJumps,
  parseIptablesPolicy,
  targetKey,
  targets,
  type HostFirewallState,
  type IptablesBin,
  type Target,
} from './hostfw-rules.js';

/** Is the binary usable here: installed and, for legacy ones, its filter table loaded (else it has nothing of anyone's)? */
function usable(bin: IptablesBin): boolean {
  return haveTool(bin) && (!bin.endsWith('-legacy') || legacyFilterLoaded(bin.startsWith('ip6')));
}

const RECHECK_MS = 30_000;

export class HostFirewall {
  private devices: string[] = [];
  /** The devices of IPv6 networks (a subset of devices): what ip6tables and ip6 tables accept. */
  private devices6: string[] = [];
  /** Targets holding our rules, by key. */
  private installed = new Map<string, Target>();
  /** Devices put in firewalld's trusted zone. */
  private fwDevices = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private unwatch?: () => void;
  private timer?: NodeJS.Timeout;
  private started = false;

  /** chain: cocon's chain name (COCON-FORWARD-<hash>); tag: the jump rule's comment (cocon:<data root>); ownPrefix: cocon's own nft tables. */
  constructor(
    readonly chain: string,
    private readonly tag: string,
    private readonly ownPrefix: string,
  ) {}

  async start(devices: string[], devices6: string[] = []): Promise<void> {
    this.devices = [...devices].sort();
    this.devices6 = devices6.filter((d) => devices.includes(d)).sort();
    this.started = true;
    // whatever an earlier run of this daemon left anywhere is a candidate for removal
    for (const t of await this.possibleTargets()) this.installed.set(targetKey(t), t);
    await this.enqueue('start');
    this.unwatch = watchNftables(() => {
      void this.enqueue('check');
    });
    this.timer = setInterval(() => {
      void this.enqueue('check');
    }, RECHECK_MS);
    this.timer.unref();
  }

  /** The bridge devices whose routed traffic must pass (non-internal bridges). */
  setDevices(devices: string[], devices6: string[] = []): Promise<void> {
    const next = [...devices].sort();
    const next6 = devices6.filter((d) => devices.includes(d)).sort();
    if (next.join(' ') === this.devices.join(' ') && next6.join(' ') === this.devices6.join(' ')) return this.queue;
    this.devices = next;
    this.devices6 = next6;
    return this.started ? this.enqueue('change') : this.queue;
  }

  /** Stops watching; with `remove`, takes every rule and chain of this daemon away. */
  async stop(remove: boolean): Promise<void> {
    this.started = false;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.timer) clearInterval(this.timer);
    await this.queue;
    if (!remove) return;
    for (const t of this.installed.values()) await this.uninstall(t, 'daemon shutdown');
    this.installed.clear();
  }

  private enqueue(reason: 'start' | 'change' | 'check'): Promise<void> {
    this.queue = this.queue
      .then(() => this.sync(reason))
      .catch((e: Error) => log.warn('network: host firewall coexistence failed', { error: e.message }));
    return this.queue;
  }

  private async observe(): Promise<HostFirewallState> {
    const s: HostFirewallState = {
      nftForward: await nftForwardChains(),
      iptablesNft: haveTool('iptables-nft'),
      ip6tablesNft: haveTool('ip6tables-nft'),
      firewalld: await firewalldRunning(),
    };
    if (usable('iptables-legacy'))
      s.legacyPolicy = parseIptablesPolicy(await iptables('iptables-legacy', ['-S', 'FORWARD']).catch(() => ''));
    if (usable('ip6tables-legacy'))
      s.legacy6Policy = parseIptablesPolicy(await iptables('ip6tables-legacy', ['-S', 'FORWARD']).catch(() => ''));
    return s;
  }

  /** The devices whose rules go to `t`. */
  private devicesFor(t: Target): string[] {
    return ipv6Only(t) ? this.devices6 : this.devices;
  }

  /** Every place where rules of ours could be, to sweep at start. */
  private async possibleTargets(): Promise<Target[]> {
    const out: Target[] = [];
    const chains = await nftForwardChains();
    for (const bin of IPTABLES_BINS) {
      if (
        !usable(bin) ||
        (bin.endsWith('-nft') && !chains.some((c) => c.family === nftFamilyOf(bin) && c.table === 'filter'))
      )
        continue;
      if (await iptablesTry(bin, ['-S', this.chain])) out.push({ kind: 'iptables', bin });
    }
    for (const c of chains) {
      if (c.table.startsWith(this.ownPrefix) || iptablesManaged(c, haveTool)) continue;
      if ((await nftChainRules(c.family, c.table, c.chain))?.some((r) => r.jump === this.chain))
        out.push({ kind: 'nft', family: c.family, table: c.table, chain: c.chain });
    }
    return out;
  }

  private async sync(reason: 'start' | 'change' | 'check'): Promise<void> {
    const want = this.devices.length
      ? targets(await this.observe(), this.ownPrefix).filter((t) => this.devicesFor(t).length)
      : [];
    const keys = new Set(want.map(targetKey));
    for (const [k, t] of [...this.installed]) {
      if (keys.has(k)) continue;
      await this.uninstall(
        t,
        !this.devices.length
          ? 'no bridge network left'
          : ipv6Only(t) && !this.devices6.length
            ? 'no IPv6 bridge network left'
            : 'no longer drops forwarded packets by policy',
      );
      this.installed.delete(k);
    }
    for (const t of want) {
      const k = targetKey(t);
      if (await this.inPlace(t)) {
        this.installed.set(k, t);
        continue;
      }
      const had = this.installed.has(k);
      await this.install(t);
      this.installed.set(k, t);
      if (reason === 'check' && had)
        log.warn("network: the host firewall changed and lost cocon's accept rules; restored them", {
          target: k,
          chain: this.chain,
          devices: this.devicesFor(t).join(','),
        });
      else
        log.info("network: the host firewall drops forwarded packets by policy; accepting cocon's bridges there", {
          target: k,
          chain: this.chain,
          devices: this.devicesFor(t).join(','),
        });
    }
  }

  private async inPlace(t: Target): Promise<boolean> {
    if (t.kind === 'iptables') {
      const listing = await iptables(t.bin, ['-S', this.chain]).catch(() => null);
      if (
        listing === null ||
        listing
          .trim()
          .split('\n')
          .map((l) => l.trim())
          .join('\n') !== iptablesChainListing(this.chain, this.devicesFor(t)).join('\n')
      )
        return false;
      return iptablesTry(t.bin, ['-C', ...iptablesJumpSpec(this.chain, this.tag)]);
    }
    if (t.kind === 'nft') {
      const mine = await nftChainRules(t.family, t.table, this.chain);
      if (!mine || mine.length !== this.devicesFor(t).length * nftAcceptRules('x').length) return false;
      return !!(await nftChainRules(t.family, t.table, t.chain))?.some((r) => r.jump === this.chain);
    }
    return (
      this.devices.every((d) => this.fwDevices.has(d)) && [...this.fwDevices].every((d) => this.devices.includes(d))
    );
  }

  private async install(t: Target): Promise<void> {
    if (t.kind === 'iptables') {
      await iptablesRestore(t.bin, iptablesChainRestore(this.chain, this.devicesFor(t)));
      if (!(await iptablesTry(t.bin, ['-C', ...iptablesJumpSpec(this.chain, this.tag)]))) {
        const [base, ...rest] = iptablesJumpSpec(this.chain, this.tag);
        await iptables(t.bin, ['-I', base, '1', ...rest]);
      }
    } else if (t.kind === 'nft') {
      await nftApply(nftChainScript(t.family, t.table, this.chain, this.devicesFor(t)));
      if (!(await nftChainRules(t.family, t.table, t.chain))?.some((r) => r.jump === this.chain)) {
        await nftRun(['insert', 'rule', t.family, t.table, t.chain, 'jump', this.chain, 'comment', `"${this.tag}"`]);
      }
    } else {
      for (const d of this.fwDevices)
        if (!this.devices.includes(d)) {
          await firewallCmd(firewalldArgs('remove', d));
          this.fwDevices.delete(d);
        }
      for (const d of this.devices) if (await firewallCmd(firewalldArgs('add', d))) this.fwDevices.add(d);
    }
  }

  private async uninstall(t: Target, why: string): Promise<void> {
    if (t.kind === 'iptables') await removeIptables(t.bin, this.chain, this.tag);
    else if (t.kind === 'nft') await removeNft(t.family, t.table, t.chain, this.chain);
    else {
      for (const d of this.fwDevices) await firewallCmd(firewalldArgs('remove', d));
      this.fwDevices.clear();
    }
    log.info("network: removed cocon's accept rules from the host firewall", {
      target: targetKey(t),
      chain: this.chain,
      why,
    });
  }

  /** Jumps and chains of cocon daemons whose data root is gone (`alive(tag)` false). */
  async sweepStale(alive: (tag: string) => boolean): Promise<void> {
    for (const bin of IPTABLES_BINS) {
      if (!usable(bin)) continue;
      const listing = await iptables(bin, ['-S', 'FORWARD']).catch(() => '');
      for (const j of parseIptablesJumps(listing)) {
        if (j.chain === this.chain || alive(j.tag)) continue;
        await removeIptables(bin, j.chain, j.tag);
        log.info('network: removed a stale cocon chain from the host firewall', {
          target: bin,
          chain: j.chain,
          tag: j.tag,
        });
      }
    }
    for (const c of await nftForwardChains()) {
      if (c.table.startsWith(this.ownPrefix) || iptablesManaged(c, haveTool)) continue;
      for (const r of (await nftChainRules(c.family, c.table, c.chain)) ?? []) {
        if (
          !r.jump?.startsWith('COCON-FORWARD-') ||
          r.jump === this.chain ||
          !r.comment?.startsWith('cocon:') ||
          alive(r.comment)
        )
          continue;
        await removeNft(c.family, c.table, c.chain, r.jump);
        log.info('network: removed a stale cocon chain from the host firewall', {
          target: `nft ${c.family} ${c.table}`,
          chain: r.jump,
          tag: r.comment,
        });
      }
    }
  }
}

async function removeIptables(bin: string, chain: string, tag: string): Promise<void> {
  for (let i = 0; i < 8 && (await iptablesTry(bin, ['-D', ...iptablesJumpSpec(chain, tag)])); i++) {
    /* duplicates too */
  }
  if (await iptablesTry(bin, ['-F', chain])) await iptablesTry(bin, ['-X', chain]);
}

async function removeNft(family: string, table: string, base: string, chain: string): Promise<void> {
  for (const r of (await nftChainRules(family, table, base)) ?? [])
    if (r.jump === chain)
      await nftRun(['delete', 'rule', family, table, base, 'handle', String(r.handle)]).catch(() => undefined);
  await nftRun(['delete', 'chain', family, table, chain]).catch(() => undefined);
}
