/**
 * The catalog of every Prometheus metric the monitor's `/metrics` exposes: name, type,
 * help and label names. Pure data: the HTTP server registers exactly these with
 * prom-client, and a unit test checks that every metric named in the Grafana dashboard
 * (ops/grafana/lnm-backfill.json) and in the alert rules (ops/prometheus/alerts.yml) is
 * in here, so neither can drift from the code.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/):
 * - every name starts with `lnm_backfill_`; counters end in `_total`; units are base
 *   units in the name (`_seconds`, `_bytes`, `_ratio`, `_per_second`).
 * - per-run series carry `run_id`; the run counters are the sums over the run's shard
 *   documents (the source of truth), set at each scrape: they only grow, except when a
 *   resumed run resets its failed shards, which `rate()` reads as a counter reset.
 * - a value that cannot be measured is ABSENT (no sample), never 0: a 0 s oplog lag on a
 *   standalone server would read as "perfectly healthy" and silence the lag alert.
 * - enum-like values are labels with a fixed set of values (`labelValues`), never free
 *   text (throttle reasons are free text in the run document; here they are categories).
 */
import type { ShardState } from '../../core/store/shards.js';
import { inGroup, RUN_STATES, TERMINAL_STATES } from '../../core/store/run-status.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  labelNames: readonly string[];
  /** For labels with a closed set of values: every value the exporter may emit. */
  labelValues?: Readonly<Record<string, readonly string[]>>;
  /** Histograms only: upper bounds of the buckets. */
  buckets?: readonly number[];
  /** True when the series is left out (not 0) while the value is unknown. */
  absentWhenUnavailable?: boolean;
}

export const METRIC_PREFIX = 'lnm_backfill_';

export const SHARD_STATES = ['pending', 'done', 'failed'] as const satisfies readonly ShardState[];

/** BullMQ job states, as `Queue.getJobCounts()` names them. */
export const QUEUE_JOB_STATES = [
  'waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'completed', 'failed',
] as const;

/** Categories of the run's throttle reasons (`lag …`, `ops …`, `cpu …`, `flow control lagged`). */
export const THROTTLE_REASONS = ['lag', 'ops', 'cpu', 'flow_control'] as const;

/** States in which `run_active` is 1: every state that is not terminal. */
export const ACTIVE_RUN_STATES = RUN_STATES.filter((s) => !inGroup(s, TERMINAL_STATES));

const run = ['run_id'] as const;

function runCounter(what: string, help: string): MetricDef {
  return { name: `${METRIC_PREFIX}${what}_total`, type: 'counter', help, labelNames: run };
}

