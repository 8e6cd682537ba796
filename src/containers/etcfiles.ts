// A bridged container's /etc/hosts and /etc/resolv.conf, rendered from what its networks hand
// back at start (NetFiles) and its own settings (--hostname, --domainname, --add-host, --dns*).
// Pure: the containers service writes the files.
import type { NetFiles } from '../network/types.js';
import type { ContainerRecord } from './types.js';

export const HOSTS_HEAD =
  '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/** /etc/hosts: the loopback names, --add-host (host-gateway = the primary gateway), --link targets, then the container's own addresses. */
export function hostsFile(r: ContainerRecord, net: NetFiles): string {
  let s = HOSTS_HEAD;
  for (const e of r.hostConfig.ExtraHosts ?? []) {
    const i = e.indexOf(':');
    const h = e.slice(0, i);
    const ip = e.slice(i + 1);
    s += `${ip === 'host-gateway' ? net.gateway : ip}\t${h}\n`;
  }
  for (const l of net.links) s += `${l.ip}\t${l.names.join(' ')}\n`;
  const host = r.config.Hostname;
  const fq = r.config.Domainname ? `${host}.${r.config.Domainname} ${host}` : host;
  for (const ip of net.addresses) s += `${ip}\t${fq}\n`;
  return s;
}

/** The host's resolver settings, as read from its /etc/resolv.conf. */
export interface HostResolv {
  nameservers: string[];
  search: string[];
  options: string[];
}

/**
 * /etc/resolv.conf: the network's DNS server when it gives one, else --dns, else the host's
 * nameservers that a container can reach (not loopback; Google's when none is left); --dns-search
 * and --dns-option, else the host's.
 */
export function resolvConf(r: ContainerRecord, dnsServer: string | undefined, host: HostResolv): string {
  const search = r.hostConfig.DnsSearch?.length ? r.hostConfig.DnsSearch : host.search;
  const options = r.hostConfig.DnsOptions?.length ? r.hostConfig.DnsOptions : host.options;
  let servers: string[];
  if (dnsServer) servers = [dnsServer];
  else if (r.hostConfig.Dns?.length) servers = r.hostConfig.Dns;
  else {
    servers = host.nameservers.filter((x) => !x.startsWith('127.') && x !== '::1');
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  let s = servers.map((x) => `nameserver ${x}\n`).join('');
  if (search.length) s += `search ${search.join(' ')}\n`;
  if (options.length) s += `options ${options.join(' ')}\n`;
  return s;
}
