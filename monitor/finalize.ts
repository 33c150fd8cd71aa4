/**
 * Close a run whose shards have all settled: a dry run succeeds with its counts; a real
 * run is validated (validating → succeeded/failed, report hash on the run); a run with
 * failed shards fails with the first shard error preserved. Safe to call from several
 * processes: the state transition is compare-and-set, only one wins.
 */
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { errorSummary, RunStateError } from '../core/errors.js';
import { firstShardError } from '../core/store/shards.js';
import { transitionRun, updateRun, type RunDoc } from '../core/store/runs.js';
import { summarizeRun, type RunSummary } from '../core/store/summary.js';
import { validateRun } from './validate.js';

export function allSettled(s: RunSummary): boolean {
  return s.shards.total > 0 ? s.shards.done + s.shards.failed >= s.shards.total : s.run.state === 'running';
}

export async function finalizeIfComplete(db: Db, runId: string, log: Logger): Promise<RunDoc | null> {
  const summary = await summarizeRun(db, runId);
  if (summary.run.state !== 'running' || !allSettled(summary)) return null;
  const rlog = log.child({ run_id: runId });
  // Under --stop-on-error a failure or violation belongs to the monitor: stop and roll back.
  if (summary.run.stop_on_error && (summary.shards.failed > 0 || summary.counts.violations > 0)) return null;
  try {
    if (summary.shards.failed > 0) {
      const first = await firstShardError(db, runId);
      return await transitionRun(db, runId, 'failed', {
        from: ['running'],
        reason: `${summary.shards.failed} shard(s) failed`,
        set: { counters: summary.counts, finished_at: new Date() },
        ...(first ? { error: first } : {}),
      });
    }
    if (summary.run.dry_run) {
      return await transitionRun(db, runId, 'validating', { from: ['running'], reason: 'dry run complete', set: { counters: summary.counts } }).then(() =>
        transitionRun(db, runId, 'succeeded', { reason: 'dry run: nothing written', set: { finished_at: new Date() } }),
      );
    }
    await transitionRun(db, runId, 'validating', { from: ['running'], reason: 'all shards done', set: { counters: summary.counts } });
  } catch (err) {
    if (err instanceof RunStateError) return null; // another process finalized it
    throw err;
  }
  let validation;
  try {
    validation = await validateRun(db, runId);
  } catch (err) {
    rlog.error({ err }, 'validation could not run');
    return transitionRun(db, runId, 'failed', {
      reason: 'validation could not run; run `lnm-backfill validate` once the cause is fixed',
      set: { finished_at: new Date() },
      error: { ...errorSummary(err), at: new Date() },
    });
  }
  const { report, report_sha256 } = validation;
  await updateRun(db, runId, { report: { ok: report.ok, sha256: report_sha256 } });
  rlog.info({ ok: report.ok, report_sha256, edges: report.edges.present }, 'run validated');
  return transitionRun(db, runId, report.ok ? 'succeeded' : 'failed', {
    reason: report.ok ? 'validation passed' : 'validation found inconsistencies',
    set: { finished_at: new Date() },
    ...(report.ok ? {} : { error: { code: 'ERR_VALIDATION', message: `missing ${report.edges.missing}, extra ${report.edges.extra}, violations ${report.violations}`, at: new Date() } }),
  });
}
