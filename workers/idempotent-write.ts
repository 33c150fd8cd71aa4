/**
 * Idempotent insert-if-absent of documents with deterministic `_id`s, using only `_id`
 * point operations: an unordered bulk of `$setOnInsert` upserts, then a point read of
 * each document that already existed to tell apart
 *   - `resumed`: written earlier by this same run (a retried or resumed shard),
 *   - `hit`: an identical document written by another run (idempotency hit),
 *   - `violation`: a different document under that `_id`, or a collision on another
 *     unique index (e.g. the same newer revision already has a different predecessor).
 * When the bulk reports write errors, every op is replayed one by one (safe: the ops
 * are idempotent), because servers differ in how they report a partly failed bulk
 * (FerretDB 1.24 stops at the first error and reports it at index 0).
 */
import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb';

export interface Violation {
  _id: string;
  reason: 'content_differs' | 'unique_index_collision';
  detail?: string;
}

export interface WriteTally {
  attempts: number;
  inserted: number;
  resumed: number;
  hits: number;
  violations: Violation[];
}

export interface IdDoc extends Document {
  _id: string;
}

const DUPLICATE_KEY = 11000;
const READ_CONCURRENCY = 4;

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

export class IdempotentWriter<T extends IdDoc> {
  constructor(
    private readonly coll: Collection<IdDoc>,
    private readonly runId: string,
    private readonly sameContent: (a: Document, b: T) => boolean,
  ) {}

  /** Dry run: point reads only, no write. `inserted` counts what a real run would insert. */
  async plan(docs: readonly T[]): Promise<WriteTally> {
    const tally: WriteTally = { attempts: docs.length, inserted: 0, resumed: 0, hits: 0, violations: [] };
    const found = await mapLimit(docs, READ_CONCURRENCY, (d) => this.coll.findOne({ _id: d._id }));
    docs.forEach((d, i) => this.count(tally, d, classifyExisting(found[i] ?? null, d, this.runId, this.sameContent), 'inserted'));
    return tally;
  }

  /** Writes in bulks of `chunk` ops (see `writeBatch` in the config for why small). */
  async write(docs: readonly T[], stamp: { run_id: string; created_at: Date }, chunk: number): Promise<WriteTally> {
    const tally: WriteTally = { attempts: 0, inserted: 0, resumed: 0, hits: 0, violations: [] };
    for (let i = 0; i < docs.length; i += chunk) {
      const t = await this.writeChunk(docs.slice(i, i + chunk), stamp);
      tally.attempts += t.attempts;
      tally.inserted += t.inserted;
      tally.resumed += t.resumed;
      tally.hits += t.hits;
      tally.violations.push(...t.violations);
    }
    return tally;
  }

  private async writeChunk(docs: readonly T[], stamp: { run_id: string; created_at: Date }): Promise<WriteTally> {
    const tally: WriteTally = { attempts: docs.length, inserted: 0, resumed: 0, hits: 0, violations: [] };
    const ops: AnyBulkWriteOperation<IdDoc>[] = docs.map((d) => {
      const { _id, ...rest } = d;
      return { updateOne: { filter: { _id }, update: { $setOnInsert: { ...rest, ...stamp } }, upsert: true } };
    });
    let upserted: Set<unknown>;
    try {
      const res = await this.coll.bulkWrite(ops, { ordered: false });
      upserted = new Set(Object.values(res.upsertedIds));
      if (res.upsertedCount + res.matchedCount !== docs.length) return this.writeOneByOne(docs, stamp, tally);
    } catch (err) {
      if (err instanceof MongoBulkWriteError && err.writeErrors) return this.writeOneByOne(docs, stamp, tally);
      throw err;
    }
    const existing = docs.filter((d) => !upserted.has(d._id));
    tally.inserted = docs.length - existing.length;
    const found = await mapLimit(existing, READ_CONCURRENCY, (d) => this.coll.findOne({ _id: d._id }));
    existing.forEach((d, i) => this.count(tally, d, classifyExisting(found[i] ?? null, d, this.runId, this.sameContent), 'violation'));
    return tally;
  }

  private async writeOneByOne(docs: readonly T[], stamp: { run_id: string; created_at: Date }, tally: WriteTally): Promise<WriteTally> {
    for (const d of docs) {
      const { _id, ...rest } = d;
      try {
        const res = await this.coll.updateOne({ _id }, { $setOnInsert: { ...rest, ...stamp } }, { upsert: true });
        if (res.upsertedCount === 1) {
          tally.inserted++;
          continue;
        }
      } catch (err) {
        if (!(err instanceof MongoServerError) || err.code !== DUPLICATE_KEY) throw err;
      }
      // Matched, or a duplicate key: the _id exists (raced or ours) or another unique index collided.
      const existing = await this.coll.findOne({ _id });
      const c = classifyExisting(existing, d, this.runId, this.sameContent);
      if (c === 'absent') tally.violations.push({ _id, reason: 'unique_index_collision' });
      else this.count(tally, d, c, 'violation');
    }
    return tally;
  }

  private count(tally: WriteTally, d: T, c: Classification, absentMeans: 'inserted' | 'violation'): void {
    if (c === 'resumed') tally.resumed++;
    else if (c === 'hit') tally.hits++;
    else if (c === 'violation') tally.violations.push({ _id: d._id, reason: 'content_differs' });
    else if (absentMeans === 'inserted') tally.inserted++;
    else tally.violations.push({ _id: d._id, reason: 'unique_index_collision', detail: 'vanished after upsert' });
  }
}
