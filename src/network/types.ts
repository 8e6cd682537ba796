// The network room's contract with the container lifecycle. The container service calls these
// hooks; src/network implements them (bridges, IPAM, nftables, DNS, ports). The default
// implementation (NoNetwork) gives what `--network none` and `--network host` need.
//
// Order: validate (create) -> connect (each start, before the OCI spec is built) ->
// disconnect (each stop, after the process is gone) -> remove (container removal).
import type { ContainerRecord } from '../containers/types.js';
import { InvalidArgument, NotFound } from '../core/errors.js';

export interface ConnectResult {
  /** Network namespace to join (OCI `path`); absent: a new empty namespace, or the host's for host mode. */
  netnsPath?: string;
  /** What the container's /etc/hosts and /etc/resolv.conf need; absent: keep what create wrote. */
  files?: NetFiles;
  /** Extra environment (legacy --link variables). */
  env?: string[];
}

/** A container's networks as its /etc/hosts and /etc/resolv.conf show them (the containers service writes the files). */
export interface NetFiles {
  /** The container's addresses, primary network first: each names the container's hostname. */
  addresses: string[];
  /** Gateway of the primary network (what --add-host NAME:host-gateway means). */
  gateway: string;
  /** Hosts entries of --link targets: address, then alias, short id and name. */
  links: Array<{ ip: string; names: string[] }>;
  /** The nameserver the container must use (the embedded DNS on user networks); absent: its --dns, else the host's. */
  dnsServer?: string;
}

/** What the network service needs of the containers service. */
export interface ContainerDirectory {
  tryLookup(ref: string): ContainerRecord | null;
  all(): ContainerRecord[];
  /** A running container joined one more network: its hosts file gains `address`; with `dnsServer`, its resolv.conf names it. */
  joinedNetwork(id: string, change: { address: string; dnsServer?: string }): void;
}

export interface NetworkHooks {
  /** At create: refuses unknown networks, bad --ip, port syntax... (typed errors). May normalise hostConfig. */
  validate(r: ContainerRecord, networkingConfig: unknown): void;
  connect(r: ContainerRecord): Promise<ConnectResult>;
  disconnect(r: ContainerRecord): Promise<void>;
  remove(r: ContainerRecord): Promise<void>;
  /** docker rm --link: container r loses its legacy link named `alias`. */
  unlink(r: ContainerRecord, alias: string): Promise<void>;
  /** Docker's NetworkSettings for inspect, and the Ports list for `ps`. */
  settings(r: ContainerRecord): { networkSettings: Record<string, unknown>; ports: Array<Record<string, unknown>> };
}

const ENDPOINT = {
  IPAMConfig: null,
  Links: null,
  Aliases: null,
  NetworkID: '',
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  MacAddress: '',
  DriverOpts: null,
};

/** none and host only (the default network maps to none): no devices, no rules. */
export class NoNetwork implements NetworkHooks {
  validate(r: ContainerRecord): void {
    const mode = r.hostConfig.NetworkMode;
    if (mode.startsWith('container:')) throw new InvalidArgument('--network container:<name> is not supported yet');
    if (!['default', 'bridge', 'none', 'host'].includes(mode)) throw new NotFound(`network ${mode} not found`);
  }
  async connect(): Promise<ConnectResult> {
    return {};
  }
  async disconnect(): Promise<void> {
    /* nothing to release */
  }
  async remove(): Promise<void> {
    /* nothing to release */
  }
  async unlink(): Promise<void> {
    /* no links without bridge networking */
  }
  settings(r: ContainerRecord) {
    const mode = r.hostConfig.NetworkMode;
    const name = mode === 'default' || mode === 'bridge' ? 'none' : mode;
    return {
      networkSettings: {
        Bridge: '',
        SandboxID: '',
        HairpinMode: false,
        LinkLocalIPv6Address: '',
        LinkLocalIPv6PrefixLen: 0,
        Ports: {},
        SandboxKey: '',
        SecondaryIPAddresses: null,
        SecondaryIPv6Addresses: null,
        EndpointID: '',
        Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        IPAddress: '',
        IPPrefixLen: 0,
        IPv6Gateway: '',
        MacAddress: '',
        Networks: { [name]: { ...ENDPOINT } },
      },
      ports: [],
    };
  }
}
