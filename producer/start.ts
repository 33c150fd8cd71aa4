/**
 * `start`: record the run (or take over one whose planning was interrupted), hold its
 * scope, plan its shards and enqueue them on the run's own queue — paused until the run
 * is `running` — then switch it to running. While planning, a heartbeat in Redis tells
 * the monitor the producer is alive; without it a `planned` run is failed after
 * LNM_PLAN_STALE_MS and `start --resume <run>` re-plans it (idempotently: the same shard
 * ids, manifests replaced, jobs deduplicated by id).
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { newRunId } from '../core/contract.js';
import { enqueueShards, registerRun, syncDispatch } from '../core/jobs.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { createRun, getRun, transitionRun, type RunDoc } from '../core/store/runs.js';
import { acquireScope, assertNoOverlap, releaseScope } from '../core/store/scope-locks.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { ProgressStore } from '../core/store/progress.js';
import { errorSummary, RunStateError } from '../core/errors.js';
import { parseTenantOption } from '../core/tenant.js';
import { assertBatchSize } from '../core/manifest-bound.js';
import { planShards } from './plan.js';
import { assertStartAllowed, precheckStart, type StartGate } from './approvals.js';

export interface StartOptions {
  dryRun: boolean;
  batchSize: number;
  stopOnError: boolean;
  /** Roll back when the run is stopped (default: with stop-on-error). */
  rollbackOnStop?: boolean;
  /** One tenant, or null for every tenant; '' is refused (ERR_CONFIG), never "every tenant". */
  tenant: string | null;
  commandLine: string[];
  /**
   * Start although a check refuses it — an active run's scope overlaps, ingest is not
   * frozen, the plan lacks its approvals — with the reason and who, recorded on the run.
   */
  force?: { reason: string; by?: string };
}

/** The Redis key whose presence says the run's producer is alive and planning. */
export function planningKey(prefix: string, runId: string): string {
  return `${prefix}:planning:${runId}`;
}

/** The run's arguments as recorded (and approved: a plan is these without dry_run, plus the corpus hash). */
function runArgs(opts: StartOptions): Record<string, unknown> {
  const rollbackOnStop = opts.rollbackOnStop ?? opts.stopOnError;
  return { dry_run: opts.dryRun, batch_size: opts.batchSize, stop_on_error: opts.stopOnError, rollback_on_stop: rollbackOnStop, tenant: parseTenantOption(opts.tenant) };
}

async function record(conns: Connections, opts: StartOptions): Promise<RunDoc> {
  const tenant = parseTenantOption(opts.tenant);
  const runId = newRunId();
  const rollbackOnStop = opts.rollbackOnStop ?? opts.stopOnError;
  return createRun(conns.db, {
    _id: runId,
    dry_run: opts.dryRun,
    stop_on_error: opts.stopOnError,
    rollback_on_stop: rollbackOnStop,
    batch_size: opts.batchSize,
    tenant,
    command_line: opts.commandLine,
    args: runArgs(opts),
    snapshot_bound: new Date(),
    observations_before: await conns.db.collection(COLL.observations).countDocuments({}),
    ...(opts.force ? { forced: { reason: opts.force.reason, by: opts.force.by ?? null, overlapping: [] } } : {}),
    created_at: new Date(),
  });
}

/** Keep the planning heartbeat alive until the returned stop function is called. */
function heartbeat(conns: Connections, runId: string): () => Promise<void> {
  const key = planningKey(conns.cfg.queuePrefix, runId);
  const ttl = conns.cfg.planStaleMs;
  const beat = () => conns.sharedRedis().set(key, String(process.pid), 'PX', ttl);
  void beat();
  const timer = setInterval(() => void beat().catch(() => undefined), Math.max(50, Math.floor(ttl / 3)));
  timer.unref();
  return async () => {
    clearInterval(timer);
    await conns.sharedRedis().del(key);
  };
}

