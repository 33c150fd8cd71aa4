/**
 * The unique indexes of `advisory_supersedes` besides `_id` (DESIGN §2): `(tenant,
 * newer.raw_id)` and `(tenant, older.raw_id)` — a chain is linear. An insert that collides
 * on one of them is a violation even though no document has its `_id`.
 *
 * The dry run predicts those collisions (it must count what the real run gets): it reads
 * the stored documents holding any key of the shard's edges, then replays the insert
 * order, each edge it would insert taking its keys for the edges after it. The real run
 * reads the same holders after its insert, to name the index a collision was on (the
 * server's duplicate-key error does not say which on FerretDB). Both check the indexes in
 * one fixed order (newer, then older), so an edge colliding on both gets the same reason.
 *
 * One `$in` query per tenant and chunk of raw ids: an index lookup on MongoDB, one scan of
 * the tenant's edges on FerretDB 1.24 (only the top-level tenant equality is pushed down),
 * instead of one scan per edge.
 */
import type { Collection, Document } from 'mongodb';
import { rawIdKey, type RawId } from '../core/supersedes.js';

export type CollisionReason = 'newer_raw_id_collision' | 'older_raw_id_collision';

export interface UniqueIndex {
  reason: CollisionReason;
  /** `<end>.raw_id`, the second field of the `(tenant, …)` index. */
  end: 'newer' | 'older';
}

/** In the order collisions are named. */
export const EDGE_UNIQUE_INDEXES: readonly UniqueIndex[] = [
  { reason: 'newer_raw_id_collision', end: 'newer' },
  { reason: 'older_raw_id_collision', end: 'older' },
];

/** Raw ids per `$in` query. */
const CHUNK = 500;

interface Keyed extends Document {
  _id: string;
  tenant: string;
}

function rawIdAt(doc: Document, ix: UniqueIndex): RawId {
  const end: unknown = doc[ix.end];
  return typeof end === 'object' && end !== null ? (end as { raw_id?: unknown }).raw_id : undefined;
}

function keyOf(doc: Document, ix: UniqueIndex): string {
  return `${String(doc.tenant)}\u0000${rawIdKey(rawIdAt(doc, ix))}`;
}

/** Which `_id` holds each unique key (one map per index). */
export class KeyHolders {
  private readonly held: Array<Map<string, string>>;

  constructor(private readonly indexes: readonly UniqueIndex[]) {
    this.held = indexes.map(() => new Map());
  }

  add(doc: Keyed): void {
    this.indexes.forEach((ix, i) => this.held[i]!.set(keyOf(doc, ix), doc._id));
  }

  /** The first index on which `doc` collides with a document of another `_id`. */
  collision(doc: Keyed): CollisionReason | undefined {
    return this.indexes.find((ix, i) => {
      const holder = this.held[i]!.get(keyOf(doc, ix));
      return holder !== undefined && holder !== doc._id;
    })?.reason;
  }
}

/** The stored documents holding a unique key of any of `docs`. */
export async function readKeyHolders(coll: Collection<Keyed>, indexes: readonly UniqueIndex[], docs: readonly Keyed[]): Promise<KeyHolders> {
  const holders = new KeyHolders(indexes);
  const byTenant = new Map<string, Keyed[]>();
  for (const d of docs) {
    const group = byTenant.get(d.tenant);
    if (group) group.push(d);
    else byTenant.set(d.tenant, [d]);
  }
  for (const [tenant, group] of byTenant) {
    for (let i = 0; i < group.length; i += CHUNK) {
      const part = group.slice(i, i + CHUNK);
      const filter = { tenant, $or: indexes.map((ix) => ({ [`${ix.end}.raw_id`]: { $in: part.map((d) => rawIdAt(d, ix)) } })) };
      const projection = Object.fromEntries([['tenant', 1], ...indexes.map((ix) => [`${ix.end}.raw_id`, 1])]);
      for await (const stored of coll.find(filter, { projection })) holders.add(stored);
    }
  }
  return holders;
}
