/**
 * One job = one shard (DESIGN §4): load the manifest by `_id`, compute edges and
 * tombstones from it alone, write them idempotently, mark the shard done with its
 * counts. A done shard is a no-op; a half-done shard inserts only what is missing.
 */
import type { Db, Document } from 'mongodb';
import type { Logger } from 'pino';
import { shardId, type ShardJob } from '../core/contract.js';
import { COLL } from '../core/store/collections.js';
import { getRun, type RunDoc } from '../core/store/runs.js';
import { checkManifest, getShard, markShardFailed, shardsColl, type ShardCounts } from '../core/store/shards.js';
import { backfillEventRows, insertOutboxRows } from '../core/store/outbox.js';
import { rawIdKey, supersedesForGroups, type Edge, type Tombstone } from '../core/supersedes.js';
import { errorSummary, isUnrecoverable, NotFoundError, PayloadError, ViolationError } from '../core/errors.js';
import { IdempotentWriter, type IdDoc, type WriteTally } from './idempotent-write.js';

export type ShardOutcome =
  | { action: 'done'; counts: ShardCounts }
  | { action: 'noop'; reason: 'already_done' }
  | { action: 'defer'; state: string }
  | { action: 'skip'; state: string };

/** Run states in which a shard waits (job delayed) rather than runs or is dropped. */
const DEFER_STATES = new Set(['planned', 'pausing', 'paused', 'throttled']);

const sameEdge = (a: Document, b: Edge): boolean =>
  rawIdKey(a.older?.raw_id) === rawIdKey(b.older.raw_id) && rawIdKey(a.newer?.raw_id) === rawIdKey(b.newer.raw_id);
const sameTombstone = (a: Document, b: Tombstone): boolean =>
  rawIdKey(a.raw_id) === rawIdKey(b.raw_id) && rawIdKey(a.superseded_by_raw_id) === rawIdKey(b.superseded_by_raw_id);

export interface ShardContext {
  db: Db;
  log: Logger;
  /** 1-based attempt number and the maximum, to checkpoint the error on the last one. */
  attempt: number;
  maxAttempts: number;
}

export async function processShard(ctx: ShardContext, job: ShardJob): Promise<ShardOutcome> {
  const { db } = ctx;
  const id = shardId(job.run_id, job.shard);
  const log = ctx.log.child({ run_id: job.run_id, shard: job.shard });
  let run: RunDoc;
  try {
    run = await getRun(db, job.run_id);
  } catch (err) {
    if (err instanceof NotFoundError) throw new PayloadError('job.data.run_id', `run ${job.run_id} does not exist`);
    throw err;
  }
  if (DEFER_STATES.has(run.state)) return { action: 'defer', state: run.state };
  if (run.state !== 'running') return { action: 'skip', state: run.state };
  const shard = await getShard(db, id);
  if (!shard) throw new PayloadError('job.data.shard', `shard ${id} has no manifest in ${COLL.shards}`);
  if (shard.state === 'done') return { action: 'noop', reason: 'already_done' };
  try {
    const groups = checkManifest(shard);
    const { edges, tombstones } = supersedesForGroups(groups);
    const edgeWriter = new IdempotentWriter<Edge>(db.collection<IdDoc>(COLL.supersedes), run._id, sameEdge);
    const tombWriter = new IdempotentWriter<Tombstone>(db.collection<IdDoc>(COLL.tombstones), run._id, sameTombstone);
    const stamp = { run_id: run._id, created_at: new Date() };
    const [e, t]: WriteTally[] = run.dry_run
      ? [await edgeWriter.plan(edges), await tombWriter.plan(tombstones)]
      : [await edgeWriter.write(edges, stamp), await tombWriter.write(tombstones, stamp)];
    if (!run.dry_run) {
      // Outbox rows for the observations this run changed, before the shard is marked
      // done: a retried shard finds its edges `resumed` and the same eventIds already there.
      const written = { edges: new Set(e!.written), tombstones: new Set(t!.written) };
      await insertOutboxRows(db, backfillEventRows(run._id, edges, tombstones, written, stamp.created_at));
    }
    const violations = [...e!.violations, ...t!.violations];
    const counts: ShardCounts = {
      docs: shard.docs,
      advisories: groups.length,
      edges_inserted: e!.inserted + e!.resumed,
      tombstones_inserted: t!.inserted + t!.resumed,
      idempotent_hits: e!.hits + t!.hits,
      write_attempts: e!.attempts + t!.attempts,
      violations: violations.length,
      errors: 0,
    };
    const failed = violations.length > 0 && run.stop_on_error;
    const violationError = failed ? new ViolationError(id, violations.length, violations.slice(0, 5)) : undefined;
    await shardsColl(db).updateOne(
      { _id: id },
      {
        $set: {
          state: failed ? 'failed' : 'done',
          counts,
          violation_sample: violations.slice(0, 20),
          updated_at: new Date(),
          finished_at: new Date(),
          ...(violationError ? { error: { ...errorSummary(violationError), at: new Date() } } : {}),
        },
        $inc: { attempts: 1 },
      },
    );
    log.info({ counts, dry_run: run.dry_run }, failed ? 'shard failed: idempotency violations' : 'shard done');
    if (violationError) throw violationError;
    return { action: 'done', counts };
  } catch (err) {
    if (err instanceof ViolationError) throw err;
    const last = ctx.attempt >= ctx.maxAttempts || isUnrecoverable(err);
    log[last ? 'error' : 'warn']({ err, attempt: ctx.attempt, max_attempts: ctx.maxAttempts }, last ? 'shard failed' : 'shard attempt failed; will retry');
    if (last) {
      // Checkpoint the failure; if that write fails too, the original error still wins.
      await markShardFailed(db, id, err).catch((e: unknown) => log.error({ err: e }, 'could not checkpoint the shard failure'));
    }
    throw err;
  }
}
