// Pure rules for chroot input: names, suites, architectures, variants, packages, mirrors, --bind,
// --env, --user, and the parsers for the files and tool output the chroot manager reads
// (/etc/passwd, /etc/group, ldd, ELF headers). No I/O here: unit tests cover all of it.
import { createHash } from 'node:crypto';
import { InvalidArgument } from '../core/errors.js';
import { resolveUser, UserLookupError, type GroupEntry, type PasswdEntry, type ResolvedUser } from '../core/users.js';

/** Chroot names: like container names, and never starting with a dot (".cache" is ours). */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InvalidArgument(
      `invalid chroot name "${name}": use 1-64 characters [A-Za-z0-9_.-], starting with a letter or digit`,
    );
  }
  return name;
}

/**
 * Debian suites cocon builds with debootstrap. Codenames and archive aliases; `forky` (testing
 * after trixie) has no script in bookworm's debootstrap, so it is built with the `sid` script.
 */
export const DEBIAN_SUITES = [
  'sid',
  'unstable',
  'testing',
  'stable',
  'oldstable',
  'oldoldstable',
  'forky',
  'trixie',
  'bookworm',
  'bullseye',
  'buster',
  'stretch',
  'jessie',
];
/** Suites whose debootstrap script is another one's. */
export const SUITE_SCRIPT: Record<string, string> = { forky: 'sid' };

/** Checks a suite against the Debian list and the scripts this debootstrap has; returns the script name. */
export function validateSuite(suite: string, scripts: string[]): string {
  if (!DEBIAN_SUITES.includes(suite)) {
    throw new InvalidArgument(`unknown suite "${suite}": expected a Debian suite (${DEBIAN_SUITES.join(', ')})`);
  }
  const script = SUITE_SCRIPT[suite] ?? suite;
  if (!scripts.includes(script)) {
    throw new InvalidArgument(
      `unknown suite "${suite}": this debootstrap has no script for it (/usr/share/debootstrap/scripts/${script})`,
    );
  }
  return script;
}

/** Debian architecture -> qemu-user name (qemu-<name>-static), and the ELF e_machine / class of its binaries. */
export const ARCHES: Record<string, { qemu: string; machine: number; elfClass: 32 | 64 }> = {
  amd64: { qemu: 'x86_64', machine: 62, elfClass: 64 },
  i386: { qemu: 'i386', machine: 3, elfClass: 32 },
  arm64: { qemu: 'aarch64', machine: 183, elfClass: 64 },
  armhf: { qemu: 'arm', machine: 40, elfClass: 32 },
  armel: { qemu: 'arm', machine: 40, elfClass: 32 },
  ppc64el: { qemu: 'ppc64le', machine: 21, elfClass: 64 },
  s390x: { qemu: 's390x', machine: 22, elfClass: 64 },
  riscv64: { qemu: 'riscv64', machine: 243, elfClass: 64 },
  mips64el: { qemu: 'mips64el', machine: 8, elfClass: 64 },
};

export function validateArch(arch: string): string {
  if (!ARCHES[arch])
    throw new InvalidArgument(`unknown architecture "${arch}": expected one of ${Object.keys(ARCHES).join(', ')}`);
  return arch;
}

/** Maps an ELF e_machine (+ class) back to a Debian architecture name. */
export function archOfMachine(machine: number, elfClass: 32 | 64): string | undefined {
  for (const [name, a] of Object.entries(ARCHES)) if (a.machine === machine && a.elfClass === elfClass) return name;
  return undefined;
}

/** Maps Node's/Go's architecture names (process.arch, image Architecture) to Debian's. */
export function debianArch(a: string): string {
  const m: Record<string, string> = {
    x64: 'amd64',
    x86_64: 'amd64',
    amd64: 'amd64',
    ia32: 'i386',
    '386': 'i386',
    i386: 'i386',
    i686: 'i386',
    arm64: 'arm64',
    aarch64: 'arm64',
    arm: 'armhf',
    ppc64: 'ppc64el',
    ppc64le: 'ppc64el',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return m[a] ?? a;
}

export const VARIANTS = ['minbase', 'buildd', 'default'];
export function validateVariant(v: string): string {
  if (!VARIANTS.includes(v))
    throw new InvalidArgument(`unknown variant "${v}": expected one of ${VARIANTS.join(', ')}`);
  return v;
}

const PKG_RE = /^[a-z0-9][a-z0-9+.-]+$/;
/** Parses --include values (repeatable, comma separated) into a sorted, deduplicated list. */
export function parseInclude(values: string[]): string[] {
  const out = new Set<string>();
  for (const v of values)
    for (const p of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!PKG_RE.test(p)) throw new InvalidArgument(`invalid package name "${p}" in --include`);
      out.add(p);
    }
  return [...out].sort();
}

