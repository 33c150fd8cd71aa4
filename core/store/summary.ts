/**
 * A run's progress in O(1) reads whatever its size: the run (document + log entries) and
 * its counters in Redis (core/store/progress.ts). A settled run reports the exact totals
 * it recorded when it settled.
 */
import type { Connections } from '../connections.js';
import { getRun, type RunDoc } from './runs.js';
import { inGroup, TERMINAL_STATES } from './run-status.js';
import { ProgressStore } from './progress.js';
import { emptyCounts, type ShardCounts } from './shards.js';

export interface RunSummary {
  run: RunDoc;
  shards: { total: number; done: number; failed: number; pending: number };
  counts: ShardCounts;
  /** Done shards' docs per second since the run started. */
  docs_per_s: number | null;
  eta_s: number | null;
}

export async function summarizeRun(conns: Connections, runId: string, now = Date.now()): Promise<RunSummary> {
  const run = await getRun(conns.db, runId);
  const settled = inGroup(run.state, TERMINAL_STATES) && run.counters && run.tally;
  const p = settled
    ? { shards_done: run.tally!.done, shards_failed: run.tally!.failed, docs_done: run.counters!.docs, counts: { ...emptyCounts(), ...run.counters } }
    : await new ProgressStore(conns.sharedRedis(), conns.cfg.queuePrefix).read(conns.db, runId);
  const total = run.shards_total;
  const elapsedS = run.started_at ? ((run.finished_at?.getTime() ?? now) - run.started_at.getTime()) / 1000 : 0;
  const rate = elapsedS > 0 && p.docs_done > 0 ? p.docs_done / elapsedS : null;
  const remainingDocs = (run.snapshot?.docs ?? 0) - p.docs_done;
  return {
    run,
    shards: { total, done: p.shards_done, failed: p.shards_failed, pending: Math.max(0, total - p.shards_done - p.shards_failed) },
    counts: p.counts,
    docs_per_s: rate,
    eta_s: rate ? Math.max(0, remainingDocs / rate) : null,
  };
}
