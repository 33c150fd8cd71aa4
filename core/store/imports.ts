/**
 * `backfill_imports`: one insert-only record per `import` — the input file, its counts and
 * the rejects file — so the evidence bundle of a later run can name (and copy) the rejects
 * of the imports that fed its corpus, whichever host ran them.
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { PROCESS_ID, stampedId } from './record-id.js';

export interface ImportDoc {
  _id: string;
  /** The input file as given, resolved to an absolute path on the importing host. */
  file: string;
  rejects_file: string | null;
  lines: number;
  accepted: number;
  duplicates: number;
  out_of_order_duplicates: number;
  rejected: Record<string, number>;
  started_at: Date;
  finished_at: Date;
  /** host:pid of the importing process. */
  by: string;
}

export function importsColl(db: Db) {
  return db.collection<ImportDoc>(COLL.imports);
}

export async function recordImport(db: Db, doc: Omit<ImportDoc, '_id' | 'by'>): Promise<ImportDoc> {
  const full: ImportDoc = { _id: stampedId('import', doc.started_at), by: PROCESS_ID, ...doc };
  await importsColl(db).insertOne(full);
  return full;
}

/**
 * The imports finished at or before `bound` (a run's snapshot bound), oldest first. The
 * filter and the sort happen here: FerretDB pushes neither a range nor a sort down (DESIGN §7),
 * and the collection holds one small document per import.
 */
export async function importsUpTo(db: Db, bound: Date): Promise<ImportDoc[]> {
  const all = await importsColl(db).find({}).toArray();
  return all
    .filter((d) => d.finished_at.getTime() <= bound.getTime())
    .sort((a, b) => a.finished_at.getTime() - b.finished_at.getTime() || (a._id < b._id ? -1 : 1));
}
