/**
 * Rollback of one run (DESIGN §4): driven by the manifests of its finished shards, delete
 * every edge and tombstone the run would have written, only where `run_id` matches (what
 * another run inserted first stays); what unfinished shards wrote goes with the run_id
 * sweep. Shard by shard, each checkpointed with what it removed, so a crash resumes where
 * it stopped. It never races a writer: it holds the run's rollback lock (one rollback of a
 * run at a time, CLI or job), keeps the run's queue paused and drained, and does not start
 * while BullMQ holds any shard job of the run (a writer that lost its job fences itself,
 * workers/shard-processor.ts). A final `run_id` scan proves nothing of the run remains.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { activeShardJobs, syncDispatch, withdrawQueued } from '../core/jobs.js';
import { LeaderLock } from '../core/lock.js';
import { COLL } from '../core/store/collections.js';
import { getRun, transitionRun, type RunDoc } from '../core/store/runs.js';
import { OPERATOR_ROLLBACK_STATES, predecessors } from '../core/store/run-status.js';
import { acquireScope, releaseScope } from '../core/store/scope-locks.js';
import { checkManifest, listShards, manifestsColl, shardsColl, type ShardDoc } from '../core/store/shards.js';
import { deleteUnpublishedRunRows } from '../core/store/outbox.js';
import { supersedesForGroups } from '../core/supersedes.js';
import { errorSummary, LnmError, PayloadError, RollbackIncompleteError, RunStateError } from '../core/errors.js';
import { countOwned, deleteOwned, sweepRun } from '../core/store/owned-writes.js';

export interface RollbackResult {
  run_id: string;
  edges_removed: number;
  tombstones_removed: number;
  /** The run's outbox rows not yet published (published events cannot be taken back). */
  events_removed: number;
  remaining: number;
}

/** The rollback cannot start now: another rollback holds the run, or shards are in flight. */
export class RollbackBusyError extends LnmError {
  constructor(runId: string, why: string) {
    super('ERR_ROLLBACK_BUSY', `run ${runId}: rollback cannot start: ${why}`, { path: `backfill_runs/${runId}` });
  }
}

/** Put the run in `rolling_back` (no-op if it already is). An operator may not roll back a run with shards in flight. */
export async function beginRollback(conns: Connections, runId: string, reason: string, by: 'operator' | 'job'): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'rolling_back') return run;
  if (by === 'operator') {
    const active = await activeShardJobs(conns, runId);
    if (active > 0) throw new RollbackBusyError(runId, `${active} shard job(s) still in flight; cancel or pause the run and wait for them`);
  }
  if (!run.dry_run) await acquireScope(conns.db, runId, run.tenant, run.forced !== undefined);
  const from = by === 'operator' ? OPERATOR_ROLLBACK_STATES : predecessors('rolling_back');
  try {
    return await transitionRun(conns.db, runId, 'rolling_back', { from, reason: `rollback: ${reason}` });
  } catch (err) {
    // Another process (the monitor settling a stop, a second job) moved the run there between our read and our claim.
    if (!(err instanceof RunStateError)) throw err;
    const now = await getRun(conns.db, runId);
    if (now.state === 'rolling_back') return now;
    throw err;
  }
}

async function rollbackShard(conns: Connections, run: RunDoc, shard: ShardDoc, log: Logger): Promise<{ edges: number; tombstones: number }> {
  const doc = await manifestsColl(conns.db).findOne({ _id: shard._id });
  let result;
  try {
    if (!doc) throw new PayloadError(`${COLL.manifests}/${shard._id}`, 'no manifest');
    result = supersedesForGroups(checkManifest(doc));
  } catch (err) {
    // A broken manifest was refused by the worker before any write; the run_id sweep
    // below still catches anything of the run that is left.
    if (!(err instanceof PayloadError)) throw err;
    log.warn({ shard: shard.shard, err }, 'rollback: manifest unreadable, left to the run_id sweep');
    return { edges: 0, tombstones: 0 };
  }
  const batch = conns.cfg.deleteBatch;
  const edges = await deleteOwned(conns.db, COLL.supersedes, result.edges.map((e) => e._id), run._id, batch);
  const tombstones = await deleteOwned(conns.db, COLL.tombstones, result.tombstones.map((t) => t._id), run._id, batch);
  return { edges, tombstones };
}

