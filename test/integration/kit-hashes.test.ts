/**
 * `kit hashes` (real MongoDB-wire server): the same corpus imported in two advisory orders
 * into two databases gives the same advisory_raw hash and the same planned-bundle hash (and
 * the same kit file bytes); one changed raw document changes the raw hash; `preflight --kit`
 * accepts the file the CLI wrote; a tenant scope hashes that tenant only: on a two-tenant
 * corpus `--tenant` counts that tenant's raw documents, hashes differently from the
 * all-tenant kit and does not move when a document of the other tenant changes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { preflight, seedCorpus, writeKitHashes } from '../../api/index.js';
import type { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { importCorpus } from '../../producer/import.js';
import { startRun } from '../../producer/start.js';
import { lastJson, quietLog, runCli } from '../helpers/env.js';
import { writeAdvisoryReordered } from '../helpers/corpus-order.js';
import { rustsecHead } from '../helpers/events.js';
import { useResources } from '../helpers/resources.js';

const LONG = 300_000;
const res = useResources();
const cfgA = res.config('kit_a');
const cfgB = res.config('kit_b');
const cfgT = res.config('kit_tenants');
let a: Connections;
let b: Connections;

const plan = (conns: Connections) => startRun(conns, { dryRun: true, batchSize: 30, stopOnError: false, tenant: null, commandLine: ['test'] }, quietLog);

describe('kit hashes', () => {
  it('is identical for the same corpus imported in two advisory orders', async () => {
    a = await res.open(cfgA);
    b = await res.open(cfgB);
    const file = await rustsecHead(cfgA.homeDir, 150);
    const imported = await importCorpus(a.db, file, { homeDir: cfgA.homeDir }, quietLog);
    await importCorpus(b.db, writeAdvisoryReordered(file, path.join(cfgB.homeDir, 'reordered.jsonl')), { homeDir: cfgB.homeDir }, quietLog);
    const runA = await plan(a);
    const runB = await plan(b);
    const kitA = await writeKitHashes({ config: cfgA, outDir: path.join(cfgA.homeDir, 'kit') });
    const kitB = await writeKitHashes({ config: cfgB, outDir: path.join(cfgB.homeDir, 'kit') });
    expect(kitA.kit.advisory_raw).toMatchObject({ documents: imported.accepted });
    expect(kitA.kit.backfill_bundle).toMatchObject({ run_id: runA._id, shards: runA.shards_total, documents: imported.accepted });
    expect(kitB.kit.backfill_bundle!.run_id).toBe(runB._id);
    expect(kitA.kit.advisory_raw_sha256).toBe(runA.snapshot!.corpus_sha256); // one corpus hash definition
    expect(kitB.kit.advisory_raw_sha256).toBe(kitA.kit.advisory_raw_sha256);
    expect(kitB.kit.backfill_bundle!.sha256).toBe(kitA.kit.backfill_bundle!.sha256);
    // Everything but the run id is equal, byte for byte.
    const strip = (f: string) => readFileSync(f, 'utf8').replace(/run-\d{8}T\d{6}Z-[0-9a-z]+/g, 'RUN');
    expect(strip(kitB.file)).toBe(strip(kitA.file));
  }, LONG);

  it('changes when one raw document changes', async () => {
    const before = await writeKitHashes({ config: cfgB, outDir: path.join(cfgB.homeDir, 'kit') });
    const one = await b.db.collection(COLL.raw).findOne({}, { sort: { _id: 1 } });
    await b.db.collection(COLL.raw).updateOne({ _id: one!._id }, { $set: { 'upstream.content_hash': `sha256:${'0'.repeat(64)}` } });
    const after = await writeKitHashes({ config: cfgB, outDir: path.join(cfgB.homeDir, 'kit') });
    expect(after.kit.advisory_raw_sha256).not.toBe(before.kit.advisory_raw_sha256);
    expect(after.kit.advisory_raw.documents).toBe(before.kit.advisory_raw.documents);
    // The planned bundle is the run's snapshot: it does not follow the corpus.
    expect(after.kit.backfill_bundle!.sha256).toBe(before.kit.backfill_bundle!.sha256);
  }, LONG);

  it('--tenant hashes that tenant only, on a two-tenant corpus', async () => {
    const seed = await seedCorpus({ config: cfgT, docs: 200, seed: 7, tenants: 2 });
    expect(seed.import?.accepted).toBe(200);
    const t = await res.open(cfgT);
    const raw = t.db.collection(COLL.raw);
    const mine = await raw.countDocuments({ tenant: 'tenant-1' });
    expect(mine).toBeGreaterThan(0);
    expect(mine).toBeLessThan(200);
    const kit = async (tenant: string | null) => (await writeKitHashes({ config: cfgT, tenant, outDir: path.join(cfgT.homeDir, `kit-${tenant ?? 'all'}`) })).kit;
    const cli = await runCli(cfgT, ['kit', 'hashes', '--tenant', 'tenant-1', '--out', path.join(cfgT.homeDir, 'kit-cli'), '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const one = lastJson<{ kit: Awaited<ReturnType<typeof kit>> }>(cli.stdout).kit;
    const all = await kit(null);
    expect(one).toMatchObject({ tenant: 'tenant-1', advisory_raw: { documents: mine } });
    expect(all.advisory_raw.documents).toBe(200);
    expect(one.advisory_raw_sha256).not.toBe(all.advisory_raw_sha256);
    expect((await kit('tenant-1')).advisory_raw_sha256).toBe(one.advisory_raw_sha256);
    // A document of the other tenant changes: the all-tenant hash moves, tenant-1's does not.
    const other = await raw.findOne({ tenant: 'tenant-2' }, { sort: { _id: 1 } });
    await raw.updateOne({ _id: other!._id }, { $set: { 'upstream.content_hash': `sha256:${'1'.repeat(64)}` } });
    expect((await kit(null)).advisory_raw_sha256).not.toBe(all.advisory_raw_sha256);
    expect(await kit('tenant-1')).toEqual(one);
    await res.close(t);
  }, LONG);

  it('the CLI writes a kit file that preflight --kit accepts; a tenant scope hashes that tenant only', async () => {
    const dir = path.join(cfgA.homeDir, 'cli-kit');
    const r = await runCli(cfgA, ['kit', 'hashes', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<{ file: string; kit: { advisory_raw_sha256: string } }>(r.stdout);
    expect(out.file).toBe(path.join(dir, 'kit-hashes.json'));
    const pf = await preflight({ config: cfgA, kitFile: out.file });
    expect(pf.checks.find((c) => c.name === 'kit')).toMatchObject({ ok: true });
    const none = await writeKitHashes({ config: cfgA, tenant: 'no-such-tenant', outDir: path.join(cfgA.homeDir, 'kit-t') });
    expect(none.kit).toMatchObject({ tenant: 'no-such-tenant', advisory_raw: { documents: 0 }, backfill_bundle: null });
    await res.close(a);
    await res.close(b);
  }, LONG);

  res.leakCheck();
});
