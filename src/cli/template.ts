// A subset of Go's text/template, enough for docker's --format flags. Pure: no I/O.
//
// Supported: text, {{.A.B}}, {{.}}, {{$}}, {{$v.A}}, method-style calls {{.Label "k"}},
// pipes {{.X | json}}, functions json split join title lower upper pad truncate println print
// printf len index eq ne lt le gt ge not and or, {{if}}/{{else if}}/{{else}}/{{end}},
// {{range [$i, $v :=] .X}}...{{else}}...{{end}}, {{with}}, {{/* comments */}}, trim markers {{- -}}.
// Values print like Go's fmt %v (maps as map[k:v], slices as [a b], missing as <no value>).

export class TemplateError extends Error {}

type Tok =
  | { t: 'field'; path: string[] } // .A.B  ('.' alone = [])
  | { t: 'var'; name: string; path: string[] }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'ident'; v: string }
  | { t: 'pipe' }
  | { t: 'lparen' }
  | { t: 'rparen' }
  | { t: 'decl' }
  | { t: 'assign' }
  | { t: 'comma' };

type Arg =
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'ident'; v: string }
  | { k: 'sub'; pipe: Pipeline; path: string[] };

interface Cmd {
  args: Arg[];
}
interface Pipeline {
  decl: string[];
  cmds: Cmd[];
}

type Node =
  | { n: 'text'; v: string }
  | { n: 'action'; pipe: Pipeline }
  | { n: 'if'; pipe: Pipeline; then: Node[]; else: Node[] }
  | { n: 'with'; pipe: Pipeline; then: Node[]; else: Node[] }
  | { n: 'range'; pipe: Pipeline; body: Node[]; else: Node[] };

function lexAction(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const identChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
  const readPath = (): string[] => {
    const path: string[] = [];
    while (src[i] === '.' && i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1])) {
      i++;
      let s = '';
      while (i < src.length && identChar(src[i])) s += src[i++];
      path.push(s);
    }
    return path;
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|') {
      toks.push({ t: 'pipe' });
      i++;
      continue;
    }
    if (c === '(') {
      toks.push({ t: 'lparen' });
      i++;
      continue;
    }
    if (c === ')') {
      toks.push({ t: 'rparen' });
      i++;
      if (src[i] === '.') {
        const p = readPath();
        if (p.length) toks.push({ t: 'field', path: ['\0sub', ...p] });
      }
      continue;
    }
    if (c === ',') {
      toks.push({ t: 'comma' });
      i++;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      toks.push({ t: 'decl' });
      i += 2;
      continue;
    }
    if (c === '=') {
      toks.push({ t: 'assign' });
      i++;
      continue;
    }
    if (c === '.') {
      if (i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1])) {
        toks.push({ t: 'field', path: readPath() });
        continue;
      }
      toks.push({ t: 'field', path: [] });
      i++;
      continue;
    }
    if (c === '$') {
      i++;
      let name = '';
      while (i < src.length && identChar(src[i])) name += src[i++];
      toks.push({ t: 'var', name, path: readPath() });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let raw = '"';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          raw += src[j++];
        }
        raw += src[j++];
      }
      if (j >= src.length) throw new TemplateError('unterminated quoted string');
      raw += '"';
      try {
        toks.push({
          t: 'str',
          v: JSON.parse(
            raw
              .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
              .replace(/\\a/g, '\\u0007')
              .replace(/\\v/g, '\\u000b'),
          ) as string,
        });
      } catch {
        throw new TemplateError(`bad string literal ${raw}`);
      }
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError('unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const j = src.indexOf("'", i + 1);
      if (j < 0) throw new TemplateError('unterminated character constant');
      toks.push({ t: 'num', v: src.slice(i + 1, j).codePointAt(0) ?? 0 });
      i = j + 1;
      continue;
    }
    if (/[0-9-+]/.test(c)) {
      const m = /^[+-]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?)/.exec(src.slice(i));
      if (!m) throw new TemplateError(`bad number syntax: ${src.slice(i)}`);
      toks.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let s = '';
      while (i < src.length && identChar(src[i])) s += src[i++];
      toks.push({ t: 'ident', v: s });
      continue;
    }
    throw new TemplateError(`unexpected "${c}" in command`);
  }
  return toks;
}

