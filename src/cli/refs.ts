// Image references the way docker's distribution/reference normalises them. Pure.
//   "busybox"            -> docker.io/library/busybox:latest (familiar "busybox")
//   "me/app:v1"          -> docker.io/me/app:v1
//   "127.0.0.1:5056/x"   -> 127.0.0.1:5056/x (registry names stay as given)

export interface ImageRef {
  domain: string; // docker.io, 127.0.0.1:5056, ...
  path: string; // library/busybox
  tag?: string;
  digest?: string;
}

export class RefError extends Error {}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d+)?$/;

// distribution/reference ParseNormalizedNamed, with its error messages.
export function parseRef(s: string): ImageRef {
  const bad = (): RefError => new RefError('invalid reference format');
  if (!s || s.length > 255 || /\s/.test(s)) throw bad();
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/.test(digest)) throw bad();
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad();
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag)) throw bad();
  if (!rest) throw bad();
  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0 && isDomain(rest.slice(0, slash))) {
    domain = rest.slice(0, slash);
    path = rest.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw bad();
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const comps = path.split('/');
  if (comps.some((c) => !COMPONENT.test(c.toLowerCase()))) throw bad();
  if (/[A-Z]/.test(path)) throw new RefError(`invalid reference format: repository name (${path}) must be lowercase`);
  return { domain, path, tag, digest };
}

function isDomain(s: string): boolean {
  return s.includes('.') || s.includes(':') || s === 'localhost' || /[A-Z]/.test(s);
}

export function normalizedName(r: ImageRef): string {
  return `${r.domain}/${r.path}`;
}

export function familiarName(r: ImageRef): string {
  if (r.domain === 'docker.io') return r.path.startsWith('library/') ? r.path.slice(8) : r.path;
  return `${r.domain}/${r.path}`;
}

// "busybox" -> "busybox:latest"; keeps digests.
export function familiarString(r: ImageRef, defaultTag = true): string {
  let s = familiarName(r);
  if (r.tag) s += `:${r.tag}`;
  else if (!r.digest && defaultTag) s += ':latest';
  if (r.digest) s += `@${r.digest}`;
  return s;
}

export function isBusybox(image: string): boolean {
  try {
    const r = parseRef(image);
    return (
      r.domain === 'docker.io' &&
      r.path === 'library/busybox' &&
      (r.tag === undefined || r.tag === 'latest') &&
      !r.digest
    );
  } catch {
    return false;
  }
}

// "repo:tag" split for the images table (tag after the last colon that follows the last slash).
export function splitRepoTag(s: string): [string, string] {
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) return [s.slice(0, colon), s.slice(colon + 1)];
  return [s, ''];
}
