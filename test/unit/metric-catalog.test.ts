/**
 * The metric catalog is registrable as is by prom-client, follows the naming rules, and
 * the default process metrics it relies on are the ones prom-client really emits.
 */
import { describe, expect, it } from 'vitest';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TERMINAL_STATES } from '../../core/store/run-status.js';
import {
  ACTIVE_RUN_STATES, DEFAULT_METRICS, DEFAULT_METRICS_PREFIX, METRIC_CATALOG, METRIC_PREFIX, METRICS, seriesNames, type MetricDef,
} from '../../monitor/http/metric-catalog.js';

function register(reg: Registry, d: MetricDef): void {
  const common = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [reg] };
  if (d.type === 'counter') new Counter(common);
  else if (d.type === 'gauge') new Gauge(common);
  else new Histogram({ ...common, buckets: [...(d.buckets ?? [])] });
}

describe('metric catalog', () => {
  it('names are prefixed, unique and follow the Prometheus naming rules', () => {
    const names = METRIC_CATALOG.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of METRIC_CATALOG) {
      expect(d.name, d.name).toMatch(/^lnm_backfill_[a-z][a-z0-9_]*[a-z0-9]$/);
      expect(d.name.endsWith('_total'), `${d.name}: only counters end in _total`).toBe(d.type === 'counter');
      expect(d.help.length, `${d.name} has help`).toBeGreaterThan(10);
      for (const l of d.labelNames) expect(l, `${d.name} label`).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(d.labelNames, `${d.name}: "le" is the histogram bucket label`).not.toContain('le');
      for (const l of Object.keys(d.labelValues ?? {})) expect(d.labelNames, `${d.name} enumerates a label it has`).toContain(l);
      expect(d.buckets !== undefined, `${d.name}: buckets only for histograms`).toBe(d.type === 'histogram');
    }
  });

  it('covers what issue 11 lists, per run where it should', () => {
    const perRun = [
      METRICS.documentsProcessed, METRICS.edgesInserted, METRICS.tombstonesInserted, METRICS.idempotentHits,
      METRICS.writeAttempts, METRICS.idempotencyViolations, METRICS.errors, METRICS.shards, METRICS.runState,
      METRICS.runActive, METRICS.runDuration, METRICS.runProgress, METRICS.runLastProgress, METRICS.insertRate, METRICS.throttled,
    ];
    for (const d of perRun) expect(d.labelNames, d.name).toContain('run_id');
    expect(METRICS.shards.labelValues.state).toEqual(['pending', 'done', 'failed']);
    expect(METRICS.queueJobs.labelNames).toEqual(['queue', 'state']);
    expect(METRICS.queueJobs.labelValues.state).toContain('waiting');
    expect(METRICS.alertsFired.labelNames).toEqual(['code']);
    expect(METRICS.oplogLag.absentWhenUnavailable).toBe(true);
    expect(METRICS.oplogLag.help).toMatch(/ABSENT when unavailable.*never 0/);
    expect(METRICS.mongoOps.absentWhenUnavailable).toBe(true);
  });

  it('run_active covers exactly the non-terminal run states', () => {
    expect(ACTIVE_RUN_STATES).toContain('running');
    expect(ACTIVE_RUN_STATES).toContain('throttled');
    for (const s of TERMINAL_STATES) expect(ACTIVE_RUN_STATES).not.toContain(s);
    expect(ACTIVE_RUN_STATES.length + TERMINAL_STATES.length).toBe(METRICS.runState.labelValues.state.length);
  });

  it('prom-client registers every metric and exposes it with its type and help', async () => {
    const reg = new Registry();
    for (const d of METRIC_CATALOG) register(reg, d);
    const text = await reg.metrics();
    for (const d of METRIC_CATALOG) {
      expect(text).toContain(`# TYPE ${d.name} ${d.type}`);
      expect(text).toContain(`# HELP ${d.name} `);
    }
  });

  it('prom-client rejects a name the catalog could not use (the registration check can fail)', () => {
    expect(() => register(new Registry(), { name: 'lnm_backfill_bad-name', type: 'gauge', help: 'x', labelNames: [] })).toThrow();
  });

  it('the default metrics the dashboard and rules rely on are what collectDefaultMetrics emits with our prefix', async () => {
    const reg = new Registry();
    collectDefaultMetrics({ register: reg, prefix: DEFAULT_METRICS_PREFIX });
    const emitted = new Map((await reg.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    for (const d of DEFAULT_METRICS) {
      expect(d.name.startsWith(METRIC_PREFIX)).toBe(true);
      expect(emitted.get(d.name), d.name).toBe(d.type);
    }
    expect(emitted.has(`${METRIC_PREFIX}process_resident_memory_bytes`)).toBe(true);
    // Default and catalog names never collide (prom-client would refuse the second one).
    for (const d of METRIC_CATALOG) expect(emitted.has(d.name), d.name).toBe(false);
  });

  it('seriesNames expands histograms into their _bucket, _sum and _count series', () => {
    const names = seriesNames([METRICS.collectDuration, METRICS.shards]);
    expect(names).toEqual([
      'lnm_backfill_collect_duration_seconds_bucket',
      'lnm_backfill_collect_duration_seconds_sum',
      'lnm_backfill_collect_duration_seconds_count',
      'lnm_backfill_shards',
    ]);
  });
});
