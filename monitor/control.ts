/**
 * Operator and monitor actions on a run: pause, resume, cancel, stop. The run state is
 * claimed first (core/store/runs.ts), then the run's queue is brought in line with it
 * (paused unless running; queued jobs withdrawn on cancel; unfinished shards queued again
 * on resume). The monitor's tick repeats the queue step, so a crash in between heals.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { activeShardJobs, registerRun, requeuePending, syncDispatch, withdrawQueued } from '../core/jobs.js';
import { getRun, transitionRun, type ErrorInfo, type RunDoc } from '../core/store/runs.js';
import { predecessors, RESUMABLE_STATES, type RunState } from '../core/store/run-status.js';
import { acquireScope } from '../core/store/scope-locks.js';
import { ProgressStore } from '../core/store/progress.js';
import { shardsColl } from '../core/store/shards.js';
import { RunStateError, type ErrorCode } from '../core/errors.js';

/** Wait until no shard of the run is in flight, up to `graceMs`; true when drained. */
export async function waitDrained(conns: Connections, runId: string, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if ((await activeShardJobs(conns, runId)) === 0) return true;
    if (Date.now() >= deadline) return false;
    await delay(Math.min(250, conns.cfg.pollIntervalMs));
  }
}

/** Claim a transition; when another process made the same one first, that is the outcome asked for. */
async function moveTo(conns: Connections, runId: string, to: RunState, from: readonly RunState[], reason: string): Promise<RunDoc> {
  try {
    return await transitionRun(conns.db, runId, to, { from, reason });
  } catch (err) {
    const run = await getRun(conns.db, runId);
    if (err instanceof RunStateError && run.state === to) return run;
    throw err;
  }
}

/** Settle a `pausing`/`cancelling` run once drained, or by force after the grace period. */
async function settle(conns: Connections, runId: string, from: RunState, to: RunState, force: boolean): Promise<RunDoc> {
  const drained = await waitDrained(conns, runId, conns.cfg.monitor.pauseGraceMs);
  if (!drained && !force) return getRun(conns.db, runId);
  return moveTo(conns, runId, to, [from], drained ? 'no shard in flight' : 'forced after grace period');
}

export async function pauseRun(conns: Connections, runId: string, opts: { force: boolean; reason?: string }): Promise<RunDoc> {
  let run = await getRun(conns.db, runId);
  if (run.state === 'paused') return run;
  if (run.state !== 'pausing') run = await moveTo(conns, runId, 'pausing', predecessors('pausing'), opts.reason ?? 'operator pause');
  await syncDispatch(conns, runId, run.state);
  return settle(conns, runId, 'pausing', 'paused', opts.force);
}

/**
 * Resume a paused, cancelled or failed run. Shards that failed, and shards a partial
 * rollback already undid, are redone: they are reset to pending (and taken out of the
 * progress counters) before the run's unfinished shards are queued again.
 */
export async function resumeRun(conns: Connections, runId: string, log: Logger): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (!(RESUMABLE_STATES as readonly RunState[]).includes(run.state)) throw new RunStateError(runId, run.state, 'running');
  if (!run.dry_run) await acquireScope(conns.db, runId, run.tenant, run.forced !== undefined);
  const progress = new ProgressStore(conns.sharedRedis(), conns.cfg.queuePrefix);
  const redo = await shardsColl(conns.db)
    .find({ run_id: runId }, { projection: { _id: 1, state: 1, rolled_back: 1, rollback_started_at: 1 } })
    .toArray();
  for (const s of redo) {
    if (s.state !== 'failed' && !s.rollback_started_at) continue;
    await shardsColl(conns.db).updateOne(
      { _id: s._id },
      { $set: { state: 'pending', updated_at: new Date() }, $unset: { error: '', counts: '', rolled_back: '', rollback_started_at: '' } },
    );
    await progress.reset(runId, s._id);
  }
  const updated = await transitionRun(conns.db, runId, 'running', { from: RESUMABLE_STATES, reason: 'operator resume' });
  await registerRun(conns, runId);
  await requeuePending(conns, runId, log);
  await syncDispatch(conns, runId, updated.state);
  return updated;
}

export async function cancelRun(conns: Connections, runId: string, opts: { force: boolean }): Promise<RunDoc> {
  let run = await getRun(conns.db, runId);
  if (run.state === 'cancelled') return run;
  if (run.state === 'planned') {
    run = await moveTo(conns, runId, 'cancelled', ['planned'], 'operator cancel before any shard ran');
    await syncDispatch(conns, runId, run.state);
    await withdrawQueued(conns, runId);
    return run;
  }
  if (run.state !== 'cancelling') run = await moveTo(conns, runId, 'cancelling', predecessors('cancelling'), 'operator cancel');
  await syncDispatch(conns, runId, run.state);
  await withdrawQueued(conns, runId);
  return settle(conns, runId, 'cancelling', 'cancelled', opts.force);
}

/**
 * Stop a run after an error (stop-on-error or a threshold breach): halt dispatch and keep
 * the original error. Never waits: the monitor's next ticks hand the run to its rollback
 * (or fail it) once no shard is in flight.
 */
export async function stopRun(conns: Connections, runId: string, error: ErrorInfo, log: Logger): Promise<RunDoc> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'stopping') return run;
  const stopped = await transitionRun(conns.db, runId, 'stopping', { from: predecessors('stopping'), reason: error.message, error });
  await syncDispatch(conns, runId, stopped.state);
  log.error({ error, rollback_on_stop: run.rollback_on_stop }, 'run stopped');
  return stopped;
}

export function stopError(code: ErrorCode, message: string): ErrorInfo {
  return { code, message, at: new Date() };
}
