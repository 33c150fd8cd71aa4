/**
 * The worker process: a BullMQ worker on the shards queue. SIGTERM/SIGINT let the
 * current shard finish (or release it when the lock expires) and exit cleanly.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { QUEUES, parseRollbackJob, parseShardJob } from '../core/contract.js';
import { Connections } from '../core/connections.js';
import { errorSummary, isUnrecoverable } from '../core/errors.js';
import { processShard, type ShardOutcome } from './shard-processor.js';
import { beginRollback, rollbackRun, type RollbackResult } from './rollback.js';

/** How long a deferred shard (run paused or throttled) waits before it is looked at again. */
export const DEFER_MS = 1000;

/**
 * What BullMQ fails at once, without a retry: a bad payload or any unrecoverable LnmError.
 * The job's failedReason starts with the stable code (`ERR_PAYLOAD: job.data.shard: …`).
 */
function unrecoverable(err: unknown): UnrecoverableError {
  const s = errorSummary(err);
  return new UnrecoverableError(`${s.code}: ${s.message}`);
}

export interface RunningWorker {
  shards: Worker;
  rollback: Worker;
  close(): Promise<void>;
}

export async function startWorker(cfg: Config, log: Logger, opts: { concurrency?: number } = {}): Promise<RunningWorker> {
  const conns = await Connections.open(cfg);
  const concurrency = opts.concurrency ?? cfg.workerConcurrency;
  const shards = new Worker(
    QUEUES.shards,
    async (job: Job, token?: string): Promise<ShardOutcome> => {
      let data;
      try {
        data = parseShardJob(job.data);
      } catch (err) {
        throw unrecoverable(err);
      }
      const attempt = job.attemptsMade + 1;
      try {
        const outcome = await processShard({ db: conns.db, log, attempt, maxAttempts: job.opts.attempts ?? 1 }, data);
        if (outcome.action === 'defer') {
          await job.moveToDelayed(Date.now() + DEFER_MS, token);
          throw new DelayedError();
        }
        return outcome;
      } catch (err) {
        if (isUnrecoverable(err)) throw unrecoverable(err);
        throw err;
      }
    },
    {
      connection: conns.redis(),
      prefix: cfg.queuePrefix,
      concurrency,
      lockDuration: cfg.lockDurationMs,
      stalledInterval: cfg.stalledIntervalMs,
      autorun: true,
    },
  );
  const rollback = new Worker(
    QUEUES.rollback,
    async (job: Job): Promise<RollbackResult> => {
      try {
        const data = parseRollbackJob(job.data);
        await beginRollback(conns.db, data.run_id, data.reason);
        return await rollbackRun(conns.db, data.run_id, log, cfg.deleteBatch);
      } catch (err) {
        // A forged payload or a run that does not exist (NotFoundError) is never retried.
        if (isUnrecoverable(err)) throw unrecoverable(err);
        throw err;
      }
    },
    { connection: conns.redis(), prefix: cfg.queuePrefix, concurrency: 1, lockDuration: cfg.lockDurationMs, stalledInterval: cfg.stalledIntervalMs },
  );
  for (const w of [shards, rollback]) w.on('error', (err) => log.error({ err, queue: w.name }, 'worker error'));
  await Promise.all([shards.waitUntilReady(), rollback.waitUntilReady()]);
  log.info({ queue: QUEUES.shards, concurrency, prefix: cfg.queuePrefix }, 'worker started');
  let closing: Promise<void> | undefined;
  return {
    shards,
    rollback,
    close() {
      closing ??= (async () => {
        await Promise.all([shards.close(), rollback.close()]);
        await conns.close();
        log.info('worker stopped');
      })();
      return closing;
    },
  };
}
