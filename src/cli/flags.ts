// Flag parsing the way docker's CLI (cobra + spf13/pflag) does it. Pure: no I/O.
//
//   long flags   --name v | --name=v | --rm | --rm=false
//   short flags  -e v | -e=v | -ev | -dit (bool shorts combined, a value flag may end the group)
//   `--` ends flag parsing; with `interspersed: false` (run, create, exec) the first positional
//   also ends it, so everything after the image is the container's command.
//
// Errors are FlagError with pflag's messages; the CLI turns them into exit status 125.

export type FlagType = 'bool' | 'string' | 'list' | 'int' | 'float';

export interface FlagDef {
  long: string; // without the leading dashes
  short?: string; // one character
  type: FlagType;
  desc?: string;
  default?: string | number | boolean;
  valueName?: string; // shown in help ("string", "list", "int", ...)
  hidden?: boolean;
}

export type FlagValue = string | number | boolean | string[];

export interface ParsedFlags {
  values: Map<string, FlagValue>; // keyed by long name; only flags that were given
  positionals: string[];
}

export class FlagError extends Error {}

export function flagLabel(d: FlagDef): string {
  return d.short ? `-${d.short}, --${d.long}` : `--${d.long}`;
}

function parseBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

function setValue(values: Map<string, FlagValue>, d: FlagDef, raw: string): void {
  switch (d.type) {
    case 'bool': {
      const b = parseBool(raw);
      if (b === undefined)
        throw new FlagError(
          `invalid argument "${raw}" for "${flagLabel(d)}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
        );
      values.set(d.long, b);
      return;
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw))
        throw new FlagError(
          `invalid argument "${raw}" for "${flagLabel(d)}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`,
        );
      values.set(d.long, parseInt(raw, 10));
      return;
    }
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new FlagError(
          `invalid argument "${raw}" for "${flagLabel(d)}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`,
        );
      values.set(d.long, n);
      return;
    }
    case 'list': {
      const cur = values.get(d.long);
      values.set(d.long, Array.isArray(cur) ? [...cur, raw] : [raw]);
      return;
    }
    default:
      values.set(d.long, raw);
  }
}

export function parseFlags(args: string[], defs: FlagDef[], opts: { interspersed?: boolean } = {}): ParsedFlags {
  const interspersed = opts.interspersed !== false;
  const byLong = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const d of defs) {
    byLong.set(d.long, d);
    if (d.short) byShort.set(d.short, d);
  }
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const d = byLong.get(name);
      if (!d) {
        if (name === 'help') {
          values.set('help', true);
          continue;
        }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) {
        setValue(values, d, a.slice(eq + 1));
        continue;
      }
      if (d.type === 'bool') {
        values.set(d.long, true);
        continue;
      }
      if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: --${name}`);
      setValue(values, d, args[++i]);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      let j = 1;
      while (j < a.length) {
        const c = a[j];
        const d = byShort.get(c);
        if (!d) {
          if (c === 'h' && !byShort.has('h')) {
            values.set('help', true);
            j++;
            continue;
          }
          throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        const rest = a.slice(j + 1);
        if (d.type === 'bool') {
          if (rest.startsWith('=')) {
            setValue(values, d, rest.slice(1));
            break;
          }
          values.set(d.long, true);
          j++;
          continue;
        }
        if (rest.length > 0) {
          setValue(values, d, rest.startsWith('=') ? rest.slice(1) : rest);
          break;
        }
        if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
        setValue(values, d, args[++i]);
        break;
      }
      continue;
    }
    positionals.push(a);
    if (!interspersed) {
      i++;
      break;
    }
  }
  for (; i < args.length; i++) positionals.push(args[i]);
  return { values, positionals };
}

// Typed accessors with defaults.
export class Opts {
  constructor(
    readonly parsed: ParsedFlags,
    readonly defs: FlagDef[],
  ) {}
  has(name: string): boolean {
    return this.parsed.values.has(name);
  }
  private def(name: string): FlagDef | undefined {
    return this.defs.find((d) => d.long === name);
  }
  bool(name: string): boolean {
    const v = this.parsed.values.get(name);
    if (typeof v === 'boolean') return v;
    const d = this.def(name);
    return d?.default === true;
  }
  str(name: string): string {
    const v = this.parsed.values.get(name);
    if (typeof v === 'string') return v;
    const d = this.def(name);
    return d?.default !== undefined ? String(d.default) : '';
  }
  num(name: string): number | undefined {
    const v = this.parsed.values.get(name);
    if (typeof v === 'number') return v;
    const d = this.def(name);
    return typeof d?.default === 'number' ? d.default : undefined;
  }
  list(name: string): string[] {
    const v = this.parsed.values.get(name);
    return Array.isArray(v) ? v : [];
  }
  get args(): string[] {
    return this.parsed.positionals;
  }
}

export function renderFlagHelp(defs: FlagDef[]): string {
  const rows: [string, string][] = [];
  for (const d of defs) {
    if (d.hidden) continue;
    const left =
      (d.short ? `  -${d.short}, --${d.long}` : `      --${d.long}`) +
      (d.type === 'bool' ? '' : ` ${d.valueName ?? (d.type === 'float' ? 'decimal' : d.type)}`);
    let desc = d.desc ?? '';
    if (d.default !== undefined && d.default !== false && d.default !== '')
      desc += ` (default ${typeof d.default === 'string' ? JSON.stringify(d.default) : String(d.default)})`;
    rows.push([left, desc]);
  }
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([l, r]) => `${l.padEnd(w)}   ${r}`.trimEnd()).join('\n');
}
