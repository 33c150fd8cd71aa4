/**
 * Worker count does not change the result: the same synthetic corpus in two databases,
 * one run with 1 worker process and one with 2, gives the same edge set (digest), and
 * with 2 workers every shard is processed exactly once.
 */
import { describe, expect, it } from 'vitest';
import { cliJson } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { edgeIntegrity, type IndependentEdges, independentEdges, type RunJson, type SeedJson, type ValidateJson } from '../helpers/oracle.js';
import { COLL } from '../../core/store/collections.js';
import { shardsColl } from '../../core/store/shards.js';

const DOCS = 6000;
const res = useResources();
const one = { cfg: res.config('two_workers_1') };
const two = { cfg: res.config('two_workers_2') };
const LONG = 600_000;

interface Outcome {
  run: RunJson;
  validate: ValidateJson;
  expected: IndependentEdges;
}
const outcomes: Record<'one' | 'two', Outcome | undefined> = { one: undefined, two: undefined };


async function seedAndRun(which: typeof one, workers: number): Promise<Outcome> {
  const { cfg } = which;
  const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', String(DOCS), '--seed', '11', '--json']);
  expect(seed.docs).toBe(DOCS);
  expect(seed.import).toMatchObject({ accepted: DOCS, duplicates: 0, rejected: {} });

  const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--wait', `--local-workers=${workers}`, '--batch-size=200', '--json']);
  expect(run).toMatchObject({ state: 'succeeded', docs: DOCS, idempotent_hits: 0, violations: 0, errors: 0 });
  expect(run.shards).toBeGreaterThanOrEqual(DOCS / 200);

  const conns = await res.open(cfg);
  let expected: IndependentEdges;
  try {
    const { db } = conns;
    expected = await independentEdges(db);
    expect(expected.documents).toBe(DOCS);
    expect(run.edges_inserted).toBe(expected.edges);
    expect(run.tombstones_inserted).toBe(expected.edges);

    // Every shard done and counted exactly once: one document per shard, and their
    // documents add up to the corpus. (A shard may take a second attempt when its job
    // stalls on a loaded server; a retry resumes its own writes and is not counted twice.)
    const shards = await shardsColl(db).find({ run_id: run.run_id }, { projection: { shard: 1, state: 1, docs: 1, attempts: 1, counts: 1 } }).toArray();
    expect(shards).toHaveLength(run.shards);
    expect(new Set(shards.map((s) => s.shard)).size).toBe(run.shards);
    expect(shards.filter((s) => s.state !== 'done' || s.attempts < 1).map((s) => s._id)).toEqual([]);
    expect(shards.reduce((n, s) => n + s.docs, 0)).toBe(DOCS);
    expect(shards.reduce((n, s) => n + (s.counts?.docs ?? 0), 0)).toBe(DOCS);
    expect(shards.every((s) => s.docs <= 200)).toBe(true);

    const e = await edgeIntegrity(db);
    expect(e).toMatchObject({ total: expected.edges, ids: expected.edges, pairs: expected.edges });
    expect(e.runIds).toEqual({ [run.run_id]: expected.edges });
    expect(await db.collection(COLL.tombstones).countDocuments({})).toBe(expected.edges);
  } finally {
    await res.close(conns);
  }

  const validate = await cliJson<ValidateJson>(cfg, ['validate', run.run_id, '--json']);
  expect(validate.ok).toBe(true);
  expect(validate.edges).toMatchObject({ expected: expected.edges, present: expected.edges, missing: 0, extra: 0, digest: expected.digest });
  return { run, validate, expected };
}

describe('one worker vs two workers on the same corpus', () => {
  it('1 worker process: run succeeds, validate ok', async () => {
    outcomes.one = await seedAndRun(one, 1);
  }, LONG);

  it('2 worker processes: run succeeds, validate ok, every shard done exactly once', async () => {
    outcomes.two = await seedAndRun(two, 2);
  }, LONG);

  it('both give the same corpus, the same edge digest and the same counts', () => {
    const a = outcomes.one;
    const b = outcomes.two;
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(b!.expected).toEqual(a!.expected);
    expect(b!.validate.edges.digest).toBe(a!.validate.edges.digest);
    expect(b!.validate.report_sha256).toBe(a!.validate.report_sha256);
    expect(b!.run.shards).toBe(a!.run.shards);
    expect(b!.run.edges_inserted).toBe(a!.run.edges_inserted);
    expect(b!.run.tombstones_inserted).toBe(a!.run.tombstones_inserted);
  });

  res.leakCheck();
});
