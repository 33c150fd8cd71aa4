/**
 * The Aggregation-Only Contract guard for raw advisory documents (DESIGN §2), pure.
 * Every rejection carries a stable code and the offending path; nothing is dropped
 * silently. A valid document is returned normalised (timestamps as Date) and is stored
 * as given otherwise: anything the store would change (a key it cannot hold, a string it
 * cannot encode) or a server-assigned field is rejected. Meanings: ERROR_CODES in core/errors.ts.
 */
import { DOLLAR_ESCAPE, DOT_ESCAPE } from './store/key-escape.js';
import { KEY_SEPARATOR } from './tenant.js';

export const AOC_CODES = {
  NOT_AN_OBJECT: 'ERR_AOC_001',
  FORBIDDEN_FIELD: 'ERR_AOC_002',
  UNKNOWN_FIELD: 'ERR_AOC_003',
  MISSING_TENANT: 'ERR_AOC_004',
  MISSING_PROVENANCE: 'ERR_AOC_005',
  MALFORMED_HASH: 'ERR_AOC_006',
  MALFORMED_TIMESTAMP: 'ERR_AOC_007',
  WRONG_TYPE: 'ERR_AOC_008',
  SERVER_ASSIGNED: 'ERR_AOC_009',
  FORBIDDEN_KEY: 'ERR_AOC_010',
  SEPARATOR: 'ERR_AOC_011',
  TOO_DEEP: 'ERR_AOC_012',
  UNENCODABLE: 'ERR_AOC_013',
} as const;

/** MongoDB's documented nesting limit; the document itself is level 1. */
export const MAX_DEPTH = 100;

export type AocCode = (typeof AOC_CODES)[keyof typeof AOC_CODES];

export interface AocRejection {
  code: AocCode;
  path: string;
  message: string;
}

export interface RawDocument {
  tenant: string;
  source: { vendor: string } & Record<string, unknown>;
  upstream: { upstream_id: string; fetched_at: Date; content_hash: string } & Record<string, unknown>;
  content: Record<string, unknown>;
  identifiers?: Record<string, unknown>;
  linkset?: Record<string, unknown>;
  supersedes?: unknown;
}

export type AocResult = { ok: true; doc: RawDocument } | { ok: false; rejection: AocRejection };

