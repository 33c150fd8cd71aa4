/**
 * Versioned, idempotent schema migrations recorded in `schema_migrations`
 * (`_id` = migration id, the checksum of its definition, applied_at). Every migration
 * only creates what is missing, so applying one twice changes nothing; a migration whose
 * definition changed after it was applied (checksum differs) is refused by
 * `assertMigrated` and preflight until `migrate` re-applies it. Add a new migration for a
 * new schema step rather than editing an applied one.
 *
 * FerretDB 1.24 has no TTL indexes (`expireAfterSeconds` is "not implemented"): the TTL
 * migration records that as a note instead of failing, and expiry is then not enforced.
 */
import type { Db, IndexDescription } from 'mongodb';
import type { Config } from '../config.js';
import { canonicalJson } from '../canonical-json.js';
import { LnmError } from '../errors.js';
import { sha256Hex } from '../supersedes.js';
import { COLL, INDEXES, SUMMARY_INDEX } from './collections.js';
import { insertNew } from './insert-new.js';

export interface Migration {
  id: string;
  description: string;
  /** Everything the migration creates, as data: its checksum covers exactly this. */
  definition: unknown;
  /** Create what is missing; returns notes (e.g. a feature this server lacks). */
  up(db: Db): Promise<string[]>;
}

export interface MigrationRecord {
  _id: string;
  description: string;
  checksum: string;
  applied_at: Date;
  notes: string[];
  /** Earlier checksums of a migration re-applied after its definition changed. */
  history: Array<{ checksum: string; applied_at: Date }>;
}

export interface MigrationStatus {
  id: string;
  description: string;
  state: 'applied' | 'pending' | 'changed';
  checksum: string;
  applied_checksum: string | null;
  applied_at: Date | null;
  notes: string[];
}

const NAMESPACE_EXISTS = 48;
const NOT_IMPLEMENTED = 238;
const INDEX_OPTIONS_CONFLICT = 85;
const DAY_S = 86_400;

const records = (db: Db) => db.collection<MigrationRecord>(COLL.migrations);

export function migrationChecksum(m: Pick<Migration, 'id' | 'definition'>): string {
  return sha256Hex(canonicalJson({ id: m.id, definition: m.definition }));
}

/** Same keys in the same order (index key order matters), and the same uniqueness. */
export function sameIndex(a: { key: Record<string, unknown>; unique?: unknown }, b: IndexDescription): boolean {
  return canonicalJson(Object.entries(a.key)) === canonicalJson(Object.entries(b.key)) && Boolean(a.unique) === Boolean(b.unique);
}

async function createIndex(db: Db, coll: string, spec: IndexDescription): Promise<void> {
  const existing = await db.collection(coll).listIndexes().toArray();
  const same = existing.find((i) => i.name === spec.name);
  if (same) {
    if (sameIndex(same as { key: Record<string, unknown> }, spec)) return;
    throw new LnmError(
      'ERR_MIGRATION_CONFLICT',
      `${coll}: index "${spec.name}" exists with keys ${JSON.stringify(same.key)}${same.unique ? ' (unique)' : ''}, ` +
        `expected ${JSON.stringify(spec.key)}${spec.unique ? ' (unique)' : ''}. Fix: drop it, then run "lnm-backfill migrate"`,
      { path: `${coll}/indexes/${spec.name}` },
    );
  }
  // One index per call: FerretDB 1.24 drops the connection on some multi-index calls.
  await db.collection(coll).createIndexes([spec]);
}

interface TtlSpec {
  coll: string;
  name: string;
  field: string;
  expireAfterSeconds: number;
}

async function createTtl(db: Db, t: TtlSpec): Promise<string[]> {
  try {
    await db.collection(t.coll).createIndexes([{ name: t.name, key: { [t.field]: 1 }, expireAfterSeconds: t.expireAfterSeconds }]);
    return [];
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === NOT_IMPLEMENTED) {
      return [`${t.coll}.${t.name}: TTL index unavailable on this server (${(err as Error).message}); expiry is not enforced`];
    }
    if (code !== INDEX_OPTIONS_CONFLICT) throw err;
    // Same index, another retention: change it in place.
    await db.command({ collMod: t.coll, index: { name: t.name, expireAfterSeconds: t.expireAfterSeconds } });
    return [];
  }
}

async function createCollection(db: Db, name: string): Promise<void> {
  await db.createCollection(name).catch((err: { code?: unknown }) => {
    if (err.code !== NAMESPACE_EXISTS) throw err;
  });
}

