// Variable substitution in Dockerfile words (pure), as docker's shell lexer does it:
//   $VAR  ${VAR}  ${VAR:-default}  ${VAR-default}  ${VAR:+alt}  ${VAR+alt}
// Single quotes keep everything literal, double quotes group and still expand, the escape
// character (\ or ` per the escape directive) makes the next character literal. Quotes are removed.
// Also the ARG/ENV scoping rules: what a build argument's value is at a given point of a stage.
import { InvalidArgument } from '../core/errors.js';

/** Variables visible to an instruction: name -> value (a name absent from the map is unset). */
export type Vars = Map<string, string>;

/** Build arguments docker predefines: usable without an ARG line, and left out of the image's history. */
export const PREDEFINED_ARGS = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

class Lexer {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly vars: Vars,
    private readonly esc: string,
  ) {}

  private name(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) return '';
    this.i += m[0].length;
    return m[0];
  }

  /** At s[i] === '$': the expansion. */
  expand(): string {
    this.i++;
    const s = this.s;
    if (s[this.i] === '{') {
      this.i++;
      const name = this.name();
      if (!name) throw new InvalidArgument(`failed to process "${s}": missing ':' in substitution`);
      if (s[this.i] === '}') {
        this.i++;
        return this.vars.get(name) ?? '';
      }
      let colon = false;
      if (s[this.i] === ':') {
        colon = true;
        this.i++;
      }
      const op = s[this.i];
      if (op !== '-' && op !== '+')
        throw new InvalidArgument(`failed to process "${s}": unsupported modifier (${op ?? ''}) in substitution`);
      this.i++;
      // the word runs to the matching '}' (nested ${} allowed)
      let depth = 0;
      let word = '';
      for (; this.i < s.length; this.i++) {
        const c = s[this.i];
        if (c === this.esc && this.i + 1 < s.length) {
          word += c + s[this.i + 1];
          this.i++;
          continue;
        }
        if (c === '{') depth++;
        if (c === '}') {
          if (depth === 0) break;
          depth--;
        }
        word += c;
      }
      if (s[this.i] !== '}') throw new InvalidArgument(`failed to process "${s}": missing '}'`);
      this.i++;
      const set = this.vars.has(name);
      const v = this.vars.get(name) ?? '';
      const alt = () => processWord(word, this.vars, this.esc);
      if (op === '-') return (colon ? v !== '' : set) ? v : alt();
      return (colon ? v !== '' : set) ? alt() : '';
    }
    const name = this.name();
    if (!name) return '$';
    return this.vars.get(name) ?? '';
  }

  /** Words of the string (split at unquoted whitespace), quotes removed, variables expanded. */
  words(): string[] {
    const s = this.s;
    const out: string[] = [];
    let cur = '';
    let inWord = false;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        if (inWord) {
          out.push(cur);
          cur = '';
          inWord = false;
        }
        this.i++;
        continue;
      }
      inWord = true;
      if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0)
          throw new InvalidArgument(
            `failed to process "${s}": unexpected end of statement while looking for matching single-quote`,
          );
        cur += s.slice(this.i + 1, end);
        this.i = end + 1;
        continue;
      }
      if (c === '"') {
        this.i++;
        while (this.i < s.length && s[this.i] !== '"') {
          const d = s[this.i];
          if (d === this.esc && this.i + 1 < s.length && ['"', '$', this.esc].includes(s[this.i + 1])) {
            cur += s[this.i + 1];
            this.i += 2;
            continue;
          }
          if (d === '$') {
            cur += this.expand();
            continue;
          }
          cur += d;
          this.i++;
        }
        if (this.i >= s.length)
          throw new InvalidArgument(
            `failed to process "${s}": unexpected end of statement while looking for matching double-quote`,
          );
        this.i++;
        continue;
      }
      if (c === this.esc && this.i + 1 < s.length) {
        cur += s[this.i + 1];
        this.i += 2;
        continue;
      }
      if (c === '$') {
        cur += this.expand();
        continue;
      }
      cur += c;
      this.i++;
    }
    if (inWord) out.push(cur);
    return out;
  }
}

