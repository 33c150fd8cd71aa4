/**
 * Chaos 3: the suite's own redis-server (fsync-always AOF) is SIGKILLed mid-run, with
 * shard jobs in flight, and started again on the same port. Workers, the monitor and the
 * queue reconnect by themselves; the run finishes with the expected digest.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosRig, LONG } from './harness.js';
import { restartMidRun } from './server-restart.js';

const rig = new ChaosRig('redis', {}, { ownRedis: true });
afterAll(() => rig.teardown());

describe('chaos: Redis restarted mid-run', () => {
  it('3. SIGKILL the suite\'s redis-server mid-run and start it again: everyone reconnects, the run finishes', async () => {
    await restartMidRun(rig, {
      n: 3,
      server: (r) => r.redis!,
      name: 'redis-server',
      scenario: 'SIGKILL the suite\'s redis-server mid-run, start it again on the same port',
      // The AOF kept the queue: the run's jobs and counters are all there after the restart.
      afterRestart: (doneBefore, doneAfter) => expect(doneAfter).toBeGreaterThanOrEqual(doneBefore),
    });
  }, LONG);
});
