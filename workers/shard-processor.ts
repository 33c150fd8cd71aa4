/**
 * One job = one shard (DESIGN §4): load the manifest by `_id`, compute edges and
 * tombstones from it alone, write them idempotently, mark the shard done with its
 * counts and record them in the run's progress. A done shard is a no-op; a half-done
 * shard inserts only what is missing.
 *
 * Fencing: a worker can lose its job while writing (its lock expired during a network
 * stall; the job was taken over) and a rollback may then pass the shard before the late
 * writes land. So after its last write (edges, tombstones, outbox rows) the worker reads
 * the run again: if a rollback has begun (rolling_back or rolled_back), it removes what the
 * run wrote for this shard and records nothing; if not, a rollback that begins later finds
 * every write of the shard already in place. The rollback waits for every worker BullMQ knows to be active; this covers
 * the ones it cannot know about.
 */
import type { Db, Document } from 'mongodb';
import type { Logger } from 'pino';
import { shardId, type ShardJob } from '../core/contract.js';
import { COLL } from '../core/store/collections.js';
import { getRun, type RunDoc } from '../core/store/runs.js';
import { append } from '../core/store/run-log.js';
import { HOLD_STATES, inGroup, ROLLBACK_STATES } from '../core/store/run-status.js';
import { getShard, loadManifest, markShardFailed, shardsColl, type ShardCounts } from '../core/store/shards.js';
import { ProgressStore } from '../core/store/progress.js';
import type { Connections } from '../core/connections.js';
import { rawIdKey, supersedesForGroups, type Edge, type SupersedesResult, type Tombstone } from '../core/supersedes.js';
import { backfillEventRows, deleteUnpublishedRunRows, insertOutboxRows } from '../core/store/outbox.js';
import { errorSummary, isUnrecoverable, NotFoundError, PayloadError, ViolationError } from '../core/errors.js';
import { IdempotentWriter, type TenantDoc, type Violation, type WriteTally } from './idempotent-write.js';
import { EDGE_UNIQUE_INDEXES } from './unique-keys.js';
import { deleteOwned } from '../core/store/owned-writes.js';

export type ShardOutcome =
  | { action: 'done'; counts: ShardCounts }
  | { action: 'noop'; reason: 'already_done' }
  | { action: 'hold'; state: string }
  | { action: 'skip'; state: string }
  | { action: 'fenced'; state: string; removed: number };

const sameEdge = (a: Document, b: Edge): boolean =>
  rawIdKey(a.older?.raw_id) === rawIdKey(b.older.raw_id) && rawIdKey(a.newer?.raw_id) === rawIdKey(b.newer.raw_id);
const sameTombstone = (a: Document, b: Tombstone): boolean =>
  rawIdKey(a.raw_id) === rawIdKey(b.raw_id) && rawIdKey(a.superseded_by_raw_id) === rawIdKey(b.superseded_by_raw_id);

/** Test seams: called with the shard id between the worker's read of the run and its writes. */
export interface ShardHooks {
  beforeWrite?: (shardId: string) => Promise<void>;
}

export interface ShardContext {
  db: Db;
  log: Logger;
  progress: ProgressStore;
  /** 1-based attempt number and the maximum, to checkpoint the error on the last one. */
  attempt: number;
  maxAttempts: number;
  deleteBatch: number;
  hooks?: ShardHooks;
}

/** The context of one attempt of a shard in this process (the worker; tests and benches too). */
export function shardContext(conns: Connections, log: Logger, attempt = 1, maxAttempts = 1, hooks?: ShardHooks): ShardContext {
  const progress = new ProgressStore(conns.sharedRedis(), conns.cfg.queuePrefix);
  return { db: conns.db, log, progress, attempt, maxAttempts, deleteBatch: conns.cfg.deleteBatch, ...(hooks ? { hooks } : {}) };
}

async function readRun(db: Db, runId: string): Promise<RunDoc> {
  try {
    return await getRun(db, runId);
  } catch (err) {
    if (err instanceof NotFoundError) throw new PayloadError('job.data.run_id', `run ${runId} does not exist`);
    throw err;
  }
}

async function write(ctx: ShardContext, run: RunDoc, r: SupersedesResult): Promise<[WriteTally, WriteTally]> {
  const edgeWriter = new IdempotentWriter<Edge>(ctx.db.collection<TenantDoc>(COLL.supersedes), run._id, sameEdge, EDGE_UNIQUE_INDEXES);
  const tombWriter = new IdempotentWriter<Tombstone>(ctx.db.collection<TenantDoc>(COLL.tombstones), run._id, sameTombstone);
  if (run.dry_run) return [await edgeWriter.plan(r.edges), await tombWriter.plan(r.tombstones)];
  const stamp = { run_id: run._id, created_at: new Date() };
  return [await edgeWriter.write(r.edges, stamp), await tombWriter.write(r.tombstones, stamp)];
}

/**
 * Remove what the run wrote for this shard (a rollback began while it was writing): its
 * edges and tombstones, and the run's unpublished outbox rows (the rollback removes those
 * too; a published event cannot be taken back).
 */
