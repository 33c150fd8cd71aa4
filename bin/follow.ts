/**
 * `start --wait`: follow a run to its end — progress bar and ETA on a TTY, plain lines
 * otherwise — driving the finalizer (and, when given, the monitor tick) on each poll.
 */
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { QUEUES } from '../core/contract.js';
import { TERMINAL_STATES } from '../core/store/run-status.js';
import { summarizeRun, type RunSummary } from '../core/store/summary.js';
import { finalizeIfComplete } from '../monitor/finalize.js';

export interface FollowOptions {
  out: Writable;
  tty: boolean;
  /** Extra work per poll (the in-process monitor). */
  tick?: () => Promise<void>;
  /** Say how to start a worker when none has been seen for this long. */
  noWorkerHintMs?: number;
}

function fmtDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function progressLine(s: RunSummary, width = 30): string {
  const { total, done, failed } = s.shards;
  const frac = total > 0 ? (done + failed) / total : 0;
  const filled = Math.round(frac * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const rate = s.docs_per_s === null ? '-' : s.docs_per_s.toFixed(0);
  return `[${bar}] ${done}/${total} shards${failed ? ` (${failed} failed)` : ''} ${s.run.state} ${rate} docs/s ETA ${fmtDuration(s.eta_s)}`;
}

export async function followRun(conns: Connections, runId: string, log: Logger, opts: FollowOptions): Promise<RunSummary> {
  const hintMs = opts.noWorkerHintMs ?? 10_000;
  let lastLine = '';
  let lastWorkerSeen = Date.now();
  let hinted = false;
  const queue = conns.queue(QUEUES.shards);
  for (;;) {
    await opts.tick?.();
    await finalizeIfComplete(conns.db, runId, log);
    const s = await summarizeRun(conns.db, runId);
    const line = progressLine(s);
    if (opts.tty) opts.out.write(`\r${line}\u001b[K`);
    else if (line !== lastLine) opts.out.write(`${line}\n`);
    lastLine = line;
    if (TERMINAL_STATES.includes(s.run.state)) {
      if (opts.tty) opts.out.write('\n');
      return s;
    }
    if ((await queue.getWorkersCount()) > 0) lastWorkerSeen = Date.now();
    else if (!hinted && Date.now() - lastWorkerSeen > hintMs) {
      hinted = true;
      opts.out.write(`${opts.tty ? '\n' : ''}no worker is taking jobs: start one with "lnm-backfill worker" (same LNM_DB/LNM_QUEUE_PREFIX/REDIS_URL/MONGO_URL), or pass --local-workers=N\n`);
    }
    await delay(conns.cfg.pollIntervalMs);
  }
}
