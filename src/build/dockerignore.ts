// .dockerignore patterns (moby/patternmatcher semantics). Pure; used by the daemon's builder and the CLI.
//   - one pattern a line, # comments, blank lines ignored; leading '/' and './' dropped
//   - '*' any run of characters but '/', '?' one such character, '**' any number of directories
//   - '!pattern' re-includes; the last matching pattern wins
//   - a pattern matching a directory excludes everything under it

export interface IgnorePattern {
  re: RegExp;
  exclusion: boolean;
  raw: string;
}

function clean(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      parts.pop();
      continue;
    }
    parts.push(seg);
  }
  return parts.join('/');
}

function toRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // '**/' matches zero or more directories; a trailing '**' matches everything
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += pattern[i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    let exclusion = false;
    if (line.startsWith('!')) {
      exclusion = true;
      line = line.slice(1).trim();
    }
    const p = clean(line);
    if (!p) continue;
    out.push({ re: toRegExp(p), exclusion, raw: line });
  }
  return out;
}

// True when `relPath` ('/'-separated, relative to the context root) is excluded.
export function isIgnored(relPath: string, patterns: IgnorePattern[]): boolean {
  const path = clean(relPath);
  const parents: string[] = [];
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
  let matched = false;
  for (const p of patterns) {
    if (p.exclusion === matched) {
      // only patterns that could flip the state matter
      let m = p.re.test(path);
      if (!m) m = parents.some((d) => p.re.test(d));
      if (m) matched = !p.exclusion;
    }
  }
  return matched;
}
