/**
 * `/advisories/summary`: per advisory of ONE tenant, its key, aliases, source, latest raw
 * id, revision count, the stored supersedes chain (newer -> older, with hashes) and its
 * tombstoned observations. Paged by advisory key (`vendor|upstream_id`, ascending).
 *
 * Every read names the tenant: observations by `tenantId`, raw documents by `_id` AND
 * `tenant`, edges and tombstones by their deterministic `_id`s (which hash the tenant in)
 * AND `tenant`. A request never reads another tenant's data, whatever its parameters.
 *
 * Cost: the observations of the page's advisories (the cursor stops after the page), then
 * `_id` point reads of the page's raw documents, edges and tombstones: O(page) on MongoDB
 * (the `obs_tenant_advisory` index serves the ordered scan), never a read of all edges or
 * tombstones. FerretDB 1.24 sorts in its memory (DESIGN §7): there the ordered scan of a
 * listing page passes over the tenant's observations; `advisory=` (top-level equalities)
 * does not need it to be ordered.
 */
import type { Db, Filter } from 'mongodb';
import { COLL } from '../../core/store/collections.js';
import type { ObservationDoc } from '../../core/store/observations.js';
import { edgeId, edgeLine, orderedRevisions, rawIdKey, tombstoneId, type RawId, type Revision } from '../../core/supersedes.js';

export const SUMMARY_MAX_TAKE = 100;
export const SUMMARY_DEFAULT_TAKE = 20;

export interface SummaryQuery {
  tenant: string;
  /** One upstream id (any vendor); absent = every advisory of the tenant. */
  advisory?: string;
  take: number;
  /** Key of the last advisory of the previous page. */
  after?: string;
}

export interface ChainLink {
  newer: { raw_id: RawId; content_hash: string };
  older: { raw_id: RawId; content_hash: string };
  run_id: string | null;
}

export interface AdvisorySummary {
  key: string;
  tenant: string;
  source: string;
  advisory: string;
  aliases: string[];
  latest_raw_id: RawId | null;
  revisions: number;
  /** Stored edges, newest first. */
  supersedes_chain: ChainLink[];
  tombstoned_observations: Array<{ observation_raw_id: RawId; superseded_by_raw_id: RawId; run_id: string | null }>;
}

