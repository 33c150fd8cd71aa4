/**
 * Rollback of one run (DESIGN §4): driven by the run's manifests, delete every edge and
 * tombstone the run would have written, only where `run_id` matches (what another run
 * inserted first stays). Shard by shard, checkpointed, so a crash resumes where it
 * stopped. A final `run_id` scan proves nothing of the run remains.
 */
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { COLL } from '../core/store/collections.js';
import { deleteUnpublishedRunRows } from '../core/store/outbox.js';
import { getRun, transitionRun, updateRun, type RunDoc } from '../core/store/runs.js';
import { checkManifest, getShard, listShards, shardsColl } from '../core/store/shards.js';
import { supersedesForGroups } from '../core/supersedes.js';
import { errorSummary, LnmError, PayloadError } from '../core/errors.js';
import type { IdDoc } from './idempotent-write.js';

export interface RollbackResult {
  run_id: string;
  edges_removed: number;
  tombstones_removed: number;
  /** The run's outbox rows not yet published (published events cannot be taken back). */
  events_removed: number;
  remaining: number;
}

async function deleteByIds(db: Db, coll: string, ids: string[], runId: string, chunk: number): Promise<number> {
  let removed = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const ops = ids.slice(i, i + chunk).map((_id) => ({ deleteOne: { filter: { _id, run_id: runId } } }));
    if (ops.length > 0) removed += (await db.collection<IdDoc>(coll).bulkWrite(ops, { ordered: false })).deletedCount;
  }
  return removed;
}

/** Delete what the run wrote; the run must already be in `rolling_back`. Idempotent. */
export async function rollbackRun(db: Db, runId: string, log: Logger, deleteBatch: number): Promise<RollbackResult> {
  const rlog = log.child({ run_id: runId });
  const run = await getRun(db, runId);
  const prev = run.rollback ?? { edges_removed: 0, tombstones_removed: 0 };
  let edges = prev.edges_removed;
  let tombstones = prev.tombstones_removed;
  try {
    const shards = (await listShards(db, runId)).filter((s) => !s.rolled_back).sort((a, b) => a.shard - b.shard);
    for (const summary of shards) {
      const shard = await getShard(db, summary._id);
      if (!shard) continue;
      let result;
      try {
        result = supersedesForGroups(checkManifest(shard));
      } catch (err) {
        // A broken manifest was refused by the worker before any write; the sweep
        // below still catches anything of the run that is left.
        if (!(err instanceof PayloadError)) throw err;
        rlog.warn({ shard: shard.shard, err }, 'rollback: manifest unreadable, left to the run_id sweep');
        continue;
      }
      edges += await deleteByIds(db, COLL.supersedes, result.edges.map((e) => e._id), runId, deleteBatch);
      tombstones += await deleteByIds(db, COLL.tombstones, result.tombstones.map((t) => t._id), runId, deleteBatch);
      // Counters before the shard's flag: a crash in between recounts nothing twice or never.
      await updateRun(db, runId, { rollback: { edges_removed: edges, tombstones_removed: tombstones, remaining: -1, at: new Date() } });
      await shardsColl(db).updateOne({ _id: shard._id }, { $set: { rolled_back: true, updated_at: new Date() } });
    }
    const eventsRemoved = await deleteUnpublishedRunRows(db, runId);
    // The proof: a run_id scan of both collections. Leftovers (a shard whose manifest
    // could not be read) are swept by run_id, which touches no other run's documents.
    const count = async () =>
      (await db.collection(COLL.supersedes).countDocuments({ run_id: runId })) +
      (await db.collection(COLL.tombstones).countDocuments({ run_id: runId }));
    if ((await count()) > 0) {
      edges += (await db.collection(COLL.supersedes).deleteMany({ run_id: runId })).deletedCount;
      tombstones += (await db.collection(COLL.tombstones).deleteMany({ run_id: runId })).deletedCount;
      rlog.warn({ edges_removed: edges, tombstones_removed: tombstones }, 'rollback: swept documents not named by a manifest');
    }
    const remaining = await count();
    const rollback = { edges_removed: edges, tombstones_removed: tombstones, remaining, at: new Date() };
    if (remaining > 0) {
      throw new LnmError('ERR_ROLLBACK_INCOMPLETE', `run ${runId}: ${remaining} document(s) of the run remain after rollback`, {
        path: `${COLL.supersedes}+${COLL.tombstones}?run_id=${runId}`,
        details: rollback,
      });
    }
    await transitionRun(db, runId, 'rolled_back', { reason: 'rollback verified: nothing of the run remains', set: { rollback, finished_at: new Date() } });
    rlog.info({ ...rollback, events_removed: eventsRemoved }, 'run rolled back');
    return { run_id: runId, edges_removed: edges, tombstones_removed: tombstones, events_removed: eventsRemoved, remaining: 0 };
  } catch (err) {
    rlog.error({ err }, 'rollback failed');
    try {
      const current = await getRun(db, runId);
      if (current.state === 'rolling_back') {
        await transitionRun(db, runId, 'failed', {
          reason: 'rollback failed',
          set: { rollback_error: { ...errorSummary(err), at: new Date() } },
        });
      }
    } catch (recordErr) {
      rlog.error({ err: recordErr }, 'could not record the rollback failure on the run');
    }
    throw err;
  }
}

/** Put the run in `rolling_back` (from a finished, failed or cancelled run); no-op if it already is. */
export async function beginRollback(db: Db, runId: string, reason: string): Promise<RunDoc> {
  const run = await getRun(db, runId);
  if (run.state === 'rolling_back') return run;
  return transitionRun(db, runId, 'rolling_back', { from: ['succeeded', 'failed', 'cancelled', 'stopping'], reason: `rollback: ${reason}` });
}
