/**
 * The evidence bundle of a run (DESIGN §5, the runbook's evidence step), written into one
 * folder: report.json (validation now), evidence.json (the run's exact command line and
 * arguments, bounds, hashes, counts, tool version and commit), the reports of the dry runs
 * whose approvals started the run (or, for a forced run, of the dry run of the same plan it
 * followed), the rejects files of the imports that fed its corpus, run-log.jsonl (every
 * entry of the run's log: transitions — throttle changes among them — shard attempts with
 * the process that did each, alerts, rollback records), the idempotency probe record of the
 * last preflight before the run (its SHA-256 is the "log hash"), the freeze-window proof
 * and the run's outbox counts in evidence.json, and SHA256SUMS over all of it.
 * `verifyFolder` (./sums.ts) re-checks a folder offline.
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Db } from 'mongodb';
import { canonicalJson } from '../../core/canonical-json.js';
import { externalSort } from '../../core/external-sort.js';
import { COLL } from '../../core/store/collections.js';
import { importsUpTo, type ImportDoc } from '../../core/store/imports.js';
import { outboxColl } from '../../core/store/outbox.js';
import { preflightBefore } from '../../core/store/preflights.js';
import { streamRunLog, type RunLogEntry } from '../../core/store/run-log.js';
import { getRun, runsColl, type RunDoc } from '../../core/store/runs.js';
import { planHash } from '../../core/store/approvals.js';
import type { ScanOptions } from '../../core/store/corpus-scan.js';
import { shardTotals } from '../../core/store/shards.js';
import type { ToolInfo } from '../../core/tool-info.js';
import type { FreezeWindowCheck } from '../freeze-window.js';
import { collectShardSamples, reportBytes, validateRun } from '../validate.js';
import { dryRunReport, dryRunReportBytes } from './dry-run-report.js';
import { EVIDENCE_FILE, folderSums, REPORT_FILE, sha256Hex, SUMS_FILE, sumsText } from './sums.js';

export const RUN_LOG_FILE = 'run-log.jsonl';
/** The idempotency probe's record as it was hashed: its SHA-256 is the probe's log hash. */
export const PROBE_FILE = 'idempotency-probe.json';

export interface EvidenceOptions {
  /** The folder to write (created; it must not hold files yet). */
  folder: string;
  tool: ToolInfo;
  /** The command line of this `evidence` invocation. */
  commandLine: string[];
  /** The identity scan's order for the validation (`resolveScan`). */
  scan: ScanOptions;
  /** The freeze-window proof of the run (it reads the event transport: the caller's). */
  freezeWindow: FreezeWindowCheck;
}

export interface EvidenceResult {
  folder: string;
  run_id: string;
  report_ok: boolean;
  report_sha256: string;
  corpus_sha256: string | null;
  idempotency_violations: number;
  errors: number;
  files: Array<{ file: string; sha256: string }>;
}

/** The distinct dry runs whose approvals let this run start. */
function approvedDryRuns(run: RunDoc): Map<string, Array<{ role: string; by: string; at: Date }>> {
  const out = new Map<string, Array<{ role: string; by: string; at: Date }>>();
  for (const a of run.start_gate?.approvals ?? []) {
    const list = out.get(a.dry_run_id) ?? [];
    list.push({ role: a.role, by: a.by, at: a.at });
    out.set(a.dry_run_id, list);
  }
  return out;
}

/**
 * A run that started without approvals (forced) still "follows" a dry run when one of the
 * same plan (arguments and corpus bundle hash) succeeded before it: the newest such one.
 */
async function samePlanDryRun(db: Db, run: RunDoc): Promise<string | null> {
  if (run.dry_run || !run.snapshot) return null;
  const plan = planHash(run.args, run.snapshot.corpus_sha256);
  let best: RunDoc | null = null;
  // One small document per run; the state is derived per candidate.
  for await (const { _id } of runsColl(db).find({ dry_run: true }, { projection: { _id: 1 } })) {
    const dry = await getRun(db, _id);
    if (dry.state !== 'succeeded' || !dry.snapshot || dry.created_at.getTime() > run.created_at.getTime()) continue;
    if (planHash(dry.args, dry.snapshot.corpus_sha256) !== plan) continue;
    if (!best || dry.created_at.getTime() > best.created_at.getTime()) best = dry;
  }
  return best?._id ?? null;
}

async function writeDryRuns(db: Db, run: RunDoc, folder: string) {
  const out = [];
  const followed = approvedDryRuns(run);
  if (followed.size === 0) {
    const same = await samePlanDryRun(db, run);
    if (same) followed.set(same, []);
  }
  for (const [id, approvals] of followed) {
    const dry = await getRun(db, id);
    const totals = await shardTotals(db, id);
    const samples = await collectShardSamples(db, dry, totals);
    const bytes = dryRunReportBytes(dryRunReport(dry, totals, samples.violations));
    const file = `dry-runs/${id}.report.json`;
    mkdirSync(path.join(folder, 'dry-runs'), { recursive: true });
    await writeFile(path.join(folder, file), bytes);
    out.push({ run_id: id, report_file: file, report_sha256: sha256Hex(bytes), command_line: dry.command_line, approvals });
  }
  return out;
}

