/**
 * Chaos 8: the monitor killed mid-rollback. A stop-on-error run whose shard manifest was
 * corrupted fails that shard (ERR_PAYLOAD), stops, and is rolled back by a rollback job.
 * The rollback runs in a worker process, so killing only the monitor would not interrupt
 * it: while the run is rolling_back with some of its shards rolled back and some not, the
 * monitor AND the worker holding the run's rollback lock are SIGKILLed (the host running
 * both dies). A new monitor is started; the surviving worker takes the stalled rollback job
 * over and resumes it from the shards' checkpoints. It ends rolled_back, remaining 0, with
 * no edge, tombstone or unpublished outbox row of the run left: the edge set equals the
 * pre-run one (empty), so the "expected digest" of this row is the digest of no edges.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { rollbackJobId, shardId } from '../../core/contract.js';
import { COLL } from '../../core/store/collections.js';
import { countOwned } from '../../core/store/owned-writes.js';
import { getRun } from '../../core/store/runs.js';
import { listShards, manifestsColl } from '../../core/store/shards.js';
import { CORPUS_DOCS } from './corpus.js';
import { ChaosRig, edgeDigest, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

// The rollback deletes by manifest only the shards that finished (point deletes, bulks of 8
// on FerretDB); the shards the stopped run never ran are left to the run_id sweep.
const rig = new ChaosRig('rbkill');
afterAll(() => rig.teardown());
const EMPTY = createHash('sha256').digest('hex');

describe('chaos: the monitor killed mid-rollback', () => {
  it('8. SIGKILL the monitor (and the worker running the rollback) mid-rollback: a new monitor sees it resume and finish', async () => {
    const t0 = Date.now();
    forgetResult(8);
    await rig.setup();
    const { db } = rig.conns;
    const run = await rig.start(['--stop-on-error']);
    const id = run.run_id;
    // A broken manifest early in the run: the shard fails unrecoverably, the run stops and rolls
    // back. Early, because a FerretDB delete is slow (~20 documents/s here): the rollback of each
    // finished shard takes seconds, and a quarter of the run took ~5 min to roll back.
    const bad = 6;
    expect((await manifestsColl(db).updateOne({ _id: shardId(id, bad) }, { $set: { advisories: [{ tenant: 'default' }] as never } })).modifiedCount).toBe(1);
    const monitor = rig.monitor();
    const workers = [rig.worker(), rig.worker()];

    // Mid-rollback: rolling_back, some shards rolled back and not all, the rollback lock held by a worker.
    const lockKey = `${rig.cfg.queuePrefix}:rollback:${id}`;
    const at = await rig.poll(async () => {
      const r = await getRun(db, id);
      if (r.state !== 'rolling_back') return null;
      const shards = await listShards(db, id);
      const rolled = shards.filter((s) => s.rolled_back).length;
      const finished = shards.filter((s) => s.state !== 'pending').length;
      const holder = await rig.conns.sharedRedis().get(lockKey);
      return rolled > 0 && rolled < finished && holder ? { shards, rolled, holder } : null;
    }, 'the rollback to be part-way', 900_000, 20);
    const pid = Number(at.holder.split(':')[1]);
    const victim = workers.find((w) => w.pid === pid);
    expect(victim, `rollback lock ${at.holder} held by one of the workers (${workers.map((w) => w.pid).join(', ')})`).toBeDefined();
    await Promise.all([rig.kill(monitor, 'SIGKILL'), rig.kill(victim!, 'SIGKILL')]);
    const killedAt = Date.now();
    const rolledAtKill = (await listShards(db, id)).filter((s) => s.rolled_back).length;
    const leftAtKill = await countOwned(db, id);
    expect((await getRun(db, id)).state).toBe('rolling_back');
    expect(leftAtKill).toBeGreaterThan(0);

    rig.monitor();
    const final = await rig.poll(async () => {
      const r = await getRun(db, id);
      return r.state === 'rolled_back' || r.state === 'failed' ? r : null;
    }, 'the rollback to finish', 900_000, 100);
    const recovered = Date.now() - killedAt;
    expect(final.state, JSON.stringify({ rollback_error: final.rollback_error, history: final.history.slice(-4) })).toBe('rolled_back');
    expect(final.error?.code).toBe('ERR_PAYLOAD');
    expect(final.history.map((h) => h.to).slice(-3)).toEqual(['stopping', 'rolling_back', 'rolled_back']);
    expect(final.history.filter((h) => h.to === 'rolling_back')).toHaveLength(1);
    expect(final.rollback?.remaining).toBe(0);

    // Nothing of the run is left, and nothing else was touched.
    const shards = await listShards(db, id);
    // Every finished shard rolled back by its manifest; the never-run ones left to the sweep.
    expect(shards.filter((s) => s.state !== 'pending' && !s.rolled_back).map((s) => s._id)).toEqual([]);
    expect(shards.filter((s) => s.state === 'pending' && s.rolled_back).map((s) => s._id)).toEqual([]);
    const written = shards.reduce((n, s) => n + (s.state === 'done' ? (s.counts?.edges_inserted ?? 0) : 0), 0);
    expect(written).toBeGreaterThan(0);
    // The killed attempt's last shard may have been part-deleted before the kill: what it removed there is not counted.
    expect(final.rollback!.edges_removed).toBeLessThanOrEqual(written);
    expect(await countOwned(db, id)).toBe(0);
    expect(await db.collection(COLL.tombstones).countDocuments({})).toBe(0);
    expect(await db.collection(COLL.events).countDocuments({ run_id: id })).toBe(0);
    expect(await db.collection(COLL.observations).countDocuments({})).toBe(CORPUS_DOCS);
    const edges = await edgeDigest(db);
    expect({ digest: edges.digest, edges: edges.edges }).toEqual({ digest: EMPTY, edges: 0 });
    // One rollback job, finished; the survivor is alive. The kill stalled the job once; a
    // lock renewal arriving late afterwards (a busy machine) is a second stall, over BullMQ's
    // limit of one: the job is then failed for that reason alone, though the survivor ran
    // it to the end (the run's state, history and counts above are the outcome).
    const job = await rig.conns.queue('rollback').getJob(rollbackJobId(id));
    const jobState = await job?.getState();
    expect(jobState === 'completed' || (jobState === 'failed' && /stalled more than allowable limit/.test(job?.failedReason ?? '')), `${jobState}: ${job?.failedReason}`).toBe(true);
    expect(rig.alive()).toHaveLength(2);
    recordResult({
      n: 8,
      scenario: 'SIGKILL the monitor (and the worker running the rollback) mid-rollback, start a new monitor',
      faults: `stop-on-error run stopped by a corrupt manifest (shard ${bad}, ERR_PAYLOAD); monitor + rollback worker SIGKILLed at ${rolledAtKill}/${shards.filter((s) => s.state !== 'pending').length} finished shards rolled back (${shards.filter((s) => s.state === 'pending').length} never ran), ${leftAtKill} edges+tombstones left; resumed by the other worker: rolled_back, ${final.rollback!.edges_removed}/${written} edges counted removed, remaining 0. Expected digest here = the pre-run edge set (empty)`,
      expected: EMPTY,
      final: edges.digest,
      duplicates: edges.edges,
      recoveryMs: [recovered],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
