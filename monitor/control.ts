/**
 * Operator and monitor actions on a run: pause, resume, cancel, stop (then rollback).
 * The run state is the switch every worker reads before it starts a shard; the queue
 * is brought in line (jobs withdrawn on cancel, rollback job enqueued on stop).
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { enqueueRollback, requeuePending, waitDrained } from '../core/jobs.js';
import { getRun, transitionRun, type ErrorInfo, type RunDoc } from '../core/store/runs.js';
import { predecessors, RESUMABLE_STATES, type RunState } from '../core/store/run-status.js';
import { listShards, shardsColl } from '../core/store/shards.js';
import { RunStateError, type ErrorCode } from '../core/errors.js';

/** Settle a `pausing`/`cancelling` run once drained, or by force after the grace period. */
async function settle(conns: Connections, runId: string, from: RunState, to: RunState, force: boolean): Promise<RunDoc> {
  const drained = await waitDrained(conns, runId, conns.cfg.monitor.pauseGraceMs);
  if (!drained && !force) return getRun(conns.db, runId);
  try {
    return await transitionRun(conns.db, runId, to, { from: [from], reason: drained ? 'no shard in flight' : 'forced after grace period' });
  } catch (err) {
    // The monitor may settle the run first: that is the outcome asked for.
    const run = await getRun(conns.db, runId);
    if (err instanceof RunStateError && run.state === to) return run;
    throw err;
  }
}

export async function pauseRun(conns: Connections, runId: string, opts: { force: boolean; reason?: string }): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'paused') return run;
  if (run.state !== 'pausing') {
    await transitionRun(conns.db, runId, 'pausing', { from: predecessors('pausing'), reason: opts.reason ?? 'operator pause' });
  }
  return settle(conns, runId, 'pausing', 'paused', opts.force);
}

export async function resumeRun(conns: Connections, runId: string, log: Logger): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'failed') {
    // Failed shards get another chance; without this the run would settle as failed at once.
    await shardsColl(conns.db).updateMany(
      { run_id: runId, state: 'failed' },
      { $set: { state: 'pending', updated_at: new Date() }, $unset: { error: '', counts: '' } },
    );
  }
  const updated = await transitionRun(conns.db, runId, 'running', { from: RESUMABLE_STATES, reason: 'operator resume' });
  // Deferred jobs come back by themselves; withdrawn or failed ones are enqueued again.
  if (run.state === 'cancelled' || run.state === 'failed') await requeuePending(conns, runId, log);
  return updated;
}

export async function cancelRun(conns: Connections, runId: string, opts: { force: boolean }): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'cancelled') return run;
  if (run.state !== 'cancelling') {
    await transitionRun(conns.db, runId, 'cancelling', { from: predecessors('cancelling'), reason: 'operator cancel' });
  }
  const queue = conns.queue('shards');
  for (const s of await listShards(conns.db, runId)) {
    if (s.state === 'done') continue;
    const job = await queue.getJob(s._id);
    if (!job) continue;
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await job.remove().catch(() => undefined);
  }
  return settle(conns, runId, 'cancelling', 'cancelled', opts.force);
}

/**
 * Stop a run after an error (stop-on-error or a threshold breach): halt dispatch,
 * keep the original error, let in-flight shards settle, then hand over to rollback.
 */
export async function stopRun(conns: Connections, runId: string, error: ErrorInfo, log: Logger): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state !== 'stopping') {
    await transitionRun(conns.db, runId, 'stopping', {
      from: predecessors('stopping'),
      reason: error.message,
      error,
    });
    log.error({ error }, 'run stopped: rolling back');
  }
  // Never roll back under a shard still writing: stay in `stopping`; the monitor's next
  // tick calls this again (a dead worker's shard is released when its lock expires).
  if (!(await waitDrained(conns, runId, conns.cfg.monitor.pauseGraceMs))) {
    log.warn('stopping: shards still in flight; rollback waits for them');
    return getRun(conns.db, runId);
  }
  // Enqueue first: a crash between the two steps must not leave a run with no rollback job
  // (the rollback worker accepts a run still in `stopping`).
  await enqueueRollback(conns, runId, error.code);
  try {
    return await transitionRun(conns.db, runId, 'rolling_back', { from: ['stopping'], reason: 'in-flight shards settled' });
  } catch (err) {
    if (err instanceof RunStateError) return getRun(conns.db, runId); // the rollback worker moved first
    throw err;
  }
}

export function stopError(code: ErrorCode, message: string): ErrorInfo {
  return { code, message, at: new Date() };
}
