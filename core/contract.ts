/**
 * The job contract: for each queue, its name, its job name, the payload type, the
 * runtime parser of that payload, the job options and the deterministic job id. Nothing
 * else in the code names a queue or a job.
 *
 * Glossary
 * - run: one execution of the backfill over a scope (all tenants or one), recorded in
 *   `backfill_runs` with its arguments, snapshot bound and state.
 * - shard: at most `batch_size` raw documents made of whole advisories; one job each.
 *   Its `_id` `<run>-s<NNNNNN>` is also its job id, so planning twice enqueues nothing twice.
 * - manifest: the identities (raw id, fetched_at, content_hash) of a shard's documents,
 *   stored with the shard; a worker computes edges from it alone.
 * - hit: a write whose document already exists with identical content, written by
 *   another run (idempotency hit).
 * - resumed: a write whose document was already written by this same run (a retried or
 *   resumed shard); counted as inserted by the run.
 * - violation: a write that collides with an existing document of different content
 *   (same `_id`, or the same newer/older raw id already linked differently).
 */
import { randomBytes } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { Config } from './config.js';
import { PayloadError } from './errors.js';

export interface ShardJob {
  run_id: string;
  shard: number;
}

export interface RollbackJob {
  run_id: string;
  reason: string;
}

export interface ValidateJob {
  run_id: string;
}

const RUN_ID = /^run-\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

export function assertRunId(value: unknown, path = 'run_id'): string {
  if (typeof value !== 'string' || !RUN_ID.test(value)) {
    throw new PayloadError(path, `expected a run id like run-20260101T000000Z-abc123, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function shardId(runId: string, shard: number): string {
  return `${runId}-s${String(shard).padStart(6, '0')}`;
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PayloadError(path, 'expected an object');
  }
  return value as Record<string, unknown>;
}

export function parseShardJob(data: unknown): ShardJob {
  const o = asObject(data, 'job.data');
  const shard = o.shard;
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0) {
    throw new PayloadError('job.data.shard', `expected a non-negative integer, got ${JSON.stringify(shard)}`);
  }
  return { run_id: assertRunId(o.run_id, 'job.data.run_id'), shard };
}

export function parseValidateJob(data: unknown): ValidateJob {
  return { run_id: assertRunId(asObject(data, 'job.data').run_id, 'job.data.run_id') };
}

export function parseRollbackJob(data: unknown): RollbackJob {
  const o = asObject(data, 'job.data');
  if (typeof o.reason !== 'string') throw new PayloadError('job.data.reason', 'expected a string');
  return { run_id: assertRunId(o.run_id, 'job.data.run_id'), reason: o.reason };
}

/** What a queue carries: one job name, its payload parser, id and options. */
export interface QueueSpec<Data, Name extends string> {
  /** BullMQ queue name (under the configured key prefix); per run for shards. */
  readonly name: string | ((runId: string) => string);
  readonly jobName: Name;
  readonly parse: (data: unknown) => Data;
  readonly jobId: (data: Data) => string;
  readonly options: (cfg: Pick<Config, 'jobAttempts' | 'jobBackoffMs'>) => JobsOptions;
}

const retries = (cfg: Pick<Config, 'jobAttempts' | 'jobBackoffMs'>): JobsOptions => ({
  attempts: cfg.jobAttempts,
  backoff: { type: 'exponential', delay: cfg.jobBackoffMs },
});

/**
 * Shards have a queue per run (`shards-<run>`): pausing or throttling a run pauses its
 * queue in BullMQ, so held jobs cost nothing — no worker fetches them to look at the run.
 * Workers discover the queues of active runs from a Redis set (core/jobs.ts).
 */
export const CONTRACT = {
  shards: {
    name: (runId: string) => `shards-${runId}`,
    jobName: 'shard',
    parse: parseShardJob,
    jobId: (d: ShardJob) => shardId(d.run_id, d.shard),
    options: (cfg) => ({
      ...retries(cfg),
      removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    }),
  } satisfies QueueSpec<ShardJob, 'shard'>,
  rollback: {
    name: 'backfill-rollback',
    jobName: 'rollback',
    parse: parseRollbackJob,
    jobId: (d: RollbackJob) => `rollback-${d.run_id}`,
    options: retries,
  } satisfies QueueSpec<RollbackJob, 'rollback'>,
  validate: {
    name: 'backfill-validate',
    jobName: 'validate',
    parse: parseValidateJob,
    jobId: (d: ValidateJob) => `validate-${d.run_id}`,
    options: retries,
  } satisfies QueueSpec<ValidateJob, 'validate'>,
} as const;

export type QueueKey = keyof typeof CONTRACT;
/** Queues shared by every run (one BullMQ queue each). */
export type SharedQueueKey = Exclude<QueueKey, 'shards'>;
export const SHARED_QUEUE_KEYS: readonly SharedQueueKey[] = ['rollback', 'validate'];

/** The label under which metrics report every run's shards queue together. */
export const SHARD_QUEUE_FAMILY = 'backfill-shards';

export function shardQueueName(runId: string): string {
  return CONTRACT.shards.name(runId);
}
export type JobData<K extends QueueKey> = ReturnType<(typeof CONTRACT)[K]['parse']>;
export type JobName<K extends QueueKey> = (typeof CONTRACT)[K]['jobName'];



/** A job ready for `Queue.add`: name, data and options with its deterministic id. */
export function jobFor<K extends QueueKey>(
  key: K,
  data: JobData<K>,
  cfg: Pick<Config, 'jobAttempts' | 'jobBackoffMs'>,
): { name: JobName<K>; data: JobData<K>; opts: JobsOptions } {
  const spec = CONTRACT[key] as unknown as QueueSpec<JobData<K>, JobName<K>>;
  return { name: spec.jobName, data, opts: { ...spec.options(cfg), jobId: spec.jobId(data) } };
}

export function rollbackJobId(runId: string): string {
  return CONTRACT.rollback.jobId({ run_id: runId, reason: '' });
}

export function validateJobId(runId: string): string {
  return CONTRACT.validate.jobId({ run_id: runId });
}
