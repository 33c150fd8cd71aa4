/**
 * Queue bookkeeping shared by the producer, the monitor and the control commands:
 * enqueue a run's shards, put the unfinished ones back, enqueue a run's rollback, and
 * count the shard jobs a worker holds. Job ids are deterministic (core/contract.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Connections } from './connections.js';
import { jobFor, rollbackJobId } from './contract.js';
import { listShards } from './store/shards.js';

export async function enqueueShards(conns: Connections, runId: string, shards: number[]): Promise<void> {
  const queue = conns.queue('shards');
  for (let i = 0; i < shards.length; i += 500) {
    await queue.addBulk(shards.slice(i, i + 500).map((shard) => jobFor('shards', { run_id: runId, shard }, conns.cfg)));
  }
}

/**
 * Put every shard that is not done back on the queue (after a cancel, a failure or a
 * lost queue). Job ids are deterministic: a job still waiting is left alone, a
 * finished one is removed and added again.
 */
export async function requeuePending(conns: Connections, runId: string, log: Logger): Promise<number> {
  const queue = conns.queue('shards');
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
  await enqueueShards(conns, runId, todo);
  log.info({ run_id: runId, requeued: todo.length }, 'pending shards requeued');
  return todo.length;
}

export async function enqueueRollback(conns: Connections, runId: string, reason: string): Promise<void> {
  const queue = conns.queue('rollback');
  const existing = await queue.getJob(rollbackJobId(runId));
  if (existing && (await existing.isFailed())) await existing.remove();
  const job = jobFor('rollback', { run_id: runId, reason }, conns.cfg);
  await queue.add(job.name, job.data, job.opts);
}

/** Shard jobs of this run a worker holds right now. */
export async function activeShardJobs(conns: Connections, runId: string): Promise<number> {
  const active = await conns.queue('shards').getActive();
  return active.filter((j) => j.data.run_id === runId).length;
}

/**
 * Wait until no shard of the run is in flight (workers finish or defer), up to
 * `graceMs`; true when drained.
 */
export async function waitDrained(conns: Connections, runId: string, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if ((await activeShardJobs(conns, runId)) === 0) return true;
    if (Date.now() >= deadline) return false;
    await delay(Math.min(250, conns.cfg.pollIntervalMs));
  }
}
