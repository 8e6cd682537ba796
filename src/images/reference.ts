// Image references: docker's grammar (distribution/reference) and its normalisation. Pure: no I/O.
//
//   reference   := name [ ":" tag ] [ "@" digest ]
//   name        := [domain "/"] path-component ("/" path-component)*
//   domain      := domain-component ("." domain-component)* [":" port]
//   path-comp   := [a-z0-9]+ (separator [a-z0-9]+)*      separator := [_.] | "__" | "-"+
//   tag         := [\w][\w.-]{0,127}
//   digest      := algorithm ":" hex   (sha256: 64 hex)
//
// Normalisation (ParseNormalizedNamed): a first component is a domain when it holds '.' or ':' or is
// "localhost"; otherwise the domain is docker.io, and a single-component docker.io name gets
// "library/". `busybox` -> docker.io/library/busybox(:latest). The familiar form strips both again.
// Errors are InvalidArgument with docker's wording.
import { InvalidArgument } from '../core/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ParsedReference {
  /** Full repository name: docker.io/library/busybox, localhost:5000/a/b */
  name: string;
  domain: string;
  /** Path part of the name: library/busybox */
  path: string;
  tag?: string;
  digest?: string;
}

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const HEX64_RE = /^[a-f0-9]{64}$/;
const HEX_PREFIX_RE = /^[a-f0-9]+$/;

export const ERR_FORMAT = 'invalid reference format';
export const ERR_LOWERCASE = 'invalid reference format: repository name must be lowercase';

/** Splits a name into domain and remainder the way docker's splitDockerDomain does. */
export function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (
    i === -1 ||
    (!/[.:]/.test(name.slice(0, i)) &&
      name.slice(0, i) !== 'localhost' &&
      name.slice(0, i).toLowerCase() === name.slice(0, i))
  ) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = name.slice(0, i);
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses a reference the way `docker` does (ParseNormalizedNamed): returns the fully qualified name,
 * with tag and digest when given (no default tag is added; see withDefaultTag).
 */
export function parseNormalized(s: string): ParsedReference {
  if (HEX64_RE.test(s))
    throw new InvalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  if (s === '') throw new InvalidArgument(ERR_FORMAT);
  // Split off the name to decide about domain and case, as splitDockerDomain does on the raw string.
  const { domain, remainder } = splitDomain(s);
  const tagSep = remainder.indexOf(':');
  const nameOnly = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (nameOnly.toLowerCase() !== nameOnly) throw new InvalidArgument(ERR_LOWERCASE);
  return parse(domain + '/' + remainder);
}

