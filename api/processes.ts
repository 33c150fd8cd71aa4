/** Long-running roles from a script: a worker, a monitor. Each returns a handle with `close()`. */
import { Connections } from '../core/connections.js';
import { Monitor } from '../monitor/monitor.js';
import type { ProbeSample } from '../monitor/decisions.js';
import { makeMongoProbe } from '../monitor/probes.js';
import { cachedProbe } from '../monitor/http/metrics.js';
import { startMonitorHttp, type MonitorHttp } from '../monitor/http/server.js';
import { resolveRunRef } from '../core/store/runs.js';
import { summarizeRun } from '../core/store/summary.js';
import { newestRunStatuses, toRunStatus } from './runs.js';
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
  /** Where the HTTP server listens (`http://host:port`), when it was asked for. */
  url?: string;
  /** Stop ticking, release the leader lock, close the HTTP server and connections. Safe to call twice. */
  close(): Promise<void>;
}

export interface MonitorOptions extends ApiOptions {
  /** Serve Bull Board, /metrics and the APIs (default: no HTTP server). Unset fields come from the configuration. */
  http?: { port?: number; host?: string; boardWrite?: boolean; boardRefreshMs?: number };
}

/**
 * The monitor loop (one acts per deployment: a Redis leader lock) and, when asked, its
 * HTTP server. The server has connections of its own (its queue handles outlive the
 * runs the monitor retires) and is started first: a refused bind starts nothing.
 */
export async function startMonitor(opts: MonitorOptions = {}): Promise<MonitorHandle> {
  const { cfg, log } = resolveOptions(opts);
  const conns = await Connections.open(cfg);
  const httpConns = opts.http ? await Connections.open(cfg).catch(async (err: unknown) => { await conns.close(); throw err; }) : undefined;
  const monitor = new Monitor(conns, log);
  let http: MonitorHttp | undefined;
  const closeAll = async (): Promise<void> => {
    await http?.close();
    await monitor.close();
    await httpConns?.close();
    await conns.close();
  };
  try {
    if (opts.http && httpConns) {
      const h = cfg.monitor.http;
      const probe = cachedProbe(makeMongoProbe(httpConns.db, cfg.monitor.probeTimeoutMs), cfg.monitor.probeIntervalMs);
      const fresh = (): ProbeSample | undefined => {
        const s = monitor.lastSample;
        return s && Date.now() - s.at < 2 * cfg.monitor.probeIntervalMs ? s : undefined;
      };
      http = await startMonitorHttp(
        {
          conns: httpConns,
          log,
          alertCounts: () => monitor.alertCounts(),
          sample: async () => fresh() ?? probe(),
          runs: {
            status: async (id) => toRunStatus(await summarizeRun(httpConns, await resolveRunRef(httpConns.db, id))),
            list: (take) => newestRunStatuses(httpConns, take),
          },
        },
        {
          port: opts.http.port ?? h.port,
          host: opts.http.host ?? h.host,
          token: h.token,
          basicAuth: h.basicAuth,
          boardWrite: opts.http.boardWrite ?? false,
          ...(opts.http.boardRefreshMs === undefined ? {} : { boardRefreshMs: opts.http.boardRefreshMs }),
        },
      );
    }
    await monitor.start();
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    ...(http ? { url: http.url } : {}),
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}
