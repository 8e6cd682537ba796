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
  /** Full /etc/hosts and /etc/resolv.conf contents for the container; absent: keep what create wrote. */
  hosts?: string;
  resolvConf?: string;
  /** Extra environment (legacy --link variables). */
  env?: string[];
}

export interface NetworkHooks {
  /** At create: refuses unknown networks, bad --ip, port syntax... (typed errors). May normalise hostConfig. */
  validate(r: ContainerRecord, networkingConfig: unknown): void;
  connect(r: ContainerRecord): Promise<ConnectResult>;
  disconnect(r: ContainerRecord): Promise<void>;
  remove(r: ContainerRecord): Promise<void>;
  /** Docker's NetworkSettings for inspect, and the Ports list for `ps`. */
  settings(r: ContainerRecord): { networkSettings: Record<string, unknown>; ports: Array<Record<string, unknown>> };
}

const ENDPOINT = { IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null };

/** none and host only (the default network maps to none): no devices, no rules. */
export class NoNetwork implements NetworkHooks {
  validate(r: ContainerRecord): void {
    const mode = r.hostConfig.NetworkMode;
    if (mode.startsWith('container:')) throw new InvalidArgument('--network container:<name> is not supported yet');
    if (!['default', 'bridge', 'none', 'host'].includes(mode)) throw new NotFound(`network ${mode} not found`);
  }
  async connect(): Promise<ConnectResult> { return {}; }
  async disconnect(): Promise<void> { /* nothing to release */ }
  async remove(): Promise<void> { /* nothing to release */ }
  settings(r: ContainerRecord) {
    const mode = r.hostConfig.NetworkMode;
    const name = mode === 'default' || mode === 'bridge' ? 'none' : mode;
    return {
      networkSettings: {
        Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: {}, SandboxKey: '',
        SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
        IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '', Networks: { [name]: { ...ENDPOINT } },
      },
      ports: [],
    };
  }
}
