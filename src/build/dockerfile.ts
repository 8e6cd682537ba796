// Dockerfile parser (pure): text -> instructions, as docker's parser reads them.
//  - parser directives on the first lines (`# escape=\``, `# syntax=...`), before any comment or instruction;
//  - line continuations with the escape character at the end of a line; comment lines and blank
//    lines inside a continuation are dropped;
//  - `#` comments on their own line; an instruction keyword is case-insensitive;
//  - leading `--name=value` flags (FROM --platform, COPY/ADD --from/--chown/--chmod, HEALTHCHECK --interval...);
//  - JSON (exec) form `["a", "b"]` for RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME; shell form otherwise.
// Errors are InvalidArgument with docker's wording: "Dockerfile parse error line N: <what>".
import { InvalidArgument } from '../core/errors.js';
import { jsonArray } from '../images/changes.js';

export const INSTRUCTIONS = new Set([
  'add',
  'arg',
  'cmd',
  'copy',
  'entrypoint',
  'env',
  'expose',
  'from',
  'healthcheck',
  'label',
  'maintainer',
  'onbuild',
  'run',
  'shell',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);
const JSON_FORMS = new Set(['run', 'cmd', 'entrypoint', 'shell', 'copy', 'add', 'volume']);

export interface Instruction {
  /** Lower-case keyword: 'run', 'copy', ... */
  cmd: string;
  /** The logical line as written (continuations joined), as docker prints it in `Step N/M : ...`. */
  original: string;
  /** First and last physical line (1-based). */
  line: number;
  endLine: number;
  /** Leading `--name[=value]` flags, name -> value ('' when no value). */
  flags: Record<string, string>;
  /** What follows the keyword and flags, trimmed. */
  rest: string;
  /** The exec form when `rest` is a JSON array of strings (only for instructions that have one). */
  json?: string[];
}

export interface Dockerfile {
  escape: string;
  instructions: Instruction[];
}

export class ParseError extends InvalidArgument {
  constructor(
    readonly line: number,
    what: string,
  ) {
    super(`Dockerfile parse error line ${line}: ${what}`);
  }
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Splits leading `--flag[=value]` words off `rest`. */
export function splitFlags(rest: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let r = rest;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(r);
    if (!m) break;
    let v = m[2] ?? '';
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    flags[m[1].toLowerCase()] = v;
    r = r.slice(m[0].length);
  }
  return { flags, rest: r.trim() };
}

/** Parses one instruction line (after continuations are joined). `line` is for error messages. */
export function parseInstruction(text: string, line: number, endLine = line): Instruction {
  const m = /^\s*(\S+)(?:\s+([\s\S]*))?$/.exec(text);
  if (!m) throw new ParseError(line, 'empty instruction');
  const cmd = m[1].toLowerCase();
  if (!INSTRUCTIONS.has(cmd)) throw new ParseError(line, `unknown instruction: ${m[1].toUpperCase()}`);
  let { flags, rest } = splitFlags((m[2] ?? '').trim());
  if (!['from', 'copy', 'add', 'healthcheck', 'run'].includes(cmd) && Object.keys(flags).length) {
    // other instructions take no flags: the words are their arguments
    flags = {};
    rest = (m[2] ?? '').trim();
  }
  const ins: Instruction = { cmd, original: text.trim(), line, endLine, flags, rest };
  if (JSON_FORMS.has(cmd)) {
    const j = jsonArray(rest);
    if (j) ins.json = j;
  }
  if (cmd === 'shell' && !ins.json) throw new ParseError(line, 'SHELL requires the arguments to be in JSON form');
  if (rest === '' && !['cmd', 'entrypoint', 'run'].includes(cmd)) {
    throw new ParseError(line, `${cmd.toUpperCase()} requires at least one argument`);
  }
  if (cmd === 'run' && rest === '') throw new ParseError(line, 'RUN requires at least one argument');
  return ins;
}

/** Parses a whole Dockerfile. Throws ParseError (InvalidArgument) with the line number. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let esc = '\\';
  let i = 0;
  // parser directives: only at the very top, each name once
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i].trim());
    if (!m) break;
    const name = m[1].toLowerCase();
    if (seen.has(name)) throw new ParseError(i + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`')
        throw new ParseError(i + 1, `invalid escape token '${m[2]}' does not match ${'`'} or \\`);
      esc = m[2];
    }
  }
  const contRe = new RegExp(`${esc === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const out: Instruction[] = [];
  while (i < lines.length) {
    const raw = lines[i];
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) {
      i++;
      continue;
    }
    const start = i + 1;
    let joined = '';
    let cur = raw.replace(/^\s+/, '');
    for (;;) {
      if (contRe.test(cur)) {
        joined += cur.replace(contRe, '');
        i++;
        // skip comment and empty lines inside a continuation
        while (i < lines.length && (lines[i].trim() === '' || lines[i].trim().startsWith('#'))) i++;
        if (i >= lines.length) break;
        cur = lines[i];
        continue;
      }
      joined += cur;
      i++;
      break;
    }
    out.push(parseInstruction(joined, start, Math.min(i, lines.length)));
  }
  return { escape: esc, instructions: out };
}
