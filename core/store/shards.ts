/**
 * `backfill_shards`: one small document per shard — its state, counts and attempts (the
 * resume checkpoint) — and `backfill_manifests`: the shard's manifest under the same `_id`,
 * read only by the job that processes the shard (and by rollback/validation). Kept apart
 * because FerretDB reads whole documents before projecting (DESIGN §7): listing shards
 * must not ship their manifests.
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { shardId } from '../contract.js';
import type { AdvisoryGroup } from '../supersedes.js';
import { errorSummary, PayloadError } from '../errors.js';
import type { ErrorInfo } from './runs.js';
import type { ProgressStore } from './progress.js';

export type ShardState = 'pending' | 'done' | 'failed';

export interface ShardCounts {
  docs: number;
  advisories: number;
  edges_inserted: number;
  tombstones_inserted: number;
  idempotent_hits: number;
  write_attempts: number;
  violations: number;
  /** `violations` by reason (workers/idempotent-write.ts): a different document under the edge's or tombstone's `_id`, */
  violations_content_differs: number;
  /** … the edge's newer revision already has another predecessor (`(tenant, newer.raw_id)` unique index), */
  violations_newer_raw_id_collision: number;
  /** … its older revision already has another successor (`(tenant, older.raw_id)`), */
  violations_older_raw_id_collision: number;
  /** … a unique-index collision with a document removed before it could be read back. */
  violations_unique_index_collision: number;
  errors: number;
}

export interface ShardDoc {
  _id: string;
  run_id: string;
  shard: number;
  state: ShardState;
  docs: number;
  first_key: string;
  last_key: string;
  attempts: number;
  counts?: ShardCounts;
  violation_sample?: unknown[];
  error?: ErrorInfo;
  created_at: Date;
  updated_at: Date;
  finished_at?: Date;
  /** Set before a rollback deletes this shard's writes: some of them may be gone. */
  rollback_started_at?: Date;
  /** What the rollback removed of this shard's writes (set once the shard is rolled back). */
  rolled_back?: { edges: number; tombstones: number };
}

export interface ManifestDoc {
  _id: string;
  run_id: string;
  advisories: AdvisoryGroup[];
  /** When the run was planned (manifests expire LNM_MANIFEST_TTL_DAYS after it). */
  created_at: Date;
}

export function shardsColl(db: Db) {
  return db.collection<ShardDoc>(COLL.shards);
}

export function manifestsColl(db: Db) {
  return db.collection<ManifestDoc>(COLL.manifests);
}

export async function getShard(db: Db, id: string): Promise<ShardDoc | null> {
  return shardsColl(db).findOne({ _id: id });
}

/** Every shard of a run (small documents; O(shards): for settling, rollback and repairs, not ticks). */
export async function listShards(db: Db, runId: string): Promise<ShardDoc[]> {
  return shardsColl(db).find({ run_id: runId }).toArray();
}

/** The error of the lowest-numbered shard that has one: the run's original error. */
export async function firstShardError(db: Db, runId: string): Promise<ErrorInfo | undefined> {
  const failed = (await listShards(db, runId)).filter((s) => s.error).sort((a, b) => a.shard - b.shard);
  return failed[0]?.error;
}

export function emptyCounts(): ShardCounts {
  return {
    docs: 0,
    advisories: 0,
    edges_inserted: 0,
    tombstones_inserted: 0,
    idempotent_hits: 0,
    write_attempts: 0,
    violations: 0,
    errors: 0,
    // After the older fields: the progress store keeps each shard's contribution positionally.
    violations_content_differs: 0,
    violations_newer_raw_id_collision: 0,
    violations_older_raw_id_collision: 0,
    violations_unique_index_collision: 0,
  };
}

export function addCounts(a: ShardCounts, b: ShardCounts): ShardCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as Array<keyof ShardCounts>) out[k] += b[k];
  return out;
}

/** A shard's manifest, validated before use (a broken one is never retried). */
export async function loadManifest(db: Db, id: string): Promise<AdvisoryGroup[]> {
  const doc = await manifestsColl(db).findOne({ _id: id });
  if (!doc) throw new PayloadError(`${COLL.manifests}/${id}`, 'the shard has no manifest');
  return checkManifest(doc);
}

export function checkManifest(doc: ManifestDoc): AdvisoryGroup[] {
  const path = `${COLL.manifests}/${doc._id}/advisories`;
  if (!Array.isArray(doc.advisories)) throw new PayloadError(path, 'manifest is not an array');
  doc.advisories.forEach((g, i) => {
    const p = `${path}[${i}]`;
    if (typeof g !== 'object' || g === null) throw new PayloadError(p, 'not an object');
    for (const f of ['tenant', 'vendor', 'upstream_id'] as const) {
      if (typeof g[f] !== 'string' || g[f] === '') throw new PayloadError(`${p}.${f}`, 'missing or empty');
    }
    if (!Array.isArray(g.revisions) || g.revisions.length === 0) throw new PayloadError(`${p}.revisions`, 'missing or empty');
    g.revisions.forEach((r, j) => {
      const rp = `${p}.revisions[${j}]`;
      if (r.raw_id === undefined || r.raw_id === null) throw new PayloadError(`${rp}.raw_id`, 'missing');
      if (!(r.fetched_at instanceof Date) || Number.isNaN(r.fetched_at.getTime())) throw new PayloadError(`${rp}.fetched_at`, 'not a date');
      if (typeof r.content_hash !== 'string' || r.content_hash === '') throw new PayloadError(`${rp}.content_hash`, 'missing');
    });
  });
  return doc.advisories;
}

/** Checkpoint a shard's final failure (the error is kept with its code and path). */
export async function markShardFailed(db: Db, id: string, err: unknown, progress: ProgressStore): Promise<void> {
  const shard = await getShard(db, id);
  if (!shard) return;
  const counts = { ...emptyCounts(), ...shard.counts, errors: 1 };
  await shardsColl(db).updateOne(
    { _id: id },
    { $set: { state: 'failed', counts, error: { ...errorSummary(err), at: new Date() }, updated_at: new Date() }, $inc: { attempts: 1 } },
  );
  await progress.record(shard.run_id, id, 'failed', shard.docs, counts);
}

/**
 * A run's shards in shard-number order, by `_id` point reads (FerretDB would sort a
 * `sort({shard})` cursor in memory, whole documents: DESIGN §7): what the report's samples
 * need of each (state, counts, violation sample, error). The caller stops when it has enough.
 */
export async function* shardOutcomesInOrder(db: Db, runId: string, shards: number) {
  const projection = { _id: 0, shard: 1, state: 1, counts: 1, violation_sample: 1, error: 1 } as const;
  for (let n = 0; n < shards; n++) {
    const s = await shardsColl(db).findOne({ _id: shardId(runId, n) }, { projection });
    if (s) yield s;
  }
}

/** Exact totals over a run's shards (O(shards): when a run settles or is validated, not per tick). */
export interface ShardTotals {
  done: number;
  failed: number;
  pending: number;
  counts: ShardCounts;
}

export async function shardTotals(db: Db, runId: string): Promise<ShardTotals> {
  const t = { done: 0, failed: 0, pending: 0, counts: emptyCounts() };
  for await (const s of shardsColl(db).find({ run_id: runId }, { projection: { state: 1, counts: 1 } })) {
    t[s.state]++;
    if (s.counts) t.counts = addCounts(t.counts, { ...emptyCounts(), ...s.counts });
  }
  return t;
}
