/**
 * Shared pieces of the pipeline integration tests: a JSON CLI runner, tracked
 * connections and worker processes (so each file can prove nothing is left open),
 * an independent expected-edges computation over `advisory_raw`, and a content hash of
 * every `advisory_*` collection.
 *
 * The expected-edges computation deliberately does NOT use core/supersedes.ts: it
 * re-derives the DESIGN §3 rule from the raw documents so the tests have an oracle
 * that does not share code with the implementation under test.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Db, Document } from 'mongodb';
import type { Config } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { QUEUES } from '../../core/contract.js';
import { ADVISORY_COLLECTIONS, COLL } from '../../core/store/collections.js';
import { TERMINAL_STATES } from '../../core/store/run-status.js';
import { summarizeRun, type RunSummary } from '../../core/store/summary.js';
import { finalizeIfComplete } from '../../monitor/finalize.js';
import { pollUntil, quietLog, runCli, RUSTSEC_EXPECTED, spawnWorker, testConfig } from './env.js';

export interface RustsecExpected {
  total_documents: number;
  accepted_documents_after_duplicate_drop: number;
  duplicate_hash_revisions: number;
  expected_supersedes_edges: number;
  edges_sha256_oracle_format: string;
  distinct_upstream_ids: number;
  /** Chain length (distinct revisions) → advisories. */
  chain_length_histogram: Record<string, number>;
}

export function rustsecExpected(): RustsecExpected {
  return JSON.parse(readFileSync(RUSTSEC_EXPECTED, 'utf8')) as RustsecExpected;
}

/** The `--json` shapes of the CLI commands used here. */
export interface ImportJson {
  accepted: number;
  duplicates: number;
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
 * A test configuration with its own database, queue prefix and LNM_HOME (seed files
 * and rejects files then never collide with another test file running in parallel).
 */
export function pipelineConfig(name: string, extra: Record<string, string> = {}): { cfg: Config; home: string } {
  const home = mkdtempSync(path.join(tmpdir(), `lnm-${name}-`));
  return { cfg: testConfig(name, { LNM_HOME: home, ...extra }), home };
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** Run the CLI, require the exit code, and parse the last stdout line as JSON. */
export async function cliJson<T>(cfg: Config, args: string[], opts: { code?: number; env?: Record<string, string> } = {}): Promise<T> {
  const r = await runCli(cfg, args, opts.env ?? {});
  const want = opts.code ?? 0;
  if (r.code !== want) {
    throw new Error(`lnm-backfill ${args.join(' ')} exited ${r.code} (expected ${want})\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-4000)}`);
  }
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as T;
  } catch {
    throw new Error(`lnm-backfill ${args.join(' ')}: stdout is not JSON: ${r.stdout}\nstderr: ${r.stderr.slice(-4000)}`);
  }
}

/** Everything a test file opens, so the last check can prove it is all closed/exited. */
export class Resources {
  readonly conns: Array<{ conns: Connections; closed: boolean }> = [];
  readonly children: Array<{ child: ChildProcess; stderr: string[] }> = [];

  async open(cfg: Config): Promise<Connections> {
    const conns = await Connections.open(cfg);
    this.conns.push({ conns, closed: false });
    return conns;
  }

  async close(conns: Connections): Promise<void> {
    const entry = this.conns.find((e) => e.conns === conns);
    if (!entry) throw new Error('not a tracked connection');
    await conns.close();
    entry.closed = true;
  }

  /** A `lnm-backfill worker` child; its stderr is drained (and kept for diagnostics). */
  worker(cfg: Config, env: Record<string, string> = {}): ChildProcess {
    const child = spawnWorker(cfg, env);
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.length > 200) stderr.shift();
    });
    this.children.push({ child, stderr });
    return child;
  }

  workerLog(child: ChildProcess): string {
    return this.children.find((e) => e.child === child)?.stderr.join('') ?? '';
  }

  /** Send `signal` and wait until the child has exited. */
  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (exited(child)) return;
    const gone = once(child, 'exit');
    child.kill(signal);
    await gone;
  }

  /** Best-effort teardown for afterAll (after a failed test): kill, close, never throw. */
  async teardown(): Promise<void> {
    for (const { child } of this.children) {
      if (exited(child)) continue;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    for (const e of this.conns) {
      if (e.closed) continue;
      await e.conns.close().catch(() => undefined);
      e.closed = true;
    }
  }

  openChildren(): number[] {
    return this.children.filter((e) => !exited(e.child)).map((e) => e.child.pid ?? -1);
  }

  openConnections(): number {
    return this.conns.filter((e) => !e.closed).length;
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Worker connections BullMQ sees on a prefix's shards queue (0 = no worker left running). */
export async function liveWorkerCount(cfg: Config): Promise<number> {
  const conns = await Connections.open(cfg);
  try {
    return await conns.queue(QUEUES.shards).getWorkersCount();
  } finally {
    await conns.close();
  }
}

/** Resolves once BullMQ sees no worker connection on the prefix (rejects after `timeoutMs`). */
export async function noLiveWorkers(cfg: Config, timeoutMs = 10_000): Promise<true> {
  return pollUntil(async () => (await liveWorkerCount(cfg)) === 0, `no live worker on ${cfg.queuePrefix}`, timeoutMs, 200);
}

/**
 * Drive a run to a terminal state the way `start --wait` does (finalize on each poll),
 * with workers running elsewhere. Returns the final summary.
 */
export async function driveToEnd(db: Db, runId: string, timeoutMs = 150_000): Promise<RunSummary> {
  return pollUntil(
    async () => {
      await finalizeIfComplete(db, runId, quietLog);
      const s = await summarizeRun(db, runId);
      return TERMINAL_STATES.includes(s.run.state) ? s : null;
    },
    `run ${runId} to finish`,
    timeoutMs,
    200,
  );
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
