/**
 * The chaos rig: one database + queue prefix + home per scenario, a seeded corpus of
 * CORPUS_DOCS documents, worker and monitor PROCESSES of the built CLI, polls that
 * tolerate a service being down (an error while polling is "not yet"), and the final
 * verdict every scenario ends with: edge digest equal to the independently computed one,
 * no duplicate, no violation, a consistent run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { expect, inject } from 'vitest';
import { migrateDatabase } from '../../api/index.js';
import { childEnv, type Config } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { queuedShardJobs } from '../../core/jobs.js';
import { COLL } from '../../core/store/collections.js';
import { getRun } from '../../core/store/runs.js';
import { inGroup, TERMINAL_STATES } from '../../core/store/run-status.js';
import { listShards } from '../../core/store/shards.js';
import { summarizeRun, type RunSummary } from '../../core/store/summary.js';
import { CLI, cleanup, cliJson, pipelineConfig, pollUntil, removeHome, runCli } from '../helpers/env.js';
import { entries } from '../../core/store/run-log.js';
import { BATCH, CORPUS_DOCS, CORPUS_SEED } from './corpus.js';
import { OwnFerret, OwnRedis } from './servers.js';
import { checkSeed, CORPUS_DB, expectedEdges, SEED_ARGS } from './template.js';
import type { IndependentEdges, RunJson, SeedJson } from '../helpers/oracle.js';

export { BATCH, CORPUS_DOCS, CORPUS_SEED };
/** Bound of one scenario (a loaded 2-core machine; a quiet one needs a small fraction). */
export const LONG = 1_800_000;

/**
 * Short locks so that a dead or stalled worker loses its shard within seconds; enough
 * retries that a service restart is ridden out by backoff rather than failing shards.
 */
export const CHAOS_ENV: Record<string, string> = {
  LNM_LOG_LEVEL: 'warn',
  LNM_LOCK_DURATION_MS: '3000',
  LNM_STALLED_INTERVAL_MS: '1000',
  LNM_JOB_ATTEMPTS: '12',
  LNM_JOB_BACKOFF_MS: '250',
  LNM_WORKER_CONCURRENCY: '2',
  LNM_DISCOVERY_INTERVAL_MS: '250',
  LNM_MONITOR_TICK_MS: '250',
  LNM_PROBE_INTERVAL_MS: '1000',
  LNM_POLL_INTERVAL_MS: '200',
  LNM_MONITOR_LOCK_TTL_MS: '3000',
  LNM_PLAN_STALE_MS: '4000',
  // Each monitor's HTTP endpoint on a free port: several scenarios (and other tests) run at once.
  LNM_MONITOR_PORT: '0',
};

/** sha256 over the sorted `tenant|vendor|upstream_id|older_hash|newer_hash` lines of every edge (DESIGN §5). */
export async function edgeDigest(db: Db): Promise<{ digest: string; edges: number; lines: number; newer: number; runIds: Set<string> }> {
  const lines = new Set<string>();
  const newer = new Set<string>();
  const runIds = new Set<string>();
  let edges = 0;
  for await (const e of db.collection(COLL.supersedes).find({}, { projection: { tenant: 1, vendor: 1, upstream_id: 1, older: 1, newer: 1, run_id: 1 } })) {
    edges++;
    runIds.add(String(e.run_id));
    lines.add(`${e.tenant}|${e.vendor}|${e.upstream_id}|${e.older.content_hash}|${e.newer.content_hash}\n`);
    newer.add(`${e.tenant}|${JSON.stringify(e.newer.raw_id)}`);
  }
  const h = createHash('sha256');
  for (const l of [...lines].sort()) h.update(l);
  return { digest: h.digest('hex'), edges, lines: lines.size, newer: newer.size, runIds };
}

export interface Verdict {
  state: string;
  finalDigest: string;
  edges: number;
  tombstones: number;
  duplicates: number;
  violations: number;
}

export class ChaosRig {
  cfg!: Config;
  home = '';
  readonly env: Record<string, string>;
  conns!: Connections;
  expected!: IndependentEdges;
  /** The scenario's own servers (it may kill and restart them). */
  ferret: OwnFerret | undefined;
  redis: OwnRedis | undefined;
  private readonly procs: Array<{ child: ChildProcess; log: string[] }> = [];

  constructor(
    private readonly name: string,
    extra: Record<string, string> = {},
    private readonly opts: { ownRedis?: boolean } = {},
  ) {
    this.env = { ...CHAOS_ENV, ...extra };
  }

