/** `backfill_runs`: one document per run; state changes go through the transition table. */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { assertTransition, type RunState } from './run-status.js';
import { NotFoundError, RunStateError } from '../errors.js';
import { assertRunId } from '../contract.js';
import type { ShardCounts } from './shards.js';

export interface ErrorInfo {
  code: string;
  message: string;
  path?: string;
  at: Date;
}

export interface RunDoc {
  _id: string;
  state: RunState;
  dry_run: boolean;
  stop_on_error: boolean;
  batch_size: number;
  tenant: string | null;
  command_line: string[];
  args: Record<string, unknown>;
  /** Only raw documents ingested at or before this instant are in scope. */
  snapshot_bound: Date;
  snapshot?: { docs: number; advisories: number; corpus_sha256: string };
  shards_total: number;
  observations_before: number;
  created_at: Date;
  updated_at: Date;
  started_at?: Date;
  finished_at?: Date;
  state_reason?: string;
  /** The first error that stopped the run; never overwritten. */
  error?: ErrorInfo;
  /** An error of the rollback itself, kept beside the original one. */
  rollback_error?: ErrorInfo;
  throttle_reasons?: string[];
  /** Alert codes already raised for this run (each is raised once). */
  alerts_raised?: string[];
  /** Totals over the run's shards, cached when the run settles. */
  counters?: ShardCounts;
  rollback?: { edges_removed: number; tombstones_removed: number; remaining: number; at: Date };
  report?: { ok: boolean; sha256: string };
  history: Array<{ from: RunState; to: RunState; at: Date; reason: string }>;
}

export type NewRun = Omit<RunDoc, 'state' | 'created_at' | 'updated_at' | 'history' | 'shards_total'>;

export function runsColl(db: Db) {
  return db.collection<RunDoc>(COLL.runs);
}

export async function createRun(db: Db, run: NewRun): Promise<RunDoc> {
  const now = new Date();
  const doc: RunDoc = { ...run, state: 'planned', shards_total: 0, created_at: now, updated_at: now, history: [] };
  await runsColl(db).insertOne(doc);
  return doc;
}

export async function getRun(db: Db, runId: string): Promise<RunDoc> {
  const run = await runsColl(db).findOne({ _id: runId });
  if (!run) throw new NotFoundError('run', runId);
  return run;
}

/** The word an operator may type instead of a run id: the most recently created run. */
export const LATEST = 'latest';

/** A run id, or `latest` resolved to the newest run of this database. */
export async function resolveRunRef(db: Db, ref: string): Promise<string> {
  if (ref !== LATEST) return assertRunId(ref, 'run');
  const [newest] = await runsColl(db).find({}, { projection: { _id: 1 } }).sort({ created_at: -1 }).limit(1).toArray();
  if (!newest) throw new NotFoundError('run', LATEST);
  return newest._id;
}

export async function updateRun(db: Db, runId: string, set: Partial<RunDoc>): Promise<void> {
  await runsColl(db).updateOne({ _id: runId }, { $set: { ...set, updated_at: new Date() } });
}

export interface TransitionOpts {
  reason: string;
  /** Only transition from one of these states (compare-and-set); defaults to the current state. */
  from?: readonly RunState[];
  set?: Partial<RunDoc>;
  /** Set `error` only if the run has none yet (the original error is preserved). */
  error?: ErrorInfo;
}

/**
 * Move a run to `to` if the transition table allows it. Compare-and-set on the state:
 * when two processes race, exactly one wins; the loser gets RunStateError.
 */
export async function transitionRun(db: Db, runId: string, to: RunState, opts: TransitionOpts): Promise<RunDoc> {
  for (let i = 0; i < 5; i++) {
    const run = await getRun(db, runId);
    if (opts.from && !opts.from.includes(run.state)) throw new RunStateError(runId, run.state, to);
    assertTransition(runId, run.state, to);
    const now = new Date();
    const set: Partial<RunDoc> = { ...opts.set, state: to, state_reason: opts.reason, updated_at: now };
    if (opts.error && !run.error) set.error = opts.error;
    const updated = await runsColl(db).findOneAndUpdate(
      { _id: runId, state: run.state },
      { $set: set, $push: { history: { from: run.state, to, at: now, reason: opts.reason } } },
      { returnDocument: 'after' },
    );
    if (updated) return updated;
  }
  const run = await getRun(db, runId);
  throw new RunStateError(runId, run.state, to);
}
