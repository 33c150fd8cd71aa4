/**
 * Queue bookkeeping shared by the producer, the workers, the monitor and the control
 * commands. Each run has its own shards queue (core/contract.ts); a Redis set lists the
 * runs whose queues workers must serve. A run's queue dispatches only while the run is
 * `running`: pausing, throttling and planning pause the queue in BullMQ, so held jobs
 * cost no reads at all (no worker fetches them to look at the run).
 */
import type { Logger } from 'pino';
import { redisNodes, type Connections } from './connections.js';
import { jobFor, rollbackJobId, shardId, shardQueueName, SHARED_QUEUE_KEYS, validateJobId } from './contract.js';
import type { RunState } from './store/run-status.js';
import { listShards } from './store/shards.js';

/** The Redis set of runs whose shards queues workers serve. */
export function activeRunsKey(prefix: string): string {
  return `${prefix}:active-runs`;
}

export async function registerRun(conns: Connections, runId: string): Promise<void> {
  await conns.sharedRedis().sadd(activeRunsKey(conns.cfg.queuePrefix), runId);
}

export async function unregisterRun(conns: Connections, runId: string): Promise<void> {
  await conns.sharedRedis().srem(activeRunsKey(conns.cfg.queuePrefix), runId);
}

export async function activeRunIds(conns: Connections): Promise<string[]> {
  return conns.sharedRedis().smembers(activeRunsKey(conns.cfg.queuePrefix));
}

export async function enqueueShards(conns: Connections, runId: string, shards: number[]): Promise<void> {
  const queue = conns.queue('shards', runId);
  for (let i = 0; i < shards.length; i += 500) {
    await queue.addBulk(shards.slice(i, i + 500).map((shard) => jobFor('shards', { run_id: runId, shard }, conns.cfg)));
  }
}

/** Pause or resume the run's queue so that it dispatches exactly while the run is running. Idempotent. */
export async function syncDispatch(conns: Connections, runId: string, state: RunState): Promise<void> {
  const queue = conns.queue('shards', runId);
  const paused = await queue.isPaused();
  if (state === 'running' && paused) await queue.resume();
  else if (state !== 'running' && !paused) await queue.pause();
}

/** Shard jobs of this run a worker holds right now. */
export async function activeShardJobs(conns: Connections, runId: string): Promise<number> {
  return conns.queue('shards', runId).getActiveCount();
}

/** Jobs of the run that are queued or in flight (0 = the queue has nothing left to do). */
export async function queuedShardJobs(conns: Connections, runId: string): Promise<number> {
  const c = await conns.queue('shards', runId).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Withdraw every queued (not in-flight) shard job of the run. */
export async function withdrawQueued(conns: Connections, runId: string): Promise<void> {
  await conns.queue('shards', runId).drain(true);
}

/**
 * Put every shard that is not done back on the run's queue (after a cancel, a failure, a
 * lost job or a lost queue). Job ids are deterministic: a job still queued or in flight
 * is left alone, a finished one is removed and added again. O(shards): repairs only.
 */
export async function requeuePending(conns: Connections, runId: string, log: Logger): Promise<number> {
  const queue = conns.queue('shards', runId);
  const todo: number[] = [];
  for (const s of await listShards(conns.db, runId)) {
    if (s.state === 'done') continue;
    const job = await queue.getJob(shardId(runId, s.shard));
    if (job) {
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized') continue;
      await job.remove();
    }
    todo.push(s.shard);
  }
  await enqueueShards(conns, runId, todo);
  if (todo.length > 0) log.info({ run_id: runId, requeued: todo.length }, 'unfinished shards requeued');
  return todo.length;
}

/** Enqueue the run's rollback job (a failed earlier one is replaced). */
export async function enqueueRollback(conns: Connections, runId: string, reason: string): Promise<void> {
  const queue = conns.queue('rollback');
  const existing = await queue.getJob(rollbackJobId(runId));
  if (existing && (await existing.isFailed())) await existing.remove();
  const job = jobFor('rollback', { run_id: runId, reason }, conns.cfg);
  await queue.add(job.name, job.data, job.opts);
}

/** Enqueue the run's validation job (a finished earlier one is replaced). */
export async function enqueueValidation(conns: Connections, runId: string): Promise<void> {
  const queue = conns.queue('validate');
  const existing = await queue.getJob(validateJobId(runId));
  if (existing && ((await existing.isFailed()) || (await existing.isCompleted()))) await existing.remove();
  const job = jobFor('validate', { run_id: runId }, conns.cfg);
  await queue.add(job.name, job.data, job.opts);
}

/** Remove every queue of this deployment (tests, the demo's reset): shared queues and each run's. */
export async function obliterateAll(conns: Connections): Promise<void> {
  const redis = conns.sharedRedis();
  const prefix = conns.cfg.queuePrefix;
  const runIds = new Set(await activeRunIds(conns));
  for (const node of redisNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:${shardQueueName('*')}:meta`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) runIds.add(k.slice(`${prefix}:${shardQueueName('')}`.length, -':meta'.length));
    } while (cursor !== '0');
  }
  for (const runId of runIds) {
    await conns.queue('shards', runId).obliterate({ force: true });
    await conns.forgetQueue(runId);
  }
  for (const key of SHARED_QUEUE_KEYS) await conns.queue(key).obliterate({ force: true });
  await redis.del(activeRunsKey(prefix));
}