/** One word: quotes removed, variables expanded, whitespace kept. */
export function processWord(word: string, vars: Vars, esc = '\\'): string {
  return rejoin(word, vars, esc);
}

/** Expands a string word by word keeping the whitespace between words as written. */
function rejoin(s: string, vars: Vars, esc: string): string {
  // whitespace outside quotes separates; keep it literally
  let out = '';
  let chunk = '';
  let q: string | null = null;
  const flush = () => {
    if (chunk) {
      out += new Lexer(chunk, vars, esc).words().join('');
      chunk = '';
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === esc && i + 1 < s.length && q !== "'") {
      chunk += c + s[i + 1];
      i++;
      continue;
    }
    if (q) {
      if (c === q) q = null;
      chunk += c;
      continue;
    }
    if (c === '"' || c === "'") {
      q = c;
      chunk += c;
      continue;
    }
    if (c === '$' && s[i + 1] === '{') {
      // ${...} stays one piece, whitespace in its word included
      let depth = 0;
      let j = i + 1;
      for (; j < s.length; j++) {
        if (s[j] === '{') depth++;
        else if (s[j] === '}' && --depth === 0) break;
      }
      chunk += s.slice(i, j + 1);
      i = j;
      continue;
    }
    if (/\s/.test(c)) {
      flush();
      out += c;
      continue;
    }
    chunk += c;
  }
  flush();
  return out;
}

/** The words of a string (ENV/LABEL pairs, EXPOSE, VOLUME, COPY sources...). */
export function processWords(s: string, vars: Vars, esc = '\\'): string[] {
  return new Lexer(s, vars, esc).words();
}

/**
 * `KEY=value ...` pairs of ENV, LABEL and ARG-like lines; also the legacy `KEY value words` form
 * (one pair, the rest of the line its value) when the first word has no '='.
 */
export function keyValues(instr: string, rest: string, vars: Vars, esc = '\\'): Array<[string, string]> {
  const upper = instr.toUpperCase();
  const first = rest.trim().split(/\s+/)[0] ?? '';
  if (!first.includes('=')) {
    const m = /^\s*(\S+)\s+([\s\S]*\S)\s*$/.exec(rest);
    if (!m) throw new InvalidArgument(`${upper} must have two arguments`);
    return [[m[1], processWord(m[2], vars, esc)]];
  }
  const out: Array<[string, string]> = [];
  for (const w of processWords(rest, vars, esc)) {
    const i = w.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    out.push([w.slice(0, i), w.slice(i + 1)]);
  }
  return out;
}

/** `ARG name[=default]` words: [name, default | undefined]. */
export function argDecl(rest: string, vars: Vars, esc = '\\'): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (const raw of rest.trim().split(/\s+/)) {
    const i = raw.indexOf('=');
    if (i === 0) throw new InvalidArgument(`ARG names can not be blank`);
    if (i < 0) {
      out.push([raw, undefined]);
      continue;
    }
    out.push([raw.slice(0, i), processWord(raw.slice(i + 1), vars, esc)]);
  }
  return out;
}

/**
 * The value a declared ARG takes: the --build-arg value when given (null = take it from the
 * client's environment, which the CLI already did; treated as unset), else its default.
 */
export function argValue(
  name: string,
  dflt: string | undefined,
  buildArgs: Record<string, string | null>,
): string | undefined {
  if (Object.hasOwn(buildArgs, name) && buildArgs[name] !== null) return buildArgs[name] as string;
  return dflt;
}

/** The environment of a RUN: the image's Env, then the build args in scope that Env does not set. */
export function runEnv(env: string[], args: Vars): string[] {
  const keys = new Set(env.map((e) => e.split('=')[0]));
  const out = [...env];
  for (const [k, v] of args) if (!keys.has(k)) out.push(`${k}=${v}`);
  return out;
}

/** An image Env list as a map (later entries win). */
export function envVars(env: string[] | undefined): Vars {
  const m: Vars = new Map();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else if (e) m.set(e, '');
  }
  return m;
}
