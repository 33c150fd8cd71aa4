/** The validation report's checks (pure): chains, tombstones, counts, samples capped at 20. */
import { describe, expect, it } from 'vitest';
import { Sampled, SAMPLE_MAX } from '../../monitor/report/check.js';
import { ChainChecker } from '../../monitor/report/chains.js';
import { runChecks } from '../../monitor/report/run-checks.js';
import { ShardSampler } from '../../monitor/report/shard-samples.js';
import { expectedTombstone, latestRevision, tombstoneCheck } from '../../monitor/report/tombstones.js';
import { emptyCounts } from '../../core/store/shards.js';
import { compareUtf16 } from '../../core/external-sort.js';

const L = (adv: string, a: string, b: string) => `t|v|${adv}|${a}|${b}`;

/** Feed lines as the validation merge does: sorted, each with where it was found. */
function chains(expected: string[], present: string[]) {
  const c = new ChainChecker();
  const all = [...new Set([...expected, ...present])].sort(compareUtf16);
  for (const l of all) c.line(l, expected.includes(l), present.includes(l));
  return Object.fromEntries(c.checks().map((x) => [x.name, x]));
}

async function* from(xs: string[]) {
  for (const x of [...xs].sort(compareUtf16)) yield x;
}

describe('chain checks', () => {
  const exp = [L('A', 'h1', 'h2'), L('A', 'h2', 'h3'), L('B', 'h1', 'h2')];

  it('the expected edges present: every check passes', () => {
    const r = chains(exp, exp);
    expect(Object.values(r).every((c) => c.ok)).toBe(true);
    expect(r.edge_per_consecutive_pair!.counts).toEqual({ expected: 3, present: 3, missing: 0 });
  });

  it('a missing edge is missing and breaks its chain', () => {
    const r = chains(exp, [exp[0]!, exp[2]!]);
    expect(r.edge_per_consecutive_pair).toMatchObject({ ok: false, counts: { missing: 1 }, samples: [exp[1]] });
    expect(r.chains_linear).toMatchObject({ ok: false, counts: { broken: 1, branched: 0 }, samples: ['broken: t|v|A'] });
  });

  it('an edge that is not a consecutive pair is extra; a fork is a branched chain', () => {
    const skip = L('A', 'h1', 'h3');
    const r = chains(exp, [...exp, skip]);
    expect(r.no_other_edge).toMatchObject({ ok: false, counts: { extra: 1 }, samples: [skip] });
    expect(r.chains_linear).toMatchObject({ ok: false, counts: { branched: 1 }, samples: ['branched: t|v|A'] });
    // An edge for a single-revision advisory: extra, and no chain to break.
    const lone = L('C', 'x', 'y');
    const r2 = chains(exp, [...exp, lone]);
    expect(r2.no_other_edge!.ok).toBe(false);
    expect(r2.chains_linear!.ok).toBe(true);
  });

  it('a cycle (latest back to first) breaks the chain without a fork', () => {
    const r = chains(exp, [...exp, L('A', 'h3', 'h1')]);
    expect(r.chains_linear).toMatchObject({ ok: false, counts: { broken: 1, branched: 0 } });
  });

  it('samples are capped at 20, counts are not', () => {
    const s = new Sampled();
    for (let i = 0; i < 50; i++) s.add(String(i));
    expect([s.count, s.samples.length]).toEqual([50, SAMPLE_MAX]);
  });
});

describe('tombstone check', () => {
  it('names missing tombstones, tombstoned latest revisions and unknown tombstones', async () => {
    const expected = [expectedTombstone('t|r1'), expectedTombstone('t|r2'), latestRevision('t|r3'), latestRevision('t|r9')];
    expect(await tombstoneCheck(from(expected), from(['t|r1', 't|r2']))).toMatchObject({ ok: true, counts: { expected: 2, present: 2 } });
    const bad = await tombstoneCheck(from(expected), from(['t|r1', 't|r3', 't|zz']));
    expect(bad).toMatchObject({
      ok: false,
      counts: { expected: 2, present: 3, missing: 1, latest_revision: 1, unknown: 1 },
      samples: ['missing: t|r2', 'latest revision: t|r3', 'unknown: t|zz'],
    });
  });
});

