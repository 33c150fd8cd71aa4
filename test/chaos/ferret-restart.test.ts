/**
 * Chaos 4: the suite's own FerretDB (the MongoDB-wire server) is SIGKILLed mid-run, with
 * shard jobs in flight, and started again on the same port and PostgreSQL database.
 * Failed shard attempts are retried with backoff; the run finishes with the expected digest.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

const rig = new ChaosRig('ferret');
afterAll(() => rig.teardown());

describe('chaos: the MongoDB-wire server restarted mid-run', () => {
  it('4. SIGKILL the suite\'s FerretDB mid-run and start it again: shards are retried, the run finishes', async () => {
    const t0 = Date.now();
    forgetResult(4);
    await rig.setup();
    const ferret = rig.ferret!;
    const run = await rig.start();
    const id = run.run_id;
    const procs = [rig.monitor(), rig.worker(), rig.worker()];
    const inFlight = await rig.midRun(id, Math.floor(run.shards / 3));
    const before = await rig.summary(id);
    await ferret.stop('SIGKILL');
    const killedAt = Date.now();
    await ferret.start();
    const restartedMs = Date.now() - killedAt;
    await rig.poll(async () => (await rig.summary(id)).shards.done > before.shards.done, 'a shard done after the restart');
    const recovered = Date.now() - killedAt;
    await rig.settleSucceeded(id);
    expect(procs.map((p) => p.exitCode), procs.map((p) => rig.log(p).slice(-2000)).join('\n')).toEqual([null, null, null]);
    const v = await rig.verify(id);
    recordResult({
      n: 4,
      scenario: 'SIGKILL the suite\'s FerretDB mid-run, start it again on the same port and database',
      faults: `FerretDB SIGKILLed at ${before.shards.done}/${run.shards} shards with ${inFlight.length} shard job(s) in flight, back after ${(restartedMs / 1000).toFixed(1)} s; monitor and 2 workers kept running`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [recovered],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
