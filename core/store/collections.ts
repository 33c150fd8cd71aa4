/** Collection names and index specs (DESIGN §2), created idempotently. */
import type { Db, IndexDescription } from 'mongodb';

export const COLL = {
  raw: 'advisory_raw',
  observations: 'advisory_observations',
  supersedes: 'advisory_supersedes',
  tombstones: 'advisory_observation_tombstones',
  runs: 'backfill_runs',
  shards: 'backfill_shards',
  manifests: 'backfill_manifests',
  runLog: 'backfill_run_log',
  scopeLocks: 'backfill_scope_locks',
  flags: 'concelier_runtime_flags',
  events: 'advisory_observation_events',
} as const;

/** Collections the backfill may write (dry-run must leave them untouched). */
export const ADVISORY_COLLECTIONS = [COLL.raw, COLL.observations, COLL.supersedes, COLL.tombstones, COLL.events] as const;

export const RAW_IDEMPOTENCY_INDEX = 'raw_idempotency';

export const INDEXES: Record<string, IndexDescription[]> = {
  [COLL.raw]: [
    {
      name: RAW_IDEMPOTENCY_INDEX,
      key: { tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.content_hash': 1 },
      unique: true,
    },
    {
      // The producer's ordered identity scan (covered on MongoDB).
      name: 'raw_identity_order',
      key: { tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.fetched_at': 1, 'upstream.content_hash': 1 },
    },
  ],
  [COLL.observations]: [{ name: 'obs_raw_id', key: { rawId: 1 }, unique: true }],
  [COLL.supersedes]: [
    { name: 'edge_newer', key: { tenant: 1, 'newer.raw_id': 1 }, unique: true },
    { name: 'edge_older', key: { tenant: 1, 'older.raw_id': 1 }, unique: true },
    { name: 'edge_run', key: { run_id: 1 } },
  ],
  [COLL.tombstones]: [{ name: 'tombstone_run', key: { run_id: 1 } }],
  [COLL.shards]: [{ name: 'shard_run', key: { run_id: 1, shard: 1 } }],
  [COLL.runLog]: [{ name: 'run_log_run', key: { run_id: 1, kind: 1 } }],
  [COLL.events]: [{ name: 'event_unpublished', key: { publishedAt: 1 } }],
};

/**
 * Create the missing indexes, one `createIndexes` call per index: FerretDB 1.24 drops
 * the connection on a multi-index call when some of the indexes already exist.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [name, specs] of Object.entries(INDEXES)) {
    const coll = db.collection(name);
    const existing = new Set(
      await coll.listIndexes().toArray().then(
        (ix) => ix.map((i) => String(i.name)),
        () => [] as string[], // the collection does not exist yet
      ),
    );
    for (const spec of specs) if (!existing.has(spec.name ?? '')) await coll.createIndexes([spec]);
  }
}
