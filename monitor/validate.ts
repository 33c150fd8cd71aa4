/**
 * `validate`: recompute the expected edges from `advisory_raw` (not from the shard
 * manifests the workers used) and compare with what `advisory_supersedes` holds.
 * The hashed part of the report has canonical key order and no wall-clock values,
 * so the same corpus and run parameters give the same SHA-256 on any machine.
 *
 * Bounded memory at any corpus size: the corpus streams advisory by advisory (the bundle
 * hash incrementally), expected and present edge lines go through external sorts (runs
 * spilled to temp files) and are compared in one merge that also computes the digest.
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { canonicalJson } from '../core/canonical-json.js';
import { COLL } from '../core/store/collections.js';
import { getRun, type RunDoc } from '../core/store/runs.js';
import { shardOutcomesInOrder, shardTotals, type ShardTotals } from '../core/store/shards.js';
import { edgeLine, orderedRevisions, rawIdKey, supersedesForAdvisory } from '../core/supersedes.js';
import { advisoryGroups, identityRows, type ScanOptions } from '../core/store/corpus-scan.js';
import { BundleHash } from '../core/store/corpus-hash.js';
import { compareUtf16, ExternalSorter } from '../core/external-sort.js';
import { compareEdgeLines } from './edge-compare.js';
import { SAMPLE_MAX as SAMPLE, type Check } from './report/check.js';
import { ChainChecker } from './report/chains.js';
import { hitRate, runChecks } from './report/run-checks.js';
import { ShardSampler, type ShardSampleLists } from './report/shard-samples.js';
import { expectedTombstone, latestRevision, tombstoneCheck } from './report/tombstones.js';


export interface ValidationReport {
  ok: boolean;
  corpus_sha256: string;
  run_parameters: { batch_size: number; dry_run: boolean; stop_on_error: boolean; tenant: string | null };
  documents: number;
  advisories: number;
  advisories_with_prior_conflict: number;
  edges: { expected: number; present: number; missing: number; extra: number; missing_sample: string[]; extra_sample: string[]; digest: string };
  tombstones: { expected: number; present: number };
  observations: { before: number; after: number };
  idempotency: { hits: number; attempts: number; hit_rate: number; clean_first_run: boolean };
  violations: number;
  errors: number;
  /** Every check in a fixed order: name, ok, counts, up to 20 samples. */
  checks: Check[];
  /** Names of the checks that failed (empty when ok). */
  failing_checks: string[];
}

export interface ValidationResult {
  run_id: string;
  report: ValidationReport;
  report_sha256: string;
}

/** The exact bytes of report.json; its SHA-256 is the report hash. */
export function reportBytes(report: ValidationReport): string {
  return `${canonicalJson(report, 2)}\n`;
}

/**
 * The samples of the count checks (violations, errors, shards not done), read from the
 * run's shard documents in shard order; nothing is read when the totals leave nothing to
 * sample (a clean run), and the reads stop once every list is full.
 */
export async function collectShardSamples(db: Db, run: Pick<RunDoc, '_id' | 'shards_total'>, totals: ShardTotals): Promise<ShardSampleLists> {
  const sampler = new ShardSampler(run._id);
  if (totals.counts.violations === 0 && totals.counts.errors === 0 && totals.pending === 0 && totals.failed === 0) return sampler.lists;
  for await (const s of shardOutcomesInOrder(db, run._id, run.shards_total)) {
    sampler.add(s);
    if (sampler.full) break;
  }
  return sampler.lists;
}

