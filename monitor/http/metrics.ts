/**
 * /metrics: a prom-client registry holding exactly the catalog's metrics
 * (monitor/http/metric-catalog.ts) plus the process metrics, refreshed at each scrape.
 * A scrape reads the runs collection (ids and states only), one O(1) summary per exposed
 * run (core/store/summary.ts) and the job counts of the live queues: its cost does not
 * grow with the corpus. Concurrent scrapes share one refresh.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { Connections } from '../../core/connections.js';
import { CONTRACT, SHARD_QUEUE_FAMILY, SHARED_QUEUE_KEYS } from '../../core/contract.js';
import { activeRunIds } from '../../core/jobs.js';
import { inGroup, TERMINAL_STATES } from '../../core/store/run-status.js';
import { runsColl } from '../../core/store/runs.js';
import { summarizeRun } from '../../core/store/summary.js';
import type { ProbeSample } from '../decisions.js';
import type { Probe } from '../probes.js';
import { DEFAULT_METRICS_PREFIX, METRIC_CATALOG, METRICS, QUEUE_JOB_STATES, type MetricDef } from './metric-catalog.js';
import { alertSamples, probeSamples, queueSamples, runSamples, sumCounts, type JobCounts, type MetricSample, type RunMemo } from './metric-values.js';
import type { JobType, Queue } from 'bullmq';

/** Settled runs kept on /metrics (newest first), so a run's final counters stay scrapable. */
export const SETTLED_RUNS_EXPOSED = 10;

export interface MetricsSources {
  conns: Connections;
  /** Alerts raised by this process's monitor, per code. */
  alertCounts: () => Record<string, number>;
  /** The latest lag/load sample, or undefined when none is known. */
  sample: () => Promise<ProbeSample | undefined>;
}

/** A probe whose result is reused for `everyMs`; a failing probe yields undefined. */
export function cachedProbe(probe: Probe, everyMs: number): () => Promise<ProbeSample | undefined> {
  let last: ProbeSample | undefined;
  let pending: Promise<ProbeSample | undefined> | undefined;
  return async () => {
    if (last && Date.now() - last.at < everyMs) return last;
    pending ??= probe()
      .then((s) => (last = s), () => undefined)
      .finally(() => (pending = undefined));
    return pending;
  };
}

/** Run ids to expose: every run not settled, plus the newest settled ones. */
export async function exposedRunIds(conns: Connections): Promise<{ live: string[]; settled: string[] }> {
  const runs = await runsColl(conns.db).find({}, { projection: { _id: 1, state: 1 } }).toArray();
  const active = new Set(await activeRunIds(conns));
  const live = runs.filter((r) => !inGroup(r.state, TERMINAL_STATES) || active.has(r._id)).map((r) => r._id);
  const settled = runs
    .filter((r) => !live.includes(r._id))
    .map((r) => r._id)
    .sort()
    .reverse()
    .slice(0, SETTLED_RUNS_EXPOSED);
  return { live, settled };
}

/**
 * A gauge without labels that has no sample until it is set: prom-client exposes an unset
 * label-less gauge as 0, which for the oplog lag would read "perfectly healthy".
 */
class OptionalGauge extends Gauge {
  private present = false;

  override set(labels: Partial<Record<string, string | number>>, value: number): void;
  override set(value: number): void;
  override set(a: Partial<Record<string, string | number>> | number, b?: number): void {
    this.present = true;
    if (typeof a === 'number') super.set(a);
    else super.set(a, b!);
  }

  override reset(): void {
    this.present = false;
    super.reset();
  }

  override async get(): ReturnType<Gauge['get']> {
    const m = await super.get();
    return this.present ? m : { ...m, values: [] };
  }
}

const COUNTED: JobType[] = QUEUE_JOB_STATES.filter((s) => s !== 'paused');

/**
 * Job counts by state. BullMQ 5 keeps the jobs of a paused queue in its wait list: they
 * are reported as `paused`, so `waiting` (what autoscaling reads) counts only jobs a
 * worker could take now.
 */
async function jobCounts(queue: Queue): Promise<JobCounts> {
  const c = (await queue.getJobCounts(...COUNTED)) as JobCounts;
  if (await queue.isPaused()) return { ...c, paused: (c.waiting ?? 0) + (c.prioritized ?? 0), waiting: 0, prioritized: 0 };
  return { ...c, paused: 0 };
}

export class MetricsExporter {
  readonly registry = new Registry();
  private readonly metrics = new Map<string, Metric>();
  private readonly collectDuration: Histogram;
  private readonly memos = new Map<string, RunMemo>();
  private refreshing: Promise<void> | undefined;

  constructor(private readonly src: MetricsSources) {
    for (const d of METRIC_CATALOG) this.metrics.set(d.name, this.create(d));
    this.collectDuration = this.metrics.get(METRICS.collectDuration.name) as Histogram;
    collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRICS_PREFIX });
  }

  private create(d: MetricDef): Metric {
    const common = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [this.registry] };
    if (d.type === 'counter') return new Counter(common);
    if (d.type === 'gauge') return d.absentWhenUnavailable && d.labelNames.length === 0 ? new OptionalGauge(common) : new Gauge(common);
    return new Histogram({ ...common, buckets: [...(d.buckets ?? [])] });
  }

  /** The Prometheus text exposition of a fresh scrape. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    await this.refreshing;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private async gather(now: number): Promise<MetricSample[]> {
    const { conns } = this.src;
    const { live, settled } = await exposedRunIds(conns);
    const samples: MetricSample[] = [];
    const seen = new Set<string>();
    for (const id of [...live, ...settled]) {
      const summary = await summarizeRun(conns, id, now).catch(() => undefined); // deleted meanwhile
      if (!summary) continue;
      const r = runSamples(summary, now, this.memos.get(id));
      this.memos.set(id, r.memo);
      seen.add(id);
      samples.push(...r.samples);
    }
    for (const id of this.memos.keys()) if (!seen.has(id)) this.memos.delete(id);
    const shardCounts = [];
    for (const id of live) shardCounts.push(await jobCounts(conns.queue('shards', id)));
    samples.push(...queueSamples(SHARD_QUEUE_FAMILY, sumCounts(shardCounts)));
    for (const key of SHARED_QUEUE_KEYS) samples.push(...queueSamples(CONTRACT[key].name, await jobCounts(conns.queue(key))));
    samples.push(...probeSamples(await this.src.sample()));
    samples.push(...alertSamples(this.src.alertCounts()));
    return samples;
  }

  private async refresh(): Promise<void> {
    const t0 = process.hrtime.bigint();
    const samples = await this.gather(Date.now());
    for (const d of METRIC_CATALOG) if (d !== METRICS.collectDuration) (this.metrics.get(d.name) as Counter | Gauge).reset();
    for (const s of samples) {
      const m = this.metrics.get(s.def.name);
      if (m instanceof Counter) m.inc(s.labels, s.value);
      else if (m instanceof Gauge) m.set(s.labels, s.value);
    }
    this.collectDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9);
  }
}
