/**
 * The job contract: queue names, payload schemas (validated at runtime) and
 * deterministic ids. A shard's job id equals its `backfill_shards` _id, so planning
 * the same run twice enqueues nothing twice.
 */
import { randomBytes } from 'node:crypto';
import { PayloadError } from './errors.js';

export const QUEUES = {
  shards: 'backfill-shards',
  rollback: 'backfill-rollback',
} as const;

export interface ShardJob {
  run_id: string;
  shard: number;
}

export interface RollbackJob {
  run_id: string;
  reason: string;
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

export function rollbackJobId(runId: string): string {
  return `rollback-${runId}`;
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

export function parseRollbackJob(data: unknown): RollbackJob {
  const o = asObject(data, 'job.data');
  if (typeof o.reason !== 'string') throw new PayloadError('job.data.reason', 'expected a string');
  return { run_id: assertRunId(o.run_id, 'job.data.run_id'), reason: o.reason };
}
