/** Long-running roles from a script: a worker, a monitor. Each returns a handle with `close()`. */
import { Connections } from '../core/connections.js';
import { Monitor } from '../monitor/monitor.js';
import { startWorker as start, type RunningWorker } from '../workers/worker.js';
import type { ShardHooks } from '../workers/shard-processor.js';
import { resolveOptions, type ApiOptions } from './context.js';

export interface WorkerOptions extends ApiOptions {
  /** Shards in flight in this process (default LNM_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Test seams inside shard processing (e.g. hold a shard between its read of the run and its writes). */
  hooks?: ShardHooks;
}

export type WorkerHandle = Pick<RunningWorker, 'close'>;

export async function startWorker(opts: WorkerOptions = {}): Promise<WorkerHandle> {
  const { cfg, log } = resolveOptions(opts);
  return start(cfg, log, { ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }), ...(opts.hooks ? { hooks: opts.hooks } : {}) });
}

export interface MonitorHandle {
  /** Stop ticking, release the leader lock, close connections. Safe to call twice. */
  close(): Promise<void>;
}

/** The monitor loop (one acts per deployment: a Redis leader lock). */
export async function startMonitor(opts: ApiOptions = {}): Promise<MonitorHandle> {
  const { cfg, log } = resolveOptions(opts);
  const conns = await Connections.open(cfg);
  const monitor = new Monitor(conns, log);
  try {
    await monitor.start();
  } catch (err) {
    await monitor.close();
    await conns.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= monitor.close().then(() => conns.close());
      return closing;
    },
  };
}