describe('count checks', () => {
  const base = { observations: { before: 10, after: 10 }, shards: { planned: 2, done: 2, failed: 0 }, other_run_edges: 0 };
  const named = (x: Parameters<typeof runChecks>[0]) => Object.fromEntries(runChecks(x).map((c) => [c.name, c]));

  it('a clean first run fails at a hit rate of 0.1 %; a re-run reports its 100 % hits as the proof', () => {
    expect(named({ ...base, counts: { ...emptyCounts(), write_attempts: 1000, idempotent_hits: 0 } }).idempotency!.ok).toBe(true);
    expect(named({ ...base, counts: { ...emptyCounts(), write_attempts: 1000, idempotent_hits: 1 } }).idempotency).toMatchObject({ ok: false, counts: { hit_rate: 0.001, rerun: 0 } });
    expect(named({ ...base, other_run_edges: 5, counts: { ...emptyCounts(), write_attempts: 10, idempotent_hits: 10 } }).idempotency).toMatchObject({ ok: true, counts: { hit_rate: 1, rerun: 1 } });
  });

  it('observations, violations, errors and shards each fail on their own', () => {
    const r = named({ observations: { before: 10, after: 9 }, shards: { planned: 3, done: 2, failed: 1 }, other_run_edges: 0, counts: { ...emptyCounts(), violations: 2, violations_content_differs: 2, errors: 1 } });
    expect(Object.values(r).filter((c) => !c.ok).map((c) => c.name)).toEqual(['observation_count', 'idempotency_violations', 'errors', 'shards']);
    expect(r.idempotency_violations!.counts).toMatchObject({ violations: 2, content_differs: 2 });
  });

  it('a failing violations, errors or shards check carries its samples; a passing one none', () => {
    const samples = { violations: ['shard 1: content_differs e1'], errors: ['shard 2: ERR_X: boom'], shards: ['failed: shard 2 (ERR_X)'] };
    const bad = named({ ...base, shards: { planned: 2, done: 1, failed: 1 }, samples, counts: { ...emptyCounts(), violations: 1, errors: 1 } });
    expect([bad.idempotency_violations!.samples, bad.errors!.samples, bad.shards!.samples]).toEqual([samples.violations, samples.errors, samples.shards]);
    const good = named({ ...base, samples, counts: emptyCounts() });
    expect([good.idempotency_violations!.samples, good.errors!.samples, good.shards!.samples]).toEqual([[], [], []]);
  });
});

describe('samples from the shard documents', () => {
  const RUN = 'run-20260101T000000Z-abcd';
  const violation = (id: string, reason = 'content_differs') => ({ _id: id, reason });

  it('violations by shard (fed in shard order), sorted within a shard, with _id and reason; capped at 20', () => {
    const s = new ShardSampler(RUN);
    s.add({ shard: 0, state: 'done', violation_sample: [violation('e9', 'older_raw_id_collision'), violation('e2')] });
    s.add({ shard: 1, state: 'done', violation_sample: Array.from({ length: 25 }, (_, i) => violation(`x${String(i).padStart(2, '0')}`)) });
    expect(s.lists.violations.slice(0, 3)).toEqual(['shard 0: content_differs e2', 'shard 0: older_raw_id_collision e9', 'shard 1: content_differs x00']);
    expect(s.lists.violations).toHaveLength(SAMPLE_MAX);
    expect(s.lists.violations.at(-1)).toBe('shard 1: content_differs x17');
  });

  it('errors of the shards that counted one, and every shard not done, without the run id', () => {
    const s = new ShardSampler(RUN);
    const error = { code: 'ERR_PAYLOAD', path: `backfill_manifests/${RUN}-s000003`, message: `shard ${RUN}-s000003 broken` };
    s.add({ shard: 2, state: 'done', counts: { errors: 0 } });
    s.add({ shard: 3, state: 'failed', counts: { errors: 1 }, error });
    s.add({ shard: 4, state: 'pending' });
    expect(s.lists.errors).toEqual(['shard 3: ERR_PAYLOAD at backfill_manifests/<run>-s000003']);
    expect(s.lists.shards).toEqual(['failed: shard 3 (ERR_PAYLOAD)', 'pending: shard 4']);
    expect(JSON.stringify(s.lists)).not.toContain(RUN);
    expect(s.full).toBe(false);
    for (let i = 5; i < 30; i++) s.add({ shard: i, state: 'failed', counts: { errors: 1 }, error, violation_sample: [violation(`v${i}`)] });
    expect(s.full).toBe(true);
    expect([s.lists.errors.length, s.lists.shards.length, s.lists.violations.length]).toEqual([SAMPLE_MAX, SAMPLE_MAX, SAMPLE_MAX]);
  });
});
