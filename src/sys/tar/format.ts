// The byte format of cocon's one tar codec (src/sys/tar/), pure: 512-byte ustar/GNU header blocks
// and PAX extended header records ("LEN key=value\n", value as raw bytes, LEN counting itself), read
// and written by our own code so that binary values (a security.capability xattr, any user.* xattr)
// go through byte for byte. Strict on input: checksums, octal and base-256 numbers, record lengths
// and the size of extended headers are checked, and anything malformed is a TarFormatError (bad
// input, a LayerError). ./extract.ts streams entries through decodeHeader/applyExtended, ./pack.ts
// writes them with encodeEntryHeader.
import { LayerError } from './rules.js';

export const BLOCK = 512;
/** Extended headers (PAX 'x'/'g', GNU 'L'/'K') larger than this are refused (as Go's archive/tar). */
export const MAX_EXTENDED = 1 << 20;

/** A malformed tar: bad input, like a refused entry. */
export class TarFormatError extends LayerError {}

export type EntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'directory'
  | 'block-device'
  | 'character-device'
  | 'fifo'
  | 'contiguous-file'
  /** a typeflag the codec does not extract (GNU sparse, volume labels...): its data is skipped */
  | 'unsupported';

/** An entry's header as read (extended headers applied). */
export interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtime: Date;
  type: EntryType;
  linkname: string;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** PAX records of the entry (global ones included), values decoded as UTF-8 (binary ones: see xattrs). */
  pax?: Record<string, string>;
  /** Extended attributes (PAX SCHILY.xattr.* raw, LIBARCHIVE.xattr.* base64-decoded), byte-exact. */
  xattrs?: Array<[string, Buffer]>;
}

/** A header to write: the name is required; defaults as tar's (mode 0644/0755, owner 0, mtime now). */
export type TarHead = Partial<TarHeader> & Pick<TarHeader, 'name'>;

const TYPEFLAGS: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
  '7': 'contiguous-file',
};
const FLAG_OF: Record<Exclude<EntryType, 'unsupported'>, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
};

/** Types whose header carries no data whatever its size field says (as Go's archive/tar). */
export function headerOnly(t: EntryType): boolean {
  return t !== 'file' && t !== 'contiguous-file' && t !== 'unsupported';
}

// ------------------------------------------------------------------------------------ numbers

/** A numeric field: octal digits (spaces/NULs around them), or base-256 (high bit of the first byte). */
export function parseNumber(b: Buffer, field: string): number {
  if (b.length && b[0] & 0x80) {
    if (b[0] === 0xff) throw new TarFormatError(`invalid tar header: negative ${field}`);
    if (b[0] !== 0x80) throw new TarFormatError(`invalid tar header: bad base-256 ${field}`);
    let v = 0;
    for (let i = 1; i < b.length; i++) {
      v = v * 256 + b[i];
      if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`invalid tar header: ${field} too large`);
    }
    return v;
  }
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < b.length && b[i] >= 0x30 && b[i] <= 0x37; i++, digits++) v = v * 8 + (b[i] - 0x30);
  for (; i < b.length; i++)
    if (b[i] !== 0x20 && b[i] !== 0) throw new TarFormatError(`invalid tar header: ${field} is not an octal number`);
  if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`invalid tar header: ${field} too large`);
  return digits ? v : 0;
}

/** Writes `v` in a field of `len` bytes: octal NUL-terminated when it fits, else base-256; false when neither. */
function putNumber(buf: Buffer, off: number, len: number, v: number): boolean {
  if (!Number.isSafeInteger(v) || v < 0) return false;
  const oct = v.toString(8);
  if (oct.length <= len - 1) {
    buf.write(oct.padStart(len - 1, '0'), off, 'ascii');
    buf[off + len - 1] = 0;
    return true;
  }
  if (len < 12) return false; // ids and device numbers past octal go into PAX records instead
  buf[off] = 0x80;
  let x = v;
  for (let i = len - 1; i > 0; i--) {
    buf[off + i] = x % 256;
    x = Math.floor(x / 256);
  }
  return true;
}

function checksum(b: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return { unsigned, signed };
}

function cstr(b: Buffer, off: number, len: number): Buffer {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return z < 0 ? s : s.subarray(0, z);
}

// ------------------------------------------------------------------------------------ reading

