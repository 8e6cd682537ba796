// A small tar (ustar + PAX long names) writer and reader for `cp`. Header encoding and parsing
// are pure; packDir/extract touch only the paths they are given.
import {
  lstatSync,
  readdirSync,
  readlinkSync,
  readFileSync,
  mkdirSync,
  writeFileSync,
  symlinkSync,
  chmodSync,
  utimesSync,
  rmSync,
  linkSync,
  existsSync,
} from 'node:fs';
import { join, resolve, sep, dirname } from 'node:path';

export interface TarEntry {
  name: string; // path inside the archive, '/'-separated, no leading '/'
  type: 'file' | 'dir' | 'symlink' | 'link' | 'other';
  mode: number;
  size: number;
  mtime: number; // seconds
  linkname?: string;
  uid?: number;
  gid?: number;
  data?: Buffer;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  b.copy(buf, off, 0, Math.min(len, b.length));
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  for (;;) {
    const s = `${len}${body}`;
    const l = Buffer.byteLength(s);
    if (l === len) return s;
    len = l;
  }
}

function rawHeader(
  name: string,
  typeflag: string,
  e: { mode: number; size: number; mtime: number; linkname?: string; uid?: number; gid?: number },
): Buffer {
  const h = Buffer.alloc(512);
  writeString(h, 0, 100, name);
  writeString(h, 100, 8, octal(e.mode & 0o7777, 8));
  writeString(h, 108, 8, octal(e.uid ?? 0, 8));
  writeString(h, 116, 8, octal(e.gid ?? 0, 8));
  writeString(h, 124, 12, octal(e.size, 12));
  writeString(h, 136, 12, octal(Math.max(0, Math.floor(e.mtime)), 12));
  h.fill(0x20, 148, 156);
  writeString(h, 156, 1, typeflag);
  writeString(h, 157, 100, e.linkname ?? '');
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function pad(n: number): Buffer {
  const r = n % 512;
  return r ? Buffer.alloc(512 - r) : Buffer.alloc(0);
}

// Header block(s) for one entry (with a PAX header first when names are too long).
export function encodeHeader(e: TarEntry): Buffer {
  const typeflag = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : e.type === 'link' ? '1' : '0';
  let name = e.name;
  if (e.type === 'dir' && !name.endsWith('/')) name += '/';
  const parts: Buffer[] = [];
  const needPath = Buffer.byteLength(name) > 100;
  const needLink = !!e.linkname && Buffer.byteLength(e.linkname) > 100;
  if (needPath || needLink) {
    let recs = '';
    if (needPath) recs += paxRecord('path', name);
    if (needLink) recs += paxRecord('linkpath', e.linkname ?? '');
    const body = Buffer.from(recs, 'utf8');
    parts.push(
      rawHeader('PaxHeaders/' + name.slice(0, 80), 'x', { mode: 0o644, size: body.length, mtime: e.mtime }),
      body,
      pad(body.length),
    );
  }
  parts.push(
    rawHeader(name.slice(0, 100), typeflag, {
      ...e,
      size: e.type === 'file' ? e.size : 0,
      linkname: e.linkname?.slice(0, 100),
    }),
  );
  return Buffer.concat(parts);
}

// Walks `hostPath` and yields tar chunks with the root entry named `rootName`.
export function* packPath(hostPath: string, rootName: string, keepOwner = true): Generator<Buffer> {
  const walk = function* (abs: string, name: string): Generator<Buffer> {
    const st = lstatSync(abs);
    const base = {
      name,
      mode: st.mode,
      mtime: st.mtimeMs / 1000,
      uid: keepOwner ? st.uid : 0,
      gid: keepOwner ? st.gid : 0,
      size: 0,
    };
    if (st.isSymbolicLink()) {
      yield encodeHeader({ ...base, type: 'symlink', linkname: readlinkSync(abs) });
      return;
    }
    if (st.isDirectory()) {
      yield encodeHeader({ ...base, type: 'dir' });
      for (const child of readdirSync(abs).sort()) yield* walk(join(abs, child), name ? `${name}/${child}` : child);
      return;
    }
    if (st.isFile()) {
      const data = readFileSync(abs);
      yield encodeHeader({ ...base, type: 'file', size: data.length });
      yield data;
      yield pad(data.length);
    }
  };
  yield* walk(hostPath, rootName);
  yield Buffer.alloc(1024);
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z >= 0 ? s.subarray(0, z) : s).toString('utf8');
}
function num(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    // base-256
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

export function parseTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  let gnuName: string | undefined;
  let gnuLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = num(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = off + 512;
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + size + ((512 - (size % 512)) % 512);
    if (type === 'x') {
      const text = data.toString('utf8');
      let i = 0;
      while (i < text.length) {
        const sp = text.indexOf(' ', i);
        const len = parseInt(text.slice(i, sp), 10);
        if (!len) break;
        const rec = text.slice(sp + 1, i + len - 1);
        const eq = rec.indexOf('=');
        pax[rec.slice(0, eq)] = rec.slice(eq + 1);
        i += len;
      }
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      gnuName = cstr(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      gnuLink = cstr(data, 0, data.length);
      continue;
    }
    let name = cstr(h, 0, 100);
    const prefix = cstr(h, 345, 155);
    if (prefix && cstr(h, 257, 6).startsWith('ustar')) name = `${prefix}/${name}`;
    name = pax.path ?? gnuName ?? name;
    const linkname = pax.linkpath ?? gnuLink ?? cstr(h, 157, 100);
    const kind: TarEntry['type'] =
      type === '5'
        ? 'dir'
        : type === '2'
          ? 'symlink'
          : type === '1'
            ? 'link'
            : type === '0' || type === '7'
              ? 'file'
              : 'other';
    out.push({
      name: name.replace(/^\.\//, '').replace(/\/+$/, ''),
      type: kind,
      mode: num(h, 100, 8),
      size: pax.size ? Number(pax.size) : size,
      mtime: pax.mtime ? Number(pax.mtime) : num(h, 136, 12),
      linkname,
      uid: num(h, 108, 8),
      gid: num(h, 116, 8),
      data: kind === 'file' ? Buffer.from(data) : undefined,
    });
    pax = {};
    gnuName = undefined;
    gnuLink = undefined;
  }
  return out;
}

// Extracts entries under `destDir`; the archive's first path component `fromRoot` is renamed to
// `toRoot` when given. Entries that would land outside destDir are refused.
export function extractEntries(
  entries: TarEntry[],
  destDir: string,
  rename?: { fromRoot: string; toRoot: string },
): void {
  const root = resolve(destDir);
  const dirTimes: [string, number][] = [];
  for (const e of entries) {
    let name = e.name;
    if (!name || name === '.') continue;
    if (rename) {
      const first = name.split('/')[0];
      if (first === rename.fromRoot) name = rename.toRoot + name.slice(first.length);
    }
    const target = resolve(root, name);
    if (target !== root && !target.startsWith(root + sep))
      throw new Error(`invalid tar entry outside the destination: ${e.name}`);
    mkdirSync(dirname(target), { recursive: true });
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'dir':
        if (!existsSync(target)) mkdirSync(target, { mode });
        else chmodSync(target, mode);
        dirTimes.push([target, e.mtime]);
        break;
      case 'file':
        rmIfNotDir(target);
        writeFileSync(target, e.data ?? Buffer.alloc(0), { mode });
        chmodSync(target, mode);
        utimesSync(target, e.mtime, e.mtime);
        break;
      case 'symlink':
        rmIfNotDir(target);
        symlinkSync(e.linkname ?? '', target);
        break;
      case 'link': {
        const src = resolve(root, e.linkname ?? '');
        if (!src.startsWith(root + sep)) throw new Error(`invalid hard link outside the destination: ${e.linkname}`);
        rmIfNotDir(target);
        linkSync(src, target);
        break;
      }
      default:
        break;
    }
  }
  for (const [p, t] of dirTimes.reverse()) {
    try {
      utimesSync(p, t, t);
    } catch {
      /* ignore */
    }
  }
}

function rmIfNotDir(p: string): void {
  try {
    const st = lstatSync(p);
    if (!st.isDirectory()) rmSync(p, { force: true });
  } catch {
    /* missing */
  }
}
