/**
 * Chaos 4: the suite's own FerretDB (the MongoDB-wire server) is SIGKILLed mid-run, with
 * shard jobs in flight, and started again on the same port and PostgreSQL database.
 * Failed shard attempts are retried with backoff; the run finishes with the expected digest.
 */
import { afterAll, describe, it } from 'vitest';
import { ChaosRig, LONG } from './harness.js';
import { restartMidRun } from './server-restart.js';

const rig = new ChaosRig('ferret');
afterAll(() => rig.teardown());

describe('chaos: the MongoDB-wire server restarted mid-run', () => {
  it('4. SIGKILL the suite\'s FerretDB mid-run and start it again: shards are retried, the run finishes', async () => {
    await restartMidRun(rig, {
      n: 4,
      server: (r) => r.ferret!,
      name: 'FerretDB',
      scenario: 'SIGKILL the suite\'s FerretDB mid-run, start it again on the same port and database',
    });
  }, LONG);
});
