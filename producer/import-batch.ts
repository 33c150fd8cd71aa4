/**
 * Storing one import batch: its raw documents, then the observations of those stored or
 * already present, so that no stored raw document lacks its observation.
 *
 * A document the server refuses fails alone. MongoDB reports it as one write error of the
 * unordered insert; FerretDB 1.24 on PostgreSQL refuses the whole command at the first bad
 * document (e.g. NUL in a string: "unsupported Unicode escape sequence"), keeping the
 * documents before it. Then the batch is inserted again one document at a time. A duplicate
 * key at that point may be a document the refused command did store: each batch carries its
 * own `ingested_at` stamp (strictly increasing, see `nextStamp`), so a stored document
 * bearing this batch's stamp is ours (its first copy in the batch counts as inserted).
 *
 * Only errors the server answered are refusals; a network error or a retryable one aborts
 * the import (re-running it is idempotent).
 */
import { MongoBulkWriteError, MongoServerError, type Collection, type Document } from 'mongodb';
import { DUPLICATE_KEY } from '../core/store/insert-new.js';

export type Status = 'inserted' | 'duplicate' | { refused: string };


/** A stamp later than `previous` (ms resolution): batches never share one. */
export function nextStamp(previous: Date | undefined, now = Date.now()): Date {
  return new Date(previous && previous.getTime() >= now ? previous.getTime() + 1 : now);
}

function isRefusal(err: unknown): err is MongoServerError {
  return err instanceof MongoServerError && !err.hasErrorLabel('RetryableWriteError') && !err.hasErrorLabel('TransientTransactionError');
}

function refusal(err: { code?: unknown; errmsg?: string; message?: string }): { refused: string } {
  const text = (err.errmsg ?? err.message ?? 'refused').split('\n')[0]!.slice(0, 500);
  return { refused: `server code ${String(err.code)}: ${text}` };
}

/** Statuses from an unordered bulk error, when it accounts for every document. */
function perDocument(err: MongoBulkWriteError, count: number): Status[] | undefined {
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (errors.length === 0 || err.result.insertedCount + errors.length !== count) return undefined;
  const statuses: Status[] = Array.from({ length: count }, () => 'inserted');
  for (const w of errors) statuses[w.index] = w.code === DUPLICATE_KEY ? 'duplicate' : refusal(w);
  return statuses;
}

/**
 * Insert `docs` (each with a string `_id` and `stampField` = `stamp`); one status per
 * document, in order.
 */
export async function insertEach(coll: Collection<{ _id: string } & Document>, docs: Array<{ _id: string } & Document>, stampField: string, stamp: Date): Promise<Status[]> {
  if (docs.length === 0) return [];
  try {
    await coll.insertMany(docs, { ordered: false });
    return docs.map(() => 'inserted');
  } catch (err) {
    if (err instanceof MongoBulkWriteError) {
      const statuses = perDocument(err, docs.length);
      if (statuses) return statuses;
    }
    if (!isRefusal(err)) throw err;
  }
  const statuses: Status[] = [];
  const seen = new Set<string>();
  for (const doc of docs) {
    const first = !seen.has(doc._id);
    seen.add(doc._id);
    try {
      await coll.insertOne(doc);
      statuses.push('inserted');
    } catch (err) {
      if (!isRefusal(err)) throw err;
      if (err.code !== DUPLICATE_KEY) {
        statuses.push(refusal(err));
        continue;
      }
      const stored = await coll.findOne({ _id: doc._id }, { projection: { [stampField]: 1 } });
      const ours = first && stored?.[stampField] instanceof Date && stored[stampField].getTime() === stamp.getTime();
      statuses.push(ours ? 'inserted' : 'duplicate');
    }
  }
  return statuses;
}
