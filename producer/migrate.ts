/**
 * `migrate [--status]`: apply the schema migrations (core/store/migrations.ts) in order,
 * or list each as applied / pending / changed. Applying is idempotent: a second run
 * applies nothing.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { applyMigrations, migrationStatus, type MigrateResult, type MigrationStatus } from '../core/store/migrations.js';

export async function migrate(conns: Connections, log: Logger): Promise<MigrateResult> {
  const r = await applyMigrations(conns.db, conns.cfg);
  const notes = r.status.flatMap((s) => s.notes);
  log.info({ db: conns.db.databaseName, applied: r.applied, reapplied: r.reapplied, notes }, r.applied.length + r.reapplied.length > 0 ? 'migrated' : 'already migrated');
  return r;
}

export async function migrateStatus(conns: Connections): Promise<MigrationStatus[]> {
  return migrationStatus(conns.db, conns.cfg);
}
