/** worker, monitor: the long-running roles; they stop cleanly on SIGTERM/SIGINT. */
import { startMonitor, startWorker } from '../../api/index.js';
import type { Command, CommandContext } from '../cli/command.js';

/**
 * Resolves on SIGTERM/SIGINT, or when the parent that started this process with an IPC
 * channel (`start --wait --local-workers`) goes away, so a worker never outlives it.
 */
export function untilStopped(ctx: CommandContext): Promise<string> {
  return new Promise((resolve) => {
    const stop = (why: string) => () => resolve(why);
    process.once('SIGTERM', stop('SIGTERM'));
    process.once('SIGINT', stop('SIGINT'));
    if (process.channel) {
      process.once('disconnect', stop('parent exited'));
      process.channel.unref(); // the channel alone must not keep this process alive
    }
    ctx.log.debug('waiting for a stop signal');
  });
}

export const worker: Command = {
  name: 'worker',
  summary: 'process shard and rollback jobs (run any number, on any host)',
  positionals: [],
  options: { concurrency: { type: 'integer', value: 'N', description: 'shards in flight in this process (default LNM_WORKER_CONCURRENCY)' } },
  async run(ctx) {
    const concurrency = ctx.options.concurrency as number | undefined;
    const w = await startWorker({ config: ctx.cfg, log: ctx.log, ...(concurrency === undefined ? {} : { concurrency }) });
    const why = await untilStopped(ctx);
    ctx.log.info({ why }, 'stopping worker: finishing the current shard');
    await w.close();
    return { exitCode: 0, result: undefined };
  },
};

export const monitor: Command = {
  name: 'monitor',
  summary: 'stop-on-error, thresholds, throttling, alerts, finalization (one acts per deployment)',
  positionals: [],
  options: {},
  async run(ctx) {
    const m = await startMonitor({ config: ctx.cfg, log: ctx.log });
    ctx.log.info({ lock: `${ctx.cfg.queuePrefix}:monitor:leader`, probe_interval_ms: ctx.cfg.monitor.probeIntervalMs }, 'monitor started');
    const why = await untilStopped(ctx);
    await m.close();
    ctx.log.info({ why }, 'monitor stopped');
    return { exitCode: 0, result: undefined };
  },
};