/** Plan a recorded run, enqueue its shards and switch it to running. */
async function planAndEnqueue(conns: Connections, run: RunDoc, log: Logger): Promise<RunDoc> {
  const { db } = conns;
  const stopBeat = heartbeat(conns, run._id);
  try {
    if (!run.dry_run) await acquireScope(db, run._id, run.tenant, run.forced !== undefined);
    // The queue exists paused before it is registered: workers find nothing to fetch yet.
    await syncDispatch(conns, run._id, 'planned');
    await registerRun(conns, run._id);
    let planned;
    let gate: StartGate | undefined;
    try {
      planned = await planShards(db, run, await resolveScan(db, conns.cfg.scan), log);
      if (!run.dry_run) {
        const force = run.forced ? { force: true, reason: run.forced.reason, ...(run.forced.by ? { by: run.forced.by } : {}) } : {};
        gate = await assertStartAllowed(conns, { args: run.args, corpusSha256: planned.corpus_sha256, ...force }, log);
      }
      await new ProgressStore(conns.sharedRedis(), conns.cfg.queuePrefix).init(run._id);
      await enqueueShards(conns, run._id, Array.from({ length: planned.shards }, (_, i) => i));
    } catch (err) {
      await transitionRun(db, run._id, 'failed', { reason: 'planning failed', error: { ...errorSummary(err), at: new Date() } });
      await releaseScope(db, run._id);
      throw err;
    }
    const started = await transitionRun(db, run._id, 'running', {
      from: ['planned'],
      reason: 'planned and enqueued',
      set: {
        shards_total: planned.shards,
        snapshot: { docs: planned.docs, advisories: planned.advisories, corpus_sha256: planned.corpus_sha256 },
        planner: planned.planner,
        started_at: new Date(),
        ...(gate ? { start_gate: { plan_hash: gate.plan_hash, frozen: gate.frozen, approvals: gate.approvals.map((a) => ({ role: a.role, by: a.by, at: a.at, dry_run_id: a.dry_run_id })), forced: gate.forced } } : {}),
      },
    });
    await syncDispatch(conns, run._id, started.state);
    log.info({ shards: planned.shards, docs: planned.docs }, 'run started');
    return started;
  } finally {
    await stopBeat();
  }
}

export async function startRun(conns: Connections, opts: StartOptions, log: Logger): Promise<RunDoc> {
  assertBatchSize(opts.batchSize);
  await ensureIndexes(conns.db);
  if (!opts.dryRun && !opts.force) await assertNoOverlap(conns.db, parseTenantOption(opts.tenant));
  if (!opts.dryRun) await precheckStart(conns, { args: runArgs(opts), force: opts.force !== undefined });
  const run = await record(conns, opts);
  const rlog = log.child({ run_id: run._id });
  rlog.info({ args: run.args }, 'run recorded');
  return planAndEnqueue(conns, run, rlog);
}

/**
 * Take over a run whose planning was interrupted (its producer died): `planned` with no
 * live producer, or `failed` before it ever ran. Planning again yields the same shards.
 */
export async function resumePlanning(conns: Connections, runId: string, log: Logger): Promise<RunDoc> {
  await ensureIndexes(conns.db);
  let run = await getRun(conns.db, runId);
  if ((await conns.sharedRedis().exists(planningKey(conns.cfg.queuePrefix, runId))) === 1) {
    throw new RunStateError(runId, run.state, 'planned', 'its producer is still planning it');
  }
  if (run.state === 'failed' && run.started_at === undefined) {
    run = await transitionRun(conns.db, runId, 'planned', { from: ['failed'], reason: 'planning resumed' });
  }
  if (run.state !== 'planned') throw new RunStateError(runId, run.state, 'planned', 'only a run whose planning did not finish can be resumed by start');
  const rlog = log.child({ run_id: runId });
  rlog.info('planning resumed');
  return planAndEnqueue(conns, run, rlog);
}
