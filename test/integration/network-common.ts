// Shared by the network test files: cleanup of what a network test daemon leaves on the host
// once it is gone (its nft table, its chain in iptables' FORWARD, and any link tagged with its data root).
import { createHash } from 'node:crypto';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { useDaemon, type DaemonHolder } from '../helpers/daemon.js';

export function nftTableOf(dataRoot: string): string {
  return `cocon_${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`;
}

export function cleanupNet(dataRoot: string): void {
  // ip: the daemon's table; ip6: its NAT66 table, there while it has an IPv6 network
  for (const family of ['ip', 'ip6']) spawnSync('nft', ['delete', 'table', family, nftTableOf(dataRoot)]);
  // the daemon's chain in the host's iptables/ip6tables FORWARD (only there when the host drops by policy)
  const chain = `COCON-FORWARD-${nftTableOf(dataRoot).slice('cocon_'.length)}`;
  const legacy = (v: string) => {
    try {
      return readFileSync(`/proc/net/${v}_tables_names`, 'utf8').split('\n').includes('filter');
    } catch {
      return false; /* no x_tables */
    }
  };
  const bins = ['iptables-nft', 'ip6tables-nft'];
  if (legacy('ip')) bins.push('iptables-legacy');
  if (legacy('ip6')) bins.push('ip6tables-legacy');
  for (const bin of bins) {
    while (
      spawnSync(bin, ['-w', '-D', 'FORWARD', '-m', 'comment', '--comment', `cocon:${dataRoot}`, '-j', chain]).status ===
      0
    ) {
      /* duplicates */
    }
    if (spawnSync(bin, ['-w', '-F', chain]).status === 0) spawnSync(bin, ['-w', '-X', chain]);
  }
  const links = JSON.parse(spawnSync('ip', ['-j', '-d', 'link'], { encoding: 'utf8' }).stdout || '[]') as Array<{
    ifname: string;
    ifalias?: string;
  }>;
  for (const l of links) if (l.ifalias === `cocon:${dataRoot}`) spawnSync('ip', ['link', 'del', l.ifname]);
}

/** The second octet of a test file's private 10.x.y.z addresses, from its pid: files run in parallel. */
export const netTag = (process.pid % 200) + 20;

/**
 * useDaemon (with busybox) on a bridge of its own, `<prefix><pid in base 36>`, with --bip
 * 10.<netTag>.<bip>.1/24 and the user-network pool 10.<netTag>.<pool>.0/<poolPrefix, 19> in /24s, after
 * the `extra` daemon flags. What the daemon
 * leaves on the host (nft table, FORWARD chain, links) is cleaned after the file and at exit, also
 * when a test failed.
 */
export function useBridgeDaemon(
  prefix: string,
  bip: number,
  pool: number,
  o: { extra?: string[]; poolPrefix?: number } = {},
): DaemonHolder {
  const h = useDaemon({
    busybox: true,
    args: [
      ...(o.extra ?? []),
      '--bridge',
      `${prefix}${process.pid.toString(36)}`,
      '--bip',
      `10.${netTag}.${bip}.1/24`,
      '--default-address-pool',
      `base=10.${netTag}.${pool}.0/${o.poolPrefix ?? 19},size=24`,
    ],
  });
  const cleanup = (): void => {
    try {
      cleanupNet(h.d.dataRoot);
    } catch {
      /* never started */
    }
  };
  after(cleanup);
  process.on('exit', cleanup);
  return h;
}

/**
 * Runs the Node program `script` inside the network namespace `netns` (a test's "routed host"): it
 * prints `ready` once listening, then one JSON line per connection or datagram it saw, which is pushed
 * to `seen`. Resolves with the process once it is ready; rejects if it exits before.
 */
export async function startNetnsServer<T>(netns: string, script: string, seen: T[]): Promise<ChildProcess> {
  const server = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res, rej) => {
    let buf = '';
    server.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'ready') res();
        else seen.push(JSON.parse(line) as T);
      }
    });
    server.once('exit', (c) => rej(new Error(`routed host server exited ${c}`)));
  });
  return server;
}

/** A command's stdout; throws with its stderr when it fails. */
export function sh(argv: string[], input?: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input, timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A "host" and a "routed host" of the test's own: two network namespaces bound under a new temp
 * dir, joined by a veth pair (vh in the host, vr in the routed host) carrying the given `ip addr`
 * arguments, both links and lo up. Unmounted and removed when the test process exits.
 */
export function routedHost(prefix: string, hostAddr: string, routedAddr: string) {
  const base = mkdtempSync(`/tmp/${prefix}-`);
  const HOST = join(base, 'host');
  const ROUTED = join(base, 'routed');
  process.on('exit', () => {
    for (const f of [HOST, ROUTED]) spawnSync('umount', [f]);
    rmSync(base, { recursive: true, force: true });
  });
  for (const f of [HOST, ROUTED]) {
    writeFileSync(f, '');
    sh(['unshare', `--net=${f}`, 'true']);
  }
  const inHost = (argv: string[], input?: string) => sh(['nsenter', `--net=${HOST}`, ...argv], input);
  const inRouted = (argv: string[], input?: string) => sh(['nsenter', `--net=${ROUTED}`, ...argv], input);
  const batch = (lines: string[]) => lines.join('\n') + '\n';
  inHost(
    ['ip', '-batch', '-'],
    batch([
      'link set lo up',
      `link add vh type veth peer name vr netns ${ROUTED}`,
      `addr add ${hostAddr} dev vh`,
      'link set vh up',
    ]),
  );
  inRouted(['ip', '-batch', '-'], batch(['link set lo up', `addr add ${routedAddr} dev vr`, 'link set vr up']));
  return {
    base,
    HOST,
    ROUTED,
    inHost,
    inRouted,
    tryIn: (ns: string, argv: string[], timeout = 5000) =>
      spawnSync('nsenter', [`--net=${ns}`, ...argv], { encoding: 'utf8', timeout }),
    /** `BIN` (an iptables-save) in the host without counters and comments: what must not change. */
    saved: (bin: string) =>
      inHost([bin])
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]/, ''))
        .join('\n'),
  };
}
