/**
 * snapshot → changes (edges and tombstones removed, one edge rewritten with another
 * predecessor, a date stored as a string, stray documents) → restore gives back the exact
 * edge set (same edge digest) and tombstones of the scope, document for document and type
 * for type, and leaves other tenants alone; a snapshot file changed by one byte is refused before anything is
 * written (ERR_SNAPSHOT_HASH_MISMATCH); restore without --yes writes nothing; restore is
 * refused while an active run covers the scope; `start --snapshot` takes one first.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Double, Int32, Long } from 'mongodb';
import { cliJson, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { scopeState as state } from '../helpers/scope-state.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import type { RunJson } from '../helpers/oracle.js';
import { COLL } from '../../core/store/collections.js';
import { cancelRun, restoreSnapshot, seedCorpus, type RestoreResult, type SnapshotResult } from '../../api/index.js';
import type { TenantDoc } from '../../workers/idempotent-write.js';

const res = useResources();
const cfg = res.config('snapshot_restore', FAST_MONITOR_ENV);
const api = { config: cfg };
const LONG = 300_000;
const FORCE = ['--force', '--reason=test'];

describe('snapshot and restore', () => {
  it('restores the exact edges and tombstones after changes; refuses a modified file', async () => {
    const seed = await seedCorpus({ ...api, docs: 300, seed: 3, tenants: 2 });
    expect(seed.import?.accepted).toBe(300);
    const run = await cliJson<RunJson>(cfg, ['start', ...FORCE, '--tenant=tenant-1', '--wait', '--local-workers=1', '--json'], { env: FAST_MONITOR_ENV });
    expect(run).toMatchObject({ state: 'succeeded', violations: 0, errors: 0 });
    const conns = await res.open(cfg);
    // A document with BSON number types a JS number would lose (a double 5.0, a long, an int32).
    const typed = { _id: 'typed', tenant: 'tenant-1', d: new Double(5), l: Long.fromNumber(7), i: new Int32(3), at: new Date(0) };
    await conns.db.collection<TenantDoc>(COLL.tombstones).insertOne(typed);
    const before = await state(conns.db, 'tenant-1');
    expect(before.edges).toBe(run.edges_inserted);
    expect(before.edges).toBeGreaterThan(0);

    const file = path.join(cfg.homeDir, 'snap', 'tenant-1.jsonl.gz');
    const snap = await cliJson<SnapshotResult>(cfg, ['snapshot', run.run_id, '--out', file, '--json']);
    expect(snap).toMatchObject({ file, scope: { tenant: 'tenant-1', run_id: run.run_id } });
    expect(snap.counts).toEqual({ [COLL.supersedes]: before.edges, [COLL.tombstones]: before.tombstones });
    expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${snap.sha256}  tenant-1.jsonl.gz\n`);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(snap.sha256);

    // Changes in the scope: removed documents, a rewritten edge, a date turned into a
    // string, strays; and documents of another tenant, which a restore must not touch.
    const edges = conns.db.collection<TenantDoc>(COLL.supersedes);
    const tombs = conns.db.collection<TenantDoc>(COLL.tombstones);
    const [first, second, third, ...rest] = await edges.find({ tenant: 'tenant-1' }).toArray();
    for (const e of rest.slice(0, 5)) await edges.deleteOne({ _id: e._id });
    for (const t of (await tombs.find({ tenant: 'tenant-1', _id: { $ne: 'typed' } }).toArray()).slice(0, 5)) await tombs.deleteOne({ _id: t._id });
    await tombs.deleteOne({ _id: 'typed' });
    await edges.deleteOne({ _id: first!._id });
    await edges.insertOne({ ...first!, newer: { ...first!.newer, raw_id: 'another-revision' } });
    await edges.updateOne({ _id: second!._id }, { $set: { created_at: second!.created_at.toISOString() } });
    await edges.deleteOne({ _id: third!._id });
    const stray = (tenant: string, n: number): TenantDoc => ({ _id: `stray-${tenant}-${n}`, tenant, raw_id: `r-${n}`, superseded_by_raw_id: `r-${n + 1}`, run_id: 'stray' });
    await tombs.insertMany([stray('tenant-1', 1), stray('tenant-2', 1)]);
    await edges.insertOne({ ...third!, _id: 'stray-edge' }); // the removed edge's raw ids under another _id
    const otherTenant = await state(conns.db, 'tenant-2');
    expect(otherTenant.tombstones).toBe(1);
    const changed = await state(conns.db, 'tenant-1');
    expect(changed.edge_digest).not.toBe(before.edge_digest);

    // One byte changed (its hash file copied unchanged): refused before anything is written.
    const bad = path.join(cfg.homeDir, 'snap', 'modified.jsonl.gz');
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01;
    writeFileSync(bad, bytes);
    copyFileSync(`${file}.sha256`, `${bad}.sha256`);
    const refused = await runCli(cfg, ['restore', bad, '--yes', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_SNAPSHOT_HASH_MISMATCH');
    expect(await conns.db.collection(COLL.tombstones).countDocuments({ _id: 'stray-tenant-1-1' } as never)).toBe(1);

    // Without --yes: the plan only.
    const plan = await restoreSnapshot(file, api);
    expect(plan).toMatchObject({
      applied: false,
      removed: { [COLL.supersedes]: 3, [COLL.tombstones]: 1 }, // rewritten, re-typed, stray; stray
      inserted: { [COLL.supersedes]: 8, [COLL.tombstones]: 6 }, // 5 removed + first, second, third; 5 removed + typed
    });
    expect(await state(conns.db, 'tenant-1')).toEqual(changed);

    const done = await cliJson<RestoreResult>(cfg, ['restore', file, '--yes', '--json']);
    expect(done).toMatchObject({ applied: true, sha256: snap.sha256, removed: plan.removed, inserted: plan.inserted });
    expect(await state(conns.db, 'tenant-1')).toEqual(before);
    const back = await conns.db.collection<TenantDoc>(COLL.tombstones).findOne({ _id: 'typed' }, { promoteValues: false });
    expect([back?.d?._bsontype, back?.l?._bsontype, back?.i?._bsontype, back?.at]).toEqual(['Double', 'Long', 'Int32', new Date(0)]);
    expect(await state(conns.db, 'tenant-2')).toEqual(otherTenant);

    // Restoring again changes nothing.
    const again = await restoreSnapshot(file, { ...api, yes: true });
    expect(again).toMatchObject({ removed: { [COLL.supersedes]: 0, [COLL.tombstones]: 0 }, inserted: { [COLL.supersedes]: 0, [COLL.tombstones]: 0 }, unchanged: snap.counts });
    await res.close(conns);
  }, LONG);

  it('start --snapshot takes one before the run; restore is refused while an active run covers the scope', async () => {
    // No worker: the run stays running, holding tenant-1.
    const active = await cliJson<RunJson & { snapshot: { file: string; sha256: string; counts: Record<string, number> } }>(
      cfg,
      ['start', ...FORCE, '--tenant=tenant-1', '--snapshot', '--json'],
      { env: FAST_MONITOR_ENV },
    );
    expect(active.state).toBe('running');
    const conns = await res.open(cfg);
    const now = await state(conns.db, 'tenant-1');
    await res.close(conns);
    expect(active.snapshot.counts).toEqual({ [COLL.supersedes]: now.edges, [COLL.tombstones]: now.tombstones });
    expect(readFileSync(`${active.snapshot.file}.sha256`, 'utf8').split(' ')[0]).toBe(active.snapshot.sha256);
    expect(createHash('sha256').update(readFileSync(active.snapshot.file)).digest('hex')).toBe(active.snapshot.sha256);

    await expect(restoreSnapshot(active.snapshot.file, { ...api, yes: true })).rejects.toMatchObject({
      code: 'ERR_SCOPE_OVERLAP',
      message: expect.stringContaining(active.run_id),
    });
    await cancelRun(active.run_id, api);
    const usage = await runCli(cfg, ['start', '--dry-run', '--snapshot']);
    expect(usage.code).toBe(2);
  }, LONG);

  res.leakCheck();
});
