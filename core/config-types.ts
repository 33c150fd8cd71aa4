/**
 * The shape of the configuration `loadConfig` (core/config.ts, the only reader of the
 * environment) returns: every setting with its unit, grouped by the part that uses it.
 */
export interface Config {
  /** MongoDB URL; when unset, `services up` provides one on 127.0.0.1:27017. */
  mongoUrl: string;
  mongoUrlFromEnv: boolean;
  redisUrl: string;
  redisUrlFromEnv: boolean;
  /**
   * Redis Cluster seed nodes (REDIS_CLUSTER_NODES=host:port,...): BullMQ and every control
   * key then go to the cluster, with LNM_QUEUE_PREFIX a hash tag (`{lnm}`) so each queue's
   * keys share one slot. Empty = the single Redis of REDIS_URL.
   */
  redisClusterNodes: Array<{ host: string; port: number }>;
  /** Database name (LNM_DB). */
  db: string;
  /** BullMQ key prefix (LNM_QUEUE_PREFIX), so several deployments share one Redis. */
  queuePrefix: string;
  logLevel: string;
  /** Folder for local service data, logs and the FerretDB build (ignored by git). */
  homeDir: string;
  /** Base folder of evidence bundles: `evidence` writes `<it>/aoc-supersedes/<UTC timestamp>/`. */
  artifactsDir: string;
  /** PostgreSQL URL FerretDB uses as its backend when reachable; empty = SQLite backend. */
  ferretPostgresUrl: string;
  batchSize: number;
  /**
   * Deletes per bulk command (rollback). Small by default: FerretDB 1.24's PostgreSQL
   * backend holds one pool connection (of 50) per matched document until the whole
   * command ends, so large bulks deadlock it. MongoDB is fine with 500+.
   */
  deleteBatch: number;
  workerConcurrency: number;
  jobAttempts: number;
  jobBackoffMs: number;
  /** BullMQ lock duration: a worker that dies loses its shard after this long. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How often `start --wait` and the monitor poll the run. */
  pollIntervalMs: number;
  /** How often a worker looks for the queues of new runs (a Redis set; no database read). */
  discoveryIntervalMs: number;
  /** A `planned` run whose producer sent no heartbeat for this long is failed (resumable). */
  planStaleMs: number;
  /** How the corpus identity scan is ordered (planning, validation, corpus hashes). */
  scan: ScanConfig;
  monitor: MonitorConfig;
  events: EventsConfig;
  retention: RetentionConfig;
}

/**
 * The identity scan's order. `server`: the server sorts (covered by `raw_identity_order` on
 * MongoDB); `external`: an unsorted scan sorted on this side in runs of `sortRunRows` rows
 * spilled to `sortDir` and merged (FerretDB sorts whole documents in its own memory);
 * `auto`: external on FerretDB, server otherwise.
 */
export interface ScanConfig {
  sort: 'auto' | 'server' | 'external';
  sortRunRows: number;
  /** Folder for the sort's temp files; empty = the OS temp folder. */
  sortDir: string;
}

/** The outbox publisher and its event transport (NATS JetStream or Redis Streams). */
export interface EventsConfig {
  transport: 'nats' | 'redis';
  natsUrl: string;
  natsUrlFromEnv: boolean;
  /** JetStream stream holding the observation events (created when missing). */
  natsStream: string;
  /** First subject token: `<prefix>.advisory.observation.updated.v1`, `<prefix>.blackhole.…`. */
  subjectPrefix: string;
  /** Redis key prefix: `<prefix>:advisory.observation.updated:v1`. */
  redisPrefix: string;
  /** How long the transport remembers an eventId to drop a duplicate publish. */
  dedupeWindowS: number;
  /** Outbox rows read and published per page. */
  publisherBatch: number;
  /** Idle/stopped publisher: how often it re-reads the flag and the outbox. */
  publisherPollMs: number;
  heartbeatMs: number;
  replayTimeoutMs: number;
  connectTimeoutMs: number;
}

/** TTL of data that should expire (MongoDB TTL indexes; unavailable on FerretDB 1.24). */
export interface RetentionConfig {
  /** Published outbox rows are removed this many days after `publishedAt`. */
  outboxDays: number;
  /** Shard manifests of finished runs are removed this many days after `run_finished_at`. */
  manifestDays: number;
}

export interface MonitorConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Throttle when replication lag exceeds this, resume when below lagResumeS. */
  lagThrottleS: number;
  lagResumeS: number;
  /** Throttle when primary ops/s exceed this, resume below opsResumePerS. */
  opsThrottlePerS: number;
  opsResumePerS: number;
  cpuThrottlePct: number;
  cpuResumePct: number;
  /** Without --stop-on-error: stop when failed shards / settled shards exceed this fraction. */
  errorRateMax: number;
  /** Without --stop-on-error: stop when violations exceed this count. */
  violationsMax: number;
  alertRuntimeS: number;
  alertLagS: number;
  alertWebhookUrl: string;
  alertWebhookTimeoutMs: number;
  lockTtlMs: number;
  /** How often the monitor ticks (each tick is O(1) reads per active run). */
  tickIntervalMs: number;
  /** A run validating for longer than this is failed (validation is re-run by `validate`). */
  validateTimeoutMs: number;
  /** After this long in pausing/cancelling, the state may be forced. */
  pauseGraceMs: number;
  http: MonitorHttpConfig;
}

/** The monitor's HTTP server (Bull Board, /metrics, run and advisory APIs). */
export interface MonitorHttpConfig {
  port: number;
  host: string;
  /** Bearer token; required (or basicAuth) when `host` is not a loopback address. Empty = none. */
  token: string;
  /** `user:password` for HTTP basic auth; empty = none. */
  basicAuth: string;
}