async function undo(ctx: ShardContext, run: RunDoc, r: SupersedesResult): Promise<number> {
  const edges = await deleteOwned(ctx.db, COLL.supersedes, r.edges.map((e) => e._id), run._id, ctx.deleteBatch);
  const tombstones = await deleteOwned(ctx.db, COLL.tombstones, r.tombstones.map((t) => t._id), run._id, ctx.deleteBatch);
  await deleteUnpublishedRunRows(ctx.db, run._id, ctx.deleteBatch);
  return edges + tombstones;
}

function violationCounts(violations: readonly Violation[]): Pick<ShardCounts, `violations_${Violation['reason']}`> {
  const n = (reason: Violation['reason']): number => violations.filter((v) => v.reason === reason).length;
  return {
    violations_content_differs: n('content_differs'),
    violations_newer_raw_id_collision: n('newer_raw_id_collision'),
    violations_older_raw_id_collision: n('older_raw_id_collision'),
    violations_unique_index_collision: n('unique_index_collision'),
  };
}

export async function processShard(ctx: ShardContext, job: ShardJob): Promise<ShardOutcome> {
  const { db } = ctx;
  const id = shardId(job.run_id, job.shard);
  const log = ctx.log.child({ run_id: job.run_id, shard: job.shard });
  const run = await readRun(db, job.run_id);
  if (inGroup(run.state, HOLD_STATES)) return { action: 'hold', state: run.state };
  if (run.state !== 'running') return { action: 'skip', state: run.state };
  const shard = await getShard(db, id);
  if (!shard) throw new PayloadError('job.data.shard', `shard ${id} does not exist in ${COLL.shards}`);
  if (shard.state === 'done') {
    // Re-recording is idempotent: it repairs progress lost between the checkpoint and the record.
    await ctx.progress.record(run._id, id, 'done', shard.docs, shard.counts);
    return { action: 'noop', reason: 'already_done' };
  }
  try {
    const groups = await loadManifest(db, id);
    const result = supersedesForGroups(groups);
    await ctx.hooks?.beforeWrite?.(id);
    const [e, t] = await write(ctx, run, result);
    if (!run.dry_run) {
      // Outbox rows for the observations this run changed, before the shard is marked
      // done: a retried shard finds its edges `resumed` and the same eventIds already there.
      // Written before the fence read, so that nothing of the shard is written after it.
      const written = { edges: new Set(e.written), tombstones: new Set(t.written) };
      await insertOutboxRows(db, backfillEventRows(run._id, result.edges, result.tombstones, written, new Date()));
    }
    const after = await getRun(db, run._id);
    if (!run.dry_run && inGroup(after.state, ROLLBACK_STATES)) {
      const removed = await undo(ctx, run, result);
      log.warn({ state: after.state, removed }, 'shard fenced: a rollback of the run began while it wrote; its writes were removed');
      await append(db, run._id, 'shard', { shard: job.shard, attempt: ctx.attempt, outcome: 'fenced', removed });
      return { action: 'fenced', state: after.state, removed };
    }
    const violations = [...e.violations, ...t.violations];
    const counts: ShardCounts = {
      docs: shard.docs,
      advisories: groups.length,
      edges_inserted: e.inserted + e.resumed,
      tombstones_inserted: t.inserted + t.resumed,
      idempotent_hits: e.hits + t.hits,
      write_attempts: e.attempts + t.attempts,
      violations: violations.length,
      ...violationCounts(violations),
      errors: 0,
    };
    const failed = violations.length > 0 && run.stop_on_error;
    const violationError = failed ? new ViolationError(id, violations.length, violations.slice(0, 5)) : undefined;
    const state = failed ? 'failed' : 'done';
    await shardsColl(db).updateOne(
      { _id: id },
      {
        $set: {
          state,
          counts,
          violation_sample: violations.slice(0, 20),
          updated_at: new Date(),
          finished_at: new Date(),
          ...(violationError ? { error: { ...errorSummary(violationError), at: new Date() } } : {}),
        },
        $inc: { attempts: 1 },
      },
    );
    await ctx.progress.record(run._id, id, state, shard.docs, counts);
    await append(db, run._id, 'shard', { shard: job.shard, attempt: ctx.attempt, outcome: state, counts, ...(violationError ? { error: errorSummary(violationError) } : {}) });
    log.info({ counts, dry_run: run.dry_run }, failed ? 'shard failed: idempotency violations' : 'shard done');
    if (violationError) throw violationError;
    return { action: 'done', counts };
  } catch (err) {
    if (err instanceof ViolationError) throw err;
    const last = ctx.attempt >= ctx.maxAttempts || isUnrecoverable(err);
    log[last ? 'error' : 'warn']({ err, attempt: ctx.attempt, max_attempts: ctx.maxAttempts }, last ? 'shard failed' : 'shard attempt failed; will retry');
    await append(db, run._id, 'shard', { shard: job.shard, attempt: ctx.attempt, outcome: last ? 'failed' : 'retry', error: errorSummary(err) }).catch(() => undefined);
    if (last) {
      // Checkpoint the failure; if that write fails too, the original error still wins.
      try {
        await markShardFailed(db, id, err, ctx.progress);
      } catch (e) {
        log.error({ err: e }, 'could not checkpoint the shard failure');
      }
    }
    throw err;
  }
}