export const METRICS = {
  documentsProcessed: runCounter('documents_processed', 'Raw advisory documents of the run whose shard is done.'),
  advisoriesProcessed: runCounter('advisories_processed', 'Advisories (tenant, vendor, upstream id) of the run whose shard is done.'),
  edgesInserted: runCounter('edges_inserted', 'Supersedes edges the run inserted.'),
  tombstonesInserted: runCounter('tombstones_inserted', 'Observation tombstones the run inserted.'),
  idempotentHits: runCounter('idempotent_hits', 'Writes that found an identical edge or tombstone already stored (a replay, not an error).'),
  writeAttempts: runCounter('write_attempts', 'Edge and tombstone inserts the run attempted.'),
  idempotencyViolations: runCounter(
    'idempotency_violations',
    'Writes that collided with a stored edge or tombstone of different content. Any value above 0 is an integrity problem.',
  ),
  errors: runCounter('errors', 'Shards of the run that failed for good (retries exhausted or unrecoverable).'),

  shards: {
    name: `${METRIC_PREFIX}shards`,
    type: 'gauge',
    help: 'Shards of the run by state.',
    labelNames: ['run_id', 'state'],
    labelValues: { state: SHARD_STATES },
  },
  queueJobs: {
    name: `${METRIC_PREFIX}queue_jobs`,
    type: 'gauge',
    help: 'Jobs in a BullMQ queue by job state (queue depth). state="waiting" of the shard queue drives worker autoscaling.',
    labelNames: ['queue', 'state'],
    labelValues: { state: QUEUE_JOB_STATES },
  },
  runState: {
    name: `${METRIC_PREFIX}run_state`,
    type: 'gauge',
    help: 'Run state as an enum: one series per state, 1 for the current state and 0 for the others.',
    labelNames: ['run_id', 'state'],
    labelValues: { state: RUN_STATES },
  },
  runActive: {
    name: `${METRIC_PREFIX}run_active`,
    type: 'gauge',
    help: '1 while the run is in a non-terminal state (not succeeded, failed, cancelled or rolled back), else 0.',
    labelNames: run,
  },
  runDuration: {
    name: `${METRIC_PREFIX}run_duration_seconds`,
    type: 'gauge',
    help: 'Seconds since the run started; frozen at its finish time once it settles. Absent before it starts.',
    labelNames: run,
    absentWhenUnavailable: true,
  },
  runProgress: {
    name: `${METRIC_PREFIX}run_progress_ratio`,
    type: 'gauge',
    help: 'Documents processed divided by the documents in the run snapshot (0 to 1).',
    labelNames: run,
    absentWhenUnavailable: true,
  },
  runEta: {
    name: `${METRIC_PREFIX}run_eta_seconds`,
    type: 'gauge',
    help: 'Estimated seconds until every shard of the run is done, at the current document rate. Absent while no rate is known.',
    labelNames: run,
    absentWhenUnavailable: true,
  },
  runLastProgress: {
    name: `${METRIC_PREFIX}run_last_progress_timestamp_seconds`,
    type: 'gauge',
    help: 'Unix time of the last change in documents processed (the run start before the first shard is done).',
    labelNames: run,
    absentWhenUnavailable: true,
  },
  insertRate: {
    name: `${METRIC_PREFIX}insert_rate_per_second`,
    type: 'gauge',
    help: 'Edges plus tombstones inserted per second over the monitor\'s last sampling window.',
    labelNames: run,
    absentWhenUnavailable: true,
  },
  throttled: {
    name: `${METRIC_PREFIX}throttled`,
    type: 'gauge',
    help: '1 while the monitor holds the run\'s dispatch back because of replication lag or primary load, else 0.',
    labelNames: run,
  },
  throttleReason: {
    name: `${METRIC_PREFIX}throttle_reason`,
    type: 'gauge',
    help: 'One series per reason category currently keeping the run throttled (value 1); none while not throttled.',
    labelNames: ['run_id', 'reason'],
    labelValues: { reason: THROTTLE_REASONS },
  },
  oplogLag: {
    name: `${METRIC_PREFIX}oplog_lag_seconds`,
    type: 'gauge',
    help: 'Replication (oplog) lag of the slowest secondary in seconds. ABSENT when unavailable (standalone server, FerretDB, probe timeout), never 0.',
    labelNames: [],
    absentWhenUnavailable: true,
  },
  mongoOps: {
    name: `${METRIC_PREFIX}mongodb_ops_per_second`,
    type: 'gauge',
    help: 'Operations per second on the MongoDB primary (serverStatus opcounters). Absent when unavailable.',
    labelNames: [],
    absentWhenUnavailable: true,
  },
  alertsFired: {
    name: `${METRIC_PREFIX}alerts_fired_total`,
    type: 'counter',
    help: 'Alerts the monitor raised (log line and optional webhook), by alert code.',
    labelNames: ['code'],
  },
  collectDuration: {
    name: `${METRIC_PREFIX}collect_duration_seconds`,
    type: 'histogram',
    help: 'Time to gather runs, shards and queue counts for one /metrics scrape.',
    labelNames: [],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
} as const satisfies Record<string, MetricDef>;

export const METRIC_CATALOG: readonly MetricDef[] = Object.values(METRICS);

/** Prefix for prom-client's `collectDefaultMetrics({ prefix })`. */
export const DEFAULT_METRICS_PREFIX = METRIC_PREFIX;

/**
 * The process metrics prom-client's collectDefaultMetrics (v15) exposes with our prefix
 * that the dashboard and the rules rely on. A test checks prom-client still emits them.
 */
export const DEFAULT_METRICS: readonly Pick<MetricDef, 'name' | 'type'>[] = [
  { name: `${METRIC_PREFIX}process_cpu_seconds_total`, type: 'counter' },
  { name: `${METRIC_PREFIX}process_start_time_seconds`, type: 'gauge' },
  { name: `${METRIC_PREFIX}process_resident_memory_bytes`, type: 'gauge' },
  { name: `${METRIC_PREFIX}nodejs_heap_size_used_bytes`, type: 'gauge' },
  { name: `${METRIC_PREFIX}nodejs_eventloop_lag_p99_seconds`, type: 'gauge' },
];

/**
 * Every series name a scrape may contain for these metrics: a histogram `h` appears as
 * `h_bucket`, `h_sum` and `h_count`.
 */
export function seriesNames(defs: readonly Pick<MetricDef, 'name' | 'type'>[]): string[] {
  return defs.flatMap((d) => (d.type === 'histogram' ? [`${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`] : [d.name]));
}
