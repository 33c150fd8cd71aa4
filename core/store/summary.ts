/** A run's progress, derived from its shards (the source of truth for counts). */
import type { Db } from 'mongodb';
import { getRun, type RunDoc } from './runs.js';
import { addCounts, emptyCounts, listShards, type ShardCounts } from './shards.js';

export interface RunSummary {
  run: RunDoc;
  shards: { total: number; done: number; failed: number; pending: number };
  counts: ShardCounts;
  /** Done shards' docs per second since the run started. */
  docs_per_s: number | null;
  eta_s: number | null;
}

export async function summarizeRun(db: Db, runId: string, now = Date.now()): Promise<RunSummary> {
  const run = await getRun(db, runId);
  const shards = await listShards(db, runId);
  let counts = emptyCounts();
  const tally = { total: run.shards_total, done: 0, failed: 0, pending: 0 };
  let docsDone = 0;
  for (const s of shards) {
    if (s.counts) counts = addCounts(counts, { ...emptyCounts(), ...s.counts });
    if (s.state === 'done') {
      tally.done++;
      docsDone += s.docs;
    } else if (s.state === 'failed') tally.failed++;
  }
  tally.pending = Math.max(0, tally.total - tally.done - tally.failed);
  const elapsedS = run.started_at ? (now - run.started_at.getTime()) / 1000 : 0;
  const rate = elapsedS > 0 && docsDone > 0 ? docsDone / elapsedS : null;
  const remainingDocs = (run.snapshot?.docs ?? 0) - docsDone;
  return {
    run,
    shards: tally,
    counts,
    docs_per_s: rate,
    eta_s: rate ? Math.max(0, remainingDocs / rate) : null,
  };
}
