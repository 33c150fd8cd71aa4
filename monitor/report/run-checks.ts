/**
 * The report's checks over counts (pure): observations, idempotency, violations, errors,
 * shards. Idempotency: on a clean first run (no edge of another run in scope) a hit rate of
 * 0.1 % or more fails — the writes should have been new; on a re-run over edges an earlier
 * run wrote, its hits (100 % over a finished run) are the idempotency proof, not a failure.
 * A failing violations, errors or shards check carries the samples read from the shard
 * documents (./shard-samples.ts).
 */
import type { ShardCounts } from '../../core/store/shards.js';
import { check, type Check } from './check.js';
import type { ShardSampleLists } from './shard-samples.js';

export const HIT_RATE_MAX = 0.001;

export interface RunCheckInput {
  observations: { before: number; after: number };
  counts: ShardCounts;
  shards: { planned: number; done: number; failed: number };
  /** Present edges in scope stamped by another run. */
  other_run_edges: number;
  /** Up to SAMPLE_MAX each, in shard order; a check shows its list only when it fails. */
  samples?: ShardSampleLists;
}

export type IdempotencyMode = 'first_run' | 'rerun';

export function idempotencyMode(otherRunEdges: number): IdempotencyMode {
  return otherRunEdges > 0 ? 'rerun' : 'first_run';
}

export function hitRate(c: Pick<ShardCounts, 'idempotent_hits' | 'write_attempts'>): number {
  return c.write_attempts > 0 ? c.idempotent_hits / c.write_attempts : 0;
}

export function runChecks(x: RunCheckInput): Check[] {
  const c = x.counts;
  const rate = hitRate(c);
  const rerun = idempotencyMode(x.other_run_edges) === 'rerun';
  const violationsOk = c.violations === 0;
  const errorsOk = c.errors === 0;
  const shardsOk = x.shards.done === x.shards.planned && x.shards.failed === 0;
  const s = x.samples ?? { violations: [], errors: [], shards: [] };
  return [
    check('observation_count', x.observations.before === x.observations.after, { before: x.observations.before, after: x.observations.after }),
    check(
      'idempotency',
      rerun || rate < HIT_RATE_MAX,
      { attempts: c.write_attempts, hits: c.idempotent_hits, hit_rate: rate, rerun: rerun ? 1 : 0, other_run_edges: x.other_run_edges },
      !rerun && rate >= HIT_RATE_MAX ? [`hit rate ${rate} >= ${HIT_RATE_MAX} on a clean first run`] : [],
    ),
    check('idempotency_violations', violationsOk, {
      violations: c.violations,
      content_differs: c.violations_content_differs,
      newer_raw_id_collision: c.violations_newer_raw_id_collision,
      older_raw_id_collision: c.violations_older_raw_id_collision,
      unique_index_collision: c.violations_unique_index_collision,
    }, violationsOk ? [] : s.violations),
    check('errors', errorsOk, { errors: c.errors }, errorsOk ? [] : s.errors),
    check('shards', shardsOk, { planned: x.shards.planned, done: x.shards.done, failed: x.shards.failed }, shardsOk ? [] : s.shards),
  ];
}
