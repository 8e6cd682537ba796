// Who may enter a chroot without being root, and the small framed protocol of the chroot gate
// (the daemon's socket through which listed users run commands in chroots). Pure: no I/O.
//
// A chroot's record lists users and groups (`chroot create --users U,... --groups G,...`), as
// schroot's users= and groups= do. The gate learns the caller's uid from SO_PEERCRED, looks its
// name and groups up in the host's passwd and group files, and lets it in when its name or one of
// its groups is listed. Root always may.
//
// Wire format, both ways: frames of [type: 1 byte][length: 4 bytes, big endian][payload].
//   client -> gate: REQUEST (JSON GateRequest, first and once), STDIN, STDIN_EOF, SIGNAL (a name)
//   gate -> client: STDOUT, STDERR, EXIT (decimal status, last), ERROR (message, last; status 125)
import { InvalidArgument } from '../core/errors.js';
import { parseGroup, parsePasswd } from '../core/users.js';

export const FRAME = {
  REQUEST: 0x10,
  STDIN: 0x00,
  STDIN_EOF: 0x01,
  SIGNAL: 0x02,
  STDOUT: 0x11,
  STDERR: 0x12,
  EXIT: 0x13,
  ERROR: 0x14,
} as const;

/** What a client asks the gate (`cocon chroot run` by a non-root user). */
export interface GateRequest {
  chroot: string;
  argv: string[];
  env?: Record<string, string>;
  workdir?: string;
  ephemeral?: boolean;
  profile?: string;
}

export interface Identity {
  uid: number;
  gid: number;
  name: string;
  groups: string[];
  gids: number[];
}

/** The host identity of a uid: name, primary group, and every group that lists the user. */
export function identityOf(uid: number, passwdText: string, groupText: string): Identity | undefined {
  const pw = parsePasswd(passwdText).find((p) => p.uid === uid);
  if (!pw) return undefined;
  const groups = parseGroup(groupText);
  const mine = groups.filter((g) => g.gid === pw.gid || g.members.includes(pw.name));
  return {
    uid,
    gid: pw.gid,
    name: pw.name,
    groups: mine.map((g) => g.name),
    gids: [...new Set([pw.gid, ...mine.map((g) => g.gid)])],
  };
}

/** Whether `who` may enter a chroot listing `users` and `groups`. */
export function mayEnter(acl: { users?: string[]; groups?: string[] }, who: Identity): boolean {
  if (who.uid === 0) return true;
  if (acl.users?.includes(who.name)) return true;
  return who.groups.some((g) => acl.groups?.includes(g));
}

const ACCOUNT_RE = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
/** --users / --groups values: comma separated names (repeatable). */
export function parseNames(values: string[], what: '--users' | '--groups'): string[] {
  const out: string[] = [];
  for (const v of values)
    for (const n of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!ACCOUNT_RE.test(n)) throw new InvalidArgument(`${what}: invalid name "${n}"`);
      if (!out.includes(n)) out.push(n);
    }
  return out;
}

/** Checks a request's shape (it comes from an unprivileged client). */
export function parseGateRequest(payload: Buffer): GateRequest {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new InvalidArgument('bad request: not JSON');
  }
  const r = v as Record<string, unknown>;
  if (!r || typeof r !== 'object') throw new InvalidArgument('bad request');
  if (typeof r.chroot !== 'string') throw new InvalidArgument('bad request: chroot must be a string');
  if (!Array.isArray(r.argv) || !r.argv.every((a) => typeof a === 'string'))
    throw new InvalidArgument('bad request: argv must be strings');
  const env: Record<string, string> = {};
  if (r.env !== undefined) {
    if (typeof r.env !== 'object' || r.env === null) throw new InvalidArgument('bad request: env');
    for (const [k, val] of Object.entries(r.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof val !== 'string')
        throw new InvalidArgument(`bad request: env ${k}`);
      env[k] = val;
    }
  }
  for (const k of ['workdir', 'profile'] as const)
    if (r[k] !== undefined && typeof r[k] !== 'string') throw new InvalidArgument(`bad request: ${k}`);
  const allowed = new Set(['chroot', 'argv', 'env', 'workdir', 'ephemeral', 'profile']);
  for (const k of Object.keys(r)) if (!allowed.has(k)) throw new InvalidArgument(`bad request: unknown field ${k}`);
  return {
    chroot: r.chroot,
    argv: r.argv as string[],
    env,
    ...(typeof r.workdir === 'string' ? { workdir: r.workdir } : {}),
    ...(typeof r.profile === 'string' ? { profile: r.profile } : {}),
    ephemeral: r.ephemeral === true,
  };
}

export function encodeFrame(type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt32BE(p.length, 1);
  return Buffer.concat([h, p]);
}

/** Splits a byte stream into frames; refuses frames larger than `max`. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly max = 1 << 20) {}
  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { type: number; payload: Buffer }[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (len > this.max) throw new InvalidArgument(`frame of ${len} bytes is too large`);
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf[0], payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}
