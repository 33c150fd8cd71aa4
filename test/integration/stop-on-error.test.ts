/**
 * Stop-on-error end to end (real Redis + MongoDB-wire server): a run whose shard 3 has
 * a broken manifest is stopped by the monitor and rolled back automatically; only what
 * that run wrote goes, the original shard error is kept, and a manual `rollback` of
 * another run removes exactly that run's edges and tombstones.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil, quietLog, runCli, RUSTSEC } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import { type ImportJson, type RunJson } from '../helpers/oracle.js';
import { FAST_MONITOR_ENV, historyStates, rollbackSettled, stamped } from '../helpers/monitor.js';
import { shardId } from '../../core/contract.js';
import { COLL } from '../../core/store/collections.js';
import { getRun } from '../../core/store/runs.js';
import { getShard, listShards, manifestsColl } from '../../core/store/shards.js';
import { Monitor } from '../../monitor/monitor.js';

const ENV = {
  ...FAST_MONITOR_ENV,
};
const res = useResources();
const cfg = res.config('stop_on_error', ENV);
const EDGES = 1807;
/** Advisories with two or more revisions: each chain's observations all change (edges + chains). */
const CHAINS = 754;

let firstRun = '';
let deleted = 0;


describe('stop-on-error and rollback', () => {
  it('a first run over the rustsec corpus succeeds with 1807 edges', async () => {
    const imp = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json'], { env: ENV });
    expect(imp.accepted).toBe(3033);
    const r = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--wait', '--local-workers=1', '--json'], { env: ENV });
    expect(r).toMatchObject({ state: 'succeeded', edges_inserted: EDGES, tombstones_inserted: EDGES, violations: 0, errors: 0 });
    firstRun = r.run_id;
  }, 900_000);

  it('a broken manifest stops the second run, which is rolled back to nothing with its original error', async () => {
    expect(firstRun).not.toBe('');
    const conns = await res.open(cfg);
    const { db } = conns;
    // Planned and enqueued; no worker yet, so every job waits.
    const second = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--stop-on-error', '--batch-size=100', '--json'], { env: ENV });
    const run2 = second.run_id;
    expect(second.state).toBe('running');
    expect(second.shards).toBeGreaterThan(6);

    // Delete ~20 of the first run's edges whose advisories are in shards 0..2 of the
    // second run (processed before shard 3 by a single worker of concurrency 1).
    const victims: string[] = [];
    for (const n of [0, 1, 2]) {
      const manifest = await manifestsColl(db).findOne({ _id: shardId(run2, n) });
      for (const g of manifest!.advisories) {
        if (victims.length >= 20) break;
        const edge = await db.collection(COLL.supersedes).findOne({ tenant: g.tenant, vendor: g.vendor, upstream_id: g.upstream_id, run_id: firstRun });
        if (edge) victims.push(String(edge._id));
      }
    }
    expect(victims.length).toBe(20);
    for (const _id of victims) deleted += (await db.collection<{ _id: string }>(COLL.supersedes).deleteOne({ _id, run_id: firstRun })).deletedCount;
    expect(deleted).toBe(20);

    // Corrupt shard 3's manifest: the worker rejects it with a PayloadError.
    const corrupt = await manifestsColl(db).updateOne({ _id: shardId(run2, 3) }, { $set: { advisories: [{ tenant: 'default' }] as never } });
    expect(corrupt.modifiedCount).toBe(1);

    const worker = res.worker(cfg, ENV);
    const monitor = new Monitor(conns, quietLog);
    res.track(monitor);
    await monitor.start();

    const final = await pollUntil(
      () => rollbackSettled(conns, run2),
      'the second run to be rolled back',
      800_000,
    );
    expect(final.state, `rollback_error: ${JSON.stringify(final.rollback_error)}\n${res.workerLog(worker).slice(-3000)}`).toBe('rolled_back');

    // The original shard error, not a stop/rollback error.
    expect(final.error?.code).toBe('ERR_PAYLOAD');
    expect(final.error?.path ?? final.error?.message).toContain('manifest');
    expect(final.rollback_error).toBeUndefined();
    const s3 = await getShard(db, shardId(run2, 3));
    expect(s3?.state).toBe('failed');
    expect(s3?.error?.code).toBe('ERR_PAYLOAD');

    // The run did write before the stop (the deleted edges, re-inserted by shards 0..2;
    // tombstones were all idempotent hits), and the rollback removed exactly that.
    const shards = await listShards(db, run2);
    for (const n of [0, 1, 2]) expect(shards.find((x) => x.shard === n)?.state).toBe('done');
    const inserted = shards.reduce((a, x) => ({ e: a.e + (x.counts?.edges_inserted ?? 0), t: a.t + (x.counts?.tombstones_inserted ?? 0) }), { e: 0, t: 0 });
    expect(inserted).toEqual({ e: deleted, t: 0 });
    expect(final.rollback).toMatchObject({ remaining: 0, edges_removed: inserted.e, tombstones_removed: 0 });
    expect(await stamped(db, run2)).toEqual({ edges: 0, tombstones: 0 });
    // Its unpublished outbox rows (the 20 re-linked observations) went with it.
    expect(await db.collection(COLL.events).countDocuments({ run_id: run2 })).toBe(0);

    // The first run's edges and tombstones are untouched.
    expect(await stamped(db, firstRun)).toEqual({ edges: EDGES - deleted, tombstones: EDGES });
    expect(await db.collection(COLL.supersedes).countDocuments({})).toBe(EDGES - deleted);

    // History: running -> stopping -> rolling_back -> rolled_back, each once.
    expect(await historyStates(db, run2)).toEqual(['running', 'stopping', 'rolling_back', 'rolled_back']);

    await monitor.close();
    await res.stop(worker);
    expect(exited(worker)).toBe(true);
    await res.close(conns);
  }, 900_000);

  it('manual `rollback <first run> --json` removes exactly that run and verifies nothing remains', async () => {
    expect(deleted).toBe(20);
    const r = await cliJson<Record<string, unknown>>(cfg, ['rollback', firstRun, '--json'], { env: ENV });
    // No publisher ran: every outbox row of the run (one per changed observation) was unpublished.
    expect(r).toEqual({ run_id: firstRun, edges_removed: EDGES - deleted, tombstones_removed: EDGES, events_removed: EDGES + CHAINS, remaining: 0 });
    const conns = await res.open(cfg);
    expect(await stamped(conns.db, firstRun)).toEqual({ edges: 0, tombstones: 0 });
    const run = await getRun(conns.db, firstRun);
    expect(run.state).toBe('rolled_back');
    expect(run.history.map((h) => h.to).slice(-2)).toEqual(['rolling_back', 'rolled_back']);
    await res.close(conns);
    // Rolling back again is refused: rolled_back is terminal.
    const r2 = await runCli(cfg, ['rollback', firstRun, '--json'], ENV);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('ERR_RUN_STATE');
  }, 600_000);

  res.leakCheck();
});
