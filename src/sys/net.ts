// Network devices and namespaces through ip(8), nft(8), unshare(1) and nsenter(1): Node
// cannot create namespaces, move links or set addresses itself. Named network namespaces are
// files bind-mounted by `unshare --net=FILE` (anywhere, not only /run/netns); commands run inside
// one with `nsenter --net=FILE`. Every tool gets an argv array; `ip -batch -` and `nft -f -` read
// their text on stdin.
import { closeSync, openSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { runOk, run } from './exec.js';
import { isMounted } from './mount.js';
import { nftApply } from './nft.js';
import { heredoc, shellOk, shq } from './shell.js';

/**
 * --userns-remap: the user namespace (a bound file, src/sys/userns.ts) that owns every network
 * namespace setupNetns() makes from now on. runc joins a container's user namespace before its
 * network namespace (exec too), and a remapped root may only enter, mount sysfs for, and set sysctls
 * of a network namespace its own user namespace owns.
 */
let netnsOwner: string | undefined;
export function setNetnsOwner(userns: string | undefined): void {
  netnsOwner = userns;
}

/**
 * Script that makes a network namespace owned by the user namespace `userns` and binds it to `path`:
 * a process enters the user namespace, unshares its network namespace and waits; the helper (host
 * root) binds that namespace to the file and ends the process (a bind from inside is refused: the
 * mount namespace belongs to the host's user namespace).
 */
function netnsInUsernsScript(userns: string, path: string): string {
  const holder = `nsenter --user=${shq(userns)} unshare --net sh -c 'echo $$; exec sleep 60 >/dev/null 2>&1'`;
  return [`p=$(${holder} &)`, `mount --bind /proc/$p/ns/net ${shq(path)} || { kill $p; exit 1; }`, 'kill $p'].join(
    '\n',
  );
}

/** argv that runs `argv` inside the network namespace bound to `netns` (or on the host). */
function inNetns(netns: string | undefined, argv: string[]): [string, string[]] {
  return netns ? ['nsenter', [`--net=${netns}`, ...argv]] : [argv[0], argv.slice(1)];
}

function batchText(lines: string[]): string {
  return lines.join('\n') + '\n';
}

/** Runs `ip -batch -` with the given lines, in the host namespace or inside netns (a file path). */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (!lines.length) return;
  const [cmd, args] = inNetns(netns, ['ip', '-batch', '-']);
  await runOk(cmd, args, { input: batchText(lines) });
}

/** Like ipBatch but never throws (`ip -force`): for teardown where a missing link is not an error. */
export async function ipBatchForce(lines: string[], netns?: string): Promise<void> {
  if (!lines.length) return;
  const [cmd, args] = inNetns(netns, ['ip', '-force', '-batch', '-']);
  await run(cmd, args, { input: batchText(lines) }).catch(() => undefined);
}

/**
 * IPv6 sysctls of a network namespace, written from inside it before its `ip -batch` lines (what
 * libnetwork does to a sandbox), and the announcing of new IPv6 addresses (`notify`): `off` sets net.ipv6.conf.all.disable_ipv6=1 (the kernel carries it
 * to default and every existing link: no ::1, no IPv6 on links made later); `on` names links (and
 * `default`, for links made later) whose IPv6 is turned back on (an IPv6 network joining).
 */
export interface Ipv6Sysctls {
  off?: boolean;
  on?: string[];
  /**
   * net.ipv6.conf.all.ndisc_notify=1 and accept_dad=0 (all, default): an IPv6 address added to a link
   * that is up is usable at once (no DAD, no "tentative" wait) and announced by an unsolicited neighbour
   * advertisement with the override flag, so that the neighbours' entries for a reused address (another
   * container, another MAC) are updated at once instead of black-holing for up to ~35 s. (The kernel
   * announces only addresses that went through the tentative state: not `nodad` ones.)
   */
  notify?: boolean;
}

