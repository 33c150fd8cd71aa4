/**
 * Field names with "." or a leading "$" inside raw content (e.g. rustsec's
 * `affected_paths: {">= 0.4.0, <= 0.10.0": [...]}`) are stored with those characters
 * replaced by their full-width forms (U+FF0E, U+FF04): MongoDB's update and query
 * language cannot address such names and FerretDB refuses to store them. The mapping is
 * reversible because the AOC guard rejects content keys that already hold those
 * characters (ERR_AOC_010); `content_hash` (of the upstream bytes) is unaffected.
 * Every other key is kept as is, `__proto__` and `constructor` included.
 */
export const DOT_ESCAPE = '\uFF0E';
export const DOLLAR_ESCAPE = '\uFF04';

function mapKeys(value: unknown, fn: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, fn));
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: `out["__proto__"] = v` would set the prototype and drop the key.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, fn(k), { value: mapKeys(v, fn), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

export function escapeKeys<T>(value: T): T {
  return mapKeys(value, (k) => k.replaceAll('.', DOT_ESCAPE).replace(/^\$/, DOLLAR_ESCAPE)) as T;
}

export function unescapeKeys<T>(value: T): T {
  return mapKeys(value, (k) => k.replaceAll(DOT_ESCAPE, '.').replace(new RegExp(`^${DOLLAR_ESCAPE}`), '$')) as T;
}
