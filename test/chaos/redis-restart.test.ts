/**
 * Chaos 3: the suite's own redis-server (fsync-always AOF) is SIGKILLed mid-run, with
 * shard jobs in flight, and started again on the same port. Workers, the monitor and the
 * queue reconnect by themselves; the run finishes with the expected digest.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

const rig = new ChaosRig('redis', {}, { ownRedis: true });
afterAll(() => rig.teardown());

describe('chaos: Redis restarted mid-run', () => {
  it('3. SIGKILL the suite\'s redis-server mid-run and start it again: everyone reconnects, the run finishes', async () => {
    const t0 = Date.now();
    forgetResult(3);
    await rig.setup();
    const redis = rig.redis!;
    const run = await rig.start();
    const id = run.run_id;
    const procs = [rig.monitor(), rig.worker(), rig.worker()];
    const inFlight = await rig.midRun(id, Math.floor(run.shards / 3));
    const before = await rig.summary(id);
    await redis.stop('SIGKILL');
    const killedAt = Date.now();
    await redis.start();
    const restartedMs = Date.now() - killedAt;
    // The AOF kept the queue: the run's jobs and counters are all there after the restart.
    const after = await rig.summary(id);
    expect(after.shards.done).toBeGreaterThanOrEqual(before.shards.done);
    await rig.poll(async () => (await rig.summary(id)).shards.done > after.shards.done, 'a shard done after the restart');
    const recovered = Date.now() - killedAt;
    await rig.settleSucceeded(id);
    // Nobody died of the outage: the same three processes finished the run.
    expect(procs.map((p) => p.exitCode), procs.map((p) => rig.log(p).slice(-2000)).join('\n')).toEqual([null, null, null]);
    const v = await rig.verify(id);
    recordResult({
      n: 3,
      scenario: 'SIGKILL the suite\'s redis-server mid-run, start it again on the same port',
      faults: `redis-server SIGKILLed at ${before.shards.done}/${run.shards} shards with ${inFlight.length} shard job(s) in flight, back after ${(restartedMs / 1000).toFixed(1)} s; monitor and 2 workers kept running`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [recovered],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