/** The migrations, in order. The TTL one depends on the configured retention. */
export function migrations(cfg: Pick<Config, 'retention'>): Migration[] {
  // An applied migration never changes (its checksum is checked): a collection added
  // later gets its own migration, and 0001 keeps the list it was applied with.
  const later: string[] = [COLL.migrations, COLL.imports, COLL.preflights];
  const collections = Object.values(COLL).filter((c) => !later.includes(c)).sort();
  const ttl: TtlSpec[] = [
    // Unpublished rows have publishedAt null: a TTL index only expires dates.
    { coll: COLL.events, name: 'event_published_ttl', field: 'publishedAt', expireAfterSeconds: cfg.retention.outboxDays * DAY_S },
    // A shard's manifest, some days after the run was planned (runs last hours): the shard
    // documents keep their counts, and rollback falls back to its run_id sweep.
    { coll: COLL.manifests, name: 'manifest_ttl', field: 'created_at', expireAfterSeconds: cfg.retention.manifestDays * DAY_S },
  ];
  return [
    {
      id: '0001_collections',
      description: 'collections of DESIGN §2 (raw, observations, edges, tombstones, runs, shards, flags, outbox, ...)',
      definition: { collections },
      async up(db) {
        for (const name of collections) await createCollection(db, name);
        return [];
      },
    },
    {
      id: '0002_indexes',
      description: 'indexes of DESIGN §2: raw idempotency (unique), edge chain (unique), run/shard/outbox lookups',
      // Keys as [field, direction] pairs: their order is part of an index, and canonical
      // JSON would sort object keys.
      definition: { indexes: Object.entries(INDEXES).map(([coll, specs]) => ({ coll, specs: specs.map((x) => ({ ...x, key: Object.entries(x.key) })) })) },
      async up(db) {
        for (const [coll, specs] of Object.entries(INDEXES)) for (const spec of specs) await createIndex(db, coll, spec);
        return [];
      },
    },
    {
      id: '0003_ttl',
      description: 'TTL: published outbox rows and shard manifests expire after the configured days',
      definition: { ttl },
      async up(db) {
        const notes: string[] = [];
        for (const t of ttl) notes.push(...(await createTtl(db, t)));
        return notes;
      },
    },
    {
      id: '0004_summary_index',
      description: 'observations by (tenant, source, advisory): the ordered page scan of /advisories/summary',
      definition: { coll: SUMMARY_INDEX.coll, spec: { ...SUMMARY_INDEX.spec, key: Object.entries(SUMMARY_INDEX.spec.key) } },
      async up(db) {
        await createIndex(db, SUMMARY_INDEX.coll, SUMMARY_INDEX.spec);
        return [];
      },
    },
    {
      id: '0005_imports',
      description: 'backfill_imports: one record per import (file, counts, rejects file) for the evidence bundle',
      definition: { collections: [COLL.imports] },
      async up(db) {
        await createCollection(db, COLL.imports);
        return [];
      },
    },
    {
      id: '0006_preflights',
      description: 'backfill_preflights: one record per preflight (failing checks, the idempotency probe record and its hash) for the evidence bundle',
      definition: { collections: [COLL.preflights] },
      async up(db) {
        await createCollection(db, COLL.preflights);
        return [];
      },
    },
  ];
}

export async function migrationStatus(db: Db, cfg: Pick<Config, 'retention'>): Promise<MigrationStatus[]> {
  const applied = new Map((await records(db).find({}).toArray()).map((r) => [r._id, r]));
  return migrations(cfg).map((m) => {
    const checksum = migrationChecksum(m);
    const r = applied.get(m.id);
    return {
      id: m.id,
      description: m.description,
      state: !r ? 'pending' : r.checksum === checksum ? 'applied' : 'changed',
      checksum,
      applied_checksum: r?.checksum ?? null,
      applied_at: r?.applied_at ?? null,
      notes: r?.notes ?? [],
    };
  });
}

export interface MigrateResult {
  applied: string[];
  reapplied: string[];
  status: MigrationStatus[];
}

/** Apply pending migrations and re-apply changed ones, in order. Idempotent. */
export async function applyMigrations(db: Db, cfg: Pick<Config, 'retention'>): Promise<MigrateResult> {
  const result: MigrateResult = { applied: [], reapplied: [], status: [] };
  const before = new Map((await migrationStatus(db, cfg)).map((s) => [s.id, s]));
  for (const m of migrations(cfg)) {
    const s = before.get(m.id)!;
    if (s.state === 'applied') continue;
    const notes = await m.up(db);
    const now = new Date();
    if (s.state === 'pending') {
      const record: MigrationRecord = { _id: m.id, description: m.description, checksum: s.checksum, applied_at: now, notes, history: [] };
      // A concurrent `migrate` may have recorded it first: both applied the same idempotent steps.
      await insertNew(records(db), [record]);
      result.applied.push(m.id);
    } else {
      await records(db).updateOne(
        { _id: m.id },
        { $set: { checksum: s.checksum, applied_at: now, notes, description: m.description }, $push: { history: { checksum: s.applied_checksum!, applied_at: s.applied_at! } } },
      );
      result.reapplied.push(m.id);
    }
  }
  result.status = await migrationStatus(db, cfg);
  return result;
}

/**
 * The gate of every command but migrate/preflight/services: throws ERR_NOT_MIGRATED on a
 * pending migration, ERR_MIGRATION_CHANGED on a changed one, naming `lnm-backfill migrate`.
 */
export async function assertMigrated(db: Db, cfg: Pick<Config, 'retention'>): Promise<void> {
  const status = await migrationStatus(db, cfg);
  const pending = status.filter((s) => s.state === 'pending').map((s) => s.id);
  if (pending.length > 0) {
    throw new LnmError(
      'ERR_NOT_MIGRATED',
      `database "${db.databaseName}" has ${pending.length} pending migration(s) (${pending.join(', ')}). Fix: run "lnm-backfill migrate"`,
      { path: `${COLL.migrations}`, unrecoverable: true, details: { pending } },
    );
  }
  const changed = status.filter((s) => s.state === 'changed').map((s) => s.id);
  if (changed.length > 0) {
    throw new LnmError(
      'ERR_MIGRATION_CHANGED',
      `database "${db.databaseName}": migration(s) ${changed.join(', ')} changed since applied (checksum differs). ` +
        'Fix: review the change, then run "lnm-backfill migrate" to re-apply',
      { path: `${COLL.migrations}/${changed[0]}`, unrecoverable: true, details: { changed } },
    );
  }
}
