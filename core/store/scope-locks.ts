/**
 * One writing run per scope at a time: two overlapping runs could write an edge and its
 * tombstone under different run ids, and rolling back either would leave half a pair.
 * A run holds `scope:all` (every tenant) or `scope:tenant:<T>` in `backfill_scope_locks`
 * from planning until it is terminal (and again while it is rolled back). Claimed by a
 * unique-`_id` insert (atomic on MongoDB and FerretDB); a lock whose holder is terminal
 * is stale and taken over. `all` overlaps every tenant: a run checks the other kind after
 * claiming its own, so of two racing overlapping runs at least one is refused.
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { inGroup, TERMINAL_STATES } from './run-status.js';
import { getRun } from './runs.js';
import { isDuplicateKey } from './run-log.js';
import { LnmError, NotFoundError } from '../errors.js';

interface ScopeLock {
  _id: string;
  run_id: string;
  tenant: string | null;
  at: Date;
}

const ALL = 'scope:all';
export const scopeKey = (tenant: string | null): string => (tenant === null ? ALL : `scope:tenant:${tenant}`);

function locks(db: Db) {
  return db.collection<ScopeLock>(COLL.scopeLocks);
}

/** A scope is held by another active run. */
export class ScopeOverlapError extends LnmError {
  constructor(runId: string, holders: string[]) {
    super('ERR_SCOPE_OVERLAP', `run ${runId}: its scope overlaps active run(s) ${holders.join(', ')}; wait for them, or pass --force with --reason`, {
      path: `${COLL.scopeLocks}`,
      details: { holders },
    });
  }
}

async function holderActive(db: Db, runId: string): Promise<boolean> {
  try {
    return !inGroup((await getRun(db, runId)).state, TERMINAL_STATES);
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** Claim `key` for the run (re-entrant); returns the active holder when another run has it. */
async function claimKey(db: Db, key: string, runId: string, tenant: string | null): Promise<string | undefined> {
  for (let i = 0; i < 5; i++) {
    try {
      await locks(db).insertOne({ _id: key, run_id: runId, tenant, at: new Date() });
      return undefined;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const held = await locks(db).findOne({ _id: key });
    if (!held) continue;
    if (held.run_id === runId) return undefined;
    if (await holderActive(db, held.run_id)) return held.run_id;
    await locks(db).deleteOne({ _id: key, run_id: held.run_id }); // stale: its run is over
  }
  throw new LnmError('ERR_SCOPE_OVERLAP', `scope lock ${key} keeps changing; retry`, { path: COLL.scopeLocks });
}

/** The active runs whose scope overlaps `tenant` (other than `runId`). */
async function overlapping(db: Db, runId: string, tenant: string | null): Promise<string[]> {
  const others = await locks(db).find({}).toArray();
  const out: string[] = [];
  for (const l of others) {
    if (l.run_id === runId) continue;
    const overlaps = tenant === null || l._id === ALL || l.tenant === tenant;
    if (overlaps && (await holderActive(db, l.run_id))) out.push(l.run_id);
  }
  return out;
}

/** Refuse early (before a run is recorded) when an active run's scope overlaps `tenant`. Read-only. */
export async function assertNoOverlap(db: Db, tenant: string | null): Promise<void> {
  const active = await overlapping(db, '', tenant);
  if (active.length > 0) throw new ScopeOverlapError('(new)', active);
}

/**
 * Hold the run's scope; throws ScopeOverlapError naming the overlapping active runs. With
 * `force`, an overlap is allowed (the caller records the reason) and only the run's own
 * key is claimed when free.
 */
export async function acquireScope(db: Db, runId: string, tenant: string | null, force = false): Promise<string[]> {
  const key = scopeKey(tenant);
  const holder = await claimKey(db, key, runId, tenant);
  const overlaps = [...new Set([...(holder ? [holder] : []), ...(await overlapping(db, runId, tenant))])];
  if (overlaps.length > 0 && !force) {
    await releaseScope(db, runId);
    throw new ScopeOverlapError(runId, overlaps);
  }
  return overlaps;
}

/** Release whatever scope the run holds. Idempotent. */
export async function releaseScope(db: Db, runId: string): Promise<void> {
  const held = await locks(db).find({ run_id: runId }).toArray();
  for (const l of held) await locks(db).deleteOne({ _id: l._id, run_id: runId });
}
