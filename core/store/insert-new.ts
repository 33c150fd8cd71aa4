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

export async function insertNew<T extends Document>(coll: Collection<T>, docs: readonly T[]): Promise<InsertNewResult> {
  if (docs.length === 0) return { inserted: 0, duplicates: new Set() };
  try {
    // The driver adds an `_id` to a document without one; callers pass their own.
    await coll.insertMany(docs as Parameters<Collection<T>['insertMany']>[0], { ordered: false });
    return { inserted: docs.length, duplicates: new Set() };
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    if (errors.some((w) => w.code !== DUPLICATE_KEY)) throw err;
    const duplicates = new Set(errors.map((w) => w.index));
    return { inserted: docs.length - duplicates.size, duplicates };
  }
}
