/**
 * The worker process: a BullMQ worker on the shards queue. SIGTERM/SIGINT let the
 * current shard finish (or release it when the lock expires) and exit cleanly.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { CONTRACT } from '../core/contract.js';
import { Connections } from '../core/connections.js';
import { isUnrecoverable } from '../core/errors.js';
import { processShard, type ShardOutcome } from './shard-processor.js';
import { beginRollback, rollbackRun, type RollbackResult } from './rollback.js';

/** How long a deferred shard (run paused or throttled) waits before it is looked at again. */
export const DEFER_MS = 1000;

export interface RunningWorker {
  shards: Worker;
  rollback: Worker;
  close(): Promise<void>;
}

export async function startWorker(cfg: Config, log: Logger, opts: { concurrency?: number } = {}): Promise<RunningWorker> {
  const conns = await Connections.open(cfg);
  const concurrency = opts.concurrency ?? cfg.workerConcurrency;
  const shards = new Worker(
    CONTRACT.shards.name,
    async (job: Job, token?: string): Promise<ShardOutcome> => {
      let data;
      try {
        data = CONTRACT.shards.parse(job.data);
      } catch (err) {
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
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
        if (isUnrecoverable(err)) throw new UnrecoverableError(`${(err as Error).message}`);
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
    CONTRACT.rollback.name,
    async (job: Job): Promise<RollbackResult> => {
      let data;
      try {
        data = CONTRACT.rollback.parse(job.data);
      } catch (err) {
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      }
      await beginRollback(conns.db, data.run_id, data.reason);
      return rollbackRun(conns.db, data.run_id, log, cfg.deleteBatch);
    },
    { connection: conns.redis(), prefix: cfg.queuePrefix, concurrency: 1, lockDuration: cfg.lockDurationMs, stalledInterval: cfg.stalledIntervalMs },
  );
  for (const w of [shards, rollback]) w.on('error', (err) => log.error({ err, queue: w.name }, 'worker error'));
  await Promise.all([shards.waitUntilReady(), rollback.waitUntilReady()]);
  log.info({ queue: CONTRACT.shards.name, concurrency, prefix: cfg.queuePrefix }, 'worker started');
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
