/**
 * What the monitor does for one run on one tick, by state. Every step is a bounded number
 * of reads (the run, its counters in Redis, its queue's counts) and never waits: work
 * that takes long (validation, rollback) runs as jobs; a state that needs something to
 * finish is looked at again next tick. Each non-terminal state has a way forward here:
 *   planned      its producer died (no heartbeat)      -> failed (resumable: start --resume)
 *   running      shards settled                        -> validating / failed
 *                stop-on-error or a threshold breach   -> stopping
 *                lag or load                           -> throttled (and back, hysteresis)
 *                jobs lost (queue idle, not settled)   -> counters rebuilt, shards requeued
 *   pausing      nothing in flight                     -> paused
 *   cancelling   nothing in flight                     -> cancelled
 *   stopping     nothing in flight                     -> rolling_back (job enqueued) / failed
 *   validating   no validation job / job failed / late -> job enqueued / failed
 *   rolling_back no rollback job                       -> job enqueued
 * and the run's queue is kept paused unless the run is running.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { enqueueRollback, enqueueValidation, queuedShardJobs, activeShardJobs, requeuePending, syncDispatch } from '../core/jobs.js';
import { rollbackJobId, validateJobId } from '../core/contract.js';
import { claimAlert, transitionRun, type RunDoc } from '../core/store/runs.js';
import { firstShardError } from '../core/store/shards.js';
import { ProgressStore } from '../core/store/progress.js';
import { summarizeRun } from '../core/store/summary.js';
import type { Alerter } from './alerts.js';
import { stopError, stopRun } from './control.js';
import { decideAlerts, decideStop, decideThrottle, type ProbeSample } from './decisions.js';
import { settleIfComplete } from './finalize.js';

export interface TickContext {
  conns: Connections;
  log: Logger;
  alerter: Alerter;
  sample: ProbeSample;
  /** Is a producer still planning this run (its heartbeat key exists)? */
  planning(runId: string): Promise<boolean>;
}

const age = (run: RunDoc): number => Date.now() - run.updated_at.getTime();

async function tickRunning(ctx: TickContext, run: RunDoc, log: Logger): Promise<void> {
  const { conns } = ctx;
  const s = await summarizeRun(conns, run._id);
  const d = decideStop(conns.cfg.monitor, run, { settled: s.shards.done + s.shards.failed, failed: s.shards.failed, violations: s.counts.violations });
  if (d.stop) {
    const error = (await firstShardError(conns.db, run._id)) ?? stopError(d.code ?? 'ERR_STOP', d.reason ?? 'stop requested');
    log.error({ code: d.code, reason: d.reason, first_error: error }, 'stopping run');
    await stopRun(conns, run._id, error, log);
    return;
  }
  if (run.state === 'running' || run.state === 'throttled') {
    const t = decideThrottle(conns.cfg.monitor, run.state === 'throttled', ctx.sample);
    if (t.throttle && run.state === 'running') {
      const r = await transitionRun(conns.db, run._id, 'throttled', { from: ['running'], reason: t.reasons.join('; '), set: { throttle_reasons: t.reasons } });
      await syncDispatch(conns, run._id, r.state);
      log.warn({ reasons: t.reasons }, 'run throttled');
      return;
    }
    if (!t.throttle && run.state === 'throttled') {
      const r = await transitionRun(conns.db, run._id, 'running', { from: ['throttled'], reason: 'below resume thresholds', set: { throttle_reasons: [] } });
      await syncDispatch(conns, run._id, r.state);
      log.info('run resumed after throttling');
      return;
    }
  }
  if (run.state !== 'running') return;
  if (s.shards.done + s.shards.failed >= s.shards.total) {
    await settleIfComplete(conns, run, log);
    return;
  }
  // Nothing queued or in flight, yet not settled: jobs were lost (Redis flushed, a job
  // removed, failed for good while no monitor ran) or counters missed a shard. Repair.
  if ((await queuedShardJobs(conns, run._id)) === 0) {
    await new ProgressStore(conns.sharedRedis(), conns.cfg.queuePrefix).rebuild(conns.db, run._id);
    if (!(await settleIfComplete(conns, run, log))) await requeuePending(conns, run._id, log);
  }
}

