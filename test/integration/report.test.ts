/**
 * The validation report (real MongoDB-wire server): the same corpus imported in two
 * advisory orders into two databases and backfilled gives the identical report SHA-256; a
 * re-run over a finished run reports its 100 % hits as the idempotency proof; a seeded
 * broken state (missing edge, extra edge, branched chain, dropped observation, missing
 * tombstone) fails validation naming each problem, through the API and the CLI.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validateRun } from '../../api/index.js';
import type { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { importCorpus } from '../../producer/import.js';
import { quietLog, runCli, lastJson } from '../helpers/env.js';
import { writeAdvisoryReordered } from '../helpers/corpus-order.js';
import { runInProcess, rustsecHead } from '../helpers/events.js';
import { useResources } from '../helpers/resources.js';

const LONG = 300_000;
const res = useResources();
const cfgA = res.config('report_a');
const cfgB = res.config('report_b');
let a: Connections;
let b: Connections;
let runA: string;
let runB: string;
const FORCE = { reason: 'report test' };

interface EdgeDoc {
  _id: string;
  tenant: string;
  vendor: string;
  upstream_id: string;
  older: { raw_id: string; content_hash: string; fetched_at: Date };
  newer: { raw_id: string; content_hash: string; fetched_at: Date };
}

const failing = (r: { report: { checks: Array<{ name: string; ok: boolean }> } }) => r.report.checks.filter((c) => !c.ok).map((c) => c.name);
const checkOf = (r: { report: { checks: Array<{ name: string; samples: string[]; counts: Record<string, number> }> } }, name: string) => r.report.checks.find((c) => c.name === name)!;

describe('validation report', () => {
  it('same corpus, two advisory orders, two databases: identical report SHA-256', async () => {
    a = await res.open(cfgA);
    b = await res.open(cfgB);
    const file = await rustsecHead(cfgA.homeDir, 150);
    await importCorpus(a.db, file, { homeDir: cfgA.homeDir }, quietLog);
    await importCorpus(b.db, writeAdvisoryReordered(file, path.join(cfgB.homeDir, 'reordered.jsonl')), { homeDir: cfgB.homeDir }, quietLog);
    runA = (await runInProcess(a, { dryRun: false, batchSize: 30, force: FORCE }))._id;
    runB = (await runInProcess(b, { dryRun: false, batchSize: 30, force: FORCE }))._id;
    const va = await validateRun(runA, { config: cfgA, outDir: path.join(cfgA.homeDir, 'report') });
    const vb = await validateRun(runB, { config: cfgB });
    expect(failing(va)).toEqual([]);
    expect(va.report.ok).toBe(true);
    expect(va.report.advisories_with_prior_conflict).toBeGreaterThan(3);
    expect(checkOf(va, 'idempotency').counts).toMatchObject({ hits: 0, rerun: 0 });
    expect(vb.report_sha256).toBe(va.report_sha256);
    // report.json is the hashed bytes; neither a run id nor a wall-clock value in it.
    const bytes = readFileSync(va.file!, 'utf8');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(va.report_sha256);
    expect(bytes).not.toMatch(/run-\d{8}T|\d{4}-\d\d-\d\dT\d\d:\d\d/);
  }, LONG);

  it('a re-run over the finished run: 100 % hits reported as the idempotency proof, not a failure', async () => {
    const again = await runInProcess(b, { dryRun: false, batchSize: 30, force: FORCE });
    const v = await validateRun(again._id, { config: cfgB });
    expect(v.report.ok).toBe(true);
    expect(checkOf(v, 'idempotency').counts).toMatchObject({ hit_rate: 1, rerun: 1 });
    expect(v.report.idempotency.hits).toBe(v.report.idempotency.attempts);
  }, LONG);

  it('a seeded broken state fails validation naming each problem', async () => {
    const edges = a.db.collection<EdgeDoc>(COLL.supersedes);
    const all = await edges.find({}).toArray();
    const byAdvisory = new Map<string, EdgeDoc[]>();
    for (const e of all) byAdvisory.set(`${e.tenant}|${e.vendor}|${e.upstream_id}`, [...(byAdvisory.get(`${e.tenant}|${e.vendor}|${e.upstream_id}`) ?? []), e]);
    const [gapKey, gap] = [...byAdvisory].find(([, es]) => es.length >= 2)!;
    const [forkKey, fork] = [...byAdvisory].find(([k]) => k !== gapKey)!;
    const line = (e: { tenant: string; vendor: string; upstream_id: string }, o: string, n: string) => `${e.tenant}|${e.vendor}|${e.upstream_id}|${o}|${n}`;
    // Missing edge (the chain gets a gap).
    const dropped = gap[0]!;
    await edges.deleteOne({ _id: dropped._id });
    // Branched chain: a second successor of a revision (fresh raw ids: the unique indexes hold).
    const f = fork[0]!;
    const otherHash = `sha256:${'b'.repeat(64)}`;
    await edges.insertOne({ ...f, _id: 'seeded-fork', older: { ...f.older, raw_id: 'seeded-fork-older' }, newer: { raw_id: 'seeded-fork-newer', content_hash: otherHash, fetched_at: new Date() } });
    // Extra edge for an advisory with one revision.
    const lone = (await a.db.collection(COLL.raw).find({}).toArray()).find((r) => !byAdvisory.has(`${r.tenant}|${r.source.vendor}|${r.upstream.upstream_id}`))!;
    const extra = { tenant: lone.tenant, vendor: lone.source.vendor, upstream_id: lone.upstream.upstream_id };
    const extraHash = `sha256:${'c'.repeat(64)}`;
    await edges.insertOne({ _id: 'seeded-extra', ...extra, older: { raw_id: String(lone._id), content_hash: lone.upstream.content_hash, fetched_at: new Date() }, newer: { raw_id: 'seeded-extra-newer', content_hash: extraHash, fetched_at: new Date() } });
    // Dropped observation; missing tombstone.
    await a.db.collection(COLL.observations).deleteOne({ rawId: lone._id });
    const tomb = await a.db.collection(COLL.tombstones).findOne({ raw_id: gap[1]!.older.raw_id });
    await a.db.collection(COLL.tombstones).deleteOne({ _id: tomb!._id });

    const v = await validateRun(runA, { config: cfgA });
    expect(v.report.ok).toBe(false);
    expect(v.report.failing_checks).toEqual(['observation_count', 'edge_per_consecutive_pair', 'no_other_edge', 'chains_linear', 'tombstones']);
    expect(checkOf(v, 'observation_count').counts).toMatchObject({ after: checkOf(v, 'observation_count').counts.before! - 1 });
    expect(checkOf(v, 'edge_per_consecutive_pair').samples).toEqual([line(dropped, dropped.older.content_hash, dropped.newer.content_hash)]);
    expect(checkOf(v, 'no_other_edge').samples.sort()).toEqual([line(f, f.older.content_hash, otherHash), line(extra, lone.upstream.content_hash, extraHash)].sort());
    expect(checkOf(v, 'chains_linear').samples.sort()).toEqual([`branched: ${forkKey}`, `broken: ${gapKey}`].sort());
    expect(checkOf(v, 'tombstones').samples).toEqual([`missing: ${tomb!.tenant}|${tomb!.raw_id}`]);

    const cli = await runCli(cfgA, ['validate', runA, '--json']);
    expect(cli.code).toBe(1);
    const out = lastJson<{ ok: boolean; failing_checks: string[]; report_sha256: string; file: string }>(cli.stdout);
    expect(out).toMatchObject({ ok: false, failing_checks: v.report.failing_checks, report_sha256: v.report_sha256 });
    expect(out.file).toBe(path.join(cfgA.artifactsDir, 'reports', runA, 'report.json'));
    const text = await runCli(cfgA, ['validate', runA]);
    expect(text.stdout).toContain('FAILED: observation_count, edge_per_consecutive_pair, no_other_edge, chains_linear, tombstones');
    await res.close(a);
    await res.close(b);
  }, LONG);

  res.leakCheck();
});