/** One 512-byte header block as found, before extended headers are applied. */
export interface RawHeader {
  /** The typeflag character ('x', 'g', 'L', 'K', '0'...). */
  flag: string;
  header: TarHeader;
  /** Bytes of data that follow the block (0 for header-only types), padded to 512. */
  dataSize: number;
}

/** Decodes a header block; null for an all-zero block (end of archive). Throws TarFormatError. */
export function decodeHeader(b: Buffer): RawHeader | null {
  if (b.length !== BLOCK) throw new TarFormatError('invalid tar header: short block');
  let zero = true;
  for (let i = 0; i < BLOCK; i++)
    if (b[i] !== 0) {
      zero = false;
      break;
    }
  if (zero) return null;
  const want = parseNumber(b.subarray(148, 156), 'checksum');
  const sum = checksum(b);
  if (want !== sum.unsigned && want !== sum.signed)
    throw new TarFormatError('invalid tar header: checksum mismatch (a corrupt tar, or one still compressed?)');
  const magic = b.subarray(257, 263).toString('latin1');
  const version = b.subarray(263, 265).toString('latin1');
  const ustar = magic === 'ustar\0';
  const gnu = magic === 'ustar ' && version === ' \0';
  if (!ustar && !gnu) throw new TarFormatError('invalid tar header: unknown format (neither ustar nor GNU)');
  const flag = String.fromCharCode(b[156]);
  let name = cstr(b, 0, 100).toString('utf8');
  if (ustar && b[345] !== 0) name = `${cstr(b, 345, 155).toString('utf8')}/${name}`;
  let type: EntryType = TYPEFLAGS[flag] ?? 'unsupported';
  if (type === 'file' && name.endsWith('/')) type = 'directory'; // old tars mark directories so
  const size = parseNumber(b.subarray(124, 136), 'size');
  const header: TarHeader = {
    name,
    mode: parseNumber(b.subarray(100, 108), 'mode'),
    uid: parseNumber(b.subarray(108, 116), 'uid'),
    gid: parseNumber(b.subarray(116, 124), 'gid'),
    size,
    mtime: new Date(parseNumber(b.subarray(136, 148), 'mtime') * 1000),
    type,
    linkname: cstr(b, 157, 100).toString('utf8'),
    uname: cstr(b, 265, 32).toString('utf8'),
    gname: cstr(b, 297, 32).toString('utf8'),
    devmajor: parseNumber(b.subarray(329, 337), 'devmajor'),
    devminor: parseNumber(b.subarray(337, 345), 'devminor'),
  };
  const extended = flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
  if (extended && size > MAX_EXTENDED)
    throw new TarFormatError(`invalid tar: extended header of ${size} bytes (limit ${MAX_EXTENDED})`);
  return { flag, header, dataSize: extended || !headerOnly(type) ? size : 0 };
}

/** Parses the records of a PAX extended header body, values as raw bytes. Throws TarFormatError. */
export function decodePaxRecords(body: Buffer): Array<[string, Buffer]> {
  if (body.length > MAX_EXTENDED) throw new TarFormatError(`invalid PAX header: ${body.length} bytes`);
  const out: Array<[string, Buffer]> = [];
  let off = 0;
  while (off < body.length) {
    // GNU tar pads a PAX body with NULs only when reading a damaged one; a NUL here ends the records
    if (body[off] === 0) {
      for (let i = off; i < body.length; i++)
        if (body[i] !== 0) throw new TarFormatError('invalid PAX header: data after NUL padding');
      break;
    }
    let i = off;
    let len = 0;
    while (i < body.length && body[i] >= 0x30 && body[i] <= 0x39 && i - off < 8) len = len * 10 + (body[i++] - 0x30);
    if (i === off || i >= body.length || body[i] !== 0x20)
      throw new TarFormatError(`invalid PAX record at byte ${off}: no length`);
    if (len < i - off + 4) throw new TarFormatError(`invalid PAX record at byte ${off}: length ${len} too small`);
    if (off + len > body.length)
      throw new TarFormatError(`invalid PAX record at byte ${off}: length ${len} overruns the header`);
    if (body[off + len - 1] !== 0x0a)
      throw new TarFormatError(`invalid PAX record at byte ${off}: no newline at its end`);
    const rec = body.subarray(i + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError(`invalid PAX record at byte ${off}: no key`);
    out.push([rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1))]);
    off += len;
  }
  return out;
}

function pctDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new TarFormatError(`invalid PAX record: bad xattr name ${s}`);
  }
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function paxInt(k: string, v: string): number {
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new TarFormatError(`invalid PAX record ${k}=${v}`);
  return Number(v);
}

