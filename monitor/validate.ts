/**
 * `validate`: recompute the expected edges from `advisory_raw` (not from the shard
 * manifests the workers used) and compare with what `advisory_supersedes` holds.
 * The hashed part of the report has canonical key order and no wall-clock values,
 * so the same corpus and run parameters give the same SHA-256 on any machine.
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { canonicalJson } from '../core/canonical-json.js';
import { COLL } from '../core/store/collections.js';
import { getRun } from '../core/store/runs.js';
import { shardTotals } from '../core/store/shards.js';
import { edgeDigest, edgeLine, supersedesForAdvisory, type AdvisoryGroup } from '../core/supersedes.js';
import { bundleLines, identityCursor, identityRow } from '../core/store/corpus-scan.js';

const SAMPLE = 10;

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
}

export interface ValidationResult {
  run_id: string;
  report: ValidationReport;
  report_sha256: string;
}

function diff(a: Set<string>, b: Set<string>): string[] {
  const out: string[] = [];
  for (const x of a) if (!b.has(x)) out.push(x);
  return out.sort();
}

/** The exact bytes of report.json; its SHA-256 is the report hash. */
export function reportBytes(report: ValidationReport): string {
  return `${canonicalJson(report, 2)}\n`;
}

export async function validateRun(db: Db, runId: string): Promise<ValidationResult> {
  const run = await getRun(db, runId);
  const totals = await shardTotals(db, runId);
  const groups = new Map<string, AdvisoryGroup>();
  let documents = 0;
  for await (const d of identityCursor(db, run)) {
    const r = identityRow(d);
    const key = `${r.tenant}|${r.vendor}|${r.upstream_id}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { tenant: r.tenant, vendor: r.vendor, upstream_id: r.upstream_id, revisions: [] }));
    g.revisions.push({ raw_id: r.raw_id, fetched_at: r.fetched_at, content_hash: r.content_hash });
    documents++;
  }
  const expected = new Set<string>();
  const bundle: string[] = [];
  let conflicts = 0;
  for (const g of groups.values()) {
    if (g.revisions.length >= 2) conflicts++;
    bundle.push(...bundleLines(g));
    for (const e of supersedesForAdvisory(g).edges) {
      expected.add(edgeLine({ ...e, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
    }
  }
  bundle.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const tenantFilter = run.tenant ? { tenant: run.tenant } : {};
  const present = new Set<string>();
  const cursor = db.collection(COLL.supersedes).find(tenantFilter, {
    projection: { tenant: 1, vendor: 1, upstream_id: 1, 'older.content_hash': 1, 'newer.content_hash': 1 },
  });
  for await (const e of cursor) {
    present.add(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older?.content_hash, newer_hash: e.newer?.content_hash }));
  }
  const missing = diff(expected, present);
  const extra = diff(present, expected);
  const tombstonesPresent = await db.collection(COLL.tombstones).countDocuments(tenantFilter);
  const observationsAfter = await db.collection(COLL.observations).countDocuments({});
  const { idempotent_hits: hits, write_attempts: attempts, violations, errors } = totals.counts;
  const hitRate = attempts > 0 ? hits / attempts : 0;
  const report: ValidationReport = {
    ok: false,
    corpus_sha256: createHash('sha256').update(bundle.join('')).digest('hex'),
    run_parameters: { batch_size: run.batch_size, dry_run: run.dry_run, stop_on_error: run.stop_on_error, tenant: run.tenant },
    documents,
    advisories: groups.size,
    advisories_with_prior_conflict: conflicts,
    edges: {
      expected: expected.size,
      present: present.size,
      missing: missing.length,
      extra: extra.length,
      missing_sample: missing.slice(0, SAMPLE),
      extra_sample: extra.slice(0, SAMPLE),
      digest: edgeDigest(present),
    },
    tombstones: { expected: expected.size, present: tombstonesPresent },
    observations: { before: run.observations_before, after: observationsAfter },
    idempotency: { hits, attempts, hit_rate: hitRate, clean_first_run: hitRate < 0.001 },
    violations,
    errors,
  };
  report.ok =
    missing.length === 0 &&
    extra.length === 0 &&
    tombstonesPresent === expected.size &&
    violations === 0 &&
    errors === 0 &&
    run.observations_before === observationsAfter;
  const report_sha256 = createHash('sha256').update(reportBytes(report)).digest('hex');
  return { run_id: runId, report, report_sha256 };
}