const ALLOWED_TOP = new Set(['tenant', 'source', 'upstream', 'content', 'identifiers', 'linkset', 'supersedes']);
/** Stamped by the importer (`_id` from the idempotency key, `ingested_at` the import time). */
const SERVER_ASSIGNED = new Set(['_id', 'ingested_at']);
const FORBIDDEN_TOP = new Set([
  'severity', 'cvss', 'cvss_vector', 'consensus_provider', 'risk_score', 'reachability', 'asset_criticality',
]);
const HASH = /^sha256:[0-9a-f]{64}$/;
const ISO_TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function reject(code: AocCode, path: string, message: string): AocResult {
  return { ok: false, rejection: { code, path, message } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0;
}

/** Parse an ISO-8601 timestamp (string) or accept a valid Date. */
export function parseTimestamp(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  const m = typeof v === 'string' ? ISO_TS.exec(v) : null;
  if (!m) return undefined;
  // Reject calendar-impossible values that Date would silently roll over (Feb 30, 24:00).
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const d = new Date(v as string);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function checkRawDocument(input: unknown): AocResult {
  if (!isObject(input)) return reject(AOC_CODES.NOT_AN_OBJECT, '$', 'document is not a JSON object');
  for (const key of Object.keys(input)) {
    if (FORBIDDEN_TOP.has(key) || key.startsWith('effective_')) {
      return reject(AOC_CODES.FORBIDDEN_FIELD, key, `derived field "${key}" is forbidden in raw documents`);
    }
  }
  for (const key of Object.keys(input)) {
    if (SERVER_ASSIGNED.has(key)) return reject(AOC_CODES.SERVER_ASSIGNED, key, `"${key}" is assigned by the importer, not taken from the input`);
    if (!ALLOWED_TOP.has(key)) return reject(AOC_CODES.UNKNOWN_FIELD, key, `unknown top-level field "${key}"`);
  }
  if (!nonEmptyString(input.tenant)) return reject(AOC_CODES.MISSING_TENANT, 'tenant', 'tenant is missing or empty');
  if (input.tenant.includes(KEY_SEPARATOR)) return reject(AOC_CODES.SEPARATOR, 'tenant', `tenant must not contain "${KEY_SEPARATOR}"`);
  const source = input.source;
  if (!isObject(source)) return reject(AOC_CODES.MISSING_PROVENANCE, 'source', 'source is missing or not an object');
  if (!nonEmptyString(source.vendor)) return reject(AOC_CODES.MISSING_PROVENANCE, 'source.vendor', 'source.vendor is missing or empty');
  if (source.vendor.includes(KEY_SEPARATOR)) {
    return reject(AOC_CODES.SEPARATOR, 'source.vendor', `source.vendor must not contain "${KEY_SEPARATOR}"`);
  }
  const upstream = input.upstream;
  if (!isObject(upstream)) return reject(AOC_CODES.MISSING_PROVENANCE, 'upstream', 'upstream is missing or not an object');
  if (!nonEmptyString(upstream.upstream_id)) {
    return reject(AOC_CODES.MISSING_PROVENANCE, 'upstream.upstream_id', 'upstream.upstream_id is missing or empty');
  }
  for (const field of ['fetched_at', 'content_hash'] as const) {
    if (upstream[field] === undefined || upstream[field] === null || upstream[field] === '') {
      return reject(AOC_CODES.MISSING_PROVENANCE, `upstream.${field}`, `upstream.${field} is missing`);
    }
  }
  if (typeof upstream.content_hash !== 'string' || !HASH.test(upstream.content_hash)) {
    return reject(AOC_CODES.MALFORMED_HASH, 'upstream.content_hash', 'expected sha256:<64 lowercase hex>');
  }
  const fetchedAt = parseTimestamp(upstream.fetched_at);
  if (!fetchedAt) return reject(AOC_CODES.MALFORMED_TIMESTAMP, 'upstream.fetched_at', 'expected an ISO-8601 timestamp');
  if (upstream.received_at !== undefined && !parseTimestamp(upstream.received_at)) {
    return reject(AOC_CODES.MALFORMED_TIMESTAMP, 'upstream.received_at', 'expected an ISO-8601 timestamp');
  }
  if (!isObject(input.content)) return reject(AOC_CODES.WRONG_TYPE, 'content', 'content must be an object');
  for (const field of ['identifiers', 'linkset'] as const) {
    if (input[field] !== undefined && !isObject(input[field])) {
      return reject(AOC_CODES.WRONG_TYPE, field, `${field} must be an object`);
    }
  }
  for (const [key, value] of Object.entries(input)) {
    const problem = storable(value, key, 2, key === 'content');
    if (problem) return { ok: false, rejection: problem };
  }
  const doc: RawDocument = {
    ...(input as unknown as RawDocument),
    upstream: { ...(upstream as RawDocument['upstream']), fetched_at: fetchedAt },
  };
  return { ok: true, doc };
}

/** In unicode mode a surrogate range matches only unpaired surrogates (what UTF-8 cannot encode). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** `a.b`, `a["x.y"]`, `a[3]`: a path that stays readable whatever the key holds. */
function childPath(parent: string, key: string): string {
  return /^[A-Za-z0-9_]+$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function keyProblem(key: string, inContent: boolean): Omit<AocRejection, 'path'> | undefined {
  if (key.includes('\u0000')) return { code: AOC_CODES.FORBIDDEN_KEY, message: 'a key must not contain NUL' };
  if (LONE_SURROGATE.test(key)) return { code: AOC_CODES.UNENCODABLE, message: 'the key holds a lone UTF-16 surrogate' };
  if (inContent) {
    if (key.includes(DOT_ESCAPE) || key.startsWith(DOLLAR_ESCAPE)) {
      return { code: AOC_CODES.FORBIDDEN_KEY, message: 'a content key must not hold U+FF0E or start with U+FF04 (the escapes of "." and "$")' };
    }
  } else if (key.includes('.') || key.startsWith('$')) {
    return { code: AOC_CODES.FORBIDDEN_KEY, message: 'outside content a key must not contain "." or start with "$"' };
  }
  return undefined;
}

/**
 * Can `value` (at `path`, nesting level `depth`) be stored unchanged? Keys outside content
 * must be plain; inside content "." and "$" are escaped (core/store/key-escape.ts), so only
 * the escape characters themselves are refused. Recursion stops at MAX_DEPTH.
 */
function storable(value: unknown, path: string, depth: number, inContent: boolean): AocRejection | undefined {
  if (typeof value === 'string') {
    return !LONE_SURROGATE.test(value) ? undefined : { code: AOC_CODES.UNENCODABLE, path, message: 'the string holds a lone UTF-16 surrogate' };
  }
  if (typeof value !== 'object' || value === null || value instanceof Date) return undefined;
  if (depth > MAX_DEPTH) return { code: AOC_CODES.TOO_DEEP, path, message: `nested deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = storable(value[i], `${path}[${i}]`, depth + 1, inContent);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    const p = childPath(path, key);
    const bad = keyProblem(key, inContent);
    if (bad) return { ...bad, path: p };
    const problem = storable(child, p, depth + 1, inContent);
    if (problem) return problem;
  }
  return undefined;
}
