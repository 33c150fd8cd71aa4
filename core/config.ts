/**
 * The only reader of the environment. Every value has a default with its unit in the
 * name, is validated once, and fails with ERR_CONFIG naming the variable.
 */
import path from 'node:path';
import { ConnectionString } from 'mongodb-connection-string-url';
import { ConfigError } from './errors.js';
import { CONFIG_DOCS } from './config-docs.js';
import { MAX_BATCH_SIZE } from './manifest-bound.js';
import { redactUrl } from './redact.js';
import type { Config, EventsConfig, ScanConfig } from './config-types.js';

export type { Config, ScanConfig, EventsConfig, RetentionConfig, MonitorConfig, MonitorHttpConfig } from './config-types.js';

type Env = Record<string, string | undefined>;

/** One variable as `configReference` lists it: its default and what it accepts. */
export interface VarInfo {
  name: string;
  default: string;
  accepts: string;
}

/** While `configReference` loads the defaults, every reader notes its variable here. */
let trace: VarInfo[] | undefined;

function note(name: string, dflt: string, accepts: string): void {
  trace?.push({ name, default: dflt, accepts });
}

function str(env: Env, name: string, dflt: string, pattern?: RegExp, shown = dflt): string {
  note(name, shown, pattern ? String(pattern) : 'text');
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (pattern && !pattern.test(v)) throw new ConfigError(name, `"${v}" does not match ${pattern}`);
  return v;
}

/** A credential: validated like `str`, but an invalid value is never echoed in the error. */
function secret(env: Env, name: string, pattern: RegExp, accepts: string): string {
  note(name, '', accepts);
  const v = env[name];
  if (v === undefined || v === '') return '';
  if (!pattern.test(v)) throw new ConfigError(name, `the value (not shown) is not ${accepts}`);
  return v;
}

