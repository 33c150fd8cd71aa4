/**
 * `start --dry-run`: the same planning and computation as a real run, zero writes to
 * any advisory_* collection (byte-identical content before and after), and the counts
 * it reports are what a real run then writes.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { type CollectionSnapshot, type ImportJson, type RunJson, rustsecExpected, snapshotAdvisoryCollections } from '../helpers/oracle.js';
import { ADVISORY_COLLECTIONS, COLL } from '../../core/store/collections.js';

const X = rustsecExpected();
/** Advisories with two or more (distinct) revisions. */
const chains = (x: typeof X): number => x.distinct_upstream_ids - x.chain_length_histogram['1']!;
const res = useResources();
const cfg = res.config('dry_run');
/** Runs on a loaded FerretDB can take minutes; the default 180 s is too tight. */
const LONG = 600_000;

let before: Record<string, CollectionSnapshot> | undefined;
let dry: RunJson | undefined;


async function snapshot(): Promise<Record<string, CollectionSnapshot>> {
  const conns = await res.open(cfg);
  try {
    return await snapshotAdvisoryCollections(conns.db);
  } finally {
    await res.close(conns);
  }
}

describe('dry run', () => {
  it('imports the corpus and snapshots every advisory_* collection', async () => {
    const r = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json']);
    expect(r.accepted).toBe(X.accepted_documents_after_duplicate_drop);
    before = await snapshot();
    expect(Object.keys(before).sort()).toEqual([...ADVISORY_COLLECTIONS].sort());
    expect(before[COLL.raw]!.count).toBe(X.accepted_documents_after_duplicate_drop);
    expect(before[COLL.observations]!.count).toBe(X.accepted_documents_after_duplicate_drop);
    expect(before[COLL.supersedes]!.count).toBe(0);
    expect(before[COLL.tombstones]!.count).toBe(0);
  }, LONG);

  it('start --dry-run --wait reports what a real run would write and writes nothing', async () => {
    expect(before).toBeDefined();
    dry = await cliJson<RunJson>(cfg, ['start', '--dry-run', '--wait', '--local-workers=1', '--json']);
    expect(dry).toMatchObject({
      state: 'succeeded',
      dry_run: true,
      docs: X.accepted_documents_after_duplicate_drop,
      edges_inserted: X.expected_supersedes_edges,
      tombstones_inserted: X.expected_supersedes_edges,
      idempotent_hits: 0,
      violations: 0,
      errors: 0,
    });
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(after[COLL.supersedes]!.count).toBe(0);
    expect(after[COLL.tombstones]!.count).toBe(0);

    // The dry run did plan and process every shard (bookkeeping is not an advisory_* collection).
    const conns = await res.open(cfg);
    try {
      const shards = await conns.db.collection(COLL.shards).find({ run_id: dry.run_id }, { projection: { state: 1 } }).toArray();
      expect(shards.length).toBe(dry.shards);
      expect(shards.every((s) => s.state === 'done')).toBe(true);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('a real run afterwards writes exactly what the dry run reported', async () => {
    expect(dry).toBeDefined();
    const real = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--wait', '--local-workers=1', '--json']);
    expect(real).toMatchObject({ state: 'succeeded', dry_run: false, violations: 0, errors: 0, idempotent_hits: 0 });
    expect(real.edges_inserted).toBe(dry!.edges_inserted);
    expect(real.tombstones_inserted).toBe(dry!.tombstones_inserted);
    expect(real.shards).toBe(dry!.shards);
    const after = await snapshot();
    expect(after[COLL.supersedes]!.count).toBe(X.expected_supersedes_edges);
    expect(after[COLL.tombstones]!.count).toBe(X.expected_supersedes_edges);
    // The real run touched only the output collections and the outbox: one row per
    // observation whose supersedes state changed (every revision of every chain).
    for (const name of [COLL.raw, COLL.observations]) expect(after[name], name).toEqual(before![name]);
    expect(after[COLL.events]!.count - before![COLL.events]!.count).toBe(X.expected_supersedes_edges + chains(X));
  }, LONG);

  res.leakCheck();
});
