/**
 * Chaos 6: duplicate delivery. Every shard job is enqueued twice — once more under its
 * own deterministic id (BullMQ keeps one), and once as a copy under another id placed
 * right behind it, so that two workers take the same shard at the same moment. Three
 * worker processes; each shard's edges must still be written and counted once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jobFor, shardId } from '../../core/contract.js';
import { enqueueShards } from '../../core/jobs.js';
import { entries } from '../../core/store/run-log.js';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

const rig = new ChaosRig('dup');
afterAll(() => rig.teardown());

describe('chaos: duplicate delivery', () => {
  it('6. the same shard job enqueued twice and processed by two workers at once: written and counted once', async () => {
    const t0 = Date.now();
    forgetResult(6);
    await rig.setup();
    const run = await rig.start();
    const id = run.run_id;
    const queue = rig.conns.queue('shards', id);
    const shards = Array.from({ length: run.shards }, (_, i) => i);

    // The same job id again: BullMQ keeps the one job.
    await enqueueShards(rig.conns, id, shards);
    expect(await queue.getWaitingCount()).toBe(run.shards);

    // The queue again, each job followed by a copy under another id: the same shard twice in a row.
    await queue.drain();
    const pairs = shards.flatMap((shard) => {
      const job = jobFor('shards', { run_id: id, shard }, rig.cfg);
      return [job, { ...job, opts: { ...job.opts, jobId: `${shardId(id, shard)}-copy` } }];
    });
    await queue.addBulk(pairs);
    expect(await queue.getWaitingCount()).toBe(2 * run.shards);

    rig.monitor();
    rig.worker();
    rig.worker();
    rig.worker();
    await rig.settleSucceeded(id);
    const v = await rig.verify(id);

    // Both deliveries of a shard are processed; when both passed the "already done" check
    // they wrote at once (two `done` entries for one shard), the second one finding the first one's writes.
    const done = new Map<number, number>();
    for (const e of await entries(rig.conns.db, id, 'shard')) if (e.outcome === 'done') done.set(Number(e.shard), (done.get(Number(e.shard)) ?? 0) + 1);
    const concurrent = [...done.values()].filter((n) => n >= 2).length;
    expect(done.size).toBe(run.shards);
    expect(concurrent, 'no shard was processed by two workers at once').toBeGreaterThan(0);
    expect(await queue.getCompletedCount()).toBe(2 * run.shards);
    recordResult({
      n: 6,
      scenario: 'duplicate delivery (each shard job twice, 3 workers)',
      faults: `${run.shards} jobs re-added under their own id (ignored), ${run.shards} copies under other ids; ${concurrent} shards written by two workers at once`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
