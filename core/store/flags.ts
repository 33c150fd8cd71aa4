/**
 * Runtime flags in `concelier_runtime_flags` (DESIGN §1 steps 2 and 8): one document per
 * flag, `_id` = the flag name. An absent flag means enabled. Every change is also
 * inserted into `concelier_runtime_flag_history` (insert-only), which is where the
 * freeze windows are read from.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { LnmError } from '../errors.js';

export const FLAGS = { ingest: 'ingest_enabled', publisher: 'outbox_publisher_enabled' } as const;
export type FlagName = (typeof FLAGS)[keyof typeof FLAGS];

/** What a disabled publisher does: nothing (`stop`), or publish to the blackhole subject. */
export type PublisherMode = 'stop' | 'blackhole';

export interface FlagDoc {
  _id: FlagName;
  value: boolean;
  /** Only on `outbox_publisher_enabled` when `value` is false. */
  mode?: PublisherMode;
  updated_at: Date;
  updated_by: string;
  reason: string;
}

export interface FlagHistoryDoc {
  _id: string;
  flag: FlagName;
  value: boolean;
  mode?: PublisherMode;
  /** The state before this change (null = the flag was absent, i.e. enabled). */
  previous: { value: boolean; mode?: PublisherMode } | null;
  /** False when the flag already had this value and mode (recorded anyway: who asked, why). */
  changed: boolean;
  at: Date;
  by: string;
  reason: string;
}

export interface FlagChange {
  value: boolean;
  mode?: PublisherMode;
  by: string;
  reason: string;
}

const flags = (db: Db) => db.collection<FlagDoc>(COLL.flags);
const history = (db: Db) => db.collection<FlagHistoryDoc>(COLL.flagHistory);

export async function getFlag(db: Db, name: FlagName): Promise<FlagDoc | null> {
  return flags(db).findOne({ _id: name });
}

export function flagEnabled(doc: FlagDoc | null): boolean {
  return doc?.value !== false;
}

/** Sortable, unique history id: the change time first. */
function historyId(at: Date, name: FlagName): string {
  return `${at.toISOString()}-${name}-${randomBytes(4).toString('hex')}`;
}

/**
 * Set a flag (a whole-document replace by `_id`: the last writer wins, which is what an
 * operator flipping a switch expects), then record the change in the history.
 */
export async function setFlag(db: Db, name: FlagName, change: FlagChange, at = new Date()): Promise<{ flag: FlagDoc; history: FlagHistoryDoc }> {
  const before = await getFlag(db, name);
  const mode = change.value ? undefined : change.mode;
  const flag: FlagDoc = { _id: name, value: change.value, ...(mode ? { mode } : {}), updated_at: at, updated_by: change.by, reason: change.reason };
  await flags(db).replaceOne({ _id: name }, flag, { upsert: true });
  const entry: FlagHistoryDoc = {
    _id: historyId(at, name),
    flag: name,
    value: change.value,
    ...(mode ? { mode } : {}),
    previous: before ? { value: before.value, ...(before.mode ? { mode: before.mode } : {}) } : null,
    changed: !before ? !change.value : before.value !== change.value || before.mode !== mode,
    at,
    by: change.by,
    reason: change.reason,
  };
  await history(db).insertOne(entry);
  return { flag, history: entry };
}

/** A flag's history in time order (a small collection: one entry per operator action). */
export async function flagHistory(db: Db, name: FlagName): Promise<FlagHistoryDoc[]> {
  const entries = await history(db).find({ flag: name }).toArray();
  return entries.sort((a, b) => a.at.getTime() - b.at.getTime() || (a._id < b._id ? -1 : 1));
}

/** The ingest gate: throws ERR_INGEST_FROZEN while `ingest_enabled` is false. */
export async function assertIngestEnabled(db: Db): Promise<void> {
  const flag = await getFlag(db, FLAGS.ingest);
  if (flagEnabled(flag)) return;
  throw new LnmError(
    'ERR_INGEST_FROZEN',
    `ingest is frozen since ${flag!.updated_at.toISOString()} by ${flag!.updated_by} (${flag!.reason}); nothing imported. ` +
      'Fix: wait for the backfill to finish, or run "lnm-backfill unfreeze".',
    { path: `${COLL.flags}/${FLAGS.ingest}`, details: { updated_at: flag!.updated_at, updated_by: flag!.updated_by, reason: flag!.reason } },
  );
}

/** What the outbox publisher must do now. */
export type PublisherDirective = { action: 'publish' } | { action: PublisherMode };

export function publisherDirective(doc: FlagDoc | null): PublisherDirective {
  if (flagEnabled(doc)) return { action: 'publish' };
  return { action: doc!.mode === 'blackhole' ? 'blackhole' : 'stop' };
}
