// Network devices and namespaces through ip(8), unshare(1) and nsenter(1): Node cannot create
// namespaces, move links or set addresses itself. Named network namespaces are files
// bind-mounted by `unshare --net=FILE` (anywhere, not only /run/netns); commands run inside one
// with `nsenter --net=FILE`.
import { closeSync, openSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { runOk, run } from './exec.js';
import { isMounted } from './mount.js';
import { sh, shOk, shq } from './shell.js';

/** Runs `ip -batch -` with the given lines, in the host namespace or inside netns (a file path). */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (!lines.length) return;
  await shOk(`${netns ? `nsenter --net=${shq(netns)} ` : ''}ip -batch - <<'COCON_EOF'\n${lines.join('\n')}\nCOCON_EOF`);
}

/** Like ipBatch but never throws: for teardown where a missing link is not an error. */
export async function ipBatchForce(lines: string[], netns?: string): Promise<void> {
  if (!lines.length) return;
  await sh(`${netns ? `nsenter --net=${shq(netns)} ` : ''}ip -force -batch - <<'COCON_EOF'\n${lines.join('\n')}\nCOCON_EOF`);
}

/** Creates a persistent network namespace bound to `path` and runs `ip -batch` lines inside it. */
export async function createNetns(path: string, lines: string[] = []): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (isMounted(path)) await deleteNetns(path);
  closeSync(openSync(path, 'w'));
  try {
    if (lines.length) await runOk('unshare', [`--net=${path}`, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
    else await runOk('unshare', [`--net=${path}`, 'true']);
  } catch (e) {
    await deleteNetns(path).catch(() => undefined);
    throw e;
  }
}

/**
 * One process for a container's whole setup: creates the namespace bound to `path` running
 * `ip -batch` lines inside it, then runs further batches in other namespaces (the hubs). Node's
 * spawns are the expensive part of a container start, so everything goes through one `sh`.
 */
export async function setupNetns(path: string, lines: string[], then: Array<{ netns: string; lines: string[] }>, tail = ''): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (isMounted(path)) await deleteNetns(path);
  const doc = (ls: string[], tag: string) => `<<'${tag}'\n${ls.join('\n')}\n${tag}\n`;
  let script = `set -e\n: > ${shq(path)}\nunshare --net=${shq(path)} ip -batch - ${doc(lines, 'COCON_EOF_0')}`;
  then.forEach((t, i) => { script += `nsenter --net=${shq(t.netns)} ip -batch - ${doc(t.lines, `COCON_EOF_${i + 1}`)}`; });
  script += tail;
  try {
    await shOk(script);
  } catch (e) {
    await deleteNetns(path).catch(() => undefined);
    throw e;
  }
}

/**
 * A bridge in its own namespace (`hub`, bound to a file) and a veth pair hub:up0 <-> host:`dev`,
 * `dev` carrying `gwCidr`, tagged with `alias`, up, with route_localnet; in one `sh`. A stale `dev`
 * of the same name is deleted first.
 */
export async function createHub(hub: string, dev: string, gwCidr: string, alias: string): Promise<void> {
  mkdirSync(dirname(hub), { recursive: true });
  if (isMounted(hub)) await deleteNetns(hub);
  const script = `set -e
if [ -e /sys/class/net/${dev} ]; then ip link del dev ${dev}; fi
: > ${shq(hub)}
unshare --net=${shq(hub)} ip -batch - <<'COCON_EOF'
link set lo up
link add br0 type bridge
link set br0 up
link add up0 type veth peer name ${dev} netns ${process.pid}
link set up0 master br0
link set up0 up
COCON_EOF
ip -batch - <<'COCON_EOF'
addr add ${gwCidr} dev ${dev}
link set dev ${dev} alias ${alias}
link set dev ${dev} up
COCON_EOF
echo 1 > /proc/sys/net/ipv4/conf/${dev}/route_localnet
`;
  try { await shOk(script); } catch (e) {
    await sh(`ip link del dev ${dev}`);
    await deleteNetns(hub).catch(() => undefined);
    throw e;
  }
}

export function hostLinkExists(name: string): boolean { return existsSync(`/sys/class/net/${name}`); }

/** Releases a namespace bound to path (it dies with its links once no process holds it). */
export async function deleteNetns(path: string): Promise<void> {
  if (isMounted(path)) await sh(`umount ${shq(path)} 2>/dev/null || umount -l ${shq(path)}`);
  rmSync(path, { force: true });
}

export function netnsAlive(path: string): boolean { return isMounted(path); }

export interface HostRoute { dst: string; dev?: string }

/** The host's IPv4 routes (`ip -j route show table all`), destinations as CIDR ("default" skipped). */
export async function hostRoutes(): Promise<HostRoute[]> {
  const out = await runOk('ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
  const rows = JSON.parse(out || '[]') as Array<{ dst?: string; dev?: string; type?: string }>;
  return rows.filter((r) => r.dst && r.dst !== 'default' && (r.type ?? 'unicast') === 'unicast')
    .map((r) => ({ dst: r.dst!.includes('/') ? r.dst! : `${r.dst}/32`, dev: r.dev }));
}

/** Names of the host's links with their alias (ifalias), from `ip -j link`. */
export async function hostLinks(): Promise<Array<{ name: string; alias?: string; kind?: string }>> {
  const out = await runOk('ip', ['-j', '-d', 'link', 'show']);
  const rows = JSON.parse(out || '[]') as Array<{ ifname: string; ifalias?: string; linkinfo?: { info_kind?: string } }>;
  return rows.map((r) => ({ name: r.ifname, alias: r.ifalias, kind: r.linkinfo?.info_kind }));
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const r = netns ? await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'show', 'dev', name]) : await run('ip', ['link', 'show', 'dev', name]);
  return r.code === 0;
}

/** Writes a sysctl of the daemon's namespace (/proc/sys/...), ignoring a missing key. */
export function sysctl(key: string, value: string): void {
  const p = '/proc/sys/' + key.replace(/\./g, '/');
  try { if (readFileSync(p, 'utf8').trim() !== value) writeFileSync(p, value); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** True when nothing listens on ip:port (tries to bind it; ip '' or 0.0.0.0 = all addresses). */
export function portFree(ip: string, port: number, proto: 'tcp' | 'udp' | 'sctp'): Promise<boolean> {
  const host = ip && ip !== '0.0.0.0' ? ip : '0.0.0.0';
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => { try { s.close(); } catch { /* closed */ } resolve(false); });
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
  try { text = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none */ }
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) out.nameservers.push(f[1]);
    else if ((f[0] === 'search' || f[0] === 'domain') && f.length > 1) out.search = f.slice(1);
    else if (f[0] === 'options' && f.length > 1) out.options.push(...f.slice(1));
  }
  return out;
}
