/**
 * Chaos 7: every process (both workers and the monitor) gets SIGTERM mid-run; new ones
 * are started and the run resumes where it stopped and finishes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { getRun } from '../../core/store/runs.js';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

const rigs: ChaosRig[] = [];
afterAll(async () => {
  for (const r of rigs) await r.teardown();
});

describe('chaos: every process stopped mid-run', () => {
  it('7. SIGTERM every process mid-run, start them again: the run resumes and finishes', async () => {
    const t0 = Date.now();
    forgetResult(7);
    const rig = new ChaosRig('term');
    rigs.push(rig);
    await rig.setup();
    const run = await rig.start();
    const id = run.run_id;
    const procs = [rig.monitor(), rig.worker(), rig.worker()];
    await rig.midRun(id, Math.floor(run.shards / 3));
    await Promise.all(procs.map((p) => rig.kill(p, 'SIGTERM')));
    // A worker stopped by SIGTERM finishes its shard and exits 0; the monitor too.
    expect(procs.map((p) => p.exitCode), procs.map((p) => rig.log(p)).join('\n')).toEqual([0, 0, 0]);
    const stopped = await rig.summary(id);
    expect(stopped.run.state).toBe('running');
    expect(stopped.shards.done).toBeLessThan(run.shards);
    expect(await rig.conns.queue('shards', id).getActiveCount()).toBe(0);

    const restartedAt = Date.now();
    rig.monitor();
    rig.worker();
    rig.worker();
    await rig.poll(async () => (await rig.summary(id)).shards.done > stopped.shards.done, 'a shard done after the restart');
    const recovered = Date.now() - restartedAt;
    await rig.settleSucceeded(id);
    expect((await getRun(rig.conns.db, id)).history.map((h) => h.to)).toEqual(['running', 'validating', 'succeeded']);
    const v = await rig.verify(id);
    recordResult({
      n: 7,
      scenario: 'SIGTERM every process mid-run, restart',
      faults: `SIGTERM to the monitor and 2 workers at ${stopped.shards.done}/${run.shards} shards`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [recovered],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