/** Parses an already fully qualified reference (docker.io/library/busybox:latest); the domain is its first component. */
export function parse(s: string): ParsedReference {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s !== '' && REFERENCE_RE.test(s.toLowerCase())) throw new InvalidArgument(ERR_LOWERCASE);
    throw new InvalidArgument(ERR_FORMAT);
  }
  const name = m[1];
  if (name.length > NAME_TOTAL_LENGTH_MAX)
    throw new InvalidArgument(
      `invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  const i = name.indexOf('/');
  let domain = '';
  let path = name;
  // parse() sees normalised names (parseNormalized prefixes the domain): the first component is the domain
  if (i > -1) {
    domain = name.slice(0, i);
    path = name.slice(i + 1);
  }
  const digest = m[3];
  if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    if (!digest.startsWith('sha256:')) throw new InvalidArgument('unsupported digest algorithm');
    if (digest.length !== 7 + 64) throw new InvalidArgument('invalid checksum digest length');
    throw new InvalidArgument('invalid checksum digest format');
  }
  const r: ParsedReference = { name, domain, path };
  if (m[2] !== undefined) r.tag = m[2];
  if (digest !== undefined) r.digest = digest;
  return r;
}

/** TagNameOnly: adds :latest when a reference has neither tag nor digest. */
export function withDefaultTag(r: ParsedReference): ParsedReference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: DEFAULT_TAG } : r;
}

/** The fully qualified string: docker.io/library/busybox:latest, name@sha256:... */
export function refString(r: ParsedReference): string {
  return r.name + (r.tag !== undefined ? ':' + r.tag : '') + (r.digest !== undefined ? '@' + r.digest : '');
}

/** The familiar name: docker.io/library/busybox -> busybox, docker.io/user/repo -> user/repo. */
export function familiarName(name: string): string {
  let n = name;
  if (n.startsWith(DEFAULT_DOMAIN + '/')) {
    n = n.slice(DEFAULT_DOMAIN.length + 1);
    if (n.startsWith(OFFICIAL_REPO_PREFIX) && n.slice(OFFICIAL_REPO_PREFIX.length).indexOf('/') === -1)
      n = n.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return n;
}

/** The familiar string of a reference: busybox:latest, user/repo@sha256:..., localhost:5000/x:1. */
export function familiarString(r: ParsedReference): string {
  return (
    familiarName(r.name) + (r.tag !== undefined ? ':' + r.tag : '') + (r.digest !== undefined ? '@' + r.digest : '')
  );
}

/** Familiar form of a fully qualified reference string (as stored in image_tags). */
export function familiarize(full: string): string {
  return familiarString(parse(full));
}

/** Normalises user input to the stored key: `busybox` -> docker.io/library/busybox:latest. */
export function normalize(s: string): string {
  return refString(withDefaultTag(parseNormalized(s)));
}

/** Validates a tag (for POST /images/{name}/tag?tag=). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/**
 * Builds the reference a tag/import request names: repo (may itself carry a tag) plus optional tag.
 * Docker's rules: a repo with a digest cannot be tagged; tag defaults to latest.
 */
export function targetReference(repo: string, tag?: string | null): ParsedReference {
  const r = parseNormalized(repo);
  if (r.digest !== undefined) throw new InvalidArgument('refusing to create a tag with a digest reference');
  if (tag) {
    if (!isValidTag(tag)) throw new InvalidArgument(ERR_FORMAT);
    return { ...r, tag };
  }
  return withDefaultTag(r);
}

// ---- image ids ----

/** True for "sha256:<64hex>" or "<64hex>". */
export function isFullId(s: string): boolean {
  return HEX64_RE.test(s.startsWith('sha256:') ? s.slice(7) : s);
}

/** The hex prefix a string names when it can be an image id (prefix): "sha256:abc" / "abc". Else undefined. */
export function idPrefix(s: string): string | undefined {
  const h = s.startsWith('sha256:') ? s.slice(7) : s;
  return h.length > 0 && h.length <= 64 && HEX_PREFIX_RE.test(h) ? h : undefined;
}

/** Whether ref is a (short or full) form of the image id (docker's isImageIDPrefix). */
export function isIdPrefixOf(id: string, ref: string): boolean {
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  const p = idPrefix(ref);
  return p !== undefined && hex.startsWith(p);
}

/** docker's stringid.TruncateID: 12 hex chars, no algorithm. */
export function shortId(id: string): string {
  const i = id.indexOf(':');
  return (i > -1 ? id.slice(i + 1) : id).slice(0, 12);
}

/**
 * The name docker reports for a missing image: the familiar form with :latest added when the input
 * has no tag or digest (ErrImageDoesNotExist). Unparseable input is reported as given.
 */
export function notFoundName(ref: string): string {
  try {
    if (ref.startsWith('sha256:')) return ref;
    return familiarString(withDefaultTag(parseNormalized(ref)));
  } catch {
    return ref;
  }
}

// ---- matching (filters) ----

/** Go's path.Match for patterns used by `--filter reference=`: '*', '?', '[...]', '\\' escapes; '/' never matched by wildcards. */
export function pathMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) {
      re += '\\' + pattern[++i];
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/\\/g, '\\\\');
      else cls = cls.replace(/\\/g, '\\\\');
      re += `[${cls}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(s);
  } catch {
    return false;
  }
}

/** docker's FamiliarMatch: the pattern against the familiar string, then against the familiar name. */
export function familiarMatch(pattern: string, full: string): boolean {
  const r = parse(full);
  return pathMatch(pattern, familiarString(r)) || pathMatch(pattern, familiarName(r.name));
}
