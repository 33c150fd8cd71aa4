/**
 * The report of a dry run, for the evidence of the real run that followed it: the plan
 * (arguments and corpus bundle hash) and the counts a real run would write, from the dry
 * run's settled record and its shard documents. Like report.json it has canonical key order and neither a
 * run id nor a wall-clock value, so it can be rebuilt any time later with the same SHA-256
 * (a fresh validation could not: the real run has since written the edges). It says which
 * violations the dry run found and why: their count by reason and up to SAMPLE_MAX of them
 * (`shard N: <reason> <_id>`, in shard order, from the shards' recorded samples).
 */
import { canonicalJson } from '../../core/canonical-json.js';
import type { RunDoc } from '../../core/store/runs.js';
import type { ShardCounts } from '../../core/store/shards.js';
import { SAMPLE_MAX } from '../report/check.js';

export interface DryRunReport {
  kind: 'dry-run';
  run_parameters: { batch_size: number; dry_run: boolean; stop_on_error: boolean; tenant: string | null };
  corpus_sha256: string | null;
  documents: number | null;
  advisories: number | null;
  shards: { planned: number; done: number; failed: number };
  would_insert: { edges: number; tombstones: number };
  idempotency: { hits: number; attempts: number };
  violations: number;
  violations_by_reason: { content_differs: number; newer_raw_id_collision: number; older_raw_id_collision: number; unique_index_collision: number };
  violation_sample: string[];
  errors: number;
  state: RunDoc['state'];
}

/** `violationSample`: the dry run's violations as the validation report lists them (`collectShardSamples`). */
export function dryRunReport(run: RunDoc, totals: { done: number; failed: number; counts: ShardCounts }, violationSample: readonly string[]): DryRunReport {
  const c = run.counters ?? totals.counts;
  return {
    kind: 'dry-run',
    run_parameters: { batch_size: run.batch_size, dry_run: run.dry_run, stop_on_error: run.stop_on_error, tenant: run.tenant },
    corpus_sha256: run.snapshot?.corpus_sha256 ?? null,
    documents: run.snapshot?.docs ?? null,
    advisories: run.snapshot?.advisories ?? null,
    shards: { planned: run.shards_total, done: run.tally?.done ?? totals.done, failed: run.tally?.failed ?? totals.failed },
    would_insert: { edges: c.edges_inserted, tombstones: c.tombstones_inserted },
    idempotency: { hits: c.idempotent_hits, attempts: c.write_attempts },
    violations: c.violations,
    // `?? 0`: counters settled before the counts by reason existed lack them.
    violations_by_reason: {
      content_differs: c.violations_content_differs ?? 0,
      newer_raw_id_collision: c.violations_newer_raw_id_collision ?? 0,
      older_raw_id_collision: c.violations_older_raw_id_collision ?? 0,
      unique_index_collision: c.violations_unique_index_collision ?? 0,
    },
    violation_sample: violationSample.slice(0, SAMPLE_MAX),
    errors: c.errors,
    state: run.state,
  };
}

export function dryRunReportBytes(report: DryRunReport): string {
  return `${canonicalJson(report, 2)}\n`;
}
