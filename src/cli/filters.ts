// --filter/-f arguments -> the API's filters query value, {"name":{"web":true}}. Pure.

export class FilterError extends Error {
  constructor(
    message: string,
    readonly arg = '',
  ) {
    super(message);
  }
}

export type Filters = Record<string, Record<string, boolean>>;

export function buildFilters(args: string[]): Filters {
  const out: Filters = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new FilterError(`bad format of filter (expected name=value)`, a);
    const k = a.slice(0, eq).trim().toLowerCase();
    const v = a.slice(eq + 1).trim();
    (out[k] ??= {})[v] = true;
  }
  return out;
}

export function addFilter(f: Filters, key: string, value: string): Filters {
  (f[key] ??= {})[value] = true;
  return f;
}

// The query value to send, or undefined when there are no filters.
export function filtersParam(f: Filters): string | undefined {
  return Object.keys(f).length ? JSON.stringify(f) : undefined;
}
