/**
 * The benchmark's pure parts: the result shapes, percentiles, the ratios of the issue and
 * where each target stands. No I/O here (test/unit/bench-stats.test.ts covers it).
 */

/** Peak resident memory of the processes of a case, in MB. */
export interface RssFigures {
  /** The `start --wait` process: producer, in-process monitor and validation job. */
  producer_monitor_mb?: number;
  /** The same process, its highest sampled RSS in each phase of the run. */
  producer_phase_mb?: { planning: number | null; shards: number | null; validation: number | null };
  /** One figure per worker process. */
  workers_mb?: number[];
  /** The bench process itself (raw limit and naive cases run in it). */
  bench_mb?: number;
  /** The database server (FerretDB or mongod), highest sampled RSS during the case. */
  server_mb?: number | null;
  /** Redis `used_memory`, highest sampled during the case (the whole server). */
  redis_used_mb?: number | null;
  /** Redis `used_memory_peak` at the end of the case (the whole server since its start). */
  redis_peak_mb?: number | null;
}

export type CaseKind = 'pipeline' | 'dry_run' | 'rerun' | 'raw' | 'naive';

export interface CaseResult {
  kind: CaseKind;
  docs: number;
  workers?: number;
  /** True only when the case's own result checked out (a fast wrong answer does not count). */
  ok: boolean;
  /** What was compared, and the figures compared. */
  check: Record<string, unknown>;
  wall_s: number;
  docs_per_s: number | null;
  phases?: Record<string, number | null>;
  shard_ms?: { n: number; p50: number | null; p95: number | null; max: number | null };
  rss?: RssFigures;
  /** 1-minute load average at the start and end of the case (the machine is shared). */
  load?: [number, number];
  /** Anything else worth keeping (counts, planner info, partial-run projections). */
  extra?: Record<string, unknown>;
  error?: string;
  /** When the case ended (ISO). */
  at?: string;
}

export interface Ratios {
  pipeline_over_raw: number | null;
  pipeline_over_naive: number | null;
  time_1m_over_100k: number | null;
}

export interface BenchResult {
  date: string;
  machine: { cpus: number; cpu_model: string; mem_gb: number; load_start: number[]; load_end: number[] };
  server: { kind: string; version: string; backend: string | null; mongo_url_host: string };
  redis: { version: string };
  versions: Record<string, string>;
  node: string;
  command: string[];
  options: Record<string, unknown>;
  cases: CaseResult[];
  ratios: Ratios;
  notes: string[];
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Documents per second: whole numbers from 100 up, two decimals below (the naive case). */
export function rate(docs: number, seconds: number): number | null {
  if (!(seconds > 0)) return null;
  const r = docs / seconds;
  return r >= 100 ? Math.round(r) : round(r, 2);
}

const good = (c: CaseResult | undefined): c is CaseResult => c !== undefined && c.ok && c.docs_per_s !== null && c.docs_per_s > 0;

/** The ok case of a kind at a size (with a worker count for pipelines: the largest one run). */
export function findCase(cases: readonly CaseResult[], kind: CaseKind, docs: number): CaseResult | undefined {
  const matching = cases.filter((c) => c.kind === kind && c.docs === docs && good(c));
  return matching.sort((a, b) => (b.workers ?? 0) - (a.workers ?? 0))[0];
}

/** Sizes at which an ok case of this kind exists, ascending. */
function sizesOf(cases: readonly CaseResult[], kind: CaseKind): number[] {
  return [...new Set(cases.filter((c) => c.kind === kind && good(c)).map((c) => c.docs))].sort((a, b) => a - b);
}

/**
 * pipeline_over_raw: at the largest size with both, the pipeline's docs/s (most workers)
 * over the raw limit's; pipeline_over_naive: the same at the largest size naive ran at;
 * time_1m_over_100k: pipeline wall time at 1 M over 100 k, same worker count.
 */
export function computeRatios(cases: readonly CaseResult[]): Ratios {
  const over = (kind: CaseKind): number | null => {
    const both = sizesOf(cases, 'pipeline').filter((n) => sizesOf(cases, kind).includes(n));
    const n = both[both.length - 1];
    if (n === undefined) return null;
    const p = findCase(cases, 'pipeline', n)!;
    const o = findCase(cases, kind, n)!;
    return round(p.docs_per_s! / o.docs_per_s!, 3);
  };
  const big = findCase(cases, 'pipeline', 1_000_000);
  const small = big ? cases.find((c) => c.kind === 'pipeline' && c.docs === 100_000 && c.workers === big.workers && good(c)) : undefined;
  return {
    pipeline_over_raw: over('raw'),
    pipeline_over_naive: over('naive'),
    time_1m_over_100k: big && small ? round(big.wall_s / small.wall_s, 2) : null,
  };
}

export interface TargetStatus {
  target: string;
  value: string;
  met: boolean | null;
}

/** Highest RSS of any pipeline process, per size. */
function rssBySize(cases: readonly CaseResult[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of cases.filter((x) => x.kind === 'pipeline' && good(x))) {
    const figures = [c.rss?.producer_monitor_mb ?? 0, ...(c.rss?.workers_mb ?? [])];
    out.set(c.docs, Math.max(out.get(c.docs) ?? 0, ...figures));
  }
  return out;
}

/** Where each target of the issue stands, from the measured cases. */
export function targets(cases: readonly CaseResult[], ratios: Ratios): TargetStatus[] {
  const fmt = (x: number | null, suffix = ''): string => (x === null ? 'not measured' : `${x}${suffix}`);
  const rss = rssBySize(cases);
  const peaks = [...rss.values()];
  const spread = peaks.length >= 2 ? round((Math.max(...peaks) / Math.min(...peaks) - 1) * 100, 0) : null;
  const planning = sizesOf(cases, 'pipeline').map((n) => {
    const c = findCase(cases, 'pipeline', n)!;
    const s = c.phases?.planning_s;
    return s ? `${n}: ${Math.round(n / s)}` : `${n}: ?`;
  });
  return [
    { target: 'pipeline ≥ 0.8 × raw limit', value: fmt(ratios.pipeline_over_raw, ' ×'), met: ratios.pipeline_over_raw === null ? null : ratios.pipeline_over_raw >= 0.8 },
    { target: 'pipeline ≥ 20 × naive', value: fmt(ratios.pipeline_over_naive, ' ×'), met: ratios.pipeline_over_naive === null ? null : ratios.pipeline_over_naive >= 20 },
    { target: 'time(1 M) / time(100 k) ≤ 11', value: fmt(ratios.time_1m_over_100k), met: ratios.time_1m_over_100k === null ? null : ratios.time_1m_over_100k <= 11 },
    {
      target: 'peak RSS of every process < 200 MB',
      value: peaks.length ? [...rss].map(([n, mb]) => `${n}: ${mb} MB`).join(', ') : 'not measured',
      met: peaks.length ? Math.max(...peaks) < 200 : null,
    },
    { target: 'peak RSS flat across sizes (±15 %)', value: spread === null ? 'needs two sizes' : `largest/smallest − 1 = ${spread} %`, met: spread === null ? null : spread <= 15 },
    { target: 'planning ≥ 50 000 docs/s (MongoDB-class servers)', value: planning.length ? `docs/s on this server: ${planning.join(', ')}` : 'not measured', met: null },
  ];
}