/**
 * Delete what the run wrote; the run must already be `rolling_back`. Idempotent and
 * resumable. Throws RollbackBusyError (nothing done) while another rollback of the run
 * runs or BullMQ still holds shard jobs of it.
 */
export async function rollbackRun(conns: Connections, runId: string, log: Logger): Promise<RollbackResult> {
  const rlog = log.child({ run_id: runId });
  const lock = new LeaderLock(conns.sharedRedis(), `${conns.cfg.queuePrefix}:rollback:${runId}`, conns.cfg.lockDurationMs);
  if (!(await lock.tryAcquire())) throw new RollbackBusyError(runId, 'another rollback of this run is in progress');
  let lost = false;
  const keeper = lock.keep(() => (lost = true));
  try {
    const run = await getRun(conns.db, runId);
    if (run.state !== 'rolling_back') throw new RollbackBusyError(runId, `the run is ${run.state}, not rolling_back`);
    await syncDispatch(conns, runId, run.state);
    await withdrawQueued(conns, runId);
    const active = await activeShardJobs(conns, runId);
    if (active > 0) throw new RollbackBusyError(runId, `${active} shard job(s) still in flight`);
    for (const shard of await listShards(conns.db, runId)) {
      if (lost) throw new RollbackBusyError(runId, 'the rollback lock was lost');
      // A shard that never finished wrote nothing, or part of its write set under the run's
      // id if its attempt was cut short: the run_id sweep below removes that, at a fraction of
      // the cost of deleting every id its manifest names (most of the run, when it stopped early).
      if (shard.rolled_back || shard.state === 'pending') continue;
      // Marked first: a rollback killed in the middle of this shard leaves it visibly partial.
      await shardsColl(conns.db).updateOne({ _id: shard._id }, { $set: { rollback_started_at: new Date() } });
      const removed = await rollbackShard(conns, run, shard, rlog);
      await shardsColl(conns.db).updateOne({ _id: shard._id }, { $set: { rolled_back: removed, updated_at: new Date() } });
    }
    const swept = await sweepRun(conns.db, runId, conns.cfg.deleteBatch);
    const eventsRemoved = await deleteUnpublishedRunRows(conns.db, runId, conns.cfg.deleteBatch);
    if (swept.edges + swept.tombstones > 0) rlog.info(swept, 'rollback: swept the writes of unfinished shards (and any not named by a manifest)');
    const totals = { edges: swept.edges, tombstones: swept.tombstones };
    for (const s of await listShards(conns.db, runId)) {
      totals.edges += s.rolled_back?.edges ?? 0;
      totals.tombstones += s.rolled_back?.tombstones ?? 0;
    }
    const left = await countOwned(conns.db, runId);
    const rollback = { edges_removed: totals.edges, tombstones_removed: totals.tombstones, remaining: left, at: new Date() };
    if (left > 0) throw new RollbackIncompleteError(runId, `${COLL.supersedes}+${COLL.tombstones}?run_id=${runId}`, rollback);
    await transitionRun(conns.db, runId, 'rolled_back', { from: ['rolling_back'], reason: 'rollback verified: nothing of the run remains', set: { rollback, finished_at: new Date() } });
    await releaseScope(conns.db, runId);
    rlog.info({ ...rollback, events_removed: eventsRemoved }, 'run rolled back');
    return { run_id: runId, edges_removed: totals.edges, tombstones_removed: totals.tombstones, events_removed: eventsRemoved, remaining: 0 };
  } catch (err) {
    if (!(err instanceof RollbackBusyError)) await recordFailure(conns, runId, err, rlog);
    throw err;
  } finally {
    keeper.stop();
    await lock.release();
  }
}

async function recordFailure(conns: Connections, runId: string, err: unknown, log: Logger): Promise<void> {
  log.error({ err }, 'rollback failed');
  try {
    await transitionRun(conns.db, runId, 'failed', {
      from: ['rolling_back'],
      reason: 'rollback failed; run `lnm-backfill rollback` again once the cause is fixed',
      set: { rollback_error: { ...errorSummary(err), at: new Date() } },
    });
  } catch (recordErr) {
    log.error({ err: recordErr }, 'could not record the rollback failure on the run');
  }
}
