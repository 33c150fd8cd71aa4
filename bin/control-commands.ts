/** The control commands behind the CLI: monitor, pause, resume, cancel, rollback. */
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { assertRunId } from '../core/contract.js';
import type { RunDoc } from '../core/store/runs.js';
import { cancelRun, pauseRun, resumeRun } from '../monitor/control.js';
import { Monitor } from '../monitor/monitor.js';
import { beginRollback, rollbackRun, type RollbackResult } from '../workers/rollback.js';

async function withConns<T>(cfg: Config, fn: (c: Connections) => Promise<T>): Promise<T> {
  const conns = await Connections.open(cfg);
  try {
    return await fn(conns);
  } finally {
    await conns.close();
  }
}

export async function cmdMonitor(cfg: Config, log: Logger): Promise<void> {
  await withConns(cfg, async (conns) => {
    const monitor = new Monitor(conns, log);
    await monitor.start();
    log.info({ lock: `${cfg.queuePrefix}:monitor:leader`, probe_interval_ms: cfg.monitor.probeIntervalMs }, 'monitor started');
    await new Promise<void>((resolve) => {
      const stop = () => void monitor.close().then(resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    log.info('monitor stopped');
  });
}

export type ControlAction = 'pause' | 'resume' | 'cancel';

export async function cmdControl(cfg: Config, log: Logger, action: ControlAction, run: string, force: boolean): Promise<RunDoc> {
  const runId = assertRunId(run, 'run');
  return withConns(cfg, (conns) => {
    if (action === 'pause') return pauseRun(conns, runId, { force });
    if (action === 'cancel') return cancelRun(conns, runId, { force });
    return resumeRun(conns, runId, log);
  });
}

export async function cmdRollback(cfg: Config, log: Logger, run: string): Promise<RollbackResult> {
  const runId = assertRunId(run, 'run');
  return withConns(cfg, async (conns) => {
    await beginRollback(conns.db, runId, 'operator rollback');
    return rollbackRun(conns.db, runId, log, cfg.deleteBatch);
  });
}
