/**
 * `backfill_runs`: one document per run, written once when the run is recorded (its
 * arguments, scope and snapshot bound). Everything that changes afterwards — the state,
 * why, the first error, the planning result, the settled counters, the rollback record,
 * the report — is carried by the run's transition entries in `backfill_run_log`
 * (core/store/run-log.ts), and a run is read as its document folded with those entries.
 *
 * A transition is claimed by inserting the entry `<run>#t<seq+1>`: of any number of
 * processes attempting a transition from the same state, exactly one insert succeeds, on
 * MongoDB and on FerretDB (whose findOneAndUpdate is a read then a write, DESIGN §7). The
 * `state`/`seq` fields of the run document are only a cache for listing runs by state;
 * readers always fold the log, so a stale cache cannot mislead them.
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { assertTransition, type RunState } from './run-status.js';
import { NotFoundError, RunStateError } from '../errors.js';
import { assertRunId } from '../contract.js';
import { claim, entries, transitionEntryId, type RunLogEntry } from './run-log.js';
import type { ShardCounts } from './shards.js';

export interface ErrorInfo {
  code: string;
  message: string;
  path?: string;
  at: Date;
}

/** What planning found; set by the transition planned -> running. */
export interface Snapshot {
  docs: number;
  advisories: number;
  corpus_sha256: string;
}

/** How the identity scan was ordered (LNM_PLAN_SORT) and what planning took. */
export interface PlannerInfo {
  sort: 'server' | 'external';
  /** Runs the external sort wrote to disk (0: the scope fit one in-memory run, or a server sort). */
  spilled_runs: number;
  ms: number;
}

/** Fields a transition may set on the run (kept on its log entry). */
export interface RunUpdate {
  shards_total?: number;
  snapshot?: Snapshot;
  planner?: PlannerInfo;
  started_at?: Date;
  finished_at?: Date;
  throttle_reasons?: string[];
  /** Totals over the run's shards, exact when the run settled. */
  counters?: ShardCounts;
  tally?: { done: number; failed: number };
  rollback?: { edges_removed: number; tombstones_removed: number; remaining: number; at: Date };
  /** An error of the rollback itself, kept beside the original one. */
  rollback_error?: ErrorInfo;
  report?: { ok: boolean; sha256: string };
  /** What the start gate found (freeze, approvals) and any check overridden with --force. */
  start_gate?: {
    plan_hash: string;
    frozen: boolean;
    approvals: Array<{ role: string; by: string; at: Date; dry_run_id: string }>;
    forced: Array<{ check: string; reason: string; by: string | null; at: Date }>;
  };
}

export interface RunDoc extends RunUpdate {
  _id: string;
  dry_run: boolean;
  stop_on_error: boolean;
  /** Stopping the run (error or threshold) rolls it back; otherwise it ends failed. */
  rollback_on_stop: boolean;
  batch_size: number;
  tenant: string | null;
  command_line: string[];
  args: Record<string, unknown>;
  /** Only raw documents ingested at or before this instant are in scope. */
  snapshot_bound: Date;
  observations_before: number;
  /** Set when the run was started over an overlapping active run with --force. */
  forced?: { reason: string; by: string | null; overlapping: string[] };
  created_at: Date;
  // Derived from the run log on every read:
  state: RunState;
  seq: number;
  shards_total: number;
  state_reason?: string;
  updated_at: Date;
  /** The first error that stopped or failed the run; never overwritten. */
  error?: ErrorInfo;
  /** Alert codes raised for this run (each is raised once). */
  alerts_raised: string[];
  history: Array<{ from: RunState; to: RunState; at: Date; reason: string; by: string }>;
}

type Derived = 'state' | 'seq' | 'shards_total' | 'state_reason' | 'updated_at' | 'error' | 'alerts_raised' | 'history' | keyof RunUpdate;
export type NewRun = Omit<RunDoc, Derived>;

/** The stored run document: creation fields plus the state cache. */
type StoredRun = NewRun & { state: RunState; seq: number };