  /**
   * Start the scenario's own FerretDB (unless MONGO_URL was given): its load and its
   * faults stay off the machine's shared server. It starts on a copy of the suite's seeded
   * template (template.ts); without one (MONGO_URL given) the scenario migrates and seeds
   * its own database. With `ownRedis`, a redis-server of its own too (scenarios that kill it).
   */
  async setup(): Promise<void> {
    if (this.opts.ownRedis) {
      this.redis = await OwnRedis.start();
      this.env.REDIS_URL = this.redis.url;
    }
    const template = this.env.MONGO_URL === undefined ? inject('chaosTemplate') : '';
    if (this.env.MONGO_URL === undefined) {
      this.ferret = await OwnFerret.start(template ? { template } : {});
      this.env.MONGO_URL = this.ferret.url;
    }
    const c = pipelineConfig(`chaos_${this.name}`, { ...this.env, ...(template ? { LNM_DB: CORPUS_DB } : {}) });
    this.cfg = c.cfg;
    this.home = c.home;
    if (!template) {
      await migrateDatabase({ config: this.cfg });
      checkSeed(await this.cli<SeedJson>(SEED_ARGS));
    }
    this.conns = await Connections.open(this.cfg);
    this.expected = await expectedEdges(this.conns);
    expect(this.expected.documents).toBe(CORPUS_DOCS);
    expect(this.expected.edges).toBeGreaterThan(1000);
    expect(await this.conns.db.collection(COLL.raw).countDocuments({})).toBe(CORPUS_DOCS);
    expect(await this.conns.db.collection(COLL.supersedes).countDocuments({})).toBe(0);
  }

  cli<T>(args: string[], opts: { code?: number; env?: Record<string, string> } = {}): Promise<T> {
    return cliJson<T>(this.cfg, args, { code: opts.code ?? 0, env: { ...this.env, ...opts.env } });
  }

  /** `start` without --wait: the run is planned and running when it returns. */
  start(extra: string[] = []): Promise<RunJson> {
    return this.cli<RunJson>(['start', '--force', '--reason=chaos', `--batch-size=${BATCH}`, ...extra, '--json']);
  }