async function raiseAlerts(ctx: TickContext, run: RunDoc): Promise<void> {
  const runtimeS = run.started_at ? (Date.now() - run.started_at.getTime()) / 1000 : 0;
  for (const alert of decideAlerts(ctx.conns.cfg.monitor, { runtimeS, lag: ctx.sample.lag, raised: new Set(run.alerts_raised) })) {
    if (await claimAlert(ctx.conns.db, run._id, alert.code, alert.message)) await ctx.alerter.raise(run._id, alert);
  }
}

/** Is the job with this id missing, failed for good, or finished without moving the run on? */
async function jobGone(conns: Connections, queue: 'rollback' | 'validate', jobId: string): Promise<boolean> {
  const job = await conns.queue(queue).getJob(jobId);
  if (!job) return true;
  const state = await job.getState();
  return state === 'failed' || state === 'completed' || state === 'unknown';
}

export async function tickRun(ctx: TickContext, run: RunDoc): Promise<void> {
  const { conns } = ctx;
  const log = ctx.log.child({ run_id: run._id });
  const m = conns.cfg.monitor;
  if (run.state !== 'planned') await syncDispatch(conns, run._id, run.state);
  switch (run.state) {
    case 'planned':
      if (age(run) > conns.cfg.planStaleMs && !(await ctx.planning(run._id))) {
        await transitionRun(conns.db, run._id, 'failed', {
          from: ['planned'],
          reason: `planning interrupted: no heartbeat from its producer for over ${conns.cfg.planStaleMs} ms; run \`lnm-backfill start --resume <run>\``,
          error: stopError('ERR_PLANNING_INTERRUPTED', 'the producer stopped before the run was planned'),
        });
      }
      return;
    case 'running':
    case 'throttled':
    case 'paused':
      await raiseAlerts(ctx, run);
      await tickRunning(ctx, run, log);
      return;
    case 'pausing':
    case 'cancelling':
      if ((await activeShardJobs(conns, run._id)) === 0) {
        await transitionRun(conns.db, run._id, run.state === 'pausing' ? 'paused' : 'cancelled', { from: [run.state], reason: 'no shard in flight' });
      }
      return;
    case 'stopping':
      if ((await activeShardJobs(conns, run._id)) > 0) return; // in-flight shards settle first
      if (run.rollback_on_stop) {
        await enqueueRollback(conns, run._id, run.error?.code ?? 'ERR_STOP');
        await transitionRun(conns.db, run._id, 'rolling_back', { from: ['stopping'], reason: 'in-flight shards settled; rolling back' });
      } else {
        await transitionRun(conns.db, run._id, 'failed', { from: ['stopping'], reason: 'stopped; no rollback requested (run `lnm-backfill rollback` to undo)', set: { finished_at: new Date() } });
      }
      return;
    case 'validating':
      if (age(run) > m.validateTimeoutMs) {
        await transitionRun(conns.db, run._id, 'failed', {
          from: ['validating'],
          reason: 'validation did not finish in time; run `lnm-backfill validate <run>`',
          error: stopError('ERR_VALIDATION_TIMEOUT', `no validation result after ${m.validateTimeoutMs} ms`),
          set: { finished_at: new Date() },
        });
      } else if (await jobGone(conns, 'validate', validateJobId(run._id))) await enqueueValidation(conns, run._id);
      return;
    case 'rolling_back':
      if (await jobGone(conns, 'rollback', rollbackJobId(run._id))) await enqueueRollback(conns, run._id, 'rollback resumed by the monitor');
      return;
    default:
      return;
  }
}