export function runsColl(db: Db) {
  return db.collection<StoredRun>(COLL.runs);
}

export async function createRun(db: Db, run: NewRun): Promise<RunDoc> {
  await runsColl(db).insertOne({ ...run, state: 'planned', seq: 0 });
  return getRun(db, run._id);
}

interface TransitionEntry extends RunLogEntry {
  seq: number;
  from: RunState;
  to: RunState;
  reason: string;
  set?: RunUpdate;
  error?: ErrorInfo;
}

/** A run document folded with its log: state, history, first error, alerts and every `set`. */
function fold(stored: StoredRun, transitions: TransitionEntry[], alerts: RunLogEntry[]): RunDoc {
  const run: RunDoc = { ...stored, state: 'planned', seq: 0, shards_total: 0, updated_at: stored.created_at, alerts_raised: [], history: [] };
  for (const t of [...transitions].sort((a, b) => a.seq - b.seq)) {
    Object.assign(run, t.set ?? {});
    run.state = t.to;
    run.seq = t.seq;
    run.state_reason = t.reason;
    run.updated_at = t.at;
    if (t.error && !run.error) run.error = t.error;
    run.history.push({ from: t.from, to: t.to, at: t.at, reason: t.reason, by: t.by });
  }
  run.alerts_raised = alerts.map((a) => String(a.code)).sort();
  return run;
}

export async function getRun(db: Db, runId: string): Promise<RunDoc> {
  const stored = await runsColl(db).findOne({ _id: runId });
  if (!stored) throw new NotFoundError('run', runId);
  const [transitions, alerts] = await Promise.all([entries(db, runId, 'transition'), entries(db, runId, 'alert')]);
  return fold(stored, transitions as TransitionEntry[], alerts);
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

/** Runs whose cached state is one of `states` (the cache may lag: fold each before acting). */
export async function listRunIds(db: Db, states: readonly RunState[]): Promise<string[]> {
  const runs = await runsColl(db).find({}, { projection: { _id: 1, state: 1 } }).toArray();
  return runs.filter((r) => states.includes(r.state)).map((r) => r._id);
}

export interface TransitionOpts {
  reason: string;
  /** Only transition from one of these states; default: whatever the run is in now. */
  from?: readonly RunState[];
  set?: RunUpdate;
  /** Becomes the run's error if it has none yet (the original error is preserved). */
  error?: ErrorInfo;
}

/**
 * Move a run to `to` if the transition table allows it from its current state (and `from`
 * if given). Exactly one of several racing processes wins; the others re-read the run and
 * get RunStateError when the new state no longer allows the transition.
 */
export async function transitionRun(db: Db, runId: string, to: RunState, opts: TransitionOpts): Promise<RunDoc> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const run = await getRun(db, runId);
    if (opts.from && !opts.from.includes(run.state)) throw new RunStateError(runId, run.state, to, run.state_reason && `${run.state}: ${run.state_reason}`);
    assertTransition(runId, run.state, to);
    const seq = run.seq + 1;
    const entry: Omit<TransitionEntry, 'at' | 'by'> = {
      _id: transitionEntryId(runId, seq),
      run_id: runId,
      kind: 'transition',
      seq,
      from: run.state,
      to,
      reason: opts.reason,
      ...(opts.set ? { set: opts.set } : {}),
      ...(opts.error ? { error: opts.error } : {}),
    };
    if (!(await claim(db, entry))) continue; // another process moved the run first: re-read
    // The cache only serves listings; a lost or late write here misleads no reader.
    await runsColl(db).updateOne({ _id: runId }, { $set: { state: to, seq } }).catch(() => undefined);
    return getRun(db, runId);
  }
  const run = await getRun(db, runId);
  throw new RunStateError(runId, run.state, to, 'the run kept changing under this transition');
}

/** Raise an alert once per run: true when this call raised it. */
export async function claimAlert(db: Db, runId: string, code: string, message: string): Promise<boolean> {
  return claim(db, { _id: `${runId}#alert#${code}`, run_id: runId, kind: 'alert', code, message });
}
