/**
 * Runs from a script: start a backfill, follow it until it settles (with the same
 * in-process monitor as `start --wait`), read its status. Plain typed results.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { childEnv } from '../core/config.js';
import { Connections, withConnections } from '../core/connections.js';
import { inGroup, TERMINAL_STATES, type RunState } from '../core/store/run-status.js';
import { summarizeRun, type RunSummary } from '../core/store/summary.js';
import { resolveRunRef, runsColl, type ErrorInfo } from '../core/store/runs.js';
import { resumePlanning, startRun } from '../producer/start.js';
import { Monitor } from '../monitor/monitor.js';
import { resolveOptions, type ApiOptions } from './context.js';
import { LocalWorkers } from './local-workers.js';

export interface RunStatus {
  run_id: string;
  state: RunState;
  /** Why the run is in its state (the last transition's reason). */
  reason: string | null;
  dry_run: boolean;
  tenant: string | null;
  shards: number;
  shards_done: number;
  shards_failed: number;
  /** Documents in the run's scope (its planned shards). */
  docs_planned: number;
  /** Documents of the shards done so far. */
  docs: number;
  edges_inserted: number;
  tombstones_inserted: number;
  idempotent_hits: number;
  violations: number;
  /** `violations` by reason (a dry run predicts each of these exactly). */
  violations_by_reason: {
    content_differs: number;
    newer_raw_id_collision: number;
    older_raw_id_collision: number;
    unique_index_collision: number;
  };
  errors: number;
  docs_per_s: number | null;
  eta_s: number | null;
  terminal: boolean;
  /** Why the monitor holds the run back (lag, ops/s, cpu); empty unless throttled. */
  throttle_reasons: string[];
  /** Alert codes raised for the run (run time, lag). */
  alerts: string[];
  started_at: Date | null;
  finished_at: Date | null;
  error?: ErrorInfo;
}

export function toRunStatus(s: RunSummary): RunStatus {
  return {
    run_id: s.run._id,
    state: s.run.state,
    reason: s.run.state_reason ?? null,
    dry_run: s.run.dry_run,
    tenant: s.run.tenant,
    shards: s.shards.total,
    shards_done: s.shards.done,
    shards_failed: s.shards.failed,
    docs_planned: s.run.snapshot?.docs ?? 0,
    docs: s.counts.docs,
    edges_inserted: s.counts.edges_inserted,
    tombstones_inserted: s.counts.tombstones_inserted,
    idempotent_hits: s.counts.idempotent_hits,
    violations: s.counts.violations,
    violations_by_reason: {
      content_differs: s.counts.violations_content_differs,
      newer_raw_id_collision: s.counts.violations_newer_raw_id_collision,
      older_raw_id_collision: s.counts.violations_older_raw_id_collision,
      unique_index_collision: s.counts.violations_unique_index_collision,
    },
    errors: s.counts.errors,
    docs_per_s: s.docs_per_s,
    eta_s: s.eta_s,
    terminal: inGroup(s.run.state, TERMINAL_STATES),
    throttle_reasons: s.run.state === 'throttled' ? (s.run.throttle_reasons ?? []) : [],
    alerts: s.run.alerts_raised,
    started_at: s.run.started_at ?? null,
    finished_at: s.run.finished_at ?? null,
    ...(s.run.error ? { error: s.run.error } : {}),
  };
}

export interface StartBackfillOptions extends ApiOptions {
  dryRun?: boolean;
  /** Documents per shard (default: the configured batch size). */
  batchSize?: number;
  stopOnError?: boolean;
  /** Only this tenant's documents; null or absent = every tenant. */
  tenant?: string | null;
  /** Recorded on the run (what the operator typed); default: the API call. */
  commandLine?: string[];
  /** Roll back when the run is stopped (default: with stopOnError). */
  rollbackOnStop?: boolean;
  /** Start although unfrozen, unapproved or overlapping an active run; reason and who are recorded on the run. */
  force?: { reason: string; by?: string };
  /** Re-plan this run, whose planning was interrupted, instead of recording a new one. */
  resume?: string;
}

