/**
 * What the tests compare against: the rustsec corpus's expected figures, the CLI's
 * `--json` shapes, an independent expected-edges computation over `advisory_raw`, a
 * content hash of every `advisory_*` collection, and a way to drive a run to its end.
 *
 * The expected-edges computation deliberately does NOT use core/supersedes.ts: it
 * re-derives the DESIGN §3 rule from the raw documents so the tests have an oracle
 * that does not share code with the implementation under test.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Db, Document } from 'mongodb';
import { canonicalJson } from '../../core/canonical-json.js';
import { ADVISORY_COLLECTIONS, COLL } from '../../core/store/collections.js';
import { inGroup, TERMINAL_STATES } from '../../core/store/run-status.js';
import { summarizeRun, type RunSummary } from '../../core/store/summary.js';
import type { Connections } from '../../core/connections.js';
import { Monitor } from '../../monitor/monitor.js';
import { runValidation, settleIfComplete } from '../../monitor/finalize.js';
import { getRun, type RunDoc } from '../../core/store/runs.js';
import { pollUntil, quietLog, RUSTSEC_EXPECTED } from './env.js';

export interface RustsecExpected {
  total_documents: number;
  distinct_upstream_ids: number;
  chain_length_histogram: Record<string, number>;
  accepted_documents_after_duplicate_drop: number;
  duplicate_hash_revisions: number;
  expected_supersedes_edges: number;
  edges_sha256_oracle_format: string;
}

export function rustsecExpected(): RustsecExpected {
  return JSON.parse(readFileSync(RUSTSEC_EXPECTED, 'utf8')) as RustsecExpected;
}

/** The `--json` shapes of the CLI commands used here. */
export interface ImportJson {
  accepted: number;
  duplicates: number;
  out_of_order_duplicates: number;
  out_of_order_sample: Array<Record<string, unknown>>;
  rejected: Record<string, number>;
}
export interface RunJson {
  run_id: string;
  state: string;
  dry_run: boolean;
  shards: number;
  docs: number;
  edges_inserted: number;
  tombstones_inserted: number;
  idempotent_hits: number;
  violations: number;
  errors: number;
  error?: unknown;
}
export interface ValidateJson {
  ok: boolean;
  edges: { expected: number; present: number; missing: number; extra: number; digest: string; missing_sample: string[]; extra_sample: string[] };
  observations: { before: number; after: number };
  report_sha256: string;
  report: { documents: number; tombstones: { expected: number; present: number }; violations: number; errors: number };
}
export interface SeedJson {
  file: string;
  docs: number;
  import?: ImportJson;
}

/**
 * Drive a run to a terminal state the way `start --wait` does (a monitor in this process
 * settles and validates it), with workers running elsewhere. Returns the final summary.
 */
export async function driveToEnd(conns: Connections, runId: string, timeoutMs = 150_000): Promise<RunSummary> {
  const monitor = new Monitor(conns, quietLog);
  await monitor.start();
  try {
    return await pollUntil(
      async () => {
        const s = await summarizeRun(conns, runId);
        return inGroup(s.run.state, TERMINAL_STATES) ? s : null;
      },
      `run ${runId} to finish`,
      timeoutMs,
      200,
    );
  } finally {
    await monitor.close();
  }
}

export interface IndependentEdges {
  documents: number;
  advisories: number;
  /** Sum over advisories of (distinct content hashes − 1). */
  edges: number;
  /** sha256 over the sorted `tenant|vendor|upstream_id|older_hash|newer_hash\n` lines. */
  digest: string;
}

/**
 * Expected edges straight from `advisory_raw` (DESIGN §3, re-derived here): group by
 * (tenant, vendor, upstream_id); order by (fetched_at, content_hash); drop a later
 * repeat of a content hash; each consecutive pair is one edge.
 */
export async function independentEdges(db: Db): Promise<IndependentEdges> {
  const groups = new Map<string, Array<{ t: number; h: string }>>();
  let documents = 0;
  const cursor = db.collection(COLL.raw).find({}, { projection: { tenant: 1, source: 1, upstream: 1 } });
  for await (const d of cursor) {
    documents++;
    const key = `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;
    const t = new Date(d.upstream.fetched_at as Date | string).getTime();
    if (!Number.isFinite(t)) throw new Error(`raw ${String(d._id)}: bad fetched_at`);
    let revs = groups.get(key);
    if (!revs) groups.set(key, (revs = []));
    revs.push({ t, h: String(d.upstream.content_hash) });
  }
  const lines: string[] = [];
  for (const [key, revs] of groups) {
    revs.sort((a, b) => a.t - b.t || (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    const seen = new Set<string>();
    const kept = revs.filter((r) => (seen.has(r.h) ? false : (seen.add(r.h), true)));
    for (let i = 1; i < kept.length; i++) lines.push(`${key}|${kept[i - 1]!.h}|${kept[i]!.h}\n`);
  }
  lines.sort();
  const h = createHash('sha256');
  for (const l of lines) h.update(l);
  return { documents, advisories: groups.size, edges: lines.length, digest: h.digest('hex') };
}

export interface CollectionSnapshot {
  count: number;
  sha256: string;
}

/** count + sha256 over the canonical JSON of every document (sorted by _id) of each advisory_* collection. */
export async function snapshotAdvisoryCollections(db: Db): Promise<Record<string, CollectionSnapshot>> {
  const out: Record<string, CollectionSnapshot> = {};
  for (const name of ADVISORY_COLLECTIONS) {
    const docs: Document[] = await db.collection(name).find({}).toArray();
    const keyed = docs.map((d) => ({ key: canonicalJson(d._id), json: canonicalJson(d) }));
    keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const h = createHash('sha256');
    for (const k of keyed) h.update(`${k.json}\n`);
    out[name] = { count: docs.length, sha256: h.digest('hex') };
  }
  return out;
}

/** Edge collection integrity: total, distinct _ids, distinct (older, newer) raw-id pairs, distinct newer / older per tenant. */
export async function edgeIntegrity(db: Db): Promise<{ total: number; ids: number; pairs: number; newer: number; older: number; runIds: Record<string, number> }> {
  const ids = new Set<string>();
  const pairs = new Set<string>();
  const newer = new Set<string>();
  const older = new Set<string>();
  const runIds: Record<string, number> = {};
  let total = 0;
  for await (const e of db.collection(COLL.supersedes).find({}, { projection: { _id: 1, tenant: 1, older: 1, newer: 1, run_id: 1 } })) {
    total++;
    ids.add(String(e._id));
    const o = `${e.tenant}|${canonicalJson(e.older?.raw_id)}`;
    const n = `${e.tenant}|${canonicalJson(e.newer?.raw_id)}`;
    pairs.add(`${o}>${n}`);
    newer.add(n);
    older.add(o);
    const r = String(e.run_id);
    runIds[r] = (runIds[r] ?? 0) + 1;
  }
  return { total, ids: ids.size, pairs: pairs.size, newer: newer.size, older: older.size, runIds };
}

/** Settle a run whose shards were processed in this process: settle, then validate it here. */
export async function settleInProcess(conns: Connections, runId: string): Promise<RunDoc> {
  const settled = await settleIfComplete(conns, await getRun(conns.db, runId), quietLog);
  if (settled?.state === 'validating') await runValidation(conns, runId, quietLog);
  return getRun(conns.db, runId);
}