function parsePipeline(toks: Tok[], pos: { i: number }, stopAtRparen: boolean): Pipeline {
  const decl: string[] = [];
  // declarations: $x := ... or $i, $v := ...
  {
    let j = pos.i;
    const names: string[] = [];
    while (j < toks.length && toks[j].t === 'var') {
      const v = toks[j] as { t: 'var'; name: string; path: string[] };
      names.push(v.name);
      j++;
      if (toks[j]?.t === 'comma') {
        j++;
        continue;
      }
      break;
    }
    if (names.length && (toks[j]?.t === 'decl' || toks[j]?.t === 'assign')) {
      decl.push(...names);
      pos.i = j + 1;
    }
  }
  const cmds: Cmd[] = [];
  let cur: Arg[] = [];
  while (pos.i < toks.length) {
    const tk = toks[pos.i];
    if (tk.t === 'rparen') {
      if (stopAtRparen) break;
      throw new TemplateError('unexpected right paren');
    }
    pos.i++;
    switch (tk.t) {
      case 'pipe':
        if (!cur.length) throw new TemplateError('missing command');
        cmds.push({ args: cur });
        cur = [];
        break;
      case 'field':
        cur.push({ k: 'field', path: tk.path });
        break;
      case 'var':
        cur.push({ k: 'var', name: tk.name, path: tk.path });
        break;
      case 'str':
        cur.push({ k: 'lit', v: tk.v });
        break;
      case 'num':
        cur.push({ k: 'lit', v: tk.v });
        break;
      case 'ident':
        if (tk.v === 'true' || tk.v === 'false') cur.push({ k: 'lit', v: tk.v === 'true' });
        else if (tk.v === 'nil') cur.push({ k: 'lit', v: null });
        else cur.push({ k: 'ident', v: tk.v });
        break;
      case 'lparen': {
        const sub = parsePipeline(toks, pos, true);
        if (toks[pos.i]?.t !== 'rparen') throw new TemplateError('unclosed left paren');
        pos.i++;
        let path: string[] = [];
        const nx = toks[pos.i];
        if (nx && nx.t === 'field' && nx.path[0] === '\0sub') {
          path = nx.path.slice(1);
          pos.i++;
        }
        cur.push({ k: 'sub', pipe: sub, path });
        break;
      }
      default:
        throw new TemplateError('unexpected token in command');
    }
  }
  if (cur.length) cmds.push({ args: cur });
  if (!cmds.length) throw new TemplateError('missing value for command');
  return { decl, cmds };
}

interface RawTok {
  kind: 'text' | 'action';
  v: string;
}

function split(src: string): RawTok[] {
  const out: RawTok[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', v: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 2;
    }
    if (text) out.push({ kind: 'text', v: text });
    let close: number;
    if (src.startsWith('/*', start)) {
      const endc = src.indexOf('*/', start);
      if (endc < 0) throw new TemplateError('unclosed comment');
      close = src.indexOf('}}', endc);
    } else {
      // find the closing braces outside of string literals
      let j = start;
      let q: string | null = null;
      close = -1;
      while (j < src.length) {
        const c = src[j];
        if (q) {
          if (c === '\\' && q === '"') j++;
          else if (c === q) q = null;
        } else if (c === '"' || c === '`') q = c;
        else if (c === '}' && src[j + 1] === '}') {
          close = j;
          break;
        }
        j++;
      }
    }
    if (close < 0) throw new TemplateError('unclosed action');
    let inner = src.slice(start, close);
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -2);
      while (next < src.length && /\s/.test(src[next])) next++;
    }
    if (!inner.trim().startsWith('/*')) out.push({ kind: 'action', v: inner });
    i = next;
  }
  return out;
}

function parseNodes(
  raw: RawTok[],
  pos: { i: number },
  terminators: string[],
): { nodes: Node[]; end: string; endRest: string } {
  const nodes: Node[] = [];
  while (pos.i < raw.length) {
    const r = raw[pos.i++];
    if (r.kind === 'text') {
      nodes.push({ n: 'text', v: r.v });
      continue;
    }
    const s = r.v.trim();
    const kw = /^([a-z]+)\b\s*(.*)$/s.exec(s);
    const word = kw?.[1] ?? '';
    if (word === 'end' || word === 'else') {
      if (!terminators.includes(word)) throw new TemplateError(`unexpected {{${word}}}`);
      return { nodes, end: word, endRest: kw?.[2] ?? '' };
    }
    if (word === 'if' || word === 'with' || word === 'range') {
      nodes.push(parseControl(word, kw?.[2] ?? '', raw, pos));
      continue;
    }
    if (word === 'define' || word === 'template' || word === 'block')
      throw new TemplateError(`{{${word}}} is not supported`);
    const toks = lexAction(s);
    const p = { i: 0 };
    nodes.push({ n: 'action', pipe: parsePipeline(toks, p, false) });
  }
  if (terminators.length) throw new TemplateError('unexpected EOF');
  return { nodes, end: '', endRest: '' };
}

