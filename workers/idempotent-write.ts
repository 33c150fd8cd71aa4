/**
 * Idempotent insert-if-absent of documents with deterministic `_id`s, using only `_id`
 * point operations, and telling apart for each document that already existed:
 *   - `resumed`: written earlier by this same run (a retried or resumed shard),
 *   - `hit`: an identical document written by another run (idempotency hit),
 *   - `violation`: a different document under that `_id` (`content_differs`), or a
 *     collision on another unique index (e.g. the same newer revision already has a
 *     different predecessor: `newer_raw_id_collision`; see unique-keys.ts).
 *
 * The dry run (`plan`) predicts exactly what `write` gets on the same state: it reads the
 * documents under the batch's `_id`s and those holding its unique keys, then replays the
 * batch in insert order (what it would insert takes its `_id` and keys for the rest).
 */
import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';
import { duplicatesOnly } from '../core/store/insert-new.js';
import { readKeyHolders, type CollisionReason, type KeyHolders, type UniqueIndex } from './unique-keys.js';

/**
 * `unique_index_collision`: the insert collided on a unique index but the document it
 * collided with was gone when read back (removed meanwhile, e.g. by a rollback).
 */
export type ViolationReason = 'content_differs' | CollisionReason | 'unique_index_collision';
export const VIOLATION_REASONS: readonly ViolationReason[] = ['content_differs', 'newer_raw_id_collision', 'older_raw_id_collision', 'unique_index_collision'];

export interface Violation {
  _id: string;
  reason: ViolationReason;
}

export interface WriteTally {
  attempts: number;
  inserted: number;
  resumed: number;
  hits: number;
  violations: Violation[];
  /** `_id`s this run inserted now or earlier (resumed): its own changes. Empty for a plan. */
  written: string[];
}

export interface IdDoc extends Document {
  _id: string;
}

/** A document of a collection with unique indexes besides `_id` (they are scoped by tenant). */
export interface TenantDoc extends IdDoc {
  tenant: string;
}

const READ_CONCURRENCY = 4;
/** `_id`s per `$in` read of the dry run. */
const ID_CHUNK = 500;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

export type Classification = 'resumed' | 'hit' | 'violation' | 'absent';

/**
 * How an existing document relates to the one we would write. `sameContent` compares
 * the identity-bearing fields (raw ids); `run_id` tells our own earlier writes apart.
 */
export function classifyExisting<T extends IdDoc>(
  existing: Document | null,
  wanted: T,
  runId: string,
  sameContent: (a: Document, b: T) => boolean,
): Classification {
  if (!existing) return 'absent';
  if (!sameContent(existing, wanted)) return 'violation';
  return existing.run_id === runId ? 'resumed' : 'hit';
}

export class IdempotentWriter<T extends TenantDoc> {
  /** `uniqueIndexes`: the collection's unique indexes besides `_id`, in the order collisions are named. */
  constructor(
    private readonly coll: Collection<TenantDoc>,
    private readonly runId: string,
    private readonly sameContent: (a: Document, b: T) => boolean,
    private readonly uniqueIndexes: readonly UniqueIndex[] = [],
  ) {}

  /** Dry run: reads only, no write. Counts what `write` would count on the same state. */
  async plan(docs: readonly T[]): Promise<WriteTally> {
    const tally: WriteTally = { attempts: docs.length, inserted: 0, resumed: 0, hits: 0, violations: [], written: [] };
    const stored = new Map<string, Document>();
    for (let i = 0; i < docs.length; i += ID_CHUNK) {
      const ids = docs.slice(i, i + ID_CHUNK).map((d) => d._id);
      for await (const d of this.coll.find({ _id: { $in: ids } })) stored.set(d._id, d);
    }
    const holders = await this.holders(docs);
    for (const d of docs) {
      const c = classifyExisting(stored.get(d._id) ?? null, d, this.runId, this.sameContent);
      if (c !== 'absent') {
        this.count(tally, d, c);
        continue;
      }
      const reason = holders?.collision(d);
      if (reason) {
        tally.violations.push({ _id: d._id, reason });
        continue;
      }
      tally.inserted++;
      stored.set(d._id, { ...d, run_id: this.runId });
      holders?.add(d);
    }
    return tally;
  }

  private async holders(docs: readonly T[]): Promise<KeyHolders | undefined> {
    return this.uniqueIndexes.length > 0 && docs.length > 0 ? readKeyHolders(this.coll, this.uniqueIndexes, docs) : undefined;
  }

  /**
   * Insert-if-absent: an unordered `insertMany` (the `_id`s are deterministic, so an
   * existing document is a duplicate-key error, never a second copy), then a point read
   * of each duplicate to classify it. Same outcome as `$setOnInsert` upserts on `_id`,
   * but one command per shard instead of one update per document: measured on FerretDB
   * 1.24 (PostgreSQL backend) 68 ms vs 863 ms for 500 documents, and its update path
   * holds a pool connection per matched document until the command ends.
   */
  async write(docs: readonly T[], stamp: { run_id: string; created_at: Date }): Promise<WriteTally> {
    const tally: WriteTally = { attempts: docs.length, inserted: 0, resumed: 0, hits: 0, violations: [], written: [] };
    if (docs.length === 0) return tally;
    let duplicates: T[] = [];
    try {
      await this.coll.insertMany(docs.map((d) => ({ ...d, ...stamp })), { ordered: false });
    } catch (err) {
      // Only "these were already there, the rest inserted" is an answer; anything else (a
      // connection dropped mid-insert reports no write error at all) fails the attempt.
      const dup = err instanceof MongoBulkWriteError ? duplicatesOnly(err, docs.length) : undefined;
      if (!dup) throw err;
      duplicates = dup.map((i) => docs[i]).filter((d): d is T => d !== undefined);
      if (duplicates.length !== dup.length) throw err;
    }
    tally.inserted = docs.length - duplicates.length;
    const dup = new Set(duplicates);
    for (const d of docs) if (!dup.has(d)) tally.written.push(d._id);
    const found = await mapLimit(duplicates, READ_CONCURRENCY, (d) => this.coll.findOne({ _id: d._id }));
    const classes = duplicates.map((d, i) => classifyExisting(found[i] ?? null, d, this.runId, this.sameContent));
    // Absent after a duplicate-key error: another unique index (older/newer raw id) collided; read who holds it.
    const holders = await this.holders(duplicates.filter((_d, i) => classes[i] === 'absent'));
    duplicates.forEach((d, i) => {
      const c = classes[i]!;
      if (c === 'absent') tally.violations.push({ _id: d._id, reason: holders?.collision(d) ?? 'unique_index_collision' });
      else this.count(tally, d, c);
      if (c === 'resumed') tally.written.push(d._id);
    });
    return tally;
  }

  private count(tally: WriteTally, d: T, c: Exclude<Classification, 'absent'>): void {
    if (c === 'resumed') tally.resumed++;
    else if (c === 'hit') tally.hits++;
    else tally.violations.push({ _id: d._id, reason: 'content_differs' });
  }
}
