/**
 * The dry run predicts the real run exactly (issue 9), on a seeded state with each kind
 * of violation: a different document under the same `_id` (edge and tombstone), and
 * collisions on the `(tenant, newer.raw_id)` and `(tenant, older.raw_id)` unique indexes —
 * the late revision X2 between a stored edge X1→X3 — next to idempotency hits and inserts.
 * Counts by reason are equal (dry-run.test.ts shows a dry run writes nothing). The writer's replay of its
 * own batch (an edge it would insert takes its keys for the next ones) is checked on a
 * collection of its own. The real run's validation report lists each violation with its
 * `_id` and reason, and the dry run's report (the one the evidence bundle carries) lists
 * the same ones.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateRun } from '../../api/index.js';
import { cliJson } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import type { RunJson } from '../helpers/oracle.js';
import { COLL, INDEXES } from '../../core/store/collections.js';
import { getRun } from '../../core/store/runs.js';
import { shardTotals } from '../../core/store/shards.js';
import { dryRunReport } from '../../monitor/evidence/dry-run-report.js';
import { collectShardSamples } from '../../monitor/validate.js';
import { supersedesForAdvisory, type Revision } from '../../core/supersedes.js';
import { rawIdFor } from '../../producer/import.js';
import { IdempotentWriter, type TenantDoc } from '../../workers/idempotent-write.js';
import { EDGE_UNIQUE_INDEXES } from '../../workers/unique-keys.js';

const ENV = { ...FAST_MONITOR_ENV, LNM_VIOLATIONS_MAX: '1000' };
const res = useResources();
const cfg = res.config('dry_viol', ENV);
const TENANT = 'dryviol';
const LONG = 180_000;

const hash = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const day = (d: number): Date => new Date(Date.UTC(2024, 0, d));

/** Revision `n` of advisory `id`, fetched on day `n`. */
function revision(id: string, n: number): { line: Record<string, unknown>; rev: Revision } {
  const content = { format: 'osv', raw: { id, rev: n } };
  const content_hash = hash(JSON.stringify(content));
  const upstream = { upstream_id: id, fetched_at: day(n).toISOString(), content_hash };
  const line = { tenant: TENANT, source: { vendor: 'osv' }, upstream, identifiers: { aliases: [id] }, content };
  return { line, rev: { raw_id: rawIdFor({ tenant: TENANT, source: { vendor: 'osv' }, upstream: { ...upstream, fetched_at: day(n) } }), fetched_at: day(n), content_hash } };
}

const CORPUS = { A: [1, 2, 3], B: [1, 2], C: [1, 2], D: [1, 2, 3] } as const;
const revs = Object.fromEntries(Object.entries(CORPUS).map(([id, ns]) => [id, ns.map((n) => revision(`ADV-${id}`, n))]));
const chain = (id: string, picks: number[]) =>
  supersedesForAdvisory({ tenant: TENANT, vendor: 'osv', upstream_id: `ADV-${id}`, revisions: picks.map((i) => revs[id]![i]!.rev) });

type Counts = Pick<RunJson, 'edges_inserted' | 'tombstones_inserted' | 'idempotent_hits' | 'violations'> & { violations_by_reason: Record<string, number> };
const counts = (r: RunJson & { violations_by_reason: Record<string, number> }): Counts => ({
  edges_inserted: r.edges_inserted,
  tombstones_inserted: r.tombstones_inserted,
  idempotent_hits: r.idempotent_hits,
  violations: r.violations,
  violations_by_reason: r.violations_by_reason,
});

