/**
 * `backfill_preflights`: one insert-only record per `preflight` — which checks failed and the
 * idempotency probe's record with its SHA-256 — so the evidence bundle of a later run can
 * carry "idempotency index verified, log hash …" from whichever host ran the preflight.
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { PROCESS_ID, stampedId } from './record-id.js';

export interface PreflightDoc {
  _id: string;
  at: Date;
  ok: boolean;
  failing_checks: string[];
  /** The probe's record as it was hashed, and that hash. */
  probe: { ok: boolean; sha256: string; record: Record<string, unknown> };
  /** host:pid of the process that ran it. */
  by: string;
}

const coll = (db: Db) => db.collection<PreflightDoc>(COLL.preflights);

export async function recordPreflight(db: Db, doc: Omit<PreflightDoc, '_id' | 'by'>): Promise<PreflightDoc> {
  const full: PreflightDoc = { _id: stampedId('preflight', doc.at), by: PROCESS_ID, ...doc };
  await coll(db).insertOne(full);
  return full;
}

/**
 * The newest preflight at or before `at` (a run's start). Filtered and sorted here: FerretDB
 * pushes neither a range nor a sort down (DESIGN §7); the collection holds one small
 * document per preflight.
 */
export async function preflightBefore(db: Db, at: Date): Promise<PreflightDoc | null> {
  let best: PreflightDoc | null = null;
  for await (const d of coll(db).find({})) {
    if (d.at.getTime() <= at.getTime() && (!best || d.at.getTime() > best.at.getTime())) best = d;
  }
  return best;
}
