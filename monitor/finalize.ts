/**
 * Settling a run whose shards are all done or failed: the totals are taken once, exactly,
 * from the shard documents; a run with failed shards fails (its first shard error kept);
 * a dry run succeeds with its counts; a real run goes to `validating` and its validation
 * is enqueued as a job (long work never runs inside a monitor tick). The validation job
 * then moves the run to succeeded or failed with the report hash.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { enqueueValidation } from '../core/jobs.js';
import { firstShardError, shardTotals } from '../core/store/shards.js';
import { getRun, transitionRun, type RunDoc } from '../core/store/runs.js';
import { RunStateError } from '../core/errors.js';
import { validateRun } from './validate.js';
import { resolveScan } from '../core/store/corpus-scan.js';

/** Settle the run if every shard is done or failed; null when it is not settled (or another process did it). */
export async function settleIfComplete(conns: Connections, run: RunDoc, log: Logger): Promise<RunDoc | null> {
  if (run.state !== 'running') return null;
  const t = await shardTotals(conns.db, run._id);
  if (t.done + t.failed < run.shards_total) return null;
  // Under --stop-on-error a failure or violation belongs to the monitor: stop (and roll back).
  if (run.stop_on_error && (t.failed > 0 || t.counts.violations > 0)) return null;
  const set = { counters: t.counts, tally: { done: t.done, failed: t.failed } };
  try {
    if (t.failed > 0) {
      const first = await firstShardError(conns.db, run._id);
      return await transitionRun(conns.db, run._id, 'failed', {
        from: ['running'],
        reason: `${t.failed} shard(s) failed`,
        set: { ...set, finished_at: new Date() },
        ...(first ? { error: first } : {}),
      });
    }
    if (run.dry_run) {
      await transitionRun(conns.db, run._id, 'validating', { from: ['running'], reason: 'dry run complete', set });
      return await transitionRun(conns.db, run._id, 'succeeded', { from: ['validating'], reason: 'dry run: nothing written', set: { finished_at: new Date() } });
    }
    const validating = await transitionRun(conns.db, run._id, 'validating', { from: ['running'], reason: 'all shards done', set });
    await enqueueValidation(conns, run._id);
    log.info({ run_id: run._id, shards: t.done }, 'all shards done; validation enqueued');
    return validating;
  } catch (err) {
    if (err instanceof RunStateError) return null; // another process settled it
    throw err;
  }
}

/** The validation job: validating -> succeeded | failed, with the report hash on the run. */
export async function runValidation(conns: Connections, runId: string, log: Logger): Promise<{ ok: boolean; sha256: string } | null> {
  const run = await getRun(conns.db, runId);
  if (run.state !== 'validating') return null; // settled already (a duplicate job, or an operator)
  const { report, report_sha256 } = await validateRun(conns.db, runId, await resolveScan(conns.db, conns.cfg.scan));
  const outcome = { ok: report.ok, sha256: report_sha256 };
  log.info({ run_id: runId, ok: report.ok, report_sha256, edges: report.edges.present }, 'run validated');
  await transitionRun(conns.db, runId, report.ok ? 'succeeded' : 'failed', {
    from: ['validating'],
    reason: report.ok ? 'validation passed' : 'validation found inconsistencies',
    set: { report: outcome, finished_at: new Date() },
    ...(report.ok
      ? {}
      : { error: { code: 'ERR_VALIDATION', message: `failing checks: ${report.failing_checks.join(', ')}`, at: new Date() } }),
  });
  return outcome;
}
