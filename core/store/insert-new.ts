/**
 * Insert-if-absent for documents with deterministic `_id`s (or a unique key): one
 * unordered `insertMany`; a duplicate-key error is "already there", never a failure.
 * A unique-key insert is the one write that is atomic on both MongoDB and FerretDB.
 */
import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';

export const DUPLICATE_KEY = 11000;

export interface InsertNewResult {
  inserted: number;
  /** Positions (in `docs`) of the documents that already existed. */
  duplicates: Set<number>;
}

/**
 * The positions of the documents a bulk insert error reports as duplicates, when that is
 * all it reports: every write error a duplicate key and every other document inserted.
 * Anything else is undefined (the caller rethrows): another error code, or an error with
 * no write error at all — what the driver throws when the connection drops mid-request
 * (a server restart), when nothing is known of what was stored (chaos scenario 4 found a
 * shard marked done whose edges were never stored; test/integration/insert-cut.test.ts).
 */
export function duplicatesOnly(err: MongoBulkWriteError, count: number): number[] | undefined {
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (errors.length === 0 || errors.some((w) => w.code !== DUPLICATE_KEY)) return undefined;
  if (err.result.insertedCount + errors.length !== count) return undefined;
  return errors.map((w) => w.index);
}

export async function insertNew<T extends Document>(coll: Collection<T>, docs: readonly T[]): Promise<InsertNewResult> {
  if (docs.length === 0) return { inserted: 0, duplicates: new Set() };
  try {
    // The driver adds an `_id` to a document without one; callers pass their own.
    await coll.insertMany(docs as Parameters<Collection<T>['insertMany']>[0], { ordered: false });
    return { inserted: docs.length, duplicates: new Set() };
  } catch (err) {
    const dup = err instanceof MongoBulkWriteError ? duplicatesOnly(err, docs.length) : undefined;
    if (!dup) throw err;
    const duplicates = new Set(dup);
    return { inserted: docs.length - duplicates.size, duplicates };
  }
}
