/** `start`: record the run, plan its shards, enqueue one job per shard. */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { newRunId } from '../core/contract.js';
import { enqueueShards } from '../core/jobs.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { createRun, getRun, transitionRun, updateRun, type RunDoc } from '../core/store/runs.js';
import { errorSummary } from '../core/errors.js';
import { parseTenantOption } from '../core/tenant.js';
import { planShards } from './plan.js';

export interface StartOptions {
  dryRun: boolean;
  batchSize: number;
  stopOnError: boolean;
  /** One tenant, or null for every tenant; '' is refused (ERR_CONFIG), never "every tenant". */
  tenant: string | null;
  commandLine: string[];
}

export async function startRun(conns: Connections, opts: StartOptions, log: Logger): Promise<RunDoc> {
  const { db } = conns;
  const tenant = parseTenantOption(opts.tenant);
  await ensureIndexes(db);
  const runId = newRunId();
  const rlog = log.child({ run_id: runId });
  const snapshotBound = new Date();
  const run = await createRun(db, {
    _id: runId,
    dry_run: opts.dryRun,
    stop_on_error: opts.stopOnError,
    batch_size: opts.batchSize,
    tenant,
    command_line: opts.commandLine,
    args: { dry_run: opts.dryRun, batch_size: opts.batchSize, stop_on_error: opts.stopOnError, tenant },
    snapshot_bound: snapshotBound,
    observations_before: await db.collection(COLL.observations).countDocuments({}),
  });
  rlog.info({ args: run.args }, 'run recorded');
  let planned;
  try {
    planned = await planShards(db, run, rlog);
  } catch (err) {
    await transitionRun(db, runId, 'failed', { reason: 'planning failed', error: { ...errorSummary(err), at: new Date() } });
    throw err;
  }
  await updateRun(db, runId, {
    shards_total: planned.shards,
    snapshot: { docs: planned.docs, advisories: planned.advisories, corpus_sha256: planned.corpus_sha256 },
  });
  try {
    // Jobs first (workers defer them while the run is `planned`), then the switch.
    await enqueueShards(conns, runId, Array.from({ length: planned.shards }, (_, i) => i));
  } catch (err) {
    await transitionRun(db, runId, 'failed', { reason: 'enqueueing failed', error: { ...errorSummary(err), at: new Date() } });
    throw err;
  }
  await transitionRun(db, runId, 'running', { reason: 'planned and enqueued', set: { started_at: new Date() } });
  rlog.info({ shards: planned.shards, docs: planned.docs }, 'run started');
  return getRun(db, runId);
}
