/** worker, monitor: the long-running roles; they stop cleanly on SIGTERM/SIGINT. */
import { startMonitor, startWorker } from '../../api/index.js';
import type { Command, CommandContext } from '../cli/command.js';

/**
 * Resolves on SIGTERM/SIGINT, or when the parent that started this process with an IPC
 * channel (`start --wait --local-workers`) goes away, so a worker never outlives it.
 * The parent may be gone before this is called (it died while the worker was starting:
 * the 'disconnect' event has fired already); `process.send` stays defined for a process
 * started with a channel, and `process.connected` then reads false.
 */
export function untilStopped(ctx: CommandContext): Promise<string> {
  return new Promise((resolve) => {
    const stop = (why: string) => () => resolve(why);
    process.once('SIGTERM', stop('SIGTERM'));
    process.once('SIGINT', stop('SIGINT'));
    if (process.send !== undefined && !process.connected) {
      stop('parent exited')();
    } else if (process.channel) {
      process.once('disconnect', stop('parent exited'));
      process.channel.unref(); // the channel alone must not keep this process alive
    }
    ctx.log.debug('waiting for a stop signal');
  });
}

export const worker: Command = {
  name: 'worker',
  longRunning: true,
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
  longRunning: true,
  summary: 'stop-on-error, thresholds, throttling, alerts, finalization (one acts per deployment); Bull Board, /metrics and the run and advisory APIs over HTTP',
  positionals: [],
  options: {
    port: { type: 'integer', value: 'N', min: 0, description: 'HTTP port (default LNM_MONITOR_PORT; 0 = any free port)' },
    host: { type: 'string', value: 'H', description: 'HTTP bind address (default LNM_MONITOR_HOST, 127.0.0.1); anything else needs LNM_MONITOR_TOKEN or LNM_MONITOR_BASIC_AUTH' },
    'board-write': { type: 'boolean', description: 'enable Bull Board actions (retry, clean, pause); read-only without' },
    'no-http': { type: 'boolean', description: 'no HTTP server (the monitor loop only)' },
  },
  notes: ['Routes: /ui (Bull Board), /metrics, /api/runs, /api/runs/<id>, /advisories/summary?tenant=T[&advisory=ID][&take=N][&after=KEY], /healthz (never needs credentials).'],
  async run(ctx) {
    const o = ctx.options;
    const http = o['no-http'] ? undefined : { ...(o.port === undefined ? {} : { port: o.port as number }), ...(o.host === undefined ? {} : { host: o.host as string }), boardWrite: o['board-write'] === true };
    const m = await startMonitor({ config: ctx.cfg, log: ctx.log, ...(http ? { http } : {}) });
    ctx.log.info({ lock: `${ctx.cfg.queuePrefix}:monitor:leader`, probe_interval_ms: ctx.cfg.monitor.probeIntervalMs, ...(m.url ? { url: m.url } : {}) }, 'monitor started');
    if (m.url) process.stderr.write(`monitor: Bull Board ${m.url}/ui, metrics ${m.url}/metrics\n`);
    const why = await untilStopped(ctx);
    await m.close();
    ctx.log.info({ why }, 'monitor stopped');
    return { exitCode: 0, result: undefined };
  },
};
