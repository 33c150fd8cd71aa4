/**
 * Chaos 3 and 4: one of the suite's own servers is SIGKILLed mid-run, with shard jobs in
 * flight, and started again on the same port. The same monitor and two workers (none of
 * them restarted) finish the run with the expected digest; `recordResult` gets its row.
 */
import { expect } from 'vitest';
import type { ChaosRig } from './harness.js';
import { forgetResult, recordResult } from './results.js';

interface Restartable {
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface RestartScenario {
  n: number;
  /** The server to restart, once the rig is set up. */
  server: (rig: ChaosRig) => Restartable;
  /** Its name in the results row, e.g. `redis-server`. */
  name: string;
  /** The results row's scenario text. */
  scenario: string;
  /** Checks right after the restart, before waiting for progress (e.g. that nothing was lost). */
  afterRestart?: (doneBefore: number, doneAfter: number) => void;
}

export async function restartMidRun(rig: ChaosRig, s: RestartScenario): Promise<void> {
  const t0 = Date.now();
  forgetResult(s.n);
  await rig.setup();
  const server = s.server(rig);
  const run = await rig.start();
  const id = run.run_id;
  const procs = [rig.monitor(), rig.worker(), rig.worker()];
  const inFlight = await rig.midRun(id, Math.floor(run.shards / 3));
  const before = await rig.summary(id);
  await server.stop('SIGKILL');
  const killedAt = Date.now();
  await server.start();
  const restartedMs = Date.now() - killedAt;
  const after = await rig.summary(id);
  s.afterRestart?.(before.shards.done, after.shards.done);
  await rig.poll(async () => (await rig.summary(id)).shards.done > after.shards.done, 'a shard done after the restart');
  const recovered = Date.now() - killedAt;
  await rig.settleSucceeded(id);
  // Nobody died of the outage: the same three processes finished the run.
  expect(procs.map((p) => p.exitCode), procs.map((p) => rig.log(p).slice(-2000)).join('\n')).toEqual([null, null, null]);
  const v = await rig.verify(id);
  recordResult({
    n: s.n,
    scenario: s.scenario,
    faults: `${s.name} SIGKILLed at ${before.shards.done}/${run.shards} shards with ${inFlight.length} shard job(s) in flight, back after ${(restartedMs / 1000).toFixed(1)} s; monitor and 2 workers kept running`,
    expected: rig.expected.digest,
    final: v.finalDigest,
    duplicates: v.duplicates,
    recoveryMs: [recovered],
    totalMs: Date.now() - t0,
  });
}