function parseControl(word: 'if' | 'with' | 'range', rest: string, raw: RawTok[], pos: { i: number }): Node {
  const toks = lexAction(rest);
  const pipe = parsePipeline(toks, { i: 0 }, false);
  const body = parseNodes(raw, pos, ['end', 'else']);
  let elseNodes: Node[] = [];
  if (body.end === 'else') {
    const er = body.endRest.trim();
    const chained = /^(if|with)\b\s*(.*)$/s.exec(er);
    if (chained) {
      elseNodes = [parseControl(chained[1] as 'if' | 'with', chained[2], raw, pos)];
    } else {
      const e = parseNodes(raw, pos, ['end']);
      elseNodes = e.nodes;
    }
  }
  if (word === 'range') return { n: 'range', pipe, body: body.nodes, else: elseNodes };
  // biome-ignore lint/suspicious/noThenProperty: a template node ({{if}}'s branches), never awaited
  return { n: word, pipe, then: body.nodes, else: elseNodes };
}

export interface Template {
  nodes: Node[];
}

export function parseTemplate(src: string): Template {
  const raw = split(src);
  const pos = { i: 0 };
  const r = parseNodes(raw, pos, []);
  return { nodes: r.nodes };
}

// ---- evaluation ----

const NO_VALUE = Symbol('no value');

export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === NO_VALUE) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

// Objects that stand for Go structs print as {v1 v2 ...} in field order: the order is kept in a
// non-enumerable property under this symbol (see markStruct).
export const GO_STRUCT = Symbol('go struct fields');
export function markStruct<T extends object>(o: T, fields: string[]): T {
  return Object.defineProperty(o, GO_STRUCT, { value: fields, enumerable: false });
}

// Go's fmt %v
export function goFormat(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return '[' + v.map((x) => goFormatInner(x)).join(' ') + ']';
  const fields = (v as { [GO_STRUCT]?: string[] })[GO_STRUCT];
  if (fields) {
    const o = v as Record<string, unknown>;
    return (
      '{' + fields.map((k) => (o[k] === undefined || o[k] === null ? '<nil>' : goFormatInner(o[k]))).join(' ') + '}'
    );
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (
      'map[' +
      Object.keys(o)
        .filter((k) => typeof o[k] !== 'function')
        .sort()
        .map((k) => `${k}:${goFormatInner(o[k])}`)
        .join(' ') +
      ']'
    );
  }
  return String(v);
}
function goFormatInner(v: unknown): string {
  return v === undefined ? '<nil>' : goFormat(v);
}

