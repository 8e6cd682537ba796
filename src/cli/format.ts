// Row contexts for `ps` and `images` (the fields --format templates see, as docker's
// formatter package defines them), the ports column, and table/format rendering. Pure.
import { ellipsis, goQuote, goTimeString, humanDuration, humanSize, truncateId } from './humanize.js';
import { parseFormat, parseTemplate, execTemplate } from './template.js';
import { tabwrite } from './table.js';
import { splitRepoTag } from './refs.js';

export interface ApiPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

function joinHostPort(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

// formatter.DisplayablePorts
export function displayablePorts(portsIn: ApiPort[] | null | undefined): string {
  const ports = [...(portsIn ?? [])];
  ports.sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    const ia = a.IP ?? '';
    const ib = b.IP ?? '';
    if (ia !== ib) return ia < ib ? -1 : 1;
    const pa = a.PublicPort ?? 0;
    const pb = b.PublicPort ?? 0;
    if (pa !== pb) return pa - pb;
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const groupMap = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number): string => {
    const slash = key.lastIndexOf('/');
    let ip = '';
    let type = key;
    if (slash >= 0) {
      ip = key.slice(0, slash);
      type = key.slice(slash + 1);
    }
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip) group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of ports) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groupMap.get(key);
    if (!g) {
      groupMap.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groupMap.set(key, { first: current, last: current });
  }
  for (const k of keys) {
    const g = groupMap.get(k)!;
    result.push(formGroup(k, g.first, g.last));
  }
  result.push(...hostMappings);
  return result.join(', ');
}

export interface ApiContainer {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: ApiPort[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  Mounts?: { Name?: string; Source?: string; Driver?: string }[] | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
}

function labelsString(l: Record<string, string> | null | undefined): string {
  return Object.keys(l ?? {})
    .sort()
    .map((k) => `${k}=${l?.[k]}`)
    .join(',');
}

function psImage(c: ApiContainer, trunc: boolean): string {
  const img = c.Image ?? '';
  if (!img) return '<no image>';
  if (trunc) {
    if (c.ImageID && truncateId(c.ImageID) === truncateId(img)) return truncateId(img);
    if (/^sha256:[0-9a-f]{64}$/.test(img)) return truncateId(img);
    const at = img.indexOf('@');
    if (at >= 0) return img.slice(0, at);
  }
  return img;
}

export type Row = Record<string, unknown>;

export function containerRow(c: ApiContainer, opts: { trunc: boolean; now: number; size?: boolean }): Row {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  // links have more than one slash: keep the container's own names only
  const own = (c.Names ?? []).filter((n) => n.split('/').length === 2).map((n) => n.slice(1));
  const nameStr = (opts.trunc ? (own.length ? [own[0]] : names.slice(0, 1)) : own.length ? own : names).join(',');
  const command = opts.trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '');
  const labels = c.Labels ?? {};
  const srw = humanSize(c.SizeRw ?? 0, 3);
  const size = (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSize(c.SizeRootFs ?? 0, 3)})` : srw;
  const mounts = (c.Mounts ?? [])
    .map((m) => {
      const n = m.Name || m.Source || '';
      return opts.trunc ? ellipsis(n, 15) : n;
    })
    .join(',');
  const networks = Object.keys(c.NetworkSettings?.Networks ?? {})
    .sort()
    .join(',');
  const created = c.Created ?? 0;
  const row: Row = {
    Command: goQuote(command),
    CreatedAt: goTimeString(created),
    ID: opts.trunc ? truncateId(c.Id) : c.Id,
    Image: psImage(c, opts.trunc),
    Labels: labelsString(labels),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: mounts,
    Names: nameStr,
    Networks: networks,
    Platform: null,
    Ports: displayablePorts(c.Ports),
    RunningFor: `${humanDuration(opts.now - created * 1000)} ago`,
    Size: size,
    State: c.State ?? '',
    Status: c.Status ?? '',
  };
  Object.defineProperty(row, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
  return row;
}

export const PS_HEADERS: Row = {
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Labels: 'LABELS',
  LocalVolumes: 'LOCAL VOLUMES',
  Mounts: 'MOUNTS',
  Names: 'NAMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
  Ports: 'PORTS',
  RunningFor: 'CREATED',
  Size: 'SIZE',
  State: 'STATE',
  Status: 'STATUS',
};
Object.defineProperty(PS_HEADERS, 'Label', { value: (k: string) => k, enumerable: false });

export const PS_DEFAULT_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export interface ApiImage {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: number;
  Size?: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

export function imageRows(img: ApiImage, opts: { trunc: boolean; now: number; digests?: boolean }): Row[] {
  const base = (repo: string, tag: string, digest: string): Row => {
    const created = img.Created ?? 0;
    return {
      Containers: (img.Containers ?? -1) < 0 ? 'N/A' : String(img.Containers),
      CreatedAt: goTimeString(created),
      CreatedSince: `${humanDuration(opts.now - created * 1000)} ago`,
      Digest: digest,
      ID: opts.trunc ? truncateId(img.Id) : img.Id,
      Repository: repo,
      SharedSize: (img.SharedSize ?? -1) < 0 ? 'N/A' : humanSize(img.SharedSize ?? 0, 3),
      Size: humanSize(img.Size ?? 0, 3),
      Tag: tag,
      UniqueSize: (img.SharedSize ?? -1) < 0 ? 'N/A' : humanSize((img.Size ?? 0) - (img.SharedSize ?? 0), 3),
      VirtualSize: humanSize(img.VirtualSize ?? img.Size ?? 0, 4),
    };
  };
  const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  const digests = (img.RepoDigests ?? []).filter((d) => d !== '<none>@<none>');
  if (!tags.length && !digests.length) return [base('<none>', '<none>', '<none>')];
  const rows: Row[] = [];
  const digestFor = new Map<string, string>();
  for (const d of digests) {
    const at = d.indexOf('@');
    digestFor.set(d.slice(0, at), d.slice(at + 1));
  }
  const seenRepos = new Set<string>();
  // docker shows digests only with --digests; digest-only references get their own rows
  for (const t of tags) {
    const [repo, tag] = splitRepoTag(t);
    seenRepos.add(repo);
    rows.push(base(repo, tag || '<none>', opts.digests ? (digestFor.get(repo) ?? '<none>') : '<none>'));
  }
  for (const d of digests) {
    const at = d.indexOf('@');
    const repo = d.slice(0, at);
    if (seenRepos.has(repo)) continue;
    seenRepos.add(repo);
    rows.push(base(repo, '<none>', opts.digests ? d.slice(at + 1) : ''));
  }
  return rows;
}

export const IMAGE_HEADERS: Row = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};

export const IMAGES_DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
export const IMAGES_DIGESTS_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

// Renders rows with a docker --format string ("table ..." gets a header and tabwriter alignment).
export function renderRows(format: string, rows: Row[], headers: Row, defaultTable: string): string {
  let spec = parseFormat(format);
  if (spec.table && !spec.template) spec = parseFormat(defaultTable);
  const t = parseTemplate(spec.template);
  if (spec.table) {
    let text = execTemplate(t, headers) + '\n';
    for (const r of rows) text += execTemplate(t, r) + '\n';
    return tabwrite(text);
  }
  let text = '';
  for (const r of rows) text += execTemplate(t, r) + '\n';
  return text;
}