function num(env: Env, name: string, dflt: number, min: number, max: number, integer = true): number {
  note(name, String(dflt), `${integer ? 'integer' : 'number'} ${min}..${max}`);
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new ConfigError(name, `"${v}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

function url(env: Env, name: string, dflt: string, schemes: string[]): { value: string; fromEnv: boolean } {
  note(name, dflt, `URL (${schemes.map((x) => x.replace(/:$/, '')).join(', ')})`);
  const v = env[name];
  if (v === undefined || v === '') return { value: dflt, fromEnv: false };
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(name, `"${redactUrl(v)}" is not a URL`);
  }
  if (!schemes.includes(parsed.protocol)) throw new ConfigError(name, `scheme must be one of ${schemes.join(', ')}`);
  return { value: v, fromEnv: true };
}

/**
 * MONGO_URL through the driver's own connection-string parser (`new URL` refuses the
 * multi-host replica-set form `mongodb://u:p@h1:27017,h2:27017/?replicaSet=rs0`).
 */
function mongoUrl(env: Env, name: string, dflt: string): { value: string; fromEnv: boolean } {
  note(name, dflt, 'MongoDB connection string (mongodb, mongodb+srv; several hosts)');
  const v = env[name];
  if (v === undefined || v === '') return { value: dflt, fromEnv: false };
  let hosts: string[];
  try {
    hosts = new ConnectionString(v).hosts;
  } catch (err) {
    throw new ConfigError(name, `"${redactUrl(v)}" is not a MongoDB connection string: ${(err as Error).message}`);
  }
  for (const host of hosts) {
    const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(host)?.[1];
    if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      throw new ConfigError(name, `"${redactUrl(v)}": host "${host}" has an invalid port`);
    }
  }
  return { value: v, fromEnv: true };
}

const NAME = /^[A-Za-z0-9_-]{1,60}$/;
/** A queue prefix: a name, or a Redis Cluster hash tag `{name}` (required with REDIS_CLUSTER_NODES). */
const PREFIX = /^([A-Za-z0-9_-]{1,60}|\{[A-Za-z0-9_-]{1,58}\})$/;

function clusterNodes(env: Env): Array<{ host: string; port: number }> {
  note('REDIS_CLUSTER_NODES', '', 'host:port,host:port,...');
  const v = env.REDIS_CLUSTER_NODES;
  if (v === undefined || v.trim() === '') return [];
  return v.split(',').map((item) => {
    const m = /^\s*([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(item);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new ConfigError('REDIS_CLUSTER_NODES', `"${item.trim()}" is not host:port (a comma-separated list of cluster nodes)`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}
/** A NATS subject prefix: dot-separated tokens without wildcards. */
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]{1,40}(\.[A-Za-z0-9_-]{1,40}){0,3}$/;

export function loadConfig(env: Env = process.env): Config {
  const mongo = mongoUrl(env, 'MONGO_URL', 'mongodb://127.0.0.1:27017/');
  const redis = url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const lagThrottleS = num(env, 'LNM_LAG_THROTTLE_S', 5, 0, 3600, false);
  const opsThrottlePerS = num(env, 'LNM_OPS_THROTTLE_PER_S', 50_000, 1, 1e9);
  const cpuThrottlePct = num(env, 'LNM_CPU_THROTTLE_PCT', 90, 1, 100);
  const nats = url(env, 'NATS_URL', 'nats://127.0.0.1:4222', ['nats:', 'tls:']);
  const cfg: Config = {
    mongoUrl: mongo.value,
    mongoUrlFromEnv: mongo.fromEnv,
    redisUrl: redis.value,
    redisUrlFromEnv: redis.fromEnv,
    db: str(env, 'LNM_DB', 'lnm', NAME),
    redisClusterNodes: clusterNodes(env),
    queuePrefix: str(env, 'LNM_QUEUE_PREFIX', 'lnm', PREFIX),
    logLevel: str(env, 'LNM_LOG_LEVEL', 'info', /^(trace|debug|info|warn|error|fatal|silent)$/),
    homeDir: path.resolve(str(env, 'LNM_HOME', path.join(process.cwd(), '.lnm'), undefined, './.lnm')),
    artifactsDir: path.resolve(str(env, 'LNM_ARTIFACTS_DIR', path.join(process.cwd(), 'artifacts'), undefined, './artifacts')),
    ferretPostgresUrl: str(env, 'LNM_FERRETDB_POSTGRES_URL', 'postgres://postgres@127.0.0.1:5432/lnm_ferretdb'),
    batchSize: num(env, 'LNM_BATCH_SIZE', 500, 1, MAX_BATCH_SIZE),
    deleteBatch: num(env, 'LNM_DELETE_BATCH', 8, 1, 10_000),
    workerConcurrency: num(env, 'LNM_WORKER_CONCURRENCY', 2, 1, 64),
    jobAttempts: num(env, 'LNM_JOB_ATTEMPTS', 5, 1, 100),
    jobBackoffMs: num(env, 'LNM_JOB_BACKOFF_MS', 1000, 0, 600_000),
    lockDurationMs: num(env, 'LNM_LOCK_DURATION_MS', 30_000, 500, 3_600_000),
    stalledIntervalMs: num(env, 'LNM_STALLED_INTERVAL_MS', 30_000, 500, 3_600_000),
    pollIntervalMs: num(env, 'LNM_POLL_INTERVAL_MS', 500, 50, 60_000),
    discoveryIntervalMs: num(env, 'LNM_DISCOVERY_INTERVAL_MS', 1000, 20, 60_000),
    planStaleMs: num(env, 'LNM_PLAN_STALE_MS', 60_000, 100, 3_600_000),
    scan: {
      sort: str(env, 'LNM_PLAN_SORT', 'auto', /^(auto|server|external)$/) as ScanConfig['sort'],
      sortRunRows: num(env, 'LNM_SORT_RUN_ROWS', 20_000, 100, 10_000_000),
      sortDir: str(env, 'LNM_SORT_DIR', ''),
    },
    monitor: {
      probeIntervalMs: num(env, 'LNM_PROBE_INTERVAL_MS', 5000, 50, 600_000),
      probeTimeoutMs: num(env, 'LNM_PROBE_TIMEOUT_MS', 2000, 10, 60_000),
      lagThrottleS,
      lagResumeS: num(env, 'LNM_LAG_RESUME_S', lagThrottleS / 2, 0, lagThrottleS, false),
      opsThrottlePerS,
      opsResumePerS: num(env, 'LNM_OPS_RESUME_PER_S', Math.floor(opsThrottlePerS * 0.7), 0, opsThrottlePerS),
      cpuThrottlePct,
      cpuResumePct: num(env, 'LNM_CPU_RESUME_PCT', Math.floor(cpuThrottlePct * 0.7), 0, cpuThrottlePct),
      errorRateMax: num(env, 'LNM_ERROR_RATE_MAX', 0.01, 0, 1, false),
      violationsMax: num(env, 'LNM_VIOLATIONS_MAX', 0, 0, 1e9),
      alertRuntimeS: num(env, 'LNM_ALERT_RUNTIME_S', 7200, 1, 1e7),
      alertLagS: num(env, 'LNM_ALERT_LAG_S', 60, 0, 1e6, false),
      alertWebhookUrl: url(env, 'LNM_ALERT_WEBHOOK_URL', '', ['http:', 'https:']).value,
      alertWebhookTimeoutMs: num(env, 'LNM_ALERT_WEBHOOK_TIMEOUT_MS', 3000, 10, 60_000),
      lockTtlMs: num(env, 'LNM_MONITOR_LOCK_TTL_MS', 15_000, 100, 600_000),
      tickIntervalMs: num(env, 'LNM_MONITOR_TICK_MS', 1000, 20, 600_000),
      validateTimeoutMs: num(env, 'LNM_VALIDATE_TIMEOUT_MS', 3_600_000, 1000, 86_400_000),
      pauseGraceMs: num(env, 'LNM_PAUSE_GRACE_MS', 30_000, 0, 3_600_000),
      http: {
        port: num(env, 'LNM_MONITOR_PORT', 9464, 0, 65_535),
        host: str(env, 'LNM_MONITOR_HOST', '127.0.0.1', /^[A-Za-z0-9.:-]{1,253}$/),
        token: secret(env, 'LNM_MONITOR_TOKEN', /^[\x21-\x7e]{16,512}$/, '16 to 512 printable characters, no spaces'),
        basicAuth: secret(env, 'LNM_MONITOR_BASIC_AUTH', /^[^:\s]{1,128}:\S{8,256}$/, 'user:password, password 8 to 256 characters, no spaces'),
      },
    },
    events: {
      transport: str(env, 'LNM_EVENT_TRANSPORT', 'nats', /^(nats|redis)$/) as EventsConfig['transport'],
      natsUrl: nats.value,
      natsUrlFromEnv: nats.fromEnv,
      natsStream: str(env, 'LNM_NATS_STREAM', 'CONCELIER_OBS', NAME),
      subjectPrefix: str(env, 'LNM_EVENT_SUBJECT_PREFIX', 'concelier', SUBJECT_PREFIX),
      redisPrefix: str(env, 'LNM_EVENT_REDIS_PREFIX', 'concelier', NAME),
      dedupeWindowS: num(env, 'LNM_EVENT_DEDUPE_WINDOW_S', 600, 1, 86_400),
      publisherBatch: num(env, 'LNM_PUBLISHER_BATCH', 100, 1, 5000),
      publisherPollMs: num(env, 'LNM_PUBLISHER_POLL_MS', 1000, 20, 60_000),
      heartbeatMs: num(env, 'LNM_HEARTBEAT_MS', 2000, 50, 600_000),
      replayTimeoutMs: num(env, 'LNM_REPLAY_TIMEOUT_MS', 10_000, 100, 600_000),
      connectTimeoutMs: num(env, 'LNM_EVENT_CONNECT_TIMEOUT_MS', 3000, 100, 60_000),
    },
    retention: {
      outboxDays: num(env, 'LNM_OUTBOX_TTL_DAYS', 7, 1, 3650),
      manifestDays: num(env, 'LNM_MANIFEST_TTL_DAYS', 30, 1, 3650),
    },
  };
  if (cfg.redisClusterNodes.length > 0 && !cfg.queuePrefix.startsWith('{')) {
    throw new ConfigError('LNM_QUEUE_PREFIX', `"${cfg.queuePrefix}" must be a hash tag such as {${cfg.queuePrefix}} with REDIS_CLUSTER_NODES (BullMQ keeps each queue's keys in one slot)`);
  }
  return Object.freeze(cfg);
}

/** Every variable the configuration reads, in order, with its default, what it accepts and its meaning. */
export function configReference(): Array<VarInfo & { doc: string }> {
  trace = [];
  try {
    loadConfig({});
    return trace.map((v) => ({ ...v, doc: CONFIG_DOCS[v.name] ?? '' }));
  } finally {
    trace = undefined;
  }
}

/** The README's configuration table (between its config-reference markers). */
export function renderConfigReference(): string {
  const cell = (t: string) => t.replace(/\|/g, '\\|');
  const rows = configReference().map((v) => `| \`${v.name}\` | ${v.default === '' ? '—' : `\`${cell(v.default)}\``} | ${cell(v.accepts)} | ${cell(v.doc)} |`);
  return ['| variable | default | accepts | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** Environment for a child process of this CLI that must see the same configuration. */
export function childEnv(cfg: Config): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MONGO_URL: cfg.mongoUrl,
    REDIS_URL: cfg.redisUrl,
    REDIS_CLUSTER_NODES: cfg.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(','),
    LNM_DB: cfg.db,
    LNM_QUEUE_PREFIX: cfg.queuePrefix,
    LNM_HOME: cfg.homeDir,
    LNM_ARTIFACTS_DIR: cfg.artifactsDir,
    NATS_URL: cfg.events.natsUrl,
    LNM_EVENT_TRANSPORT: cfg.events.transport,
    LNM_NATS_STREAM: cfg.events.natsStream,
    LNM_EVENT_SUBJECT_PREFIX: cfg.events.subjectPrefix,
    LNM_EVENT_REDIS_PREFIX: cfg.events.redisPrefix,
  };
}

/**
 * Environment for a server this CLI starts (FerretDB): the parent's plus `secrets`, values
 * taken from the Config. Secrets travel in the environment, never on a command line (`ps`).
 */
export function serverEnv(secrets: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...secrets };
}