  /** A CLI process (`worker`, `monitor`, `start ...`); its stderr tail is kept for diagnostics. */
  spawn(args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...childEnv(this.cfg), ...this.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const log: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (log.length > 100) log.shift();
    });
    this.procs.push({ child, log });
    return child;
  }

  worker(env: Record<string, string> = {}): ChildProcess {
    return this.spawn(['worker'], env);
  }

  monitor(env: Record<string, string> = {}): ChildProcess {
    return this.spawn(['monitor'], env);
  }

  log(child: ChildProcess): string {
    return this.procs.find((p) => p.child === child)?.log.join('') ?? '';
  }

  /** Send `signal` and wait for the exit. */
  async kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill(signal);
    await gone;
  }

  alive(): ChildProcess[] {
    return this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => p.child);
  }

  /**
   * Poll until `fn` returns a value; an error (a service restarting) counts as "not yet", and
   * so does an attempt still unanswered after 30 s (one hung request must not hang the poll).
   */
  poll<T>(fn: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 900_000, everyMs = 100): Promise<T> {
    const attempt = async (): Promise<T | undefined | null | false> => {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 30_000)));
      try {
        return await Promise.race([fn().catch(() => undefined), hung]);
      } finally {
        clearTimeout(timer);
      }
    };
    return pollUntil(attempt, what, timeoutMs, everyMs);
  }

  summary(runId: string): Promise<RunSummary> {
    return summarizeRun(this.conns, runId);
  }

  /** Waits until at least `done` shards are done and a shard job is in flight; returns the in-flight job ids. */
  async midRun(runId: string, done: number): Promise<string[]> {
    const ids = await this.midRunOrEnd(runId, done);
    expect(ids, `run ${runId} ended before ${done} shards were done with one in flight`).not.toBeNull();
    return ids!;
  }

  /** As midRun, but null once every shard is done (the run no longer has one to catch). */
  async midRunOrEnd(runId: string, done: number): Promise<string[] | null> {
    const got = await this.poll(async () => {
      const s = await this.summary(runId);
      if (s.shards.done >= s.shards.total && s.shards.total > 0) return { ids: null };
      if (s.shards.done < done) return null;
      const active = await this.conns.queue('shards', runId).getActive();
      return active.length > 0 ? { ids: active.map((j) => j.id!) } : null;
    }, `${done} shards done and one in flight`, 900_000, 20);
    return got.ids;
  }

  /** Resolves with the ms it took until every listed shard is done. */
  async shardsDone(runId: string, ids: string[], since: number): Promise<number> {
    const want = new Set(ids);
    await this.poll(async () => (await listShards(this.conns.db, runId)).filter((s) => want.has(s._id) && s.state === 'done').length === want.size, `shards ${ids.join(',')} done`);
    return Date.now() - since;
  }

  async settle(runId: string): Promise<string> {
    const run = await this.poll(async () => {
      const r = await getRun(this.conns.db, runId);
      return inGroup(r.state, TERMINAL_STATES) ? r : null;
    }, `run ${runId} to settle`, 1_500_000, 250);
    return run.state;
  }

  /** Waits until the run settles and requires `succeeded`; otherwise fails saying why (see `why`). */
  async settleSucceeded(runId: string): Promise<void> {
    const state = await this.settle(runId);
    if (state !== 'succeeded') expect(state, await this.why(runId)).toBe('succeeded');
  }

  /** Why a run did not succeed: its error, last transitions, failed shards, the processes' stderr tails. */
  async why(runId: string): Promise<string> {
    const run = await getRun(this.conns.db, runId);
    const failed = (await listShards(this.conns.db, runId)).filter((s) => s.state === 'failed').map((s) => ({ id: s._id, error: s.error }));
    const logs = this.procs.map((p) => `--- pid ${p.child.pid} ${p.child.spawnargs.slice(2).join(' ')}\n${p.log.join('').slice(-1500)}`);
    const shards = await listShards(this.conns.db, runId);
    const retried = shards.filter((s) => (s.attempts ?? 0) > 1).map((s) => ({ id: s._id, attempts: s.attempts, counts: s.counts }));
    const edgesCounted = shards.reduce((n, s) => n + (s.counts?.edges_inserted ?? 0), 0);
    const [present, tombs] = await Promise.all([COLL.supersedes, COLL.tombstones].map((c) => this.conns.db.collection(c).countDocuments({})));
    const log = (await entries(this.conns.db, runId, 'shard')).filter((e) => e.outcome !== 'done').slice(0, 10);
    const report = (await runCli(this.cfg, ['validate', runId, '--json'], this.env)).stdout.trim().split('\n').pop() ?? '';
    return [JSON.stringify({ error: run.error, history: run.history.slice(-4), failed: failed.slice(0, 3), expected: this.expected.edges, edgesCounted, present, tombs, retried, log }).slice(0, 6000), report.slice(0, 3000), ...logs].join('\n');
  }

  /**
   * The verdict: a succeeded, validated run; every shard done once in the counters;
   * the edge set's digest equal to the expected one; no duplicate edge, tombstone or
   * outbox row; nothing left queued.
   */
  async verify(runId: string): Promise<Verdict> {
    const { db } = this.conns;
    const x = this.expected;
    const run = await getRun(db, runId);
    expect(run.state, JSON.stringify(run.error ?? run.history.slice(-3))).toBe('succeeded');
    expect(run.report?.ok).toBe(true);
    const shards = await listShards(db, runId);
    expect(shards).toHaveLength(run.shards_total);
    expect(new Set(shards.map((s) => s.shard)).size).toBe(run.shards_total);
    expect(shards.filter((s) => s.state !== 'done').map((s) => s._id)).toEqual([]);
    expect(shards.reduce((n, s) => n + s.docs, 0)).toBe(CORPUS_DOCS);
    const s = await this.summary(runId);
    expect(s.shards).toMatchObject({ total: run.shards_total, done: run.shards_total, failed: 0 });
    expect(s.counts).toMatchObject({ docs: CORPUS_DOCS, edges_inserted: x.edges, tombstones_inserted: x.edges, idempotent_hits: 0, violations: 0, errors: 0 });
    expect(await queuedShardJobs(this.conns, runId)).toBe(0);

    const { digest: finalDigest, edges, lines, newer, runIds } = await edgeDigest(db);
    expect([...runIds]).toEqual(edges > 0 ? [runId] : []);
    const tombIds = new Set<string>();
    let tombstones = 0;
    for await (const t of db.collection(COLL.tombstones).find({}, { projection: { tenant: 1, raw_id: 1 } })) {
      tombstones++;
      tombIds.add(`${t.tenant}|${JSON.stringify(t.raw_id)}`);
    }
    const events = new Set<string>();
    let eventRows = 0;
    for await (const r of db.collection(COLL.events).find({ run_id: runId }, { projection: { raw_id: 1 } })) {
      eventRows++;
      events.add(JSON.stringify(r.raw_id));
    }
    const duplicates = edges - lines + (edges - newer) + (tombstones - tombIds.size) + (eventRows - events.size) + (s.counts.docs - CORPUS_DOCS);
    expect({ finalDigest, edges, tombstones, duplicates }).toEqual({ finalDigest: x.digest, edges: x.edges, tombstones: x.edges, duplicates: 0 });
    expect(eventRows).toBeGreaterThan(0);
    expect(await db.collection(COLL.observations).countDocuments({})).toBe(CORPUS_DOCS);
    return { state: run.state, finalDigest, edges, tombstones, duplicates, violations: s.counts.violations };
  }

  /** Stop what is still running (SIGKILL after 10 s), drop the database and the prefix's Redis keys, close, remove the home. */
  async teardown(): Promise<void> {
    for (const child of this.alive()) {
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    if (this.cfg) await cleanup(this.cfg).catch(() => undefined);
    // What obliterating the queues leaves under the scenario's prefix (the runs' progress counters).
    for await (const keys of this.conns?.sharedRedis().scanStream({ match: `${this.cfg.queuePrefix}:*`, count: 500 }) ?? []) if ((keys as string[]).length > 0) await this.conns.sharedRedis().del(...(keys as string[])).catch(() => 0);
    await this.conns?.close().catch(() => undefined);
    if (this.home) removeHome(this.home);
    await this.ferret?.close().catch(() => undefined);
    await this.redis?.close().catch(() => undefined);
  }
}
