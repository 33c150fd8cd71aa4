/**
 * Chaos 1: a worker process is SIGKILLed while it holds shards, three times: BullMQ's
 * stalled-job check hands the shards to the other worker, which redoes them without
 * writing twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { shardQueueName } from '../../core/contract.js';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

const rigs: ChaosRig[] = [];
afterAll(async () => {
  for (const r of rigs) await r.teardown();
});

describe('chaos: a worker killed mid-shard', () => {
  it('1. SIGKILL a worker mid-shard, several times: stalled shards are redone, nothing twice', async () => {
    const t0 = Date.now();
    forgetResult(1);
    const rig = new ChaosRig('kill');
    rigs.push(rig);
    await rig.setup();
    const run = await rig.start();
    const id = run.run_id;
    const stalled = new Set<string>();
    rig.conns.queueEvents(shardQueueName(id)).on('stalled', ({ jobId }) => stalled.add(jobId));
    rig.monitor();
    const workers = [rig.worker(), rig.worker()];
    const recovery: number[] = [];
    let kills = 0;
    // Up to three kills that each caught a worker holding shards (a kill between two shards does
    // not count), while the run lasts: on a quiet machine the 101 shards take ~12 s and the run may
    // end after the first recovery. At least one kill must have caught a shard in flight.
    let caught = 0;
    while (caught < 3) {
      expect(kills, 'kills that never caught a shard in flight').toBeLessThan(8);
      if ((await rig.midRunOrEnd(id, Math.floor((run.shards * (caught + 1)) / 5))) === null) break; // the run finished: no shard left to catch

      const victim = kills % 2;
      const before = stalled.size;
      await rig.kill(workers[victim]!, 'SIGKILL');
      const killedAt = Date.now();
      kills++;
      workers[victim] = rig.worker();
      // The dead worker's jobs are moved back once their lock expires (LNM_LOCK_DURATION_MS).
      const lost = await rig.poll(async () => (stalled.size > before ? [...stalled].slice(before) : null), 'a stalled shard', 20_000).catch(() => []);
      if (lost.length === 0) continue;
      caught++;
      recovery.push(await rig.shardsDone(id, lost, killedAt));
    }
    expect(caught, 'kills that caught a shard in flight').toBeGreaterThanOrEqual(1);
    await rig.settleSucceeded(id);
    const v = await rig.verify(id);
    recordResult({
      n: 1,
      scenario: 'SIGKILL a worker mid-shard (up to 3 times while the run lasts)',
      faults: `${kills} SIGKILLs of a worker (${caught} caught shards in flight), ${stalled.size} shards stalled and redone`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: recovery,
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
