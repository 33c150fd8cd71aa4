/** `start`: record the run, plan its shards, enqueue one job per shard. */
import type { Logger } from 'pino';
import type { JobsOptions } from 'bullmq';
import type { Connections } from '../core/connections.js';
import { QUEUES, newRunId, shardId, type ShardJob } from '../core/contract.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { createRun, getRun, transitionRun, updateRun, type RunDoc } from '../core/store/runs.js';
import { listShards } from '../core/store/shards.js';
import { errorSummary } from '../core/errors.js';
import { planShards } from './plan.js';

export interface StartOptions {
  dryRun: boolean;
  batchSize: number;
  stopOnError: boolean;
  tenant: string | null;
  commandLine: string[];
}

export function jobOptions(conns: Connections, runId: string, shard: number): JobsOptions {
  return {
    jobId: shardId(runId, shard),
    attempts: conns.cfg.jobAttempts,
    backoff: { type: 'exponential', delay: conns.cfg.jobBackoffMs },
    removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

async function enqueue(conns: Connections, runId: string, shards: number[]): Promise<void> {
  const queue = conns.queue(QUEUES.shards);
  for (let i = 0; i < shards.length; i += 500) {
    await queue.addBulk(
      shards.slice(i, i + 500).map((shard) => ({
        name: 'shard',
        data: { run_id: runId, shard } satisfies ShardJob,
        opts: jobOptions(conns, runId, shard),
      })),
    );
  }
}

export async function startRun(conns: Connections, opts: StartOptions, log: Logger): Promise<RunDoc> {
  const { db } = conns;
  await ensureIndexes(db);
  const runId = newRunId();
  const rlog = log.child({ run_id: runId });
  const snapshotBound = new Date();
  const run = await createRun(db, {
    _id: runId,
    dry_run: opts.dryRun,
    stop_on_error: opts.stopOnError,
    batch_size: opts.batchSize,
    tenant: opts.tenant,
    command_line: opts.commandLine,
    args: { dry_run: opts.dryRun, batch_size: opts.batchSize, stop_on_error: opts.stopOnError, tenant: opts.tenant },
    snapshot_bound: snapshotBound,
    observations_before: await db.collection(COLL.observations).countDocuments({}),
  });
  rlog.info({ args: run.args }, 'run recorded');
  let planned;
  try {
    planned = await planShards(db, run, rlog);
  } catch (err) {
    await transitionRun(db, runId, 'failed', { reason: 'planning failed', error: { ...errorSummary(err), at: new Date() } });
    throw err;
  }
  await updateRun(db, runId, {
    shards_total: planned.shards,
    snapshot: { docs: planned.docs, advisories: planned.advisories, corpus_sha256: planned.corpus_sha256 },
  });
  try {
    // Jobs first (workers defer them while the run is `planned`), then the switch.
    await enqueue(conns, runId, Array.from({ length: planned.shards }, (_, i) => i));
  } catch (err) {
    await transitionRun(db, runId, 'failed', { reason: 'enqueueing failed', error: { ...errorSummary(err), at: new Date() } });
    throw err;
  }
  await transitionRun(db, runId, 'running', { reason: 'planned and enqueued', set: { started_at: new Date() } });
  rlog.info({ shards: planned.shards, docs: planned.docs }, 'run started');
  return getRun(db, runId);
}

/**
 * Put every shard that is not done back on the queue (after a cancel, a failure or a
 * lost queue). Job ids are deterministic: a job still waiting is left alone, a
 * finished one is removed and added again.
 */
export async function requeuePending(conns: Connections, runId: string, log: Logger): Promise<number> {
  const queue = conns.queue(QUEUES.shards);
  const todo: number[] = [];
  for (const s of await listShards(conns.db, runId)) {
    if (s.state === 'done') continue;
    const job = await queue.getJob(s._id);
    if (job) {
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized') continue;
      await job.remove();
    }
    todo.push(s.shard);
  }
  await enqueue(conns, runId, todo);
  log.info({ run_id: runId, requeued: todo.length }, 'pending shards requeued');
  return todo.length;
}
