/**
 * The Aggregation-Only Contract guard for raw advisory documents (DESIGN §2), pure.
 * Every rejection carries a stable code and the offending path; nothing is dropped
 * silently. A valid document is returned normalised (timestamps as Date).
 */
export const AOC_CODES = {
  NOT_AN_OBJECT: 'ERR_AOC_001',
  FORBIDDEN_FIELD: 'ERR_AOC_002',
  UNKNOWN_FIELD: 'ERR_AOC_003',
  MISSING_TENANT: 'ERR_AOC_004',
  MISSING_PROVENANCE: 'ERR_AOC_005',
  MALFORMED_HASH: 'ERR_AOC_006',
  MALFORMED_TIMESTAMP: 'ERR_AOC_007',
  WRONG_TYPE: 'ERR_AOC_008',
} as const;

export type AocCode = (typeof AOC_CODES)[keyof typeof AOC_CODES];

export interface AocRejection {
  code: AocCode;
  path: string;
  message: string;
}

export interface RawDocument {
  _id?: unknown;
  tenant: string;
  source: { vendor: string } & Record<string, unknown>;
  upstream: { upstream_id: string; fetched_at: Date; content_hash: string } & Record<string, unknown>;
  content: Record<string, unknown>;
  identifiers?: Record<string, unknown>;
  linkset?: Record<string, unknown>;
  supersedes?: unknown;
  ingested_at?: Date;
}

export type AocResult = { ok: true; doc: RawDocument } | { ok: false; rejection: AocRejection };

const ALLOWED_TOP = new Set(['_id', 'tenant', 'source', 'upstream', 'content', 'identifiers', 'linkset', 'supersedes', 'ingested_at']);
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
    if (!ALLOWED_TOP.has(key)) return reject(AOC_CODES.UNKNOWN_FIELD, key, `unknown top-level field "${key}"`);
  }
  if (!nonEmptyString(input.tenant)) return reject(AOC_CODES.MISSING_TENANT, 'tenant', 'tenant is missing or empty');
  const source = input.source;
  if (!isObject(source)) return reject(AOC_CODES.MISSING_PROVENANCE, 'source', 'source is missing or not an object');
  if (!nonEmptyString(source.vendor)) return reject(AOC_CODES.MISSING_PROVENANCE, 'source.vendor', 'source.vendor is missing or empty');
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
  let ingestedAt: Date | undefined;
  if (input.ingested_at !== undefined) {
    ingestedAt = parseTimestamp(input.ingested_at);
    if (!ingestedAt) return reject(AOC_CODES.MALFORMED_TIMESTAMP, 'ingested_at', 'expected an ISO-8601 timestamp');
  }
  if (!isObject(input.content)) return reject(AOC_CODES.WRONG_TYPE, 'content', 'content must be an object');
  for (const field of ['identifiers', 'linkset'] as const) {
    if (input[field] !== undefined && !isObject(input[field])) {
      return reject(AOC_CODES.WRONG_TYPE, field, `${field} must be an object`);
    }
  }
  const doc: RawDocument = {
    ...(input as unknown as RawDocument),
    upstream: { ...(upstream as RawDocument['upstream']), fetched_at: fetchedAt },
  };
  if (ingestedAt) doc.ingested_at = ingestedAt;
  return { ok: true, doc };
}
