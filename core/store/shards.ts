/** `backfill_shards`: one document per shard: its manifest (the resume checkpoint) and counts. */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import type { AdvisoryGroup } from '../supersedes.js';
import { errorSummary, PayloadError } from '../errors.js';
import type { ErrorInfo } from './runs.js';

export type ShardState = 'pending' | 'done' | 'failed';

export interface ShardCounts {
  docs: number;
  advisories: number;
  edges_inserted: number;
  tombstones_inserted: number;
  idempotent_hits: number;
  write_attempts: number;
  violations: number;
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
  manifest: AdvisoryGroup[];
  attempts: number;
  counts?: ShardCounts;
  violation_sample?: unknown[];
  error?: ErrorInfo;
  created_at: Date;
  updated_at: Date;
  finished_at?: Date;
  rolled_back?: boolean;
}

/** A shard without its manifest, for listings. */
export type ShardSummary = Omit<ShardDoc, 'manifest'>;

export function shardsColl(db: Db) {
  return db.collection<ShardDoc>(COLL.shards);
}

export async function getShard(db: Db, id: string): Promise<ShardDoc | null> {
  return shardsColl(db).findOne({ _id: id });
}

export async function listShards(db: Db, runId: string): Promise<ShardSummary[]> {
  return shardsColl(db)
    .find({ run_id: runId }, { projection: { manifest: 0 } })
    .toArray() as Promise<ShardSummary[]>;
}

/** The error of the lowest-numbered shard that has one: the run's original error. */
export async function firstShardError(db: Db, runId: string): Promise<ErrorInfo | undefined> {
  const failed = (await listShards(db, runId)).filter((s) => s.error).sort((a, b) => a.shard - b.shard);
  return failed[0]?.error;
}

export function emptyCounts(): ShardCounts {
  return { docs: 0, advisories: 0, edges_inserted: 0, tombstones_inserted: 0, idempotent_hits: 0, write_attempts: 0, violations: 0, errors: 0 };
}

export function addCounts(a: ShardCounts, b: ShardCounts): ShardCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as Array<keyof ShardCounts>) out[k] += b[k];
  return out;
}

/** Validate a stored manifest before using it: a broken one is never retried. */
export function checkManifest(shard: ShardDoc): AdvisoryGroup[] {
  const path = `backfill_shards/${shard._id}/manifest`;
  if (!Array.isArray(shard.manifest)) throw new PayloadError(path, 'manifest is not an array');
  shard.manifest.forEach((g, i) => {
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
  return shard.manifest;
}

/** Checkpoint a shard's final failure (the error is kept with its code and path). */
export async function markShardFailed(db: Db, id: string, err: unknown): Promise<void> {
  await shardsColl(db).updateOne(
    { _id: id },
    {
      $set: { state: 'failed', error: { ...errorSummary(err), at: new Date() }, updated_at: new Date(), 'counts.errors': 1 },
      $inc: { attempts: 1 },
    },
  );
}
