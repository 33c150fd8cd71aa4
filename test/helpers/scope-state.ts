/** The edges and tombstones of one tenant as snapshot/restore tests compare them. */
import { createHash } from 'node:crypto';
import { BSON, type Db } from 'mongodb';
import { COLL } from '../../core/store/collections.js';
import { edgeDigest, edgeLine } from '../../core/supersedes.js';

export interface ScopeState {
  edges: number;
  tombstones: number;
  edge_digest: string;
  /** sha256 over every document of both collections (canonical EJSON, sorted by _id). */
  documents: string;
}

export async function scopeState(db: Db, tenant: string): Promise<ScopeState> {
  const h = createHash('sha256');
  const out = { edges: 0, tombstones: 0 };
  const lines: string[] = [];
  for (const [coll, key] of [[COLL.supersedes, 'edges'], [COLL.tombstones, 'tombstones']] as const) {
    const docs = await db.collection(coll).find({ tenant }).toArray();
    out[key] = docs.length;
    for (const d of docs.map((x) => BSON.EJSON.stringify(x, { relaxed: false })).sort()) h.update(`${coll}\t${d}\n`);
    if (coll === COLL.supersedes) {
      for (const e of docs) lines.push(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
    }
  }
  return { ...out, edge_digest: edgeDigest(lines), documents: h.digest('hex') };
}
