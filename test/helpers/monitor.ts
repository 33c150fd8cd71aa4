/**
 * Shared pieces of the monitor / control integration tests: environment for child
 * processes (childEnv() passes only the connection settings, so the test's overrides
 * must be handed over explicitly), a controllable fake probe, a webhook-capturing
 * fetch, shard snapshots, and a counter of BullMQ `delayed` events (deferred shards).
 */
import type { QueueEvents } from 'bullmq';
import type { Db } from 'mongodb';
import { Connections } from '../../core/connections.js';
import { rollbackJobId } from '../../core/contract.js';
import { COLL } from '../../core/store/collections.js';
import { getRun, type RunDoc } from '../../core/store/runs.js';
import { listShards } from '../../core/store/shards.js';
import type { ProbeSample } from '../../monitor/decisions.js';
import type { FetchImpl } from '../../monitor/alerts.js';
import type { Probe } from '../../monitor/probes.js';

/** A probe whose lag the test sets; counts its calls (one per acting monitor tick). */
export class FakeProbe {
  lagS = 0;
  calls = 0;
  /** When each sample was taken and the lag it reported. */
  readonly log: Array<{ at: number; lagS: number }> = [];
  readonly probe: Probe = async (): Promise<ProbeSample> => {
    this.calls++;
    this.log.push({ at: Date.now(), lagS: this.lagS });
    return { at: Date.now(), lag: { available: true, seconds: this.lagS }, opsPerS: null, cpuPct: null };
  };
}

/** A fetch that records webhook POST bodies and answers 204. */
export class WebhookSink {
  readonly calls: Array<{ url: string; body: Record<string, unknown> }> = [];
  readonly fetch: FetchImpl = async (url, init) => {
    this.calls.push({ url, body: JSON.parse(String(init.body)) as Record<string, unknown> });
    return new Response(null, { status: 204 });
  };
  count(alert: string): number {
    return this.calls.filter((c) => c.body.alert === alert).length;
  }
}

/** Shard id → finished_at (ms) of every done shard, plus the pending count. */
export interface ShardSnap {
  done: Map<string, number>;
  failed: number;
  pending: number;
  total: number;
  lastFinished: number;
}

export async function shardSnap(db: Db, runId: string): Promise<ShardSnap> {
  const shards = await listShards(db, runId);
  const done = new Map<string, number>();
  let failed = 0;
  let lastFinished = 0;
  for (const s of shards) {
    if (s.state === 'done') done.set(s._id, s.finished_at?.getTime() ?? -1);
    if (s.state === 'failed') failed++;
    if (s.finished_at) lastFinished = Math.max(lastFinished, s.finished_at.getTime());
  }
  return { done, failed, pending: shards.length - done.size - failed, total: shards.length, lastFinished };
}

/** The `to` states of a run's history, in order. */
export async function historyStates(db: Db, runId: string): Promise<string[]> {
  return (await getRun(db, runId)).history.map((h) => h.to);
}

export function lastEntry(run: RunDoc, to: string): RunDoc['history'][number] | undefined {
  return [...run.history].reverse().find((h) => h.to === to);
}

/** Jobs of the run in its shards queue, by state. */
export async function runJobs(conns: Connections, runId: string): Promise<Record<'waiting' | 'delayed' | 'prioritized' | 'active', number>> {
  const c = await conns.queue('shards', runId).getJobCounts('waiting', 'delayed', 'prioritized', 'active');
  return { waiting: c.waiting ?? 0, delayed: c.delayed ?? 0, prioritized: c.prioritized ?? 0, active: c.active ?? 0 };
}

/**
 * Permits for shard writes, handed to an in-process worker's `beforeWrite` hook: a shard
 * writes only against a permit, so a test decides how many shards finish and which one is
 * held in flight.
 */
export class Permits {
  private left = 0;
  private wake: (() => void) | undefined;
  /** The shard waiting for a permit right now. */
  waiting: string | undefined;

  grant(n: number): void {
    this.left += n;
    this.wake?.();
  }

  /** No permit left: the next shard to write waits. */
  revoke(): void {
    this.left = 0;
  }

  readonly take = async (shardId: string): Promise<void> => {
    while (this.left === 0) {
      this.waiting = shardId;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.waiting = undefined;
    this.left--;
  };
}

/** Jobs of a run's queue taken by a worker (BullMQ `active` events). */
export class FetchCounter {
  count = 0;
  constructor(events: QueueEvents) {
    events.on('active', () => this.count++);
  }
}

/** Count of edges + tombstones stamped with a run id. */
export async function stamped(db: Db, runId: string): Promise<{ edges: number; tombstones: number }> {
  return {
    edges: await db.collection(COLL.supersedes).countDocuments({ run_id: runId }),
    tombstones: await db.collection(COLL.tombstones).countDocuments({ run_id: runId }),
  };
}

/**
 * Resolves when the run is rolled back, or has failed with its rollback job failed for
 * good (a run between two rollback attempts is `failed` only for a moment).
 */
export async function rollbackSettled(conns: Connections, runId: string): Promise<RunDoc | null> {
  const run = await getRun(conns.db, runId);
  if (run.state === 'rolled_back') return run;
  if (run.state !== 'failed') return null;
  const job = await conns.queue('rollback').getJob(rollbackJobId(runId));
  return job && (await job.getState()) === 'failed' ? run : null;
}

/** Short intervals and few retries, so monitor tests react in well under a second. */
export const FAST_MONITOR_ENV = {
  LNM_PROBE_INTERVAL_MS: '200',
  LNM_MONITOR_TICK_MS: '200',
  LNM_DISCOVERY_INTERVAL_MS: '200',
  LNM_POLL_INTERVAL_MS: '100',
  LNM_PAUSE_GRACE_MS: '5000',
  LNM_JOB_ATTEMPTS: '2',
  LNM_JOB_BACKOFF_MS: '100',
  LNM_WORKER_CONCURRENCY: '1',
} as const;