describe('dry run == real run on a state with every kind of violation', () => {
  it('counts inserts, hits and violations by reason exactly as the real run then does', async () => {
    const file = path.join(cfg.homeDir, 'corpus.jsonl');
    writeFileSync(file, Object.values(revs).flat().map((r) => `${JSON.stringify(r.line)}\n`).join(''));
    expect((await cliJson<{ accepted: number }>(cfg, ['import', file, '--json'], { env: ENV })).accepted).toBe(10);

    const conns = await res.open(cfg);
    const stamp = { run_id: 'seeded-run', created_at: new Date() };
    const late = chain('A', [0, 2]); // stored X1→X3 (and X1's tombstone) before the late revision X2 arrived
    const b = chain('B', [0, 1]).edges[0]!;
    const differs = { ...b, newer: { ...b.newer, raw_id: 'a-revision-elsewhere' } };
    const same = chain('C', [0, 1]);
    await conns.db.collection<TenantDoc>(COLL.supersedes).insertMany([...late.edges, differs, ...same.edges].map((e) => ({ ...e, ...stamp })));
    await conns.db.collection<TenantDoc>(COLL.tombstones).insertMany([...late.tombstones, ...same.tombstones].map((t) => ({ ...t, ...stamp })));
    await res.close(conns);

    type Run = RunJson & { violations_by_reason: Record<string, number> };
    const args = ['--batch-size=3', '--wait', '--local-workers=1', '--json'];
    const dry = await cliJson<Run>(cfg, ['start', '--dry-run', ...args], { env: ENV });
    // The real run writes everything it can, then its validation fails on the seeded state (exit 1).
    const real = await cliJson<Run>(cfg, ['start', '--force', '--reason=test', ...args], { env: ENV, code: 1 });
    expect(dry).toMatchObject({ dry_run: true, state: 'succeeded', shards: 4, errors: 0 });
    expect(real).toMatchObject({ dry_run: false, state: 'failed', shards: 4, errors: 0 });
    expect(counts(dry)).toEqual(counts(real));
    expect(counts(real)).toEqual({
      edges_inserted: 2, // D1→D2, D2→D3 (A1→A2 and A2→A3 collide with the stored A1→A3)
      tombstones_inserted: 4, // A2, B1, D1, D2
      idempotent_hits: 2, // C's edge and tombstone
      violations: 4,
      violations_by_reason: { content_differs: 2, newer_raw_id_collision: 1, older_raw_id_collision: 1, unique_index_collision: 0 },
    });

    // Which violations and why: the real run's report names each by reason and _id.
    const full = chain('A', [0, 1, 2]);
    const why = [
      `content_differs ${b._id}`, // B1→B2 under the _id of the stored edge to another revision
      `content_differs ${late.tombstones[0]!._id}`, // A1's tombstone, superseded by A3 in the store
      `older_raw_id_collision ${full.edges[0]!._id}`, // A1→A2: A1 already has the successor A3
      `newer_raw_id_collision ${full.edges[1]!._id}`, // A2→A3: A3 already has the predecessor A1
    ];
    const { report } = await validateRun(real.run_id, { config: cfg });
    const v = report.checks.find((c) => c.name === 'idempotency_violations')!;
    expect(v).toMatchObject({ ok: false, counts: { violations: 4 } });
    expect(v.samples.map((x) => x.replace(/^shard \d+: /, '')).sort()).toEqual([...why].sort());
    expect(JSON.stringify(report)).not.toContain(real.run_id);
    // The dry run's report: the same counts by reason and the same violations.
    const c2 = await res.open(cfg);
    const dryRun = await getRun(c2.db, dry.run_id);
    const dryTotals = await shardTotals(c2.db, dry.run_id);
    const dryReport = dryRunReport(dryRun, dryTotals, (await collectShardSamples(c2.db, dryRun, dryTotals)).violations);
    await res.close(c2);
    expect(dryReport).toMatchObject({ violations: 4, violations_by_reason: real.violations_by_reason });
    expect(dryReport.violation_sample).toEqual(v.samples);
  }, LONG);

  it('replays its own batch: a second edge from the same older revision collides with the first one', async () => {
    const conns = await res.open(cfg);
    const coll = conns.db.collection<TenantDoc>('writer_replay');
    for (const spec of INDEXES[COLL.supersedes]!) await coll.createIndexes([spec]);
    const x = chain('D', [0, 1]).edges[0]!;
    const y = chain('D', [0, 2]).edges[0]!; // same older revision, another _id
    const z = { ...chain('A', [0, 1]).edges[0]!, tenant: 'other-tenant' }; // same raw ids under another tenant: no collision
    const docs = [x, y, z];
    const planned = await new IdempotentWriter(coll, 'dry', () => true, EDGE_UNIQUE_INDEXES).plan(docs);
    const written = await new IdempotentWriter(coll, 'real', () => true, EDGE_UNIQUE_INDEXES).write(docs, { run_id: 'real', created_at: new Date() });
    expect({ ...planned, written: [] }).toEqual({ ...written, written: [] });
    expect(written).toMatchObject({ inserted: 2, hits: 0, violations: [{ _id: y._id, reason: 'older_raw_id_collision' }] });
    await res.close(conns);
  });

  res.leakCheck();
});
