// `docker import --change` / `docker commit --change`: the Dockerfile subset that may change an image
// config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).
// Pure: applyChanges(config, changes) returns a new config or throws InvalidArgument with docker's
// wording. Variables ($VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}) are expanded from the config's Env
// for the instructions docker expands (ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR).
import { posix } from 'node:path';
import { InvalidArgument } from '../core/errors.js';
import type { ImageConfig } from './types.js';

const VALID = new Set([
  'cmd',
  'entrypoint',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'UNUSED',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
]);

function cloneConfig(c: ImageConfig): ImageConfig {
  return JSON.parse(JSON.stringify(c)) as ImageConfig;
}

function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else m.set(e, '');
  }
  return m;
}

/**
 * Splits a word list like a Dockerfile does for ENV/LABEL/EXPOSE/VOLUME: whitespace separates words,
 * quotes group and are removed, backslash escapes (not inside single quotes), variables expand
 * (not inside single quotes) when `vars` is given.
 */
export function shellWords(s: string, vars?: Map<string, string>): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at s[i] === '$'
    if (!vars) {
      i++;
      return '$';
    }
    const rest = s.slice(i + 1);
    let m = /^\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])((?:[^}\\]|\\.)*))?\}/.exec(rest);
    if (m) {
      i += 1 + m[0].length;
      const v = vars.get(m[1]);
      if (m[2] === '-') return v ? v : (m[3] ?? '');
      if (m[2] === '+') return v ? (m[3] ?? '') : '';
      return v ?? '';
    }
    m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (m) {
      i += 1 + m[0].length;
      return vars.get(m[0]) ?? '';
    }
    i++;
    return '$';
  };
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      if (inWord) {
        words.push(cur);
        cur = '';
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new InvalidArgument(`unexpected end of statement while looking for matching single-quote`);
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && /["\\$]/.test(s[i + 1])) {
          cur += s[i + 1];
          i += 2;
          continue;
        }
        if (s[i] === '$') {
          cur += expand();
          continue;
        }
        cur += s[i];
        i++;
      }
      if (i >= s.length)
        throw new InvalidArgument(`unexpected end of statement while looking for matching double-quote`);
      i++;
      continue;
    }
    if (c === '\\' && i + 1 < s.length) {
      cur += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '$') {
      cur += expand();
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) words.push(cur);
  return words;
}

/** Parses a JSON array of strings (the Dockerfile exec form), or undefined when `rest` is not one. */
export function jsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

/** key=value pairs (ENV, LABEL), or the legacy `key value...` single pair. */
function nameValues(instr: string, rest: string, vars: Map<string, string> | undefined): Array<[string, string]> {
  const upper = instr.toUpperCase();
  if (rest.trim() === '') throw new InvalidArgument(`${upper} requires at least one argument`);
  const words = shellWords(rest, vars);
  if (words.length === 0) throw new InvalidArgument(`${upper} requires at least one argument`);
  const rawFirst = rest.trim().split(/\s+/)[0];
  if (!rawFirst.includes('=')) {
    // legacy form: first word is the key, the rest of the line (verbatim, expanded) the value
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m || m[2].trim() === '') throw new InvalidArgument(`${upper} must have two arguments`);
    const value = shellWords(m[2].trim(), vars).join(' ');
    return [[m[1], value]];
  }
  const out: Array<[string, string]> = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    out.push([w.slice(0, i), w.slice(i + 1)]);
  }
  return out;
}

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i;