/** Validate a run; `scan` is the identity scan's order and temp-file options (`resolveScan`). */
export async function validateRun(db: Db, runId: string, scan: ScanOptions): Promise<ValidationResult> {
  const run = await getRun(db, runId);
  const totals = await shardTotals(db, runId);
  const samples = await collectShardSamples(db, run, totals);
  const sortOpts = { compare: compareUtf16, runRecords: scan.sortRunRows, ...(scan.sortDir ? { tmpDir: scan.sortDir } : {}) };
  const expected = new ExternalSorter<string>(sortOpts);
  const present = new ExternalSorter<string>(sortOpts);
  const tombExpected = new ExternalSorter<string>(sortOpts);
  const tombPresent = new ExternalSorter<string>(sortOpts);
  try {
    // Pass 1, advisory by advisory: counts, the bundle hash, the expected edge lines (to disk).
    const bundle = new BundleHash();
    let documents = 0;
    let advisories = 0;
    let conflicts = 0;
    for await (const g of advisoryGroups(identityRows(db, run, scan))) {
      documents += g.revisions.length;
      advisories++;
      if (g.revisions.length >= 2) conflicts++;
      bundle.add(g);
      const result = supersedesForAdvisory(g);
      for (const e of result.edges) {
        await expected.add(edgeLine({ ...e, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
      }
      for (const t of result.tombstones) await tombExpected.add(expectedTombstone(`${g.tenant}|${rawIdKey(t.raw_id)}`));
      const latest = orderedRevisions(g.revisions).kept.at(-1);
      if (latest) await tombExpected.add(latestRevision(`${g.tenant}|${rawIdKey(latest.raw_id)}`));
    }
    // Pass 2: the edges the store holds, unsorted, lines to disk.
    const tenantFilter = run.tenant ? { tenant: run.tenant } : {};
    const cursor = db.collection(COLL.supersedes).find(tenantFilter, {
      projection: { tenant: 1, vendor: 1, upstream_id: 1, 'older.content_hash': 1, 'newer.content_hash': 1, run_id: 1 },
    }).batchSize(2000);
    let otherRunEdges = 0;
    for await (const e of cursor) {
      if (e.run_id !== runId) otherRunEdges++;
      await present.add(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older?.content_hash, newer_hash: e.newer?.content_hash }));
    }
    // Pass 3: one merge of the two sorted streams.
    const chains = new ChainChecker();
    const edges = await compareEdgeLines(expected.sorted(), present.sorted(), SAMPLE, (line, exp, pre) => chains.line(line, exp, pre));
    // Pass 4: the tombstones the store holds against the expected ones (and the latest revisions).
    let tombstonesPresent = 0;
    for await (const t of db.collection(COLL.tombstones).find(tenantFilter, { projection: { tenant: 1, raw_id: 1 } }).batchSize(2000)) {
      tombstonesPresent++;
      await tombPresent.add(`${t.tenant}|${rawIdKey(t.raw_id)}`);
    }
    const tombstones = await tombstoneCheck(tombExpected.sorted(), tombPresent.sorted());
    const observationsAfter = await db.collection(COLL.observations).countDocuments({});
    const { idempotent_hits: hits, write_attempts: attempts, violations, errors } = totals.counts;
    const rate = hitRate(totals.counts);
    const checks = [
      ...runChecks({
        observations: { before: run.observations_before, after: observationsAfter },
        counts: totals.counts,
        shards: { planned: run.shards_total, done: totals.done, failed: totals.failed },
        other_run_edges: otherRunEdges,
        samples,
      }),
      ...chains.checks(),
      tombstones,
    ];
    const report: ValidationReport = {
      ok: false,
      corpus_sha256: bundle.digest(),
      run_parameters: { batch_size: run.batch_size, dry_run: run.dry_run, stop_on_error: run.stop_on_error, tenant: run.tenant },
      documents,
      advisories,
      advisories_with_prior_conflict: conflicts,
      edges,
      tombstones: { expected: edges.expected, present: tombstonesPresent },
      observations: { before: run.observations_before, after: observationsAfter },
      idempotency: { hits, attempts, hit_rate: rate, clean_first_run: rate < 0.001 },
      violations,
      errors,
      checks,
      failing_checks: checks.filter((c) => !c.ok).map((c) => c.name),
    };
    report.ok = report.failing_checks.length === 0;
    const report_sha256 = createHash('sha256').update(reportBytes(report)).digest('hex');
    return { run_id: runId, report, report_sha256 };
  } finally {
    await Promise.all([expected.dispose(), present.dispose(), tombExpected.dispose(), tombPresent.dispose()]);
  }
}
