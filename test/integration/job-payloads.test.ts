/**
 * Job payloads are validated at runtime by a real worker process: a forged or malformed
 * shard or rollback job is failed as unrecoverable on its first attempt, with the stable
 * code at the start of its failedReason, and never retried (the jobs allow 5 attempts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, quietLog } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import type { Job, Queue } from 'bullmq';
import type { Connections } from '../../core/connections.js';
import { manifestsColl, shardsColl } from '../../core/store/shards.js';
import { startRun } from '../../producer/start.js';

const res = useResources();
const cfg = res.config('job_payloads');
let conns: Connections;
let runId: string;
const RETRYABLE = { attempts: 5, backoff: { type: 'fixed', delay: 50 } };

beforeAll(async () => {
  conns = await res.open(cfg);
  // A real run (empty corpus: no shard) that forged jobs can name; no monitor settles it.
  const run = await startRun(conns, { dryRun: false, batchSize: 10, stopOnError: false, tenant: null, commandLine: ['test'], force: { reason: 'test' } }, quietLog);
  runId = run._id;
  expect(run.state).toBe('running');
  const broken = { _id: `${runId}-s000008`, run_id: runId, shard: 8, state: 'pending', docs: 1, first_key: 'x', last_key: 'x', attempts: 0 };
  await shardsColl(conns.db).insertOne(broken as never);
  await manifestsColl(conns.db).insertOne({ _id: broken._id, run_id: runId, advisories: 'not an array' as never, created_at: new Date() });
});

async function settledFailure(queue: Queue, job: Job): Promise<{ state: string; attemptsMade: number; failedReason: string }> {
  return pollUntil(
    async () => {
      const state = await queue.getJobState(job.id!);
      if (state !== 'failed' && state !== 'completed') return null;
      const now = await queue.getJob(job.id!);
      return { state, attemptsMade: now?.attemptsMade ?? -1, failedReason: now?.failedReason ?? '' };
    },
    `job ${job.id} to settle`,
    60_000,
    100,
  );
}

describe('forged and malformed job payloads', () => {
  it('a worker process is running', async () => {
    const child = res.worker(cfg);
    expect(await pollUntil(async () => (await conns.queue('shards', runId).getWorkersCount()) > 0, 'the worker to serve the run', 30_000)).toBe(true);
    expect(exited(child)).toBe(false);
  });

  it.each([
    ['not an object', () => 'shard-0', 'ERR_PAYLOAD: job.data: expected an object'],
    ['empty object', () => ({}), 'ERR_PAYLOAD: job.data.shard: expected a non-negative integer'],
    ['negative shard', () => ({ run_id: runId, shard: -1 }), 'ERR_PAYLOAD: job.data.shard'],
    ['shard as a string', () => ({ run_id: runId, shard: '0' }), 'ERR_PAYLOAD: job.data.shard'],
    ['run id with a path', () => ({ run_id: '../../admin', shard: 0 }), 'ERR_PAYLOAD: job.data.run_id: expected a run id'],
    ['prototype keys', () => JSON.parse('{"__proto__":{"shard":1},"run_id":"x"}') as unknown, 'ERR_PAYLOAD: job.data.shard'],
    ['a run that does not exist', () => ({ run_id: 'run-20200101T000000Z-abcdef', shard: 0 }), 'ERR_PAYLOAD: job.data.run_id: run run-20200101T000000Z-abcdef does not exist'],
    ['a shard the run never planned', () => ({ run_id: runId, shard: 7 }), 'ERR_PAYLOAD: job.data.shard: shard'],
    ['a shard whose stored manifest is broken', () => ({ run_id: runId, shard: 8 }), 'ERR_PAYLOAD: backfill_manifests/'],
  ])('shard job, %s: failed once with its code, never retried', async (_name, data, reason) => {
    const queue = conns.queue('shards', runId) as unknown as Queue;
    const job = await queue.add('shard', data(), RETRYABLE);
    const settled = await settledFailure(queue, job);
    expect(settled).toMatchObject({ state: 'failed', attemptsMade: 1 });
    expect(settled.failedReason.startsWith(reason), settled.failedReason).toBe(true);
  });

  it('the broken manifest is checkpointed on its shard', async () => {
    const shard = await shardsColl(conns.db).findOne({ _id: `${runId}-s000008` });
    expect(shard?.state).toBe('failed');
    expect(shard?.error?.code).toBe('ERR_PAYLOAD');
  });

  it.each([
    ['empty object', () => ({}), 'ERR_PAYLOAD: job.data.reason: expected a string'],
    ['run id with a path', () => ({ run_id: 'run-x;rm', reason: 'x' }), 'ERR_PAYLOAD: job.data.run_id'],
    ['a run that does not exist', () => ({ run_id: 'run-20200101T000000Z-abcdef', reason: 'forged' }), 'ERR_NOT_FOUND: run run-20200101T000000Z-abcdef not found'],
  ])('rollback job, %s: failed once with its code, never retried', async (_name, data, reason) => {
    const queue = conns.queue('rollback') as unknown as Queue;
    const job = await queue.add('rollback', data(), RETRYABLE);
    const settled = await settledFailure(queue, job);
    expect(settled).toMatchObject({ state: 'failed', attemptsMade: 1 });
    expect(settled.failedReason.startsWith(reason), settled.failedReason).toBe(true);
  });

  it('the worker survived every bad payload and stops cleanly', async () => {
    expect(res.openChildren()).toHaveLength(1);
    const [child] = res.children.map((c) => c.child);
    await res.stop(child!);
    expect(child!.exitCode).toBe(0);
    await res.close(conns);
  });

  res.leakCheck();
});
