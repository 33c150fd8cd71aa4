/**
 * The whole pipeline on the real rustsec corpus (real Redis + MongoDB-wire server):
 * import → start --wait (2 local workers) → validate against expected.json, then a
 * second run over the same data that must insert nothing, then a re-import.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cliJson, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { edgeIntegrity, type ImportJson, type RunJson, rustsecExpected, type ValidateJson } from '../helpers/oracle.js';
import { COLL } from '../../core/store/collections.js';

const X = rustsecExpected();
const res = useResources();
const cfg = res.config('pipeline_rustsec');
/** Runs on a loaded FerretDB can take minutes; the default 180 s is too tight. */
const LONG = 600_000;

let firstRun: RunJson | undefined;
let firstDigest: string | undefined;

beforeAll(() => {
  // Guard against a fixture that does not say what these tests assume.
  expect(X.expected_supersedes_edges).toBe(1807);
  expect(X.edges_sha256_oracle_format).toMatch(/^[0-9a-f]{64}$/);
});


describe('pipeline on the rustsec corpus', () => {
  it('imports the corpus: duplicates of the idempotency key are counted, nothing rejected', async () => {
    const r = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json']);
    // Out-of-order duplicates have their own test (import-defects); here the counts of the corpus.
    expect(r).toMatchObject({
      accepted: X.accepted_documents_after_duplicate_drop,
      duplicates: X.duplicate_hash_revisions,
      rejected: {},
    });
    const conns = await res.open(cfg);
    try {
      expect(await conns.db.collection(COLL.raw).countDocuments({})).toBe(X.accepted_documents_after_duplicate_drop);
      expect(await conns.db.collection(COLL.observations).countDocuments({})).toBe(X.accepted_documents_after_duplicate_drop);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('a first run with 2 local workers and --stop-on-error writes exactly the expected edges and tombstones', async () => {
    const r = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--wait', '--local-workers=2', '--stop-on-error', '--json']);
    expect(r).toMatchObject({
      state: 'succeeded',
      dry_run: false,
      docs: X.accepted_documents_after_duplicate_drop,
      edges_inserted: X.expected_supersedes_edges,
      tombstones_inserted: X.expected_supersedes_edges,
      violations: 0,
      errors: 0,
      idempotent_hits: 0,
    });
    expect(r.run_id).toMatch(/^run-/);
    expect(r.shards).toBeGreaterThan(1);
    firstRun = r;

    const conns = await res.open(cfg);
    try {
      const e = await edgeIntegrity(conns.db);
      expect(e.total).toBe(X.expected_supersedes_edges);
      expect(e.ids).toBe(e.total);
      expect(e.pairs).toBe(e.total);
      expect(e.newer).toBe(e.total);
      expect(e.older).toBe(e.total);
      expect(e.runIds).toEqual({ [r.run_id]: X.expected_supersedes_edges });
      expect(await conns.db.collection(COLL.tombstones).countDocuments({ run_id: r.run_id })).toBe(X.expected_supersedes_edges);
      const shards = await conns.db.collection(COLL.shards).find({ run_id: r.run_id }, { projection: { state: 1, docs: 1, attempts: 1 } }).toArray();
      expect(shards).toHaveLength(r.shards);
      expect(shards.every((s) => s.state === 'done' && s.attempts >= 1)).toBe(true);
      expect(shards.reduce((n, s) => n + (s.docs as number), 0)).toBe(X.accepted_documents_after_duplicate_drop);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('validate: ok, every expected edge present and no extra, oracle digest, observations untouched', async () => {
    expect(firstRun).toBeDefined();
    const v = await cliJson<ValidateJson>(cfg, ['validate', firstRun!.run_id, '--json']);
    expect(v.ok).toBe(true);
    expect(v.edges).toMatchObject({
      expected: X.expected_supersedes_edges,
      present: X.expected_supersedes_edges,
      missing: 0,
      extra: 0,
      digest: X.edges_sha256_oracle_format,
    });
    expect(v.observations).toEqual({
      before: X.accepted_documents_after_duplicate_drop,
      after: X.accepted_documents_after_duplicate_drop,
    });
    expect(v.report.documents).toBe(X.accepted_documents_after_duplicate_drop);
    expect(v.report.tombstones).toEqual({ expected: X.expected_supersedes_edges, present: X.expected_supersedes_edges });
    expect(v.report_sha256).toMatch(/^[0-9a-f]{64}$/);
    firstDigest = v.edges.digest;
  }, LONG);

  it('a second run over the same corpus inserts nothing: every write is an idempotency hit', async () => {
    const r = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--wait', '--local-workers=1', '--json']);
    expect(r.run_id).not.toBe(firstRun?.run_id);
    expect(r).toMatchObject({
      state: 'succeeded',
      docs: X.accepted_documents_after_duplicate_drop,
      edges_inserted: 0,
      tombstones_inserted: 0,
      idempotent_hits: 2 * X.expected_supersedes_edges,
      violations: 0,
      errors: 0,
    });
    const v = await cliJson<ValidateJson>(cfg, ['validate', r.run_id, '--json']);
    expect(v.ok).toBe(true);
    expect(v.edges).toMatchObject({ present: X.expected_supersedes_edges, missing: 0, extra: 0, digest: X.edges_sha256_oracle_format });
    expect(v.edges.digest).toBe(firstDigest);

    // Nothing was written under the second run's id: the first run still owns every edge.
    const conns = await res.open(cfg);
    try {
      const e = await edgeIntegrity(conns.db);
      expect(e.runIds).toEqual({ [firstRun!.run_id]: X.expected_supersedes_edges });
      expect(await conns.db.collection(COLL.tombstones).countDocuments({ run_id: r.run_id })).toBe(0);
      expect(await conns.db.collection(COLL.tombstones).countDocuments({})).toBe(X.expected_supersedes_edges);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('re-importing the same file accepts nothing: every line is a duplicate', async () => {
    const r = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json']);
    expect(r).toMatchObject({ accepted: 0, duplicates: X.total_documents, rejected: {} });
    const conns = await res.open(cfg);
    try {
      expect(await conns.db.collection(COLL.raw).countDocuments({})).toBe(X.accepted_documents_after_duplicate_drop);
      expect(await conns.db.collection(COLL.observations).countDocuments({})).toBe(X.accepted_documents_after_duplicate_drop);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  res.leakCheck();
});
