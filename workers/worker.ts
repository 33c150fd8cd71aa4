/**
 * The worker process: serves the shards queue of every active run (discovered from a
 * Redis set every LNM_DISCOVERY_INTERVAL_MS; a run's queue is served until the run leaves
 * the set) and the rollback queue. SIGTERM/SIGINT let the current shards finish.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { CONTRACT, shardQueueName, type RollbackJob, type ShardJob } from '../core/contract.js';
import { Connections } from '../core/connections.js';
import { activeRunIds } from '../core/jobs.js';
import { getRun } from '../core/store/runs.js';
import { errorSummary, isUnrecoverable } from '../core/errors.js';
import { processShard, shardContext, type ShardHooks, type ShardOutcome } from './shard-processor.js';
import { beginRollback, rollbackRun, RollbackBusyError, type RollbackResult } from './rollback.js';

/** How long a held job (run paused, throttled, planning) waits before the queue's pause keeps it. */
export const HOLD_MS = 1000;

/**
 * What BullMQ fails at once, without a retry: a bad payload or any unrecoverable LnmError.
 * The job's failedReason starts with the stable code (`ERR_PAYLOAD: job.data.shard: …`).
 */
function unrecoverable(err: unknown): UnrecoverableError {
  const s = errorSummary(err);
  return new UnrecoverableError(`${s.code}: ${s.message}`);
}

export interface RunningWorker {
  /** Run ids whose shards queue this process serves right now. */
  serving(): string[];
  close(): Promise<void>;
}

export interface WorkerOptions {
  concurrency?: number;
  hooks?: ShardHooks;
}

/** Turn our errors into BullMQ's: unrecoverable ones are failed without retry. */
async function asJob<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUnrecoverable(err)) throw unrecoverable(err);
    throw err;
  }
}

export async function startWorker(cfg: Config, log: Logger, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const conns = await Connections.open(cfg);
  const concurrency = opts.concurrency ?? cfg.workerConcurrency;
  const workerOpts = { connection: conns.sharedRedis(), prefix: cfg.queuePrefix, lockDuration: cfg.lockDurationMs, stalledInterval: cfg.stalledIntervalMs };
  const shardWorkers = new Map<string, Worker<ShardJob, ShardOutcome>>();

  const processor = async (job: Job<ShardJob>, token?: string): Promise<ShardOutcome> =>
    asJob(async () => {
      const data = CONTRACT.shards.parse(job.data);
      const outcome = await processShard(shardContext(conns, log, job.attemptsMade + 1, job.opts.attempts ?? 1, opts.hooks), data);
      if (outcome.action === 'hold') {
        // Back to the queue; the run's paused queue keeps it without anyone polling it.
        await job.moveToDelayed(Date.now() + HOLD_MS, token);
        throw new DelayedError();
      }
      return outcome;
    });

  const serve = (runId: string): void => {
    const w = new Worker<ShardJob, ShardOutcome>(shardQueueName(runId), processor, { ...workerOpts, concurrency });
    w.on('error', (err) => log.error({ err, run_id: runId }, 'shard worker error'));
    shardWorkers.set(runId, w);
  };

  let closed = false;
  let syncing: Promise<void> | undefined;
  const sync = async (): Promise<void> => {
    const active = new Set(await activeRunIds(conns));
    for (const runId of active) if (!closed && !shardWorkers.has(runId)) serve(runId);
    for (const [runId, w] of shardWorkers) {
      if (active.has(runId)) continue;
      shardWorkers.delete(runId);
      await w.close();
    }
  };
  const discover = () => {
    syncing ??= sync()
      .catch((err: unknown) => log.error({ err }, 'queue discovery failed'))
      .finally(() => (syncing = undefined));
  };
  await sync();
  const timer = setInterval(discover, cfg.discoveryIntervalMs);

  const rollback = new Worker<RollbackJob, RollbackResult>(
    CONTRACT.rollback.name,
    async (job, token) =>
      asJob(async () => {
        const data = CONTRACT.rollback.parse(job.data);
        const run = await getRun(conns.db, data.run_id);
        if (run.state === 'rolled_back' && run.rollback) return { run_id: run._id, ...run.rollback, events_removed: 0 }; // a duplicate job
        await beginRollback(conns, data.run_id, data.reason, 'job');
        try {
          return await rollbackRun(conns, data.run_id, log);
        } catch (err) {
          if (!(err instanceof RollbackBusyError)) throw err;
          log.info({ run_id: data.run_id, why: err.message }, 'rollback waits');
          await job.moveToDelayed(Date.now() + HOLD_MS, token);
          throw new DelayedError();
        }
      }),
    { ...workerOpts, concurrency: 1 },
  );
  rollback.on('error', (err) => log.error({ err, queue: rollback.name }, 'worker error'));
  await rollback.waitUntilReady();
  log.info({ concurrency, prefix: cfg.queuePrefix, runs: [...shardWorkers.keys()] }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    serving: () => [...shardWorkers.keys()],
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        await syncing;
        await Promise.all([...[...shardWorkers.values()].map((w) => w.close()), rollback.close()]);
        shardWorkers.clear();
        await conns.close();
        log.info('worker stopped');
      })();
      return closing;
    },
  };
}
