/**
 * The values of one /metrics scrape, pure: from run summaries, queue counts, a probe
 * sample and the alert counts to a list of samples named by the catalog
 * (monitor/http/metric-catalog.ts). What cannot be measured yields no sample at all.
 */
import type { ProbeSample } from '../decisions.js';
import type { RunSummary } from '../../core/store/summary.js';
import { METRICS, QUEUE_JOB_STATES, SHARD_STATES, THROTTLE_REASONS, type MetricDef } from './metric-catalog.js';
import { inGroup, RUN_STATES, TERMINAL_STATES } from '../../core/store/run-status.js';

export interface MetricSample {
  def: MetricDef;
  labels: Record<string, string>;
  value: number;
}

/** Per run, what earlier scrapes saw: for the insert rate and the last-progress time. */
export interface RunMemo {
  at: number;
  inserted: number;
  docs: number;
  lastProgressAt: number;
}

export type ThrottleCategory = (typeof THROTTLE_REASONS)[number];

/** A throttle reason of the run document (`lag 12.0s > 5s`, `flow control lagged`) as its category. */
export function throttleCategory(reason: string): ThrottleCategory | undefined {
  if (reason.startsWith('lag')) return 'lag';
  if (reason.startsWith('ops')) return 'ops';
  if (reason.startsWith('cpu')) return 'cpu';
  if (reason.startsWith('flow control')) return 'flow_control';
  return undefined;
}

/** The samples of one run; updates `memo` (pass the previous one, or undefined the first time). */
export function runSamples(s: RunSummary, now: number, memo: RunMemo | undefined): { samples: MetricSample[]; memo: RunMemo } {
  const run = s.run;
  const labels = { run_id: run._id };
  const out: MetricSample[] = [];
  const add = (def: MetricDef, value: number | null | undefined, extra: Record<string, string> = {}): void => {
    if (value !== null && value !== undefined && Number.isFinite(value)) out.push({ def, labels: { ...labels, ...extra }, value });
  };
  const c = s.counts;
  add(METRICS.documentsProcessed, c.docs);
  add(METRICS.advisoriesProcessed, c.advisories);
  add(METRICS.edgesInserted, c.edges_inserted);
  add(METRICS.tombstonesInserted, c.tombstones_inserted);
  add(METRICS.idempotentHits, c.idempotent_hits);
  add(METRICS.writeAttempts, c.write_attempts);
  add(METRICS.idempotencyViolations, c.violations);
  add(METRICS.errors, c.errors);
  const byState: Record<(typeof SHARD_STATES)[number], number> = { pending: s.shards.pending, done: s.shards.done, failed: s.shards.failed };
  for (const state of SHARD_STATES) add(METRICS.shards, byState[state], { state });
  for (const state of RUN_STATES) add(METRICS.runState, state === run.state ? 1 : 0, { state });
  const terminal = inGroup(run.state, TERMINAL_STATES);
  add(METRICS.runActive, terminal ? 0 : 1);
  const finished = run.finished_at?.getTime() ?? (terminal ? run.updated_at.getTime() : now);
  if (run.started_at) add(METRICS.runDuration, Math.max(0, (finished - run.started_at.getTime()) / 1000));
  const planned = run.snapshot?.docs ?? 0;
  if (planned > 0) add(METRICS.runProgress, Math.min(1, c.docs / planned));
  if (!terminal) add(METRICS.runEta, s.eta_s);
  const throttled = run.state === 'throttled';
  add(METRICS.throttled, throttled ? 1 : 0);
  if (throttled) {
    const cats = new Set((run.throttle_reasons ?? []).map(throttleCategory).filter((x) => x !== undefined));
    for (const reason of cats) add(METRICS.throttleReason, 1, { reason });
  }

  const inserted = c.edges_inserted + c.tombstones_inserted;
  const startedAt = run.started_at?.getTime() ?? run.created_at.getTime();
  let lastProgressAt: number;
  if (!memo) lastProgressAt = c.docs > 0 ? finished : startedAt;
  else lastProgressAt = c.docs !== memo.docs ? now : memo.lastProgressAt;
  add(METRICS.runLastProgress, lastProgressAt / 1000);
  if (memo && now > memo.at) add(METRICS.insertRate, terminal ? 0 : Math.max(0, (inserted - memo.inserted) / ((now - memo.at) / 1000)));
  return { samples: out, memo: { at: now, inserted, docs: c.docs, lastProgressAt } };
}

export type JobCounts = Partial<Record<(typeof QUEUE_JOB_STATES)[number], number>>;

/** Queue depth by job state; `queue` is the queue's label (every run's shards queue shares one). */
export function queueSamples(queue: string, counts: JobCounts): MetricSample[] {
  return QUEUE_JOB_STATES.map((state) => ({ def: METRICS.queueJobs, labels: { queue, state }, value: counts[state] ?? 0 }));
}

/** Lag and ops/s when measured; nothing otherwise (never 0 for "unknown"). */
export function probeSamples(sample: ProbeSample | undefined): MetricSample[] {
  const out: MetricSample[] = [];
  if (sample?.lag.available) out.push({ def: METRICS.oplogLag, labels: {}, value: sample.lag.seconds });
  if (sample && sample.opsPerS !== null) out.push({ def: METRICS.mongoOps, labels: {}, value: sample.opsPerS });
  return out;
}

export function alertSamples(counts: Record<string, number>): MetricSample[] {
  return Object.entries(counts).map(([code, value]) => ({ def: METRICS.alertsFired, labels: { code }, value }));
}

/** Adds up job counts (every run's shards queue under one label). */
export function sumCounts(all: readonly JobCounts[]): JobCounts {
  const out: JobCounts = {};
  for (const c of all) for (const state of QUEUE_JOB_STATES) out[state] = (out[state] ?? 0) + (c[state] ?? 0);
  return out;
}
