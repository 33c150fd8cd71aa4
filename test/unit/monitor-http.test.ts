/**
 * The monitor HTTP server's pure parts: who may bind where, which Authorization headers
 * pass, and the /metrics values of a run (absent when unknown, never 0).
 */
import { describe, expect, it } from 'vitest';
import { assertBindAllowed, authorized, challenge, isLoopback } from '../../monitor/http/auth.js';
import { METRICS } from '../../monitor/http/metric-catalog.js';
import { probeSamples, queueSamples, runSamples, sumCounts, throttleCategory, type MetricSample } from '../../monitor/http/metric-values.js';
import type { RunSummary } from '../../core/store/summary.js';
import type { RunDoc } from '../../core/store/runs.js';
import { emptyCounts } from '../../core/store/shards.js';

const NONE = { token: '', basicAuth: '' };
const TOKEN = { token: 't'.repeat(32), basicAuth: '' };
const BASIC = { token: '', basicAuth: 'ops:correct-horse' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('bind and credentials', () => {
  it('loopback addresses are recognised, others are not', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'monitor.example.net', '128.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });

  it('a non-loopback bind without credentials is refused with ERR_CONFIG; with a token or basic auth it is allowed', () => {
    expect(() => assertBindAllowed('0.0.0.0', NONE)).toThrow(/LNM_MONITOR_TOKEN or LNM_MONITOR_BASIC_AUTH/);
    try {
      assertBindAllowed('10.0.0.5', NONE);
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_CONFIG');
    }
    expect(() => assertBindAllowed('127.0.0.1', NONE)).not.toThrow();
    expect(() => assertBindAllowed('0.0.0.0', TOKEN)).not.toThrow();
    expect(() => assertBindAllowed('0.0.0.0', BASIC)).not.toThrow();
  });

  it('only the configured token or user:password passes', () => {
    expect(authorized(undefined, NONE)).toBe(true);
    expect(authorized(undefined, TOKEN)).toBe(false);
    expect(authorized(`Bearer ${TOKEN.token}`, TOKEN)).toBe(true);
    expect(authorized(`bearer ${TOKEN.token}`, TOKEN)).toBe(true);
    expect(authorized(`Bearer ${TOKEN.token}x`, TOKEN)).toBe(false);
    expect(authorized(`Basic ${b64(`x:${TOKEN.token}`)}`, TOKEN)).toBe(false);
    expect(authorized(`Basic ${b64(BASIC.basicAuth)}`, BASIC)).toBe(true);
    expect(authorized(`Basic ${b64('ops:wrong-horse')}`, BASIC)).toBe(false);
    expect(authorized(`Bearer ${BASIC.basicAuth}`, BASIC)).toBe(false);
    expect(authorized('Bearer', TOKEN)).toBe(false);
    expect(challenge(BASIC)).toMatch(/^Basic realm=/);
    expect(challenge(TOKEN)).toMatch(/^Bearer realm=/);
  });
});

function summary(run: Partial<RunDoc>, counts: Partial<RunSummary['counts']> = {}, eta: number | null = null): RunSummary {
  const base = { _id: 'run-20260101T000000Z-abcdef', state: 'running', created_at: new Date(1000_000), updated_at: new Date(1000_000), alerts_raised: [], history: [], seq: 1, shards_total: 4 };
  return {
    run: { ...base, ...run } as RunDoc,
    shards: { total: 4, done: 1, failed: 1, pending: 2 },
    counts: { ...emptyCounts(), docs: 10, advisories: 4, edges_inserted: 6, tombstones_inserted: 6, idempotent_hits: 1, write_attempts: 13, violations: 0, errors: 1, ...counts },
    docs_per_s: null,
    eta_s: eta,
  };
}

const value = (samples: MetricSample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.def.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('metric values', () => {
  it('a running run: counters, shards by state, run state enum, duration, progress, ETA', () => {
    const s = summary({ started_at: new Date(1000_000), snapshot: { docs: 40, advisories: 10, corpus_sha256: 'x' } }, {}, 30);
    const { samples, memo } = runSamples(s, 1060_000, undefined);
    expect(value(samples, METRICS.documentsProcessed.name)).toBe(10);
    expect(value(samples, METRICS.edgesInserted.name)).toBe(6);
    expect(value(samples, METRICS.errors.name)).toBe(1);
    expect(value(samples, METRICS.shards.name, { state: 'pending' })).toBe(2);
    expect(value(samples, METRICS.runState.name, { state: 'running' })).toBe(1);
    expect(value(samples, METRICS.runState.name, { state: 'failed' })).toBe(0);
    expect(value(samples, METRICS.runActive.name)).toBe(1);
    expect(value(samples, METRICS.runDuration.name)).toBe(60);
    expect(value(samples, METRICS.runProgress.name)).toBe(0.25);
    expect(value(samples, METRICS.runEta.name)).toBe(30);
    expect(value(samples, METRICS.throttled.name)).toBe(0);
    // First scrape: no rate yet (absent, not 0).
    expect(value(samples, METRICS.insertRate.name)).toBeUndefined();
    const next = runSamples(summary({ started_at: new Date(1000_000) }, { edges_inserted: 16, tombstones_inserted: 16, docs: 30 }), 1070_000, memo);
    expect(value(next.samples, METRICS.insertRate.name)).toBe(2);
    expect(value(next.samples, METRICS.runLastProgress.name)).toBe(1070);
  });

  it('before it starts: no duration, no progress, no ETA', () => {
    const { samples } = runSamples(summary({ state: 'planned' }), 2000_000, undefined);
    for (const d of [METRICS.runDuration, METRICS.runProgress, METRICS.runEta]) expect(value(samples, d.name), d.name).toBeUndefined();
  });

  it('a throttled run carries its reason categories; a settled run is inactive with its duration frozen', () => {
    const t = runSamples(summary({ state: 'throttled', throttle_reasons: ['lag 12.0s > 5s', 'flow control lagged'] }), 2000_000, undefined).samples;
    expect(value(t, METRICS.throttled.name)).toBe(1);
    expect(t.filter((s) => s.def === METRICS.throttleReason).map((s) => s.labels.reason)).toEqual(['lag', 'flow_control']);
    expect(throttleCategory('ops 60000/s > 50000/s')).toBe('ops');
    expect(throttleCategory('cpu 95.0% > 90%')).toBe('cpu');
    const done = runSamples(summary({ state: 'succeeded', started_at: new Date(1000_000), finished_at: new Date(1100_000) }), 9000_000, undefined).samples;
    expect(value(done, METRICS.runActive.name)).toBe(0);
    expect(value(done, METRICS.runDuration.name)).toBe(100);
    expect(value(done, METRICS.runEta.name)).toBeUndefined();
  });

  it('oplog lag and ops/s are absent when unavailable, present when measured (0 included)', () => {
    expect(probeSamples(undefined)).toEqual([]);
    expect(probeSamples({ at: 1, lag: { available: false, reason: 'standalone' }, opsPerS: null, cpuPct: null })).toEqual([]);
    const m = probeSamples({ at: 1, lag: { available: true, seconds: 0 }, opsPerS: 12.5, cpuPct: null });
    expect(m.map((s) => [s.def.name, s.value])).toEqual([[METRICS.oplogLag.name, 0], [METRICS.mongoOps.name, 12.5]]);
  });

  it('queue depth: every state of the catalog, shard queues summed', () => {
    const q = queueSamples('backfill-shards', sumCounts([{ waiting: 2, active: 1 }, { waiting: 3, failed: 1 }]));
    expect(q.map((s) => s.labels.state)).toEqual([...METRICS.queueJobs.labelValues.state]);
    expect(q.find((s) => s.labels.state === 'waiting')!.value).toBe(5);
    expect(q.find((s) => s.labels.state === 'failed')!.value).toBe(1);
    expect(q.find((s) => s.labels.state === 'paused')!.value).toBe(0);
  });
});
