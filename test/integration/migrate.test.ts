/**
 * Migrations against the real server: an unmigrated database is refused naming
 * `lnm-backfill migrate`; migrate creates the DESIGN §2 collections and indexes (TTL
 * reported unavailable on FerretDB), a second migrate is a no-op, a changed checksum is
 * detected and re-applied by migrate, an index with a migration's name but other keys
 * is a conflict.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pipelineConfig, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { loadConfig } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { LnmError } from '../../core/errors.js';
import { COLL, INDEXES, SUMMARY_INDEX } from '../../core/store/collections.js';
import { applyMigrations, assertMigrated, migrationStatus, type MigrationRecord } from '../../core/store/migrations.js';

const res = useResources();
const cfg = res.adopt(pipelineConfig('migrate')); // starts unmigrated
let conns: Connections;
const records = () => conns.db.collection<MigrationRecord>(COLL.migrations);

async function refusal(p: Promise<unknown>): Promise<LnmError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof LnmError)) throw new Error(`expected an LnmError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  conns = res.track(await Connections.open(cfg));
});

describe('migrate', () => {
  it('an unmigrated database is refused with a message naming migrate', async () => {
    expect((await migrationStatus(conns.db, cfg)).map((s) => s.state)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending', 'pending']);
    const err = await refusal(assertMigrated(conns.db, cfg));
    expect(err.code).toBe('ERR_NOT_MIGRATED');
    expect(err.message).toContain('lnm-backfill migrate');
    expect(err.message).toContain('0001_collections');
    const start = await runCli(cfg, ['start', '--dry-run', '--json']);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/ERR_NOT_MIGRATED: .*lnm-backfill migrate/);
  });

  it('creates every collection and index; TTL is recorded as unavailable where the server lacks it', async () => {
    const r = await applyMigrations(conns.db, cfg);
    expect(r.applied).toEqual(['0001_collections', '0002_indexes', '0003_ttl', '0004_summary_index', '0005_imports', '0006_preflights']);
    expect(r.status.every((s) => s.state === 'applied')).toBe(true);
    const names = new Set((await conns.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const c of Object.values(COLL)) expect(names.has(c), c).toBe(true);
    for (const [coll, specs] of Object.entries(INDEXES)) {
      const existing = await conns.db.collection(coll).listIndexes().toArray();
      for (const spec of specs) expect(existing.find((i) => i.name === spec.name)?.key, `${coll}.${spec.name}`).toEqual(spec.key);
    }
    const obsIndexes = await conns.db.collection(SUMMARY_INDEX.coll).listIndexes().toArray();
    expect(obsIndexes.find((i) => i.name === SUMMARY_INDEX.spec.name)?.key).toEqual(SUMMARY_INDEX.spec.key);
    const build = await conns.db.admin().command({ buildInfo: 1 });
    const ttlNotes = r.status.find((s) => s.id === '0003_ttl')!.notes;
    if (build.ferretdbVersion) expect(ttlNotes.join('\n')).toContain('TTL index unavailable');
    else expect(ttlNotes).toEqual([]);
    await assertMigrated(conns.db, cfg);
  });

  it('a second migrate is a no-op', async () => {
    const before = await records().find({}).toArray();
    const r = await applyMigrations(conns.db, cfg);
    expect([r.applied, r.reapplied]).toEqual([[], []]);
    expect(await records().find({}).toArray()).toEqual(before);
  });

  it('a changed checksum is refused until migrate re-applies it (the old checksum kept in its history)', async () => {
    await records().updateOne({ _id: '0002_indexes' }, { $set: { checksum: 'f'.repeat(64) } });
    expect((await migrationStatus(conns.db, cfg)).find((s) => s.id === '0002_indexes')!.state).toBe('changed');
    const err = await refusal(assertMigrated(conns.db, cfg));
    expect([err.code, err.message.includes('0002_indexes'), err.message.includes('lnm-backfill migrate')]).toEqual(['ERR_MIGRATION_CHANGED', true, true]);
    const r = await applyMigrations(conns.db, cfg);
    expect(r.reapplied).toEqual(['0002_indexes']);
    expect((await records().findOne({ _id: '0002_indexes' }))!.history.map((h) => h.checksum)).toEqual(['f'.repeat(64)]);
    await assertMigrated(conns.db, cfg);
  });

  it('a new retention changes the TTL migration checksum', async () => {
    const longer = loadConfig({ ...process.env, LNM_DB: cfg.db, LNM_OUTBOX_TTL_DAYS: '90' });
    expect((await migrationStatus(conns.db, longer)).map((s) => s.state)).toEqual(['applied', 'applied', 'changed', 'applied', 'applied', 'applied']);
  });

  it('an index with a migration index name but other keys is a conflict, not silently kept', async () => {
    await conns.db.collection(COLL.supersedes).dropIndex('edge_run');
    await conns.db.collection(COLL.supersedes).createIndex({ created_at: 1 }, { name: 'edge_run' });
    await records().updateOne({ _id: '0002_indexes' }, { $set: { checksum: '0'.repeat(64) } });
    const err = await refusal(applyMigrations(conns.db, cfg));
    expect(err.code).toBe('ERR_MIGRATION_CONFLICT');
    expect(err.message).toContain('edge_run');
    await conns.db.collection(COLL.supersedes).dropIndex('edge_run');
    expect((await applyMigrations(conns.db, cfg)).reapplied).toEqual(['0002_indexes']);
    await assertMigrated(conns.db, cfg);
  });

  res.leakCheck();
});
