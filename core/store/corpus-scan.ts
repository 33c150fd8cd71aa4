/**
 * The corpus scan shared by the planner, validation and the corpus hash (DESIGN §4, §5):
 * the raw documents in scope of a run, identity fields only, in planning order
 * (`compareIdentity`), grouped into advisories, and the corpus bundle lines derived from them.
 * Memory is bounded either way: the server sorts, or an external sort on this side does.
 */
import type { Db, Document, Filter } from 'mongodb';
import { COLL } from './collections.js';
import type { RunDoc } from './runs.js';
import type { AdvisoryGroup, IdentityRow } from '../supersedes.js';
import type { ScanConfig } from '../config.js';
import { PayloadError } from '../errors.js';
import { compareCodePoints, externalSort, type ExternalSortStats } from '../external-sort.js';

export type CorpusScope = Pick<RunDoc, 'snapshot_bound' | 'tenant'>;

/**
 * Raw documents in scope of a run: ingested at or before its snapshot bound, optionally one
 * tenant. Only a null tenant means every tenant: an empty string matches no document.
 */
export function scopeFilter(run: CorpusScope): Filter<Document> {
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

/**
 * Planning order: (tenant, vendor, upstream_id) compared as UTF-8 bytes (= code points, as
 * MongoDB and FerretDB compare strings), then fetched_at, then content_hash. A field
 * missing from a malformed document sorts first, as null does on the server.
 */
export function compareIdentity(a: IdentityRow, b: IdentityRow): number {
  return (
    compareField(a.tenant, b.tenant) ||
    compareField(a.vendor, b.vendor) ||
    compareField(a.upstream_id, b.upstream_id) ||
    a.fetched_at.getTime() - b.fetched_at.getTime() ||
    compareField(a.content_hash, b.content_hash)
  );
}

function compareField(a: string | undefined, b: string | undefined): number {
  if (typeof a !== 'string' || typeof b !== 'string') return (typeof a === 'string' ? 1 : 0) - (typeof b === 'string' ? 1 : 0);
  return compareCodePoints(a, b);
}

/** The identity scan's options (config `scan`), with `auto` already resolved. */
export interface ScanOptions {
  sort: 'server' | 'external';
  sortRunRows: number;
  sortDir: string;
}

const products = new WeakMap<Db, Promise<boolean>>();

/** True on FerretDB (its buildInfo names its own version); asked once per database handle. */
export function isFerretDb(db: Db): Promise<boolean> {
  let p = products.get(db);
  if (!p) {
    p = db.admin().command({ buildInfo: 1 }).then((b) => typeof b.ferretdbVersion === 'string');
    products.set(db, p);
  }
  return p;
}

/** `auto` becomes `external` on FerretDB (it sorts whole documents in memory), else `server`. */
export async function resolveScan(db: Db, scan: ScanConfig): Promise<ScanOptions> {
  const sort = scan.sort === 'auto' ? ((await isFerretDb(db)) ? 'external' : 'server') : scan.sort;
  return { sort, sortRunRows: scan.sortRunRows, sortDir: scan.sortDir };
}

/** Rows of the in-scope raw documents in planning order, by the server or an external sort. */
export async function* identityRows(db: Db, scope: CorpusScope, opts: ScanOptions, stats?: (s: ExternalSortStats) => void): AsyncGenerator<IdentityRow> {
  const find = db.collection(COLL.raw).find(scopeFilter(scope), { projection: IDENTITY_PROJECTION }).batchSize(2000);
  if (opts.sort === 'server') {
    const sorted = find.sort({ tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.fetched_at': 1, 'upstream.content_hash': 1 });
    for await (const d of sorted) yield identityRow(d);
    return;
  }
  async function* rows(): AsyncGenerator<IdentityRow> {
    for await (const d of find) yield identityRow(d);
  }
  yield* externalSort(rows(), { compare: compareIdentity, runRecords: opts.sortRunRows, ...(opts.sortDir ? { tmpDir: opts.sortDir } : {}) }, stats);
}

/** Groups rows in planning order into advisories (memory: one advisory). */
export async function* advisoryGroups(rows: AsyncIterable<IdentityRow>): AsyncGenerator<AdvisoryGroup> {
  let open: AdvisoryGroup | undefined;
  for await (const r of rows) {
    if (open && open.tenant === r.tenant && open.vendor === r.vendor && open.upstream_id === r.upstream_id) {
      open.revisions.push({ raw_id: r.raw_id, fetched_at: r.fetched_at, content_hash: r.content_hash });
      continue;
    }
    if (open) yield open;
    open = { tenant: r.tenant, vendor: r.vendor, upstream_id: r.upstream_id, revisions: [{ raw_id: r.raw_id, fetched_at: r.fetched_at, content_hash: r.content_hash }] };
  }
  if (open) yield open;
}

/** Corpus bundle hash lines: (tenant, vendor, upstream_id, content_hash), per advisory in hash order. */
export function bundleLines(g: AdvisoryGroup): string[] {
  return g.revisions.map((r) => r.content_hash).sort().map((h) => `${g.tenant}|${g.vendor}|${g.upstream_id}|${h}\n`);
}