function goPrintf(format: string, args: unknown[]): string {
  let ai = 0;
  return (
    format.replace(
      /%([-+# 0]*)(\d+)?(?:\.(\d+))?([vsdqfgtxX%])/g,
      (_m, flags: string, w: string | undefined, p: string | undefined, verb: string) => {
        if (verb === '%') return '%';
        const a = args[ai++];
        let s: string;
        switch (verb) {
          case 'q':
            s = JSON.stringify(typeof a === 'string' ? a : goFormat(a));
            break;
          case 'd':
            s = typeof a === 'number' ? String(Math.trunc(a)) : goFormat(a);
            break;
          case 'f':
            s = typeof a === 'number' ? a.toFixed(p !== undefined ? Number(p) : 6) : goFormat(a);
            break;
          case 'x':
            s = typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex');
            break;
          case 'X':
            s =
              typeof a === 'number'
                ? a.toString(16).toUpperCase()
                : Buffer.from(String(a)).toString('hex').toUpperCase();
            break;
          case 't':
            s = goFormat(a);
            break;
          default:
            s = goFormat(a);
            if (p !== undefined && verb === 's') s = s.slice(0, Number(p));
        }
        if (w !== undefined) {
          const width = Number(w);
          if (s.length < width)
            s = flags.includes('-')
              ? s.padEnd(width)
              : s.padStart(width, flags.includes('0') && verb !== 's' ? '0' : ' ');
        }
        return s;
      },
    ) +
    (ai < args.length
      ? `%!(EXTRA ${args
          .slice(ai)
          .map((x) => goFormat(x))
          .join(', ')})`
      : '')
  );
}

function cmpValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = goFormat(a);
  const sb = goFormat(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function titleCase(s: string): string {
  return s.replace(/(^|[^A-Za-z0-9_'])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());
}

type Fn = (...args: unknown[]) => unknown;
const funcs: Record<string, Fn> = {
  json: (v) => {
    const s = JSON.stringify(v === NO_VALUE ? null : v, (_k, x: unknown) => (typeof x === 'function' ? undefined : x));
    // Go's encoder escapes <, > and & (docker's json template function keeps that default)
    return s === undefined ? 'null' : s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  },
  split: (s, sep) => String(s).split(String(sep)),
  join: (arr, sep) => (Array.isArray(arr) ? arr.map((x) => goFormat(x)).join(String(sep)) : goFormat(arr)),
  title: (s) => titleCase(String(s)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, l, r) => ' '.repeat(Number(l)) + goFormat(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => {
    const str = goFormat(s);
    return [...str].length > Number(n) ? [...str].slice(0, Number(n)).join('') : str;
  },
  println: (...a) => a.map((x) => goFormat(x)).join(' ') + '\n',
  print: (...a) =>
    a.map((x, i) => (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + goFormat(x)).join(''),
  printf: (f, ...a) => goPrintf(String(f), a),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`len of type ${typeof v}`);
  },
  index: (v, ...keys) => {
    let cur: unknown = v;
    for (const k of keys) {
      if (cur === null || cur === undefined || cur === NO_VALUE) return NO_VALUE;
      if (Array.isArray(cur)) cur = cur[Number(k)];
      else if (typeof cur === 'object') {
        const o = cur as Record<string, unknown>;
        cur = Object.hasOwn(o, String(k)) ? o[String(k)] : NO_VALUE;
      } else throw new TemplateError(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  eq: (a, ...bs) =>
    bs.some((b) => (typeof a === 'object' || typeof b === 'object' ? goFormat(a) === goFormat(b) : a === b)),
  ne: (a, b) => a !== b,
  lt: (a, b) => cmpValues(a, b) < 0,
  le: (a, b) => cmpValues(a, b) <= 0,
  gt: (a, b) => cmpValues(a, b) > 0,
  ge: (a, b) => cmpValues(a, b) >= 0,
  not: (a) => !truthy(a),
};

interface Scope {
  vars: Map<string, unknown>;
}

function lookup(base: unknown, path: string[], args: unknown[], isLastCall: boolean): unknown {
  let cur = base;
  for (let i = 0; i < path.length; i++) {
    const name = path[i];
    if (cur === null || cur === undefined || cur === NO_VALUE) {
      if (cur === null) throw new TemplateError(`nil pointer evaluating interface {}.${name}`);
      return NO_VALUE;
    }
    if (typeof cur !== 'object') throw new TemplateError(`can't evaluate field ${name} in type ${typeof cur}`);
    const o = cur as Record<string, unknown>;
    const v = Object.hasOwn(o, name) ? o[name] : NO_VALUE;
    if (typeof v === 'function') {
      const last = i === path.length - 1;
      cur = (v as Fn).apply(o, last && isLastCall ? args : []);
      if (last) return cur;
      continue;
    }
    cur = v;
  }
  if (args.length) throw new TemplateError(`can't give argument to non-function ${path.join('.')}`);
  return cur;
}

function evalArg(a: Arg, dot: unknown, scope: Scope): unknown {
  switch (a.k) {
    case 'field':
      return lookup(dot, a.path, [], false);
    case 'var': {
      if (!scope.vars.has(a.name)) throw new TemplateError(`undefined variable: $${a.name}`);
      return lookup(scope.vars.get(a.name), a.path, [], false);
    }
    case 'lit':
      return a.v;
    case 'sub':
      return lookup(evalPipeline(a.pipe, dot, scope), a.path, [], false);
    case 'ident': {
      const f = funcs[a.v];
      if (!f) throw new TemplateError(`function "${a.v}" not defined`);
      return f();
    }
  }
}

function evalCmd(c: Cmd, dot: unknown, scope: Scope, piped: unknown, hasPiped: boolean): unknown {
  const [first, ...rest] = c.args;
  const restVals = (): unknown[] => {
    const vals = rest.map((a) => evalArg(a, dot, scope));
    if (hasPiped) vals.push(piped);
    return vals;
  };
  if (first.k === 'ident') {
    const f = funcs[first.v];
    if (!f) throw new TemplateError(`function "${first.v}" not defined`);
    if (first.v === 'and' || first.v === 'or') {
      const vals = restVals();
      for (const v of vals) {
        if (first.v === 'and' ? !truthy(v) : truthy(v)) return v;
      }
      return vals[vals.length - 1];
    }
    return f(...restVals());
  }
  if (first.k === 'field' && (rest.length || hasPiped)) return lookup(dot, first.path, restVals(), true);
  if (first.k === 'var' && first.path.length && (rest.length || hasPiped))
    return lookup(scope.vars.get(first.name), first.path, restVals(), true);
  if (rest.length || hasPiped) throw new TemplateError("can't give argument to non-function");
  return evalArg(first, dot, scope);
}

function evalPipeline(p: Pipeline, dot: unknown, scope: Scope): unknown {
  let val: unknown;
  let has = false;
  for (const c of p.cmds) {
    val = evalCmd(c, dot, scope, val, has);
    has = true;
  }
  if (p.decl.length === 1) scope.vars.set(p.decl[0], val);
  return val;
}

function execNodes(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
  for (const nd of nodes) {
    switch (nd.n) {
      case 'text':
        out.push(nd.v);
        break;
      case 'action': {
        const v = evalPipeline(nd.pipe, dot, scope);
        if (nd.pipe.decl.length === 0) out.push(goFormat(v));
        break;
      }
      case 'if': {
        const v = evalPipeline(nd.pipe, dot, scope);
        execNodes(truthy(v) ? nd.then : nd.else, dot, scope, out);
        break;
      }
      case 'with': {
        const v = evalPipeline({ decl: [], cmds: nd.pipe.cmds }, dot, scope);
        if (nd.pipe.decl.length === 1) scope.vars.set(nd.pipe.decl[0], v);
        if (truthy(v)) execNodes(nd.then, v, scope, out);
        else execNodes(nd.else, dot, scope, out);
        break;
      }
      case 'range': {
        const v = evalPipeline({ decl: [], cmds: nd.pipe.cmds }, dot, scope);
        let entries: [unknown, unknown][] = [];
        if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
        else if (v && typeof v === 'object')
          entries = Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]);
        else if (typeof v === 'number') entries = Array.from({ length: v }, (_x, i) => [i, i]);
        else if (v !== null && v !== undefined && v !== NO_VALUE)
          throw new TemplateError(`range can't iterate over ${goFormat(v)}`);
        if (!entries.length) {
          execNodes(nd.else, dot, scope, out);
          break;
        }
        for (const [k, x] of entries) {
          if (nd.pipe.decl.length === 1) scope.vars.set(nd.pipe.decl[0], x);
          else if (nd.pipe.decl.length === 2) {
            scope.vars.set(nd.pipe.decl[0], k);
            scope.vars.set(nd.pipe.decl[1], x);
          }
          execNodes(nd.body, x, scope, out);
        }
        break;
      }
    }
  }
}

export function execTemplate(t: Template, data: unknown): string {
  const out: string[] = [];
  const scope: Scope = { vars: new Map([['', data]]) };
  execNodes(t.nodes, data, scope, out);
  return out.join('');
}

export function renderTemplate(src: string, data: unknown): string {
  return execTemplate(parseTemplate(src), data);
}

// docker's --format preprocessing: `table` prefix, literal \t and \n escapes.
export interface FormatSpec {
  table: boolean;
  template: string;
}
export function parseFormat(format: string): FormatSpec {
  let f = format;
  let table = false;
  if (f === 'table') return { table: true, template: '' };
  if (f.startsWith('table ') || f.startsWith('table\t')) {
    table = true;
    f = f.slice(6);
    f = f.replace(/^ +| +$/g, '');
  }
  if (f === 'json') f = '{{json .}}';
  f = f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return { table, template: f };
}
