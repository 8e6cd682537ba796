// docker's env-file / label-file format (opts.ParseEnvFile). Pure: the caller reads the file.
//   KEY=VALUE lines; leading whitespace ignored; blank lines and lines starting with # skipped;
//   a line with just KEY takes the value from `lookup` (the client's environment) when set.

export class EnvFileError extends Error {}

export function parseEnvFile(
  content: string,
  filename: string,
  lookup: (k: string) => string | undefined = () => undefined,
): string[] {
  const out: string[] = [];
  let text = content;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, idx) => {
    const line = rawLine.replace(/^[ \t\f\v]+/, '');
    if (line.length === 0 || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq >= 0 ? line.slice(0, eq) : line;
    if (name.length === 0) throw new EnvFileError(`no variable name on line '${line}'`);
    if (/\s/.test(name)) throw new EnvFileError(`variable '${name.trimStart()}' contains whitespaces`);
    if (eq >= 0) {
      out.push(line);
      return;
    }
    const v = lookup(name);
    if (v !== undefined) out.push(`${name}=${v}`);
    void idx;
    void filename;
  });
  return out;
}

// opts.ValidateEnv for -e: KEY=V as is; KEY alone takes the client's value when set.
export function resolveEnvArg(val: string, lookup: (k: string) => string | undefined): string {
  const eq = val.indexOf('=');
  const k = eq >= 0 ? val.slice(0, eq) : val;
  if (k === '') throw new EnvFileError(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = lookup(k);
  return v !== undefined ? `${k}=${v}` : val;
}

// Labels: "k=v" or "k" (empty value) -> map
export function labelsToMap(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    if (eq >= 0) out[l.slice(0, eq)] = l.slice(eq + 1);
    else out[l] = '';
  }
  return out;
}
