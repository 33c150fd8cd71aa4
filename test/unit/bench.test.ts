import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/args.js';
import { GENERATED_END, GENERATED_START, renderResultsMd } from '../../bench/render.js';
import { computeRatios, percentile, rate, targets, type BenchResult, type CaseResult } from '../../bench/stats.js';

const ok = (c: Partial<CaseResult> & Pick<CaseResult, 'kind' | 'docs' | 'wall_s' | 'docs_per_s'>): CaseResult => ({ ok: true, check: {}, ...c });

function result(cases: CaseResult[]): BenchResult {
  return {
    date: '2026-11-29T05:00:00.000Z',
    machine: { cpus: 2, cpu_model: 'cpu', mem_gb: 24, load_start: [1], load_end: [2] },
    server: { kind: 'FerretDB', version: 'v1.24.2', backend: 'postgresql', mongo_url_host: '127.0.0.1:27017' },
    redis: { version: '7.0.15' },
    versions: { mongodb: '7.0.0' },
    node: 'v20.0.0',
    command: ['npm', 'run', 'bench'],
    options: {},
    cases,
    ratios: computeRatios(cases),
    notes: ['a note'],
  };
}

describe('bench: percentiles', () => {
  it('nearest rank over unsorted values; null for none', () => {
    const xs = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100];
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(100);
    expect(percentile(xs, 90)).toBe(90);
    expect(percentile(xs, 0)).toBe(10);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(xs[0]).toBe(50); // the input is not sorted in place
  });

  it('rates: whole numbers from 100 docs/s, two decimals below, null without time', () => {
    expect(rate(100_000, 49.6)).toBe(2016);
    expect(rate(29, 61.6)).toBe(0.47);
    expect(rate(10, 0)).toBeNull();
  });
});

describe('bench: ratios and targets', () => {
  const cases: CaseResult[] = [
    ok({ kind: 'raw', docs: 10_000, wall_s: 5, docs_per_s: 2000 }),
    ok({ kind: 'raw', docs: 100_000, wall_s: 50, docs_per_s: 2000 }),
    ok({ kind: 'pipeline', docs: 10_000, workers: 1, wall_s: 20, docs_per_s: 500, rss: { producer_monitor_mb: 150, workers_mb: [120] } }),
    ok({ kind: 'pipeline', docs: 10_000, workers: 2, wall_s: 10, docs_per_s: 1000, phases: { planning_s: 2 }, rss: { producer_monitor_mb: 150, workers_mb: [120, 110] } }),
    ok({ kind: 'pipeline', docs: 100_000, workers: 2, wall_s: 62.5, docs_per_s: 1600, phases: { planning_s: 10 }, rss: { producer_monitor_mb: 180, workers_mb: [130, 125] } }),
    ok({ kind: 'naive', docs: 10_000, wall_s: 300, docs_per_s: 2.5 }),
    { kind: 'raw', docs: 1_000_000, ok: false, check: {}, wall_s: 1, docs_per_s: 1_000_000, error: 'wrong digest' },
  ];

  it('pipeline over raw at the largest size with both, most workers; over naive where naive ran; no 1 M case → null', () => {
    expect(computeRatios(cases)).toEqual({ pipeline_over_raw: 0.8, pipeline_over_naive: 400, time_1m_over_100k: null });
  });

  it('time(1 M)/time(100 k) with the same worker count; a failed case counts as not run', () => {
    const more = [...cases, ok({ kind: 'pipeline', docs: 1_000_000, workers: 2, wall_s: 700, docs_per_s: 1429 })];
    expect(computeRatios(more).time_1m_over_100k).toBe(11.2);
    expect(computeRatios([cases[2]!]).pipeline_over_raw).toBeNull();
  });

  it('targets: where each stands', () => {
    const t = targets(cases, computeRatios(cases));
    const by = Object.fromEntries(t.map((x) => [x.target, x]));
    expect(by['pipeline ≥ 0.8 × raw limit']!.met).toBe(true);
    expect(by['pipeline ≥ 20 × naive']!.met).toBe(true);
    expect(by['time(1 M) / time(100 k) ≤ 11']!.met).toBeNull();
    expect(by['peak RSS of every process < 200 MB']!.value).toBe('10000: 150 MB, 100000: 180 MB');
    expect(by['peak RSS of every process < 200 MB']!.met).toBe(true);
    expect(by['peak RSS flat across sizes (±15 %)']).toMatchObject({ value: 'largest/smallest − 1 = 20 %', met: false });
    expect(by['planning ≥ 50 000 docs/s (MongoDB-class servers)']!.value).toBe('docs/s on this server: 10000: 5000, 100000: 10000');
  });
});

describe('bench: RESULTS.md', () => {
  const r = result([
    ok({ kind: 'pipeline', docs: 10_000, workers: 2, wall_s: 10, docs_per_s: 1000, shard_ms: { n: 3, p50: 100, p95: 150, max: 150 } }),
    { kind: 'naive', docs: 10_000, ok: false, check: {}, wall_s: 3, docs_per_s: 1, error: 'check failed' },
  ]);

  it('keeps the hand-written part and replaces only the generated part', () => {
    const first = renderResultsMd(r, '# Benchmark results\n\nHand-written reading.\n');
    expect(first.startsWith('# Benchmark results\n\nHand-written reading.\n\n' + GENERATED_START)).toBe(true);
    expect(first.trimEnd().endsWith(GENERATED_END)).toBe(true);
    expect(first).toContain('| 10 000 | 2 | yes | 10 | 1 000 |');
    expect(first).toContain('| 100 / 150 |');
    expect(first).toContain('**no** (check failed)');
    expect(first).toContain('(not run)');
    expect(first).toContain('- a note');
    const again = renderResultsMd(result([]), first);
    expect(again.split(GENERATED_START)[0]).toBe(first.split(GENERATED_START)[0]);
    expect(again).not.toContain('| 10 000 | 2 | yes |');
    expect(again.split(GENERATED_START)).toHaveLength(2);
  });

  it('starts a missing file with a stub hand-written part', () => {
    expect(renderResultsMd(r, null).startsWith('# Benchmark results\n')).toBe(true);
  });
});

describe('bench: command line', () => {
  it('defaults, lists, --with-1m', () => {
    expect(parseBenchArgs([])).toMatchObject({ sizes: [10_000, 100_000], workers: [1, 2], batchSize: 500 });
    const a = parseBenchArgs(['--sizes=100000,10000', '--workers=2', '--with-1m', '--cases=pipeline,raw', '--naive-budget-s=60']);
    expect(a).toMatchObject({ sizes: [10_000, 100_000, 1_000_000], workers: [2], cases: ['pipeline', 'raw'], naiveBudgetS: 60, append: false });
    expect(parseBenchArgs(['--append']).append).toBe(true);
  });

  it('refuses what it does not know', () => {
    expect(() => parseBenchArgs(['--sizes=10k'])).toThrow(/positive integers/);
    expect(() => parseBenchArgs(['--cases=fast'])).toThrow(/unknown fast/);
    expect(() => parseBenchArgs(['100000'])).toThrow(/unexpected argument/);
    expect(() => parseBenchArgs(['--workers'])).toThrow(/needs a value/);
  });
});
