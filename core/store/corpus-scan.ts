/**
 * The corpus scan shared by the planner and validation (DESIGN §4, §5): the raw documents
 * in scope of a run, identity fields only, in (tenant, vendor, upstream_id, fetched_at)
 * order, and the corpus bundle lines derived from them.
 */
import type { Db, Document, Filter } from 'mongodb';
import { COLL } from './collections.js';
import type { RunDoc } from './runs.js';
import type { AdvisoryGroup, IdentityRow } from '../supersedes.js';
import { PayloadError } from '../errors.js';

/**
 * Raw documents in scope of a run: ingested at or before its snapshot bound, optionally one
 * tenant. Only a null tenant means every tenant: an empty string matches no document.
 */
export function scopeFilter(run: Pick<RunDoc, 'snapshot_bound' | 'tenant'>): Filter<Document> {
  return { ingested_at: { $lte: run.snapshot_bound }, ...(run.tenant === null || run.tenant === undefined ? {} : { tenant: run.tenant }) };
}

export const IDENTITY_PROJECTION = {
  _id: 1,
  tenant: 1,
  'source.vendor': 1,
  'upstream.upstream_id': 1,
  'upstream.fetched_at': 1,
  'upstream.content_hash': 1,
} as const;

export function identityRow(d: Document): IdentityRow {
  const fetched = d.upstream?.fetched_at;
  if (!(fetched instanceof Date)) throw new PayloadError(`${COLL.raw}/${String(d._id)}/upstream.fetched_at`, 'not a date');
  return {
    raw_id: d._id,
    tenant: d.tenant,
    vendor: d.source?.vendor,
    upstream_id: d.upstream?.upstream_id,
    fetched_at: fetched,
    content_hash: d.upstream?.content_hash,
  };
}

/** Streams identity rows of the in-scope raw documents in planning order. */
export function identityCursor(db: Db, run: Pick<RunDoc, 'snapshot_bound' | 'tenant'>) {
  return db
    .collection(COLL.raw)
    .find(scopeFilter(run), { projection: IDENTITY_PROJECTION })
    .sort({ tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.fetched_at': 1, 'upstream.content_hash': 1 })
    .batchSize(2000);
}

/** Corpus bundle hash lines: (tenant, vendor, upstream_id, content_hash), per advisory in hash order. */
export function bundleLines(g: AdvisoryGroup): string[] {
  return g.revisions.map((r) => r.content_hash).sort().map((h) => `${g.tenant}|${g.vendor}|${g.upstream_id}|${h}\n`);
}
