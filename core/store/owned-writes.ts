/**
 * Removing what one run wrote, and nothing else: deletes by `_id` only where the document
 * carries that run id (what another run inserted first stays), in bulks of `chunk` point
 * deletes — FerretDB 1.24's PostgreSQL backend holds a pool connection per matched
 * document until a bulk command ends, so large bulks deadlock it (LNM_DELETE_BATCH, 8 by
 * default; 500 on MongoDB).
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';

export async function deleteOwned(db: Db, coll: string, ids: readonly string[], runId: string, chunk: number): Promise<number> {
  let removed = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const ops = ids.slice(i, i + chunk).map((_id) => ({ deleteOne: { filter: { _id, run_id: runId } } }));
    if (ops.length > 0) removed += (await db.collection<{ _id: string }>(coll).bulkWrite(ops, { ordered: false })).deletedCount;
  }
  return removed;
}

/** Remove every edge and tombstone stamped with the run id (those no manifest names too). */
export async function sweepRun(db: Db, runId: string, chunk: number): Promise<{ edges: number; tombstones: number }> {
  const sweep = async (coll: string): Promise<number> => {
    let removed = 0;
    for (;;) {
      const ids = (await db.collection<{ _id: string }>(coll).find({ run_id: runId }, { projection: { _id: 1 } }).limit(500).toArray()).map((d) => d._id);
      if (ids.length === 0) return removed;
      removed += await deleteOwned(db, coll, ids, runId, chunk);
    }
  };
  return { edges: await sweep(COLL.supersedes), tombstones: await sweep(COLL.tombstones) };
}

/** Edges and tombstones stamped with the run id (the rollback's proof counts these). */
export async function countOwned(db: Db, runId: string): Promise<number> {
  return (await db.collection(COLL.supersedes).countDocuments({ run_id: runId })) + (await db.collection(COLL.tombstones).countDocuments({ run_id: runId }));
}