export function validateMirror(m: string): string {
  if (!/^(https?:\/\/[^\s/]+(\/\S*)?|file:\/\/?\/\S+)$/.test(m)) {
    throw new InvalidArgument(`invalid mirror "${m}": expected an http://, https:// or file:/// URL`);
  }
  return m;
}

/** The debootstrap cache key: everything that changes what debootstrap produces. */
export function cacheKey(p: {
  suite: string;
  arch: string;
  variant: string;
  include: string[];
  mirror: string;
}): string {
  const canon = JSON.stringify([p.suite, p.arch, p.variant, [...p.include].sort(), p.mirror.replace(/\/+$/, '')]);
  const h = createHash('sha256').update(canon).digest('hex').slice(0, 16);
  return `${p.suite}-${p.arch}-${p.variant}-${h}`;
}

/** Normalises an absolute path inside a root: no '.', '..' or empty segments. */
export function cleanInnerPath(p: string, what: string): string {
  if (!p.startsWith('/')) throw new InvalidArgument(`${what} "${p}" must be an absolute path`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new InvalidArgument(`${what} "${p}" must not contain ".."`);
  return '/' + parts.join('/');
}

export interface BindSpec {
  host: string;
  inner: string;
  readonly: boolean;
}

/** --bind HOST:PATH[:ro|rw]; both paths absolute, PATH not the root itself. */
export function parseBind(spec: string): BindSpec {
  const parts = spec.split(':');
  let mode = 'rw';
  if (parts.length === 3) mode = parts.pop()!;
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new InvalidArgument(`invalid --bind "${spec}": expected HOST:PATH[:ro]`);
  }
  if (mode !== 'ro' && mode !== 'rw')
    throw new InvalidArgument(`invalid --bind "${spec}": mode must be ro or rw, not "${mode}"`);
  const [host, inner] = parts;
  if (!host.startsWith('/'))
    throw new InvalidArgument(`invalid --bind "${spec}": the host path "${host}" must be absolute`);
  if (!inner.startsWith('/'))
    throw new InvalidArgument(`invalid --bind "${spec}": the path inside the chroot "${inner}" must be absolute`);
  const cleanInner = cleanInnerPath(inner, `--bind target`);
  if (cleanInner === '/') throw new InvalidArgument(`invalid --bind "${spec}": cannot bind over the chroot's /`);
  return { host, inner: cleanInner, readonly: mode === 'ro' };
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** --env K=V (a bare K takes the value from the caller's environment, as docker does). */
export function parseEnv(values: string[], callerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    if (!ENV_NAME_RE.test(k)) throw new InvalidArgument(`invalid --env "${v}": bad variable name "${k}"`);
    if (eq < 0) {
      const cv = callerEnv[k];
      if (cv !== undefined) out[k] = cv;
    } else out[k] = v.slice(eq + 1);
  }
  return out;
}

/**
 * Resolves --user against a root's passwd and group entries with core/users.ts's rules (those of
 * `docker run --user`); chroots also cap uid and gid at 65535 (the user namespace's map).
 */
export function chrootUser(spec: string, passwd: readonly PasswdEntry[], groups: readonly GroupEntry[]): ResolvedUser {
  let u: ResolvedUser;
  try {
    u = resolveUser(spec, passwd, groups);
  } catch (e) {
    throw e instanceof UserLookupError ? new InvalidArgument(e.message) : e;
  }
  if (u.uid > 65535 || u.gid > 65535)
    throw new InvalidArgument(`invalid --user "${spec}": uid and gid must be at most 65535`);
  return u;
}

/**
 * Parses `ldd PROGRAM` output into the files the program needs: "name => /path (addr)" lines give
 * /path, a bare "/lib64/ld-linux... (addr)" line gives the loader; vdso lines are skipped.
 * Returns { static: true } for "not a dynamic executable" / "statically linked".
 */
export function parseLdd(out: string): { static: boolean; paths: string[]; missing: string[] } {
  if (/not a dynamic executable|statically linked/.test(out)) return { static: true, paths: [], missing: [] };
  const paths: string[] = [];
  const missing: string[] = [];
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    let m = /^(\S+)\s+=>\s+not found/.exec(line);
    if (m) {
      missing.push(m[1]);
      continue;
    }
    m = /^\S+\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (m) {
      paths.push(m[1]);
      continue;
    }
    m = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (m) {
      paths.push(m[1]);
    }
  }
  return { static: false, paths: [...new Set(paths)], missing };
}

