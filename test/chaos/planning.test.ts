/**
 * Chaos 2: the producer is SIGKILLed while it plans (some shards and manifests stored,
 * not all, nothing enqueued). Once its heartbeat has expired, `start --resume` plans the
 * same run again: the same shard ids, no shard twice, one job per shard; workers finish it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { planningKey } from '../../producer/start.js';
import { activeRunsKey } from '../../core/jobs.js';
import { COLL } from '../../core/store/collections.js';
import { getRun, listRunIds } from '../../core/store/runs.js';
import { RUN_STATES } from '../../core/store/run-status.js';
import { manifestsColl, shardsColl } from '../../core/store/shards.js';
import type { RunJson } from '../helpers/oracle.js';
import { BATCH, ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';

// A heartbeat that outlives event-loop stalls of a loaded machine: with 4 s, a live producer
// was declared dead by the monitor mid-plan (its run failed under it).
const rig = new ChaosRig('plan', { LNM_PLAN_STALE_MS: '15000' });
afterAll(() => rig.teardown());

describe('chaos: producer killed while planning', () => {
  it('2. SIGKILL the producer during planning; start --resume plans the rest without duplicate shards', async () => {
    const t0 = Date.now();
    forgetResult(2);
    await rig.setup();
    rig.monitor();
    const producer = rig.spawn(['start', '--force', '--reason=chaos', `--batch-size=${BATCH}`, '--json']);
    const id = await rig.poll(async () => (await listRunIds(rig.conns.db, RUN_STATES))[0], 'the run to be recorded', 900_000, 20);
    const storedAtKill = await rig.poll(async () => {
      const n = await shardsColl(rig.conns.db).countDocuments({ run_id: id });
      return n >= 20 ? n : null;
    }, 'planning to have stored 20 shards', 900_000, 20);
    await rig.kill(producer, 'SIGKILL');
    const killedAt = Date.now();
    const atKill = await getRun(rig.conns.db, id);
    expect(atKill.state).toBe('planned');
    expect(atKill.started_at).toBeUndefined();
    expect(await rig.conns.queue('shards', id).count()).toBe(0); // nothing enqueued before the plan is complete

    // The dead producer's heartbeat expires (LNM_PLAN_STALE_MS); then its run may be taken over.
    await rig.poll(async () => (await rig.conns.sharedRedis().exists(planningKey(rig.cfg.queuePrefix, id))) === 0, 'the planning heartbeat to expire', 60_000);
    // The monitor fails the run and retires it (scope released, queue unregistered): resume
    // after that, as an operator reading `failed` does (a resume racing the retirement is
    // not what this scenario is about).
    await rig.poll(async () => {
      if ((await getRun(rig.conns.db, id)).state !== 'failed') return false;
      if ((await rig.conns.db.collection(COLL.scopeLocks).countDocuments({ run_id: id })) > 0) return false;
      return (await rig.conns.sharedRedis().sismember(activeRunsKey(rig.cfg.queuePrefix), id)) === 0;
    }, 'the monitor to fail and retire the run', 120_000);
    const resumed = await rig.cli<RunJson>(['start', `--resume=${id}`, '--json']);
    const recovered = Date.now() - killedAt;
    expect(resumed).toMatchObject({ run_id: id, state: 'running' });
    expect(resumed.shards).toBeGreaterThan(storedAtKill);
    const shards = await shardsColl(rig.conns.db).find({ run_id: id }, { projection: { shard: 1 } }).toArray();
    expect(shards).toHaveLength(resumed.shards);
    expect(new Set(shards.map((s) => s.shard)).size).toBe(resumed.shards);
    expect(await manifestsColl(rig.conns.db).countDocuments({ run_id: id })).toBe(resumed.shards);
    expect(await rig.conns.queue('shards', id).count()).toBe(resumed.shards);

    rig.worker();
    rig.worker();
    await rig.settleSucceeded(id);
    const history = (await getRun(rig.conns.db, id)).history.map((h) => h.to);
    expect(history.slice(-3)).toEqual(['running', 'validating', 'succeeded']);
    expect(history.filter((s) => s === 'running')).toHaveLength(1);
    const v = await rig.verify(id);
    recordResult({
      n: 2,
      scenario: 'SIGKILL the producer during planning, start --resume',
      faults: `producer SIGKILLed with ${storedAtKill}/${resumed.shards} shards stored; history ${history.join(' > ')}`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [recovered],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