function ipv6SysctlShell(v: Ipv6Sysctls | undefined): string {
  const w: string[] = [];
  if (v?.notify)
    w.push(
      'echo 1 > /proc/sys/net/ipv6/conf/all/ndisc_notify',
      'echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad',
      'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad',
    );
  if (v?.off) w.push('echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6');
  for (const l of v?.on ?? []) {
    if (!/^[a-zA-Z0-9_.-]+$/.test(l)) throw new Error(`invalid link name: ${l}`);
    w.push(`echo 0 > /proc/sys/net/ipv6/conf/${l}/disable_ipv6`);
  }
  // best effort (the kernel may have no IPv6 at all): a write that fails does not stop the ip lines
  if (!w.length || !existsSync('/proc/sys/net/ipv6')) return '';
  return w.map((x) => `${x} 2>/dev/null`).join('; ');
}

/** Writes IPv6 sysctls inside the namespace `netns` (a network joining a running container). */
export async function netnsIpv6Sysctls(netns: string, v: Ipv6Sysctls): Promise<void> {
  const sh = ipv6SysctlShell(v);
  if (sh) await runOk('nsenter', [`--net=${netns}`, 'sh', '-c', `${sh}; true`]);
}

/**
 * A container's network namespace: creates it bound to `path` running `ip -batch` lines inside it,
 * then the batches of the other namespaces (the hubs) and, when given, an nft script inside the new
 * namespace with route_localnet on (the DNS redirect): one job of a pooled helper shell (shell.ts),
 * no spawn from the daemon. Nothing is left on failure.
 */
export async function setupNetns(
  path: string,
  lines: string[],
  then: Array<{ netns: string; lines: string[] }>,
  nftScript?: string,
  ipv6?: Ipv6Sysctls,
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (isMounted(path)) await deleteNetns(path);
  closeSync(openSync(path, 'w'));
  try {
    const batch = lines.length ? lines : ['link set lo up'];
    await shellOk(
      netnsOwner
        ? `${netnsInUsernsScript(netnsOwner, path)}\n${netnsScript(`nsenter --net=${shq(path)}`, path, batch, then, nftScript, ipv6)}`
        : netnsScript(`unshare --net=${shq(path)}`, path, batch, then, nftScript, ipv6),
      `network namespace ${path}`,
    );
  } catch (e) {
    await deleteNetns(path).catch(() => undefined);
    throw e;
  }
}

/**
 * The same job on a namespace that already exists at `path` (a pooled one): its lines, the hubs'
 * batches, the nft script. On failure the namespace stays as it is; the caller deletes it.
 */
export async function configureNetns(
  path: string,
  lines: string[],
  then: Array<{ netns: string; lines: string[] }>,
  nftScript?: string,
  ipv6?: Ipv6Sysctls,
): Promise<void> {
  await shellOk(
    netnsScript(`nsenter --net=${shq(path)}`, path, lines, then, nftScript, ipv6),
    `network namespace ${path}`,
  );
}

function netnsScript(
  enter: string,
  path: string,
  lines: string[],
  then: Array<{ netns: string; lines: string[] }>,
  nftScript?: string,
  ipv6?: Ipv6Sysctls,
): string {
  const pre = ipv6SysctlShell(ipv6);
  // the sysctls first, from inside (/proc/sys/net is the opener's namespace's), then ip in the same process
  const ip = pre ? `${enter} sh -c ${shq(`${pre}; exec ip -batch -`)}` : `${enter} ip -batch -`;
  const script = lines.length || pre ? [heredoc(ip, batchText(lines))] : [];
  for (const t of then)
    if (t.lines.length) script.push(heredoc(`nsenter --net=${shq(t.netns)} ip -batch -`, batchText(t.lines)));
  // /proc/sys/net is the opener's namespace's: written from inside
  if (nftScript)
    script.push(
      heredoc(
        `nsenter --net=${shq(path)} sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && exec nft -f -'`,
        nftScript,
      ),
    );
  return script.join('\n') || 'true';
}