export interface SummaryPage {
  tenant: string;
  items: AdvisorySummary[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

interface RawDoc {
  _id: RawId;
  tenant: string;
  upstream: { fetched_at: Date; content_hash: string };
  identifiers?: { aliases?: unknown };
}
interface EdgeDoc {
  _id: string;
  tenant: string;
  newer: { raw_id: RawId; content_hash: string };
  older: { raw_id: RawId; content_hash: string };
  run_id?: string;
}
interface TombstoneDoc {
  _id: string;
  tenant: string;
  raw_id: RawId;
  superseded_by_raw_id: RawId;
  run_id?: string;
}

export function advisoryKey(source: string, advisory: string): string {
  return `${source}|${advisory}`;
}

function afterFilter(after: string | undefined): Filter<ObservationDoc> {
  if (!after) return {};
  const bar = after.indexOf('|');
  const source = bar < 0 ? after : after.slice(0, bar);
  const advisory = bar < 0 ? '' : after.slice(bar + 1);
  return { $or: [{ source: { $gt: source } }, { source, advisoryId: { $gt: advisory } }] };
}

/** The observation rows of the page's advisories (at most take + 1 advisories read, to know if more follow). */
async function pageGroups(db: Db, q: SummaryQuery): Promise<{ groups: ObservationDoc[][]; more: boolean }> {
  const filter: Filter<ObservationDoc> = { tenantId: q.tenant, ...(q.advisory === undefined ? {} : { advisoryId: q.advisory }), ...afterFilter(q.after) };
  const cursor = db.collection<ObservationDoc>(COLL.observations).find(filter).sort({ source: 1, advisoryId: 1, _id: 1 }).batchSize(200);
  const groups: ObservationDoc[][] = [];
  let more = false;
  try {
    for await (const o of cursor) {
      const last = groups.at(-1);
      if (last && last[0]!.source === o.source && last[0]!.advisoryId === o.advisoryId) last.push(o);
      else if (groups.length === q.take) {
        more = true;
        break;
      } else groups.push([o]);
    }
  } finally {
    await cursor.close();
  }
  return { groups, more };
}

/**
 * Documents of `coll` with these `_id`s and this tenant, by `_id` key: point reads, in
 * parallel. Not one `$in`: FerretDB 1.24 serves `$in` by scanning and shipping whole
 * documents (measured on the rustsec corpus: a 7-revision advisory in 20.6 s with `$in`
 * reads, 0.33 s with point reads).
 */
async function byIds<T extends { _id: RawId }>(db: Db, coll: string, ids: RawId[], tenant: string): Promise<Map<string, T>> {
  const docs = await Promise.all(ids.map((_id) => db.collection<T>(coll).findOne({ _id, tenant } as Filter<T>)));
  return new Map(docs.filter((d) => d !== null).map((d) => [rawIdKey(d._id), d as T]));
}

interface Planned {
  group: ObservationDoc[];
  /** Revisions in supersedes order (oldest first). */
  kept: Revision[];
  raws: RawDoc[];
  /** Edge `_id` of each consecutive pair, newest pair first. */
  edgeIds: string[];
}

function plan(tenant: string, group: ObservationDoc[], raws: Map<string, RawDoc>): Planned {
  const { source, advisoryId } = group[0]!;
  const mine = group.map((o) => raws.get(rawIdKey(o.rawId))).filter((r) => r !== undefined);
  const { kept } = orderedRevisions(mine.map((r) => ({ raw_id: r._id, fetched_at: new Date(r.upstream.fetched_at), content_hash: r.upstream.content_hash })));
  const edgeIds: string[] = [];
  for (let i = kept.length - 1; i >= 1; i--) {
    edgeIds.push(edgeId(edgeLine({ tenant, vendor: source, upstream_id: advisoryId, older_hash: kept[i - 1]!.content_hash, newer_hash: kept[i]!.content_hash })));
  }
  return { group, kept, raws: mine, edgeIds };
}

function summary(tenant: string, p: Planned, edges: Map<string, EdgeDoc>, tombstones: Map<string, TombstoneDoc>): AdvisorySummary {
  const { source, advisoryId } = p.group[0]!;
  const chain: ChainLink[] = p.edgeIds
    .map((id) => edges.get(id))
    .filter((e) => e !== undefined)
    .map((e) => ({ newer: { raw_id: e.newer.raw_id, content_hash: e.newer.content_hash }, older: { raw_id: e.older.raw_id, content_hash: e.older.content_hash }, run_id: e.run_id ?? null }));
  const tombstoned = [...p.kept]
    .reverse()
    .map((r) => tombstones.get(tombstoneId(tenant, r.raw_id)))
    .filter((t) => t !== undefined)
    .map((t) => ({ observation_raw_id: t.raw_id, superseded_by_raw_id: t.superseded_by_raw_id, run_id: t.run_id ?? null }));
  const aliases = new Set<string>();
  for (const r of p.raws) {
    const a = r.identifiers?.aliases;
    if (Array.isArray(a)) for (const x of a) if (typeof x === 'string') aliases.add(x);
  }
  return {
    key: advisoryKey(source, advisoryId),
    tenant,
    source,
    advisory: advisoryId,
    aliases: [...aliases].sort(),
    latest_raw_id: p.kept.at(-1)?.raw_id ?? null,
    revisions: p.kept.length,
    supersedes_chain: chain,
    tombstoned_observations: tombstoned,
  };
}

/** One page: the observation scan, then point reads of its raw documents, edges and tombstones. */
export async function advisorySummary(db: Db, q: SummaryQuery): Promise<SummaryPage> {
  const { groups, more } = await pageGroups(db, q);
  const raws = await byIds<RawDoc>(db, COLL.raw, groups.flat().map((o) => o.rawId), q.tenant);
  const planned = groups.map((g) => plan(q.tenant, g, raws));
  const [edges, tombstones] = await Promise.all([
    byIds<EdgeDoc>(db, COLL.supersedes, planned.flatMap((p) => p.edgeIds), q.tenant),
    byIds<TombstoneDoc>(db, COLL.tombstones, planned.flatMap((p) => p.kept.map((r) => tombstoneId(q.tenant, r.raw_id))), q.tenant),
  ]);
  const items = planned.map((p) => summary(q.tenant, p, edges, tombstones));
  return { tenant: q.tenant, items, next: more && items.length > 0 ? items.at(-1)!.key : null };
}