/**
 * Applies extended headers to an entry's header: PAX records (global first, then the entry's own),
 * a GNU long name and long link name. Path, linkpath, size, uid, gid, mtime, uname, gname are taken,
 * xattrs kept byte-exact; GNU sparse files are refused (their data is not the file's bytes).
 */
export function applyExtended(
  h: TarHeader,
  global: Map<string, Buffer>,
  local: Array<[string, Buffer]>,
  longName?: string,
  longLink?: string,
): TarHeader {
  if (longName !== undefined) h.name = longName;
  if (longLink !== undefined) h.linkname = longLink;
  const recs = new Map(global);
  for (const [k, v] of local) recs.set(k, v);
  if (!recs.size) return h;
  const pax: Record<string, string> = {};
  const xattrs: Array<[string, Buffer]> = [];
  for (const [k, raw] of recs) {
    if (k.startsWith('SCHILY.xattr.')) {
      if (k.length > 13) xattrs.push([k.slice(13), raw]);
      continue;
    }
    if (k.startsWith('LIBARCHIVE.xattr.')) {
      const b64 = raw.toString('latin1');
      if (!B64.test(b64) || b64.length % 4 === 1) throw new TarFormatError(`invalid PAX record ${k}: not base64`);
      xattrs.push([pctDecode(k.slice(17)), Buffer.from(b64, 'base64')]);
      continue;
    }
    const v = raw.toString('utf8');
    if (k.startsWith('GNU.sparse.')) throw new TarFormatError(`sparse files are not supported (entry ${h.name})`);
    if (v === '') continue; // an empty value unsets a global record
    pax[k] = v;
    switch (k) {
      case 'path':
        h.name = v;
        break;
      case 'linkpath':
        h.linkname = v;
        break;
      case 'size':
        h.size = paxInt(k, v);
        break;
      case 'uid':
        h.uid = paxInt(k, v);
        break;
      case 'gid':
        h.gid = paxInt(k, v);
        break;
      case 'uname':
        h.uname = v;
        break;
      case 'gname':
        h.gname = v;
        break;
      case 'mtime': {
        if (!/^-?\d{1,15}(\.\d{1,9})?$/.test(v)) throw new TarFormatError(`invalid PAX record mtime=${v}`);
        h.mtime = new Date(Math.round(Number(v) * 1000));
        break;
      }
    }
  }
  if (h.name.includes('\0') || h.linkname.includes('\0'))
    throw new TarFormatError('invalid tar header: a PAX path contains a NUL byte');
  if (Object.keys(pax).length) h.pax = pax;
  if (xattrs.length) h.xattrs = xattrs;
  return h;
}

/** The name in a GNU 'L'/'K' body (up to its first NUL). */
export function decodeLongName(body: Buffer): string {
  return cstr(body, 0, body.length).toString('utf8');
}

/** After a header whose data is `size` bytes: padding to the next block. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r ? BLOCK - r : 0;
}

// ------------------------------------------------------------------------------------ writing

/** One PAX record, "LEN key=value\n" with LEN counting its own digits. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const k = Buffer.from(key, 'utf8');
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (!k.length || k.includes(0x3d)) throw new Error(`invalid PAX key ${key}`);
  const rest = k.length + v.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), v, Buffer.from('\n')]);
}

/** Whether `s` is ASCII without NUL (fits a ustar field as is). */
function ascii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

/** Splits a name into ustar prefix and name fields; null when it cannot be (then a PAX path). */
function splitName(name: string): [string, string] | null {
  if (!ascii(name)) return null;
  if (name.length <= 100) return ['', name];
  // the prefix must end at a '/', the rest (without it) fit in 100 bytes
  for (let i = name.length - 101; i < name.length; i++) {
    if (i > 0 && name[i] === '/' && i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0)
      return [name.slice(0, i), name.slice(i + 1)];
  }
  return null;
}