/**
 * An `ip -batch -` already running inside the namespace `netns`, waiting for its lines: the fork
 * and exec are paid when it is made (for a pooled sandbox, in the background), the lines run the
 * moment run() gives them (ip executes each line as it reads it). It never holds the event loop
 * while it waits; cancel(), or the daemon's exit (which closes its stdin), ends it having run nothing.
 */
export class WaitingIpBatch {
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number; stderr: string }>;
  private used = false;
  constructor(netns: string) {
    this.child = spawn('nsenter', [`--net=${netns}`, 'ip', '-batch', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' },
    });
    const c = this.child;
    let stderr = '';
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      stderr += d;
    });
    c.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      c.once('error', (e) => resolve({ code: 127, stderr: e.message }));
      c.once('close', (code, signal) => resolve({ code: code ?? (signal ? 137 : 1), stderr }));
    });
    this.hold(false);
  }

  /** Runs the lines (once); throws with ip's message when one fails (the lines before it stay done). */
  async run(lines: string[]): Promise<void> {
    if (this.used) throw new Error('this ip batch already ran');
    this.used = true;
    this.hold(true);
    this.child.stdin!.end(batchText(lines));
    const r = await this.exited;
    if (r.code !== 0) throw new Error(`ip -batch: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Ends it without running anything. */
  cancel(): void {
    if (this.used) return;
    this.used = true;
    this.child.stdin!.end();
  }

  private hold(on: boolean): void {
    const c = this.child;
    for (const h of [c, c.stdin, c.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }
}

/** Turns route_localnet on in a namespace (loopback-sourced packets may leave once rewritten), then applies an nft script there. */
export async function localnetNft(netns: string, script: string): Promise<void> {
  // /proc/sys/net is the opener's namespace's: tee (coreutils, always there) writes it from inside.
  await runOk('nsenter', [`--net=${netns}`, 'tee', '/proc/sys/net/ipv4/conf/all/route_localnet'], { input: '1\n' });
  await nftApply(script, netns);
}

/**
 * A bridge in its own namespace `hub` (bound to a file) made by `hubLines`, with an uplink veth
 * whose host end `dev` is set up by `hostLines` and gets route_localnet. With `ipv6` the host end
 * gets IPv6 on (disable_ipv6=0) and no duplicate address detection (accept_dad=0) before
 * `hostLines` run. A stale `dev` of the same name is deleted first; nothing is left on failure.
 */
export async function createHub(
  hub: string,
  dev: string,
  hubLines: string[],
  hostLines: string[],
  ipv6 = false,
): Promise<void> {
  mkdirSync(dirname(hub), { recursive: true });
  if (isMounted(hub)) await deleteNetns(hub);
  try {
    if (hostLinkExists(dev)) await runOk('ip', ['link', 'del', 'dev', dev]);
    closeSync(openSync(hub, 'w'));
    await runOk('unshare', [`--net=${hub}`, 'ip', '-batch', '-'], { input: batchText(hubLines) });
    if (ipv6) {
      writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '0');
      writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/accept_dad`, '0');
    }
    await ipBatch(hostLines);
    writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/route_localnet`, '1');
  } catch (e) {
    await run('ip', ['link', 'del', 'dev', dev]).catch(() => undefined);
    await deleteNetns(hub).catch(() => undefined);
    throw e;
  }
}

/** Whether the daemon's network namespace has the link (/proc/sys/net is the opener's namespace's; /sys/class/net is sysfs's mounter's). */
export function hostLinkExists(name: string): boolean {
  return existsSync(`/proc/sys/net/ipv4/conf/${name}`);
}

/** Releases a namespace bound to path (it dies with its links once no process holds it). */
export async function deleteNetns(path: string): Promise<void> {
  if (isMounted(path) && (await run('umount', [path])).code !== 0) await run('umount', ['-l', path]);
  rmSync(path, { force: true });
}

export function netnsAlive(path: string): boolean {
  return isMounted(path);
}

export interface HostRoute {
  dst: string;
  dev?: string;
}

/** The host's IPv4 routes (`ip -j route show table all`), destinations as CIDR ("default" skipped). */
export async function hostRoutes(): Promise<HostRoute[]> {
  const out = await runOk('ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
  const rows = JSON.parse(out || '[]') as Array<{ dst?: string; dev?: string; type?: string }>;
  return rows
    .filter((r) => r.dst && r.dst !== 'default' && (r.type ?? 'unicast') === 'unicast')
    .map((r) => ({ dst: r.dst!.includes('/') ? r.dst! : `${r.dst}/32`, dev: r.dev }));
}

/** Names of the host's links with their alias (ifalias), from `ip -j link`. */
export async function hostLinks(): Promise<Array<{ name: string; alias?: string; kind?: string }>> {
  const out = await runOk('ip', ['-j', '-d', 'link', 'show']);
  const rows = JSON.parse(out || '[]') as Array<{
    ifname: string;
    ifalias?: string;
    linkinfo?: { info_kind?: string };
  }>;
  return rows.map((r) => ({ name: r.ifname, alias: r.ifalias, kind: r.linkinfo?.info_kind }));
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const r = netns
    ? await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'show', 'dev', name])
    : await run('ip', ['link', 'show', 'dev', name]);
  return r.code === 0;
}

/** Writes a sysctl of the daemon's namespace (/proc/sys/...), ignoring a missing key. */
export function sysctl(key: string, value: string): void {
  const p = '/proc/sys/' + key.replace(/\./g, '/');
  try {
    if (readFileSync(p, 'utf8').trim() !== value) writeFileSync(p, value);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Marker of a network namespace (the host's, or a test's) whose net.ipv6.conf.all.forwarding cocon
 * turned on (it was off). /run is a tmpfs: it goes at reboot, as the setting does.
 */
function ipv6ForwardingMark(): string {
  return `/run/cocon-ipv6-forwarding-was-off.${statSync('/proc/self/ns/net').ino}`;
}

/** Turns net.ipv6.conf.all.forwarding on, remembering when it was off; true when it changed it. */
export function ipv6ForwardingOn(): boolean {
  if (readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim() !== '0') return false;
  writeFileSync(ipv6ForwardingMark(), '0\n');
  sysctl('net.ipv6.conf.all.forwarding', '1');
  return true;
}

/** Is the mark of ipv6ForwardingOn() there (cocon turned forwarding on in this namespace and has not given it back)? */
export function ipv6ForwardingMarked(): boolean {
  return existsSync(ipv6ForwardingMark());
}

/** Turns net.ipv6.conf.all.forwarding off again if ipv6ForwardingOn() turned it on; true when it did. */
export function ipv6ForwardingRestore(): boolean {
  const mark = ipv6ForwardingMark();
  if (!existsSync(mark)) return false;
  sysctl('net.ipv6.conf.all.forwarding', '0');
  rmSync(mark, { force: true });
  return true;
}

/** True when nothing listens on ip:port (tries to bind it; ip '' or 0.0.0.0 = all addresses). */
export function portFree(ip: string, port: number, proto: 'tcp' | 'udp' | 'sctp'): Promise<boolean> {
  const host = ip && ip !== '0.0.0.0' ? ip : '0.0.0.0';
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => {
        try {
          s.close();
        } catch {
          /* closed */
        }
        resolve(false);
      });
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The host's resolv.conf nameservers, search domains and options. */
export function hostResolvConf(): { nameservers: string[]; search: string[]; options: string[] } {
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none */
  }
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) out.nameservers.push(f[1]);
    else if ((f[0] === 'search' || f[0] === 'domain') && f.length > 1) out.search = f.slice(1);
    else if (f[0] === 'options' && f.length > 1) out.options.push(...f.slice(1));
  }
  return out;
}
