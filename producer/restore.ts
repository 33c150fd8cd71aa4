/**
 * `restore <file>`: bring the edges and tombstones of a snapshot's scope back to exactly
 * the snapshot (producer/snapshot.ts) — the fallback when a rollback fails.
 *
 * Refused when the file's SHA-256 differs from `<file>.sha256`, and while an active run
 * covers the scope (core/store/scope-locks.ts). Bounded memory whatever the size: each
 * side is reduced to sorted entries `<collection>\t<_id as EJSON>\t<sha256 of the document
 * as canonical EJSON>` (external sort, spilled to disk), and one merge of the two finds
 * what to remove (stored entries the snapshot lacks: extra or different documents) and
 * what to insert. Removal goes first, by `_id` in small bulks (a large deleteMany can hang
 * FerretDB 1.24), so re-inserted documents meet no unique-index collision; then the file is
 * streamed again and its documents inserted in unordered bulks (those still present are
 * duplicate keys, ignored). The state is then read back: its entry digest must equal the
 * snapshot's (ERR_RESTORE_MISMATCH otherwise). Without `yes`, nothing is written and the
 * result says what a restore would remove and insert.
 */
import { createHash } from 'node:crypto';
import { BSON, MongoBulkWriteError, type Db, type Document } from 'mongodb';
import type { Logger } from 'pino';
import { compareUtf16, externalSort } from '../core/external-sort.js';
import { assertNoOverlap } from '../core/store/scope-locks.js';
import { duplicatesOnly } from '../core/store/insert-new.js';
import { LnmError } from '../core/errors.js';
import { readSnapshot, scopeFilter, SNAPSHOT_COLLECTIONS, verifySnapshotHash, type SnapshotCollection, type SnapshotHeader, type SnapshotScope } from './snapshot.js';

export interface RestoreOptions {
  /** Apply; without it nothing is written (the result is the plan). */
  yes: boolean;
  /** Point deletes per bulk (LNM_DELETE_BATCH). */
  deleteBatch: number;
  /** Entries per in-memory sort run (LNM_SORT_RUN_ROWS) and where runs spill (LNM_SORT_DIR). */
  sortRunRows: number;
  sortDir?: string;
}

type PerCollection = Record<SnapshotCollection, number>;

export interface RestoreResult {
  file: string;
  sha256: string;
  scope: SnapshotScope;
  applied: boolean;
  /** Documents in the snapshot. */
  counts: PerCollection;
  /** Stored documents removed (not in the snapshot, or different) — or that would be. */
  removed: PerCollection;
  /** Snapshot documents inserted — or that would be. */
  inserted: PerCollection;
  unchanged: PerCollection;
  /** sha256 over the sorted entries of the snapshot (= of the scope after the restore). */
  state_digest: string;
}

const INSERT_BATCH = 500;
const zero = (): PerCollection => ({ [SNAPSHOT_COLLECTIONS[0]]: 0, [SNAPSHOT_COLLECTIONS[1]]: 0 }) as PerCollection;

const idKey = (id: unknown): string => BSON.EJSON.stringify({ id }, { relaxed: false });

function entry(coll: SnapshotCollection, doc: Document): string {
  const content = createHash('sha256').update(BSON.EJSON.stringify(doc, { relaxed: false })).digest('hex');
  return `${coll}\t${idKey(doc._id)}\t${content}`;
}

function parseEntry(e: string): { coll: SnapshotCollection; id: unknown } {
  const [coll, id] = e.split('\t') as [SnapshotCollection, string];
  return { coll, id: (BSON.EJSON.parse(id, { relaxed: false }) as { id: unknown }).id };
}

async function readHeader(file: string): Promise<SnapshotHeader> {
  for await (const line of readSnapshot(file)) {
    if ('header' in line) return line.header;
    break;
  }
  throw new LnmError('ERR_SNAPSHOT_INVALID', `${file}: no header`, { path: file });
}

/** The snapshot's documents as entries; checks scope and counts against the header. */
async function* snapshotEntries(file: string, header: SnapshotHeader): AsyncGenerator<string> {
  const seen = zero();
  for await (const line of readSnapshot(file)) {
    if ('header' in line) continue;
    if (header.scope.tenant !== null && line.doc.tenant !== header.scope.tenant) {
      throw new LnmError('ERR_SNAPSHOT_INVALID', `${file}: a document of tenant ${String(line.doc.tenant)} outside the scope ${header.scope.tenant}`, { path: file });
    }
    seen[line.coll]++;
    yield entry(line.coll, line.doc);
  }
  for (const c of SNAPSHOT_COLLECTIONS) {
    if (seen[c] !== header.counts[c]) {
      throw new LnmError('ERR_SNAPSHOT_INVALID', `${file}: ${seen[c]} ${c} document(s), its header says ${header.counts[c]}`, { path: file });
    }
  }
}

async function* storedEntries(db: Db, scope: SnapshotScope): AsyncGenerator<string> {
  for (const c of SNAPSHOT_COLLECTIONS) for await (const doc of db.collection(c).find(scopeFilter(scope), { promoteValues: false })) yield entry(c, doc);
}

