/**
 * `backfill_run_log`: an insert-only log per run, written as things happen by whichever
 * process does them (any host): state transitions, shard outcomes, alerts, throttle
 * changes. Entries have deterministic `_id`s, so an insert is also a claim — atomic on
 * MongoDB and on FerretDB alike (a unique-key insert is the one atomic primitive FerretDB
 * 1.24 offers, DESIGN §7):
 *   - `<run>#t<seq>`: the transition to state number `seq` (two processes racing for the
 *     same transition race for the same `_id`; exactly one insert succeeds);
 *   - `<run>#alert#<code>`: an alert raised once per run;
 *   - `<run>#s<shard>#a<attempt>`: a shard attempt's outcome.
 * The run's state is the fold of its transition entries (core/store/runs.ts).
 */
import { PROCESS_ID } from './record-id.js';
import { MongoServerError, type Db } from 'mongodb';
import { COLL } from './collections.js';
import { DUPLICATE_KEY } from './insert-new.js';

export type RunLogKind = 'transition' | 'shard' | 'alert' | 'throttle' | 'rollback';

export interface RunLogEntry {
  _id: string;
  run_id: string;
  kind: RunLogKind;
  at: Date;
  /** host:pid of the process that wrote the entry. */
  by: string;
  [field: string]: unknown;
}

export function runLogColl(db: Db) {
  return db.collection<RunLogEntry>(COLL.runLog);
}

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

export function transitionEntryId(runId: string, seq: number): string {
  return `${runId}#t${String(seq).padStart(6, '0')}`;
}

/** Insert an entry; false when one with this `_id` exists (the claim was lost). */
export async function claim(db: Db, entry: Omit<RunLogEntry, 'at' | 'by'> & { at?: Date }): Promise<boolean> {
  try {
    await runLogColl(db).insertOne({ at: new Date(), by: PROCESS_ID, ...entry } as RunLogEntry);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/** Append an entry that claims nothing (a random suffix keeps `_id`s unique). */
export async function append(db: Db, runId: string, kind: RunLogKind, fields: Record<string, unknown>): Promise<void> {
  const at = new Date();
  const _id = `${runId}#${kind}#${at.getTime()}#${PROCESS_ID}#${Math.random().toString(36).slice(2, 10)}`;
  await runLogColl(db).insertOne({ ...fields, _id, run_id: runId, kind, at, by: PROCESS_ID });
}

/** Entries of one kind of a run (two top-level equalities: both pushed down on FerretDB). */
export async function entries(db: Db, runId: string, kind?: RunLogKind): Promise<RunLogEntry[]> {
  return runLogColl(db)
    .find(kind ? { run_id: runId, kind } : { run_id: runId })
    .toArray();
}

/** Every entry of a run, streamed in storage order (each carries its `at`). */
export function streamRunLog(db: Db, runId: string): AsyncIterable<RunLogEntry> {
  return runLogColl(db).find({ run_id: runId }).batchSize(1000);
}
