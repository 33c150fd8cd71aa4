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
  /** Insert-only: every flag change, with who/when/why. */
  flagHistory: 'concelier_runtime_flag_history',
  events: 'advisory_observation_events',
  /** Outbox rows that were never published (too large, source gone), with the reason. */
  deadLetters: 'advisory_observation_events_dead_letter',
  /** Insert-only: approvals of a dry run's plan, one per role. */
  approvals: 'backfill_approvals',
  /** Insert-only: one record per `import` (file, counts, rejects file), for the evidence bundle. */
  imports: 'backfill_imports',
  /** Insert-only: one record per `preflight` (failing checks, the probe record and its hash). */
  preflights: 'backfill_preflights',
  /** Liveness and acknowledged state of long-running components (the publisher). */
  heartbeats: 'lnm_heartbeats',
  migrations: 'schema_migrations',
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
  // `pending` (true until published) rather than `publishedAt: null`: FerretDB pushes a
  // top-level boolean equality down to PostgreSQL, not a null one (measured: a page of 100
  // over 60 000 rows, 30 ms vs 2.3 s).
  [COLL.events]: [
    { name: 'event_pending', key: { pending: 1 } },
    { name: 'event_run', key: { run_id: 1 } },
  ],
  [COLL.approvals]: [{ name: 'approval_person', key: { plan_hash: 1, by_key: 1 }, unique: true }],
};

/**
 * The advisory summary's ordered page scan (monitor/http/advisory-summary.ts): a tenant's
 * observations by (source, advisoryId). Its own migration (0004), after INDEXES.
 */
export const SUMMARY_INDEX: { coll: string; spec: IndexDescription } = {
  coll: COLL.observations,
  spec: { name: 'obs_tenant_advisory', key: { tenantId: 1, source: 1, advisoryId: 1 } },
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