/** Record, plan and enqueue a run; returns once its shards are queued (workers do the rest). */
export async function startBackfill(opts: StartBackfillOptions = {}): Promise<RunStatus> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    if (opts.resume) return toRunStatus(await summarizeRun(conns, (await resumePlanning(conns, await resolveRunRef(conns.db, opts.resume), log))._id));
    const run = await startRun(
      conns,
      {
        dryRun: opts.dryRun ?? false,
        batchSize: opts.batchSize ?? cfg.batchSize,
        stopOnError: opts.stopOnError ?? false,
        ...(opts.rollbackOnStop === undefined ? {} : { rollbackOnStop: opts.rollbackOnStop }),
        tenant: opts.tenant ?? null,
        commandLine: opts.commandLine ?? ['api:startBackfill'],
        ...(opts.force ? { force: opts.force } : {}),
      },
      log,
    );
    return toRunStatus(await summarizeRun(conns, run._id));
  });
}

/** The newest `take` runs, newest first (run ids start with their creation time). */
export async function listRunStatuses(take: number, opts: ApiOptions = {}): Promise<RunStatus[]> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, (conns) => newestRunStatuses(conns, take));
}

export async function newestRunStatuses(conns: Connections, take: number): Promise<RunStatus[]> {
  const ids = (await runsColl(conns.db).find({}, { projection: { _id: 1 } }).toArray()).map((r) => r._id).sort().reverse().slice(0, take);
  const out: RunStatus[] = [];
  for (const id of ids) out.push(toRunStatus(await summarizeRun(conns, id)));
  return out;
}

/** `runId` may be `latest` (the newest run). */
export async function getRunStatus(runId: string, opts: ApiOptions = {}): Promise<RunStatus> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => toRunStatus(await summarizeRun(conns, await resolveRunRef(conns.db, runId))));
}

export interface Progress {
  status: RunStatus;
  /** Worker connections on the shards queue right now. */
  workers: number;
}

export interface WaitOptions extends ApiOptions {
  /** Called on every poll with the current status. */
  onProgress?: (p: Progress) => void;
  /** Run the monitor in this process too (it acts only while it holds the leader lock). Default true. */
  monitor?: boolean;
  /** Start this many worker processes for the duration of the wait. Default 0. */
  localWorkers?: number;
  /** Where the local workers' stderr goes (a log file descriptor); default: this process's stderr. */
  workerStderr?: number | 'inherit';
  /** Give up (reject) after this long; default: never. */
  timeoutMs?: number;
  /** Stop following when aborted (Ctrl-C of a live view): resolves with the status last read. */
  signal?: AbortSignal;
}

/** Follow a run until it reaches a terminal state; returns its final status. */
export async function waitForRun(runId: string, opts: WaitOptions = {}): Promise<RunStatus> {
  const { cfg, log } = resolveOptions(opts);
  const conns = await Connections.open(cfg);
  const workers = new LocalWorkers();
  const monitor = opts.monitor === false ? undefined : new Monitor(conns, log);
  try {
    const id = await resolveRunRef(conns.db, runId);
    if (opts.localWorkers) workers.start(opts.localWorkers, childEnv(cfg), opts.workerStderr ?? 'inherit');
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    await monitor?.start();
    const queue = conns.queue('shards', id);
    for (;;) {
      const status = toRunStatus(await summarizeRun(conns, id));
      opts.onProgress?.({ status, workers: status.terminal ? 0 : await queue.getWorkersCount() });
      if (status.terminal || opts.signal?.aborted) return status;
      if (Date.now() > deadline) throw new Error(`run ${id} did not settle within ${opts.timeoutMs} ms (state ${status.state})`);
      await delay(cfg.pollIntervalMs, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
        if (!opts.signal?.aborted) throw err;
      });
    }
  } finally {
    await monitor?.close();
    await workers.stop();
    await conns.close();
  }
}
