/**
 * Tenant isolation with real runs: tenants with identical upstream ids and identical
 * content hashes (one named like another's prefix). An empty `--tenant=` is refused, never
 * "all tenants"; a run scoped to one tenant plans (reads) and writes only that tenant's
 * documents; tenant/vendor pairs that would share a raw `_id` through the '|' separator
 * are rejected at import.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliJson, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { type ImportJson, independentEdges, type RunJson, snapshotAdvisoryCollections } from '../helpers/oracle.js';
import type { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { manifestsColl, shardsColl } from '../../core/store/shards.js';

const res = useResources();
const cfg = res.config('tenant_isolation');
const LONG = 600_000;
const TENANTS = ['acme', 'acme-eu', 'acm'] as const;
const IDS = ['CVE-2024-0001', 'GHSA|a:b', 'X-3'] as const;
const REVISIONS = 3;
let conns: Connections;

const hash = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/** The same advisory (same id, same content, same hash) under any tenant. */
function doc(tenant: string, vendor: string, id: string, rev: number): string {
  return JSON.stringify({
    tenant,
    source: { vendor },
    upstream: { upstream_id: id, fetched_at: new Date(Date.UTC(2024, 0, 1 + rev)).toISOString(), content_hash: hash(`${id}/${rev}`) },
    content: { format: 'osv', raw: { id, rev } },
  });
}

beforeAll(async () => {
  conns = await res.open(cfg);
}, LONG);


async function edgesOf(tenant: string): Promise<Array<{ _id: string; run_id: string }>> {
  return conns.db.collection<{ _id: string; run_id: string }>(COLL.supersedes).find({ tenant }, { projection: { _id: 1, run_id: 1 } }).toArray();
}

describe('tenant isolation', () => {
  it("imports identical advisories under three tenants; '|' pairs that would share a raw _id are rejected", async () => {
    const lines = TENANTS.flatMap((t) => IDS.flatMap((id) => Array.from({ length: REVISIONS }, (_, r) => doc(t, 'osv', id, r))));
    lines.push(doc('a|b', 'c', 'SAME', 0), doc('a', 'b|c', 'SAME', 0));
    const file = path.join(cfg.homeDir, 'tenants.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const rejects = path.join(cfg.homeDir, 'rejects.jsonl');
    const r = await cliJson<ImportJson>(cfg, ['import', file, '--rejects', rejects, '--json']);
    expect(r).toEqual({ accepted: TENANTS.length * IDS.length * REVISIONS, duplicates: 0, out_of_order_duplicates: 0, out_of_order_sample: [], rejected: { ERR_AOC_011: 2 } });
    const recs = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; path: string });
    expect(recs.map((x) => [x.line, x.path])).toEqual([[lines.length - 1, 'tenant'], [lines.length, 'source.vendor']]);
  }, LONG);

  it.each([['--tenant='], ['--tenant=  ']])('start %j is refused (exit 2, ERR_CONFIG) and creates no run', async (flag) => {
    const r = await runCli(cfg, ['start', '--force', '--reason=test', flag, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lnm-backfill: ERR_CONFIG: --tenant: is empty/);
    expect(r.stdout).toBe('');
    expect(await conns.db.collection(COLL.runs).countDocuments({})).toBe(0);
  });

  it('a run scoped to one tenant reads and writes only that tenant', async () => {
    const before = await snapshotAdvisoryCollections(conns.db);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--tenant=acme', '--wait', '--local-workers=1', '--json']);
    const perTenantEdges = IDS.length * (REVISIONS - 1);
    expect(run).toMatchObject({ state: 'succeeded', docs: IDS.length * REVISIONS, edges_inserted: perTenantEdges, tombstones_inserted: perTenantEdges, violations: 0, errors: 0 });

    // Reads: the run's snapshot (its shard manifests) holds acme's documents only.
    const shards = await shardsColl(conns.db).find({ run_id: run.run_id }).toArray();
    const manifests = await manifestsColl(conns.db).find({ run_id: run.run_id }).toArray();
    const tenantsRead = new Set(manifests.flatMap((m) => m.advisories.map((g) => g.tenant)));
    expect([...tenantsRead]).toEqual(['acme']);
    expect(shards.reduce((n, s) => n + s.docs, 0)).toBe(IDS.length * REVISIONS);

    // Writes: edges, tombstones and outbox rows of acme only; raw documents and observations untouched.
    const after = await snapshotAdvisoryCollections(conns.db);
    for (const name of [COLL.raw, COLL.observations]) expect(after[name], name).toEqual(before[name]);
    const runRows = await conns.db.collection(COLL.events).find({ run_id: run.run_id }).toArray();
    expect(runRows.length).toBeGreaterThan(0);
    expect(new Set(runRows.map((r) => r.payload?.tenantId))).toEqual(new Set(['acme']));
    expect(after[COLL.events]!.count - before[COLL.events]!.count).toBe(runRows.length);
    expect(await edgesOf('acme')).toHaveLength(perTenantEdges);
    expect(await conns.db.collection(COLL.supersedes).countDocuments({})).toBe(perTenantEdges);
    expect(await conns.db.collection(COLL.tombstones).countDocuments({ tenant: { $ne: 'acme' } })).toBe(0);
    expect(await conns.db.collection(COLL.tombstones).countDocuments({})).toBe(perTenantEdges);
  }, LONG);

  it("a second tenant's run leaves the first tenant's edges as they were; the third tenant gets none", async () => {
    const acmeBefore = await edgesOf('acme');
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--tenant=acme-eu', '--wait', '--local-workers=1', '--json']);
    expect(run).toMatchObject({ state: 'succeeded', docs: IDS.length * REVISIONS, edges_inserted: IDS.length * (REVISIONS - 1), idempotent_hits: 0 });
    expect(await edgesOf('acme')).toEqual(acmeBefore);
    const eu = await edgesOf('acme-eu');
    expect(new Set(eu.map((e) => e.run_id))).toEqual(new Set([run.run_id]));
    // Identical upstream ids and hashes, yet distinct edge ids per tenant.
    expect(eu.filter((e) => acmeBefore.some((a) => a._id === e._id))).toEqual([]);
    expect(await edgesOf('acm')).toEqual([]);
    // What an all-tenant run would write: the third tenant's edges are still missing.
    const oracle = await independentEdges(conns.db);
    expect(oracle.edges - (await conns.db.collection(COLL.supersedes).countDocuments({}))).toBe(IDS.length * (REVISIONS - 1));
  }, LONG);

  it('closes its connection', async () => {
    await res.close(conns);
    expect(res.openConnections()).toBe(0);
  });

  res.leakCheck();
});