async function copyRejects(imports: ImportDoc[], folder: string) {
  const out = [];
  for (const imp of imports) {
    let copy: string | null = null;
    if (imp.rejects_file && existsSync(imp.rejects_file)) {
      copy = `rejects/${imp._id}.rejects.jsonl`;
      mkdirSync(path.join(folder, 'rejects'), { recursive: true });
      await copyFile(imp.rejects_file, path.join(folder, copy));
    }
    const { _id, ...rest } = imp;
    out.push({ import_id: _id, ...rest, rejects_copy: copy, rejects_missing: imp.rejects_file !== null && copy === null });
  }
  return out;
}

/** Oldest first; entries of the same millisecond by id. */
function byTime(a: RunLogEntry, b: RunLogEntry): number {
  return a.at.getTime() - b.at.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
}

/**
 * The run's log, oldest first, in bounded memory: sorted externally like the corpus scan
 * (a run of a million documents logs tens of thousands of entries) and streamed to the file.
 * `by` holds one name per process that wrote to the log.
 */
async function writeRunLog(db: Db, runId: string, folder: string, scan: ScanOptions): Promise<{ entries: number; by: string[] }> {
  let entries = 0;
  const by = new Set<string>();
  const sorted = externalSort(streamRunLog(db, runId), { compare: byTime, runRecords: scan.sortRunRows, ...(scan.sortDir ? { tmpDir: scan.sortDir } : {}) });
  async function* lines() {
    for await (const e of sorted) {
      entries++;
      by.add(e.by);
      yield `${canonicalJson(e)}\n`;
    }
  }
  await pipeline(Readable.from(lines()), createWriteStream(path.join(folder, RUN_LOG_FILE)));
  return { entries, by: [...by].sort() };
}

/** The run's outbox rows (the downstream replays its freeze held back), by fate: one pass over them. */
async function outboxCounts(db: Db, runId: string) {
  const out = { rows: 0, pending: 0, published_to_stream: 0, published_to_blackhole: 0, dead_lettered: 0 };
  for await (const r of outboxColl(db).find({ run_id: runId }, { projection: { _id: 0, pending: 1, published_to: 1 } })) {
    out.rows++;
    if (r.pending) out.pending++;
    if (r.published_to === 'stream') out.published_to_stream++;
    if (r.published_to === 'blackhole') out.published_to_blackhole++;
  }
  out.dead_lettered = await db.collection(COLL.deadLetters).countDocuments({ 'row.run_id': runId });
  return out;
}

/** The newest preflight before the run started, and its probe record as a file of the folder. */
async function writePreflight(db: Db, run: RunDoc, folder: string) {
  const p = await preflightBefore(db, run.started_at ?? run.created_at);
  if (!p) return null;
  await writeFile(path.join(folder, PROBE_FILE), canonicalJson(p.probe.record));
  return {
    preflight_id: p._id,
    at: p.at,
    ok: p.ok,
    failing_checks: p.failing_checks,
    by: p.by,
    idempotency_index_verified: p.probe.ok,
    probe_log_sha256: p.probe.sha256,
    probe_file: PROBE_FILE,
  };
}

export async function writeEvidence(db: Db, runId: string, opts: EvidenceOptions): Promise<EvidenceResult> {
  const { folder } = opts;
  const run = await getRun(db, runId);
  const validation = await validateRun(db, runId, opts.scan);
  const totals = await shardTotals(db, runId);
  await writeFile(path.join(folder, REPORT_FILE), reportBytes(validation.report));
  const dryRuns = await writeDryRuns(db, run, folder);
  const imports = await copyRejects(await importsUpTo(db, run.snapshot_bound), folder);
  const log = await writeRunLog(db, runId, folder, opts.scan);
  const preflight = await writePreflight(db, run, folder);
  const corpus = run.snapshot?.corpus_sha256 ?? null;
  const evidence = {
    format: 'lnm-backfill-evidence/1',
    run_id: run._id,
    dry_run: run.dry_run,
    state: run.state,
    state_reason: run.state_reason ?? null,
    command_line: run.command_line,
    args: run.args,
    created_at: run.created_at,
    started_at: run.started_at ?? run.created_at,
    finished_at: run.finished_at ?? null,
    snapshot_bound: run.snapshot_bound,
    corpus_sha256: corpus,
    report_file: REPORT_FILE,
    report_sha256: validation.report_sha256,
    report_ok: validation.report.ok,
    failing_checks: validation.report.failing_checks,
    /** What the run's own validation job recorded (null when it was never validated). */
    run_report_sha256: run.report?.sha256 ?? null,
    idempotency_violations: totals.counts.violations,
    errors: totals.counts.errors,
    counters: totals.counts,
    shards: { planned: run.shards_total, done: totals.done, failed: totals.failed, pending: totals.pending },
    error: run.error ?? null,
    alerts: run.alerts_raised,
    start_gate: run.start_gate ?? null,
    forced: run.forced ?? null,
    dry_runs: dryRuns,
    preflight,
    freeze_window: opts.freezeWindow,
    outbox: await outboxCounts(db, runId),
    imports,
    run_log: { file: RUN_LOG_FILE, entries: log.entries, written_by: log.by },
    tool: opts.tool,
    evidence: { command_line: opts.commandLine, created_at: new Date(), host: hostname() },
  };
  await writeFile(path.join(folder, EVIDENCE_FILE), `${canonicalJson(evidence, 2)}\n`);
  const files = await folderSums(folder);
  await writeFile(path.join(folder, SUMS_FILE), sumsText(files));
  return {
    folder,
    run_id: run._id,
    report_ok: validation.report.ok,
    report_sha256: validation.report_sha256,
    corpus_sha256: corpus,
    idempotency_violations: totals.counts.violations,
    errors: totals.counts.errors,
    files,
  };
}
