/**
 * The report of a dry run, for the evidence of the real run that followed it: the plan
 * (arguments and corpus bundle hash) and the counts a real run would write, from the dry
 * run's settled record alone. Like report.json it has canonical key order and neither a
 * run id nor a wall-clock value, so it can be rebuilt any time later with the same SHA-256
 * (a fresh validation could not: the real run has since written the edges).
 */
import { canonicalJson } from '../../core/canonical-json.js';
import type { RunDoc } from '../../core/store/runs.js';
import type { ShardCounts } from '../../core/store/shards.js';

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
  errors: number;
  state: RunDoc['state'];
}

export function dryRunReport(run: RunDoc, totals: { done: number; failed: number; counts: ShardCounts }): DryRunReport {
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
    errors: c.errors,
    state: run.state,
  };
}

export function dryRunReportBytes(report: DryRunReport): string {
  return `${canonicalJson(report, 2)}\n`;
}