/** EXPOSE 80 8000-8002/udp -> ["80/tcp", "8000/udp", "8001/udp", "8002/udp"] */
export function parseExpose(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = PORT_RE.exec(w);
    if (!m) throw new InvalidArgument(`invalid containerPort: ${w.split('/')[0]}`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (lo < 0 || hi > 65535 || hi < lo) throw new InvalidArgument(`invalid range specified for container port: ${w}`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

export function validSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const n = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(n) || /^RTMIN(\+\d+)?$/.test(n) || /^RTMAX(-\d+)?$/.test(n);
}

/** Splits one change line into instruction and rest ("ENV a=b" -> ["env", "a=b"]). */
export function splitInstruction(line: string): [string, string] {
  const m = /^\s*(\S+)(?:\s+([\s\S]*))?$/.exec(line);
  if (!m) throw new InvalidArgument('file with no instructions');
  return [m[1].toLowerCase(), (m[2] ?? '').trim()];
}

/** Applies `--change` lines to a config, in order, returning a new config. */
export function applyChanges(base: ImageConfig, changes: string[]): ImageConfig {
  const c = cloneConfig(base);
  const lines = changes
    .map((l) => l.replace(/\\\r?\n/g, ' '))
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const parsed = lines.map(splitInstruction);
  for (const [instr] of parsed)
    if (!VALID.has(instr)) throw new InvalidArgument(`${instr} is not a valid change command`);
  let cmdSet = false;
  for (const [instr, rest] of parsed) {
    const vars = envMap(c.Env);
    switch (instr) {
      case 'cmd': {
        c.Cmd = jsonArray(rest) ?? (rest === '' ? [] : ['/bin/sh', '-c', rest]);
        cmdSet = true;
        break;
      }
      case 'entrypoint': {
        const j = jsonArray(rest);
        if (j) c.Entrypoint = j;
        else if (rest === '') c.Entrypoint = [];
        else c.Entrypoint = ['/bin/sh', '-c', rest];
        if (!cmdSet) delete c.Cmd;
        break;
      }
      case 'env': {
        const env = c.Env ? [...c.Env] : [];
        for (const [k, v] of nameValues(instr, rest, vars)) {
          const i = env.findIndex((e) => e === k || e.startsWith(k + '='));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
          vars.set(k, v);
        }
        c.Env = env;
        break;
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of nameValues(instr, rest, vars)) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'expose': {
        const words = shellWords(rest, vars);
        if (words.length === 0) throw new InvalidArgument('EXPOSE requires at least one argument');
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of parseExpose(words)) ports[p] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'volume': {
        const list = jsonArray(rest) ?? shellWords(rest, vars);
        if (list.length === 0) throw new InvalidArgument('VOLUME requires at least one argument');
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of list) {
          if (v.trim() === '') throw new InvalidArgument('VOLUME specified can not be an empty string');
          vols[v.trim()] = {};
        }
        c.Volumes = vols;
        break;
      }
      case 'workdir': {
        const words = shellWords(rest, vars);
        if (words.length !== 1) throw new InvalidArgument('WORKDIR requires exactly one argument');
        const w = words[0];
        c.WorkingDir = posix.isAbsolute(w) ? posix.normalize(w) : posix.join('/', c.WorkingDir || '/', w);
        if (c.WorkingDir.length > 1) c.WorkingDir = c.WorkingDir.replace(/\/+$/, '');
        break;
      }
      case 'user': {
        const words = shellWords(rest, vars);
        if (words.length !== 1) throw new InvalidArgument('USER requires exactly one argument');
        c.User = words[0];
        break;
      }
      case 'stopsignal': {
        const words = shellWords(rest, vars);
        if (words.length !== 1) throw new InvalidArgument('STOPSIGNAL requires exactly one argument');
        if (!validSignal(words[0])) throw new InvalidArgument(`Invalid signal: ${words[0]}`);
        c.StopSignal = words[0];
        break;
      }
      case 'onbuild': {
        if (rest === '') throw new InvalidArgument('ONBUILD requires at least one argument');
        const [inner] = splitInstruction(rest);
        if (inner === 'onbuild') throw new InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (inner === 'maintainer' || inner === 'from')
          throw new InvalidArgument(`${inner.toUpperCase()} isn't allowed as an ONBUILD trigger`);
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
      }
    }
  }
  return c;
}
