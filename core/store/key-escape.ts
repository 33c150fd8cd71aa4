/**
 * Field names with "." or a leading "$" inside raw content (e.g. rustsec's
 * `affected_paths: {">= 0.4.0, <= 0.10.0": [...]}`) are stored with those characters
 * replaced by their full-width forms (U+FF0E, U+FF04): MongoDB's update and query
 * language cannot address such names and FerretDB refuses to store them. The mapping is
 * reversible; `content_hash` (of the upstream bytes) is unaffected.
 */
const DOT = '\uFF0E';
const DOLLAR = '\uFF04';

function mapKeys(value: unknown, fn: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, fn));
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[fn(k)] = mapKeys(v, fn);
    return out;
  }
  return value;
}

export function escapeKeys<T>(value: T): T {
  return mapKeys(value, (k) => k.replaceAll('.', DOT).replace(/^\$/, DOLLAR)) as T;
}

export function unescapeKeys<T>(value: T): T {
  return mapKeys(value, (k) => k.replaceAll(DOT, '.').replace(new RegExp(`^${DOLLAR}`), '$')) as T;
}
