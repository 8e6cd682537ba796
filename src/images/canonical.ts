// The canonical JSON of image configs and manifests (pure): object keys sorted recursively,
// undefined members left out, no whitespace. Image IDs and build cache keys hash it.

/** JSON with object keys sorted recursively and no whitespace: the canonical image config blob. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (
      '{' +
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v);
}