function block(name: string, prefix: string, flag: string, h: Fields, extra: Array<[string, Buffer | string]>): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  putNumber(b, 100, 8, h.mode & 0o7777);
  if (!putNumber(b, 108, 8, h.uid)) extra.push(['uid', String(h.uid)]);
  if (!putNumber(b, 116, 8, h.gid)) extra.push(['gid', String(h.gid)]);
  if (!putNumber(b, 124, 12, h.size)) throw new Error(`invalid entry size ${h.size}`);
  const secs = Math.floor(h.mtime.getTime() / 1000);
  if (!putNumber(b, 136, 12, Number.isFinite(secs) && secs >= 0 ? secs : 0)) throw new Error('invalid mtime');
  if (Number.isFinite(secs) && secs < 0) extra.push(['mtime', String(secs)]);
  b[156] = flag.charCodeAt(0);
  if (ascii(h.linkname) && h.linkname.length <= 100) b.write(h.linkname, 157, 100, 'ascii');
  else extra.push(['linkpath', h.linkname]);
  b.write('ustar\x0000', 257, 8, 'latin1');
  if (ascii(h.uname) && h.uname.length <= 32) b.write(h.uname, 265, 32, 'ascii');
  else extra.push(['uname', h.uname]);
  if (ascii(h.gname) && h.gname.length <= 32) b.write(h.gname, 297, 32, 'ascii');
  else extra.push(['gname', h.gname]);
  if (!putNumber(b, 329, 8, h.devmajor) || !putNumber(b, 337, 8, h.devminor))
    throw new Error(`device number too large: ${h.devmajor}:${h.devminor}`);
  b.write(prefix, 345, 155, 'ascii');
  return b;
}

function sealBlock(b: Buffer): Buffer {
  const sum = checksum(b).unsigned;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

type Fields = Required<Omit<TarHead, 'pax' | 'xattrs' | 'type'>> & { type: Exclude<EntryType, 'unsupported'> };

function defaults(h: TarHead, dataSize: number): Fields {
  const type = h.type ?? 'file';
  if (type === 'unsupported') throw new Error(`cannot write an entry of unsupported type: ${h.name}`);
  return {
    name: h.name,
    type,
    size: headerOnly(type) ? 0 : dataSize,
    mode: h.mode ?? (type === 'directory' ? 0o755 : 0o644),
    mtime: h.mtime ?? new Date(),
    linkname: h.linkname ?? '',
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname ?? '',
    gname: h.gname ?? '',
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  };
}

/**
 * The header blocks of an entry with `dataSize` bytes of data: a ustar block, preceded by a PAX
 * extended header when something does not fit it (a long or non-ASCII name or link, ids past
 * 2097151, a name, or xattrs: SCHILY.xattr.NAME records with the raw value bytes).
 */
export function encodeEntryHeader(h: TarHead, dataSize: number): Buffer {
  const d = defaults(h, dataSize);
  let name = d.name;
  if (d.type === 'directory' && !name.endsWith('/')) name += '/';
  const extra: Array<[string, Buffer | string]> = [];
  const split = splitName(name);
  if (!split) extra.push(['path', name]);
  const [prefix, short] = split ?? ['', placeholder(name)];
  const main = block(short, prefix, FLAG_OF[d.type], d, extra);
  // other PAX records pass through; those of the header's own fields come from the fields above
  for (const [k, v] of Object.entries(h.pax ?? {})) if (!FIELD_RECORDS.has(k)) extra.push([k, v]);
  for (const [k, v] of h.xattrs ?? []) extra.push([`SCHILY.xattr.${k}`, v]);
  if (!extra.length) return sealBlock(main);
  const body = Buffer.concat(extra.map(([k, v]) => paxRecord(k, v)));
  if (body.length > MAX_EXTENDED) throw new Error(`PAX header of ${name} too large (${body.length} bytes)`);
  const xh = block(
    `PaxHeaders.0/${placeholder(baseOf(name))}`.slice(0, 100),
    '',
    'x',
    {
      ...d,
      name: '',
      linkname: '',
      uname: '',
      gname: '',
      size: body.length,
      uid: Math.min(d.uid, 0o7777777),
      gid: Math.min(d.gid, 0o7777777),
      mtime: d.mtime.getTime() >= 0 ? d.mtime : new Date(0),
      devmajor: 0,
      devminor: 0,
    },
    [],
  );
  return Buffer.concat([sealBlock(xh), body, Buffer.alloc(padding(body.length)), sealBlock(main)]);
}

function baseOf(name: string): string {
  const t = name.replace(/\/+$/, '');
  return t.slice(t.lastIndexOf('/') + 1) || '.';
}

/** An ASCII stand-in of at most 100 bytes for a name carried by a PAX path record. */
function placeholder(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(-100);
}

const FIELD_RECORDS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime']);

/** The end of an archive: two zero blocks. */
export const END = Buffer.alloc(2 * BLOCK);