/** Walks two sorted entry streams together: `a` only, `b` only, or both. */
async function* mergeSorted(a: AsyncGenerator<string>, b: AsyncGenerator<string>): AsyncGenerator<{ side: 'a' | 'b' | 'both'; e: string }> {
  try {
    yield* mergeSteps(a, b);
  } finally {
    // Ends both sorts (their temp files go) when the merge stops early too.
    await a.return(undefined);
    await b.return(undefined);
  }
}

async function* mergeSteps(a: AsyncGenerator<string>, b: AsyncGenerator<string>): AsyncGenerator<{ side: 'a' | 'b' | 'both'; e: string }> {
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const c = x.done ? 1 : y.done ? -1 : compareUtf16(x.value, y.value);
    if (c === 0) {
      yield { side: 'both', e: x.value as string };
      [x, y] = [await a.next(), await b.next()];
    } else if (c < 0) {
      yield { side: 'a', e: x.value as string };
      x = await a.next();
    } else {
      yield { side: 'b', e: y.value as string };
      y = await b.next();
    }
  }
}

async function deleteIds(db: Db, coll: SnapshotCollection, ids: unknown[], chunk: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const ops = ids.slice(i, i + chunk).map((_id) => ({ deleteOne: { filter: { _id } } }));
    n += (await db.collection<Document>(coll).bulkWrite(ops as never, { ordered: false })).deletedCount;
  }
  return n;
}

/**
 * Insert the documents not stored yet. Those present are left out by one `_id $in` read per
 * batch rather than sent as duplicate-key failures: FerretDB 1.24 takes far longer over a
 * failed insert than over a read (a re-restore of 150 present documents took 30 s).
 */
async function insertMissing(db: Db, coll: SnapshotCollection, docs: Document[]): Promise<void> {
  const present = new Set<string>();
  for await (const d of db.collection(coll).find({ _id: { $in: docs.map((x) => x._id) } }, { projection: { _id: 1 } })) present.add(idKey(d._id));
  const missing = docs.filter((d) => !present.has(idKey(d._id)));
  if (missing.length === 0) return;
  try {
    // A duplicate key now is a document written since the read (the final check decides).
    await db.collection(coll).insertMany(missing, { ordered: false });
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError) || !duplicatesOnly(err, missing.length)) throw err;
  }
}

async function stateDigest(entries: AsyncIterable<string>): Promise<string> {
  const h = createHash('sha256');
  for await (const e of entries) h.update(`${e}\n`);
  return h.digest('hex');
}

export async function restoreSnapshot(db: Db, file: string, opts: RestoreOptions, log: Logger): Promise<RestoreResult> {
  const sha256 = await verifySnapshotHash(file);
  const header = await readHeader(file);
  await assertNoOverlap(db, header.scope.tenant);
  const sort = { compare: compareUtf16, runRecords: opts.sortRunRows, ...(opts.sortDir ? { tmpDir: opts.sortDir } : {}) };
  const result: RestoreResult = {
    file, sha256, scope: header.scope, applied: opts.yes, counts: header.counts, removed: zero(), inserted: zero(), unchanged: zero(), state_digest: '',
  };
  const digest = createHash('sha256');
  const doomed = new Map<SnapshotCollection, unknown[]>(SNAPSHOT_COLLECTIONS.map((c) => [c, []]));
  const flush = async (coll: SnapshotCollection, min: number): Promise<void> => {
    const ids = doomed.get(coll)!;
    if (ids.length < min || ids.length === 0) return;
    doomed.set(coll, []);
    if (opts.yes) await deleteIds(db, coll, ids, opts.deleteBatch);
  };
  for await (const { side, e } of mergeSorted(externalSort(snapshotEntries(file, header), sort), externalSort(storedEntries(db, header.scope), sort))) {
    const { coll, id } = parseEntry(e);
    if (side !== 'b') digest.update(`${e}\n`);
    if (side === 'both') result.unchanged[coll]++;
    else if (side === 'a') result.inserted[coll]++;
    else {
      result.removed[coll]++;
      doomed.get(coll)!.push(id);
      await flush(coll, INSERT_BATCH);
    }
  }
  for (const c of SNAPSHOT_COLLECTIONS) await flush(c, 0);
  result.state_digest = digest.digest('hex');
  if (!opts.yes) return result;

  if (SNAPSHOT_COLLECTIONS.some((c) => result.inserted[c] > 0)) {
    const batch = new Map<SnapshotCollection, Document[]>(SNAPSHOT_COLLECTIONS.map((c) => [c, []]));
    for await (const line of readSnapshot(file)) {
      if ('header' in line) continue;
      const docs = batch.get(line.coll)!;
      docs.push(line.doc);
      if (docs.length >= INSERT_BATCH) await insertMissing(db, line.coll, docs.splice(0));
    }
    for (const [c, docs] of batch) if (docs.length > 0) await insertMissing(db, c, docs);
  }

  const after = await stateDigest(externalSort(storedEntries(db, header.scope), sort));
  if (after !== result.state_digest) {
    throw new LnmError('ERR_RESTORE_MISMATCH', `after restoring ${file}, the scope differs from the snapshot (state digest ${after}, expected ${result.state_digest}); did something write meanwhile? restore again`, {
      path: file,
      details: { result },
    });
  }
  log.info({ file, scope: header.scope, removed: result.removed, inserted: result.inserted }, 'snapshot restored');
  return result;
}