export interface ElfInfo {
  elfClass: 32 | 64;
  machine: number;
  type: number;
  interp?: string;
}

/** Reads the ELF identification and header (little-endian only); undefined when not ELF. */
export function parseElfHeader(b: Buffer): ElfInfo | undefined {
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const cls = b[4] === 1 ? 32 : b[4] === 2 ? 64 : undefined;
  if (!cls || b[5] !== 1) return undefined;
  return { elfClass: cls, type: b.readUInt16LE(16), machine: b.readUInt16LE(18) };
}

/**
 * A minimal static i386 ELF executable that runs uname(2) and writes utsname.machine followed by
 * a newline to stdout, then exits 0 (about 170 bytes). Used to probe whether this kernel runs
 * 32-bit x86 programs natively, and by the tests to check `uname -m` through the emulation path.
 */
export function tinyElf32Uname(): Buffer {
  const base = 0x08048000;
  const ehsz = 52;
  const phsz = 32;
  const codeOff = ehsz + phsz;
  const bufAddr = base + 0x1000; // in the bss part of the one RWX segment
  const code: number[] = [];
  const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  code.push(0xb8, ...le32(122)); // mov eax, SYS_newuname
  code.push(0xbb, ...le32(bufAddr)); // mov ebx, buf
  code.push(0xcd, 0x80); // int 0x80
  // find the NUL ending machine (offset 4*65): edx = length
  code.push(0xbe, ...le32(bufAddr + 260)); // mov esi, machine
  code.push(0x31, 0xd2); // xor edx, edx
  code.push(0x80, 0x3c, 0x16, 0x00); // L: cmp byte [esi+edx], 0
  code.push(0x74, 0x03); // je +3
  code.push(0x42); // inc edx
  code.push(0xeb, 0xf7); // jmp L (-9)
  code.push(0xc6, 0x04, 0x16, 0x0a); // mov byte [esi+edx], '\n'
  code.push(0x42); // inc edx
  code.push(0xb8, ...le32(4)); // mov eax, SYS_write
  code.push(0xbb, ...le32(1)); // mov ebx, 1
  code.push(0x89, 0xf1); // mov ecx, esi
  code.push(0xcd, 0x80); // int 0x80
  code.push(0xb8, ...le32(1)); // mov eax, SYS_exit
  code.push(0x31, 0xdb); // xor ebx, ebx
  code.push(0xcd, 0x80); // int 0x80
  const fileSize = codeOff + code.length;
  const b = Buffer.alloc(fileSize);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 1;
  b[5] = 1;
  b[6] = 1; // ELF32, LE, v1
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(3, 18); // EM_386
  b.writeUInt32LE(1, 20); // version
  b.writeUInt32LE(base + codeOff, 24); // entry
  b.writeUInt32LE(ehsz, 28); // phoff
  b.writeUInt32LE(0, 32); // shoff
  b.writeUInt32LE(0, 36); // flags
  b.writeUInt16LE(ehsz, 40); // ehsize
  b.writeUInt16LE(phsz, 42); // phentsize
  b.writeUInt16LE(1, 44); // phnum
  b.writeUInt16LE(40, 46); // shentsize
  b.writeUInt16LE(0, 48);
  b.writeUInt16LE(0, 50);
  // PT_LOAD covering the file, plus 0x2000 bytes of zeroed memory for the utsname buffer
  const ph = ehsz;
  b.writeUInt32LE(1, ph); // PT_LOAD
  b.writeUInt32LE(0, ph + 4); // offset
  b.writeUInt32LE(base, ph + 8); // vaddr
  b.writeUInt32LE(base, ph + 12); // paddr
  b.writeUInt32LE(fileSize, ph + 16);
  b.writeUInt32LE(0x2000, ph + 20); // memsz
  b.writeUInt32LE(7, ph + 24); // RWX
  b.writeUInt32LE(0x1000, ph + 28); // align
  Buffer.from(code).copy(b, codeOff);
  return b;
}

/** Formats a byte count the way docker does (decimal units, 3 significant digits). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3).replace(/\.0+$|(\.\d*?)0+$/, '$1')}${units[i]}`;
}
