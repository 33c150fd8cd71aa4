/**
 * An applied migration never changes: preflight fails on a changed checksum, so a database
 * migrated by an earlier release would be refused. The checksums below are those of the
 * released definitions; a new collection or index needs a new migration, not an edit.
 */
import { describe, expect, it } from 'vitest';
import { migrationChecksum, migrations } from '../../core/store/migrations.js';

// 0003_ttl is left out: its definition carries the configured retention.
const RELEASED: Record<string, string> = {
  '0001_collections': '206c679d8706ff5a931a724210393a9c6baa37db0fa884eee67264fa156514f8',
  '0002_indexes': 'b3585abfc7e07b7d188741b2d77da8bc7054da890b8abe6abcb0c403e4bacf0d',
  '0004_summary_index': 'dab082396b73a39e69a6c572795c50440aab1d7fd13a6546194edd9653943335',
  '0005_imports': 'aa2d60a5520bf47107ad63162875d400790e199660e131274ea5836bf089a697',
  '0006_preflights': '8de5899ac6f24a3e1cdd8b1870f4a929adf1f2de7bcf242e152b8ce72d5f941b',
};

describe('migrations', () => {
  const all = migrations({ retention: { outboxDays: 7, manifestDays: 30 } });

  it('keep the checksums of their released definitions', () => {
    const now = Object.fromEntries(all.filter((m) => m.id in RELEASED).map((m) => [m.id, migrationChecksum(m)]));
    expect(now).toEqual(RELEASED);
  });

  it('have unique ids in ascending order', () => {
    const ids = all.map((m) => m.id);
    expect(ids).toEqual([...new Set(ids)].sort());
  });

  it('create every collection the tool uses, each in exactly one migration', () => {
    const created = all.flatMap((m) => ((m.definition as { collections?: string[] }).collections ?? []));
    expect(new Set(created).size).toBe(created.length);
    expect(created).toContain('backfill_imports');
    expect(created).not.toContain('schema_migrations');
  });
});
