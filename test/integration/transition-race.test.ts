/**
 * Compare-and-set of run states on the real server (FerretDB here, where
 * findOneAndUpdate is not atomic): 5 processes attempt the same transition at once,
 * 50 rounds; exactly one wins each round and the run's history keeps every transition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { childEnv } from '../../core/config.js';
import { newRunId } from '../../core/contract.js';
import { ensureIndexes } from '../../core/store/collections.js';
import { createRun, getRun, transitionRun } from '../../core/store/runs.js';
import { beginRollback } from '../../workers/rollback.js';

const RACER = fileURLToPath(new URL('../helpers/children/race-transition.mjs', import.meta.url));
const PROCESSES = 5;
const ROUNDS = 50;
const res = useResources();
const cfg = res.config('transition_race');

describe('run-state compare-and-set under a race', () => {
  it(`${PROCESSES} processes x ${ROUNDS} rounds: exactly one winner per round, history intact`, async () => {
    const conns = await res.open(cfg);
    const { db } = conns;
    await ensureIndexes(db);
    const runId = newRunId();
    await createRun(db, {
      _id: runId, dry_run: true, stop_on_error: false, rollback_on_stop: false, batch_size: 500, tenant: null,
      command_line: ['race'], args: {}, snapshot_bound: new Date(), observations_before: 0, created_at: new Date(),
    });
    await transitionRun(db, runId, 'running', { reason: 'race setup' });
    const channel = `${cfg.queuePrefix}:race`;
    const redis = conns.sharedRedis();
    const racers: ChildProcess[] = [];
    for (let i = 0; i < PROCESSES; i++) racers.push(spawn(process.execPath, [RACER, runId, channel], { env: childEnv(cfg), stdio: 'inherit' }));
    await pollUntil(async () => (await redis.llen(`${channel}:ready`)) === PROCESSES, 'every racer subscribed', 60_000, 20);

    const winners: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await redis.publish(channel, `go ${round}`);
      const results = await pollUntil(async () => {
        const r = await redis.lrange(`${channel}:${round}`, 0, -1);
        return r.length === PROCESSES ? r : null;
      }, `round ${round} results`, 60_000, 10);
      expect(results.filter((r) => r.startsWith('error')), `round ${round}`).toEqual([]);
      winners.push(results.filter((r) => r === 'won').length);
      expect((await getRun(db, runId)).state).toBe('pausing');
      await transitionRun(db, runId, 'running', { from: ['pausing'], reason: `reset after round ${round}` });
    }
    expect(winners).toEqual(Array.from({ length: ROUNDS }, () => 1));

    const run = await getRun(db, runId);
    expect(run.seq).toBe(1 + 2 * ROUNDS);
    expect(run.history).toHaveLength(1 + 2 * ROUNDS);
    run.history.slice(1).forEach((h, i) => expect(`${h.from}>${h.to}`, `entry ${i + 2}`).toBe(i % 2 === 0 ? 'running>pausing' : 'pausing>running'));

    await redis.publish(channel, 'stop');
    await Promise.all(racers.map((r) => (r.exitCode === null ? once(r, 'exit') : Promise.resolve())));
    expect(racers.map((r) => r.exitCode)).toEqual(Array.from({ length: PROCESSES }, () => 0));
    await res.close(conns);
  }, 600_000);

  it('the monitor and several rollback jobs moving one stopping run to rolling_back at once: all succeed, one transition', async () => {
    const conns = await res.open(cfg);
    const { db } = conns;
    for (let round = 1; round <= 10; round++) {
      const runId = newRunId();
      await createRun(db, {
        _id: runId, dry_run: true, stop_on_error: true, rollback_on_stop: true, batch_size: 500, tenant: null,
        command_line: ['race'], args: {}, snapshot_bound: new Date(), observations_before: 0, created_at: new Date(),
      });
      await transitionRun(db, runId, 'running', { reason: 'race setup' });
      await transitionRun(db, runId, 'stopping', { reason: 'race setup' });
      const monitor = transitionRun(db, runId, 'rolling_back', { from: ['stopping'], reason: 'in-flight shards settled' });
      const jobs = Array.from({ length: 4 }, () => beginRollback(conns, runId, 'race', 'job'));
      const settled = await Promise.allSettled([monitor, ...jobs]);
      // The monitor's own compare-and-set may lose (RunStateError); every rollback job must proceed.
      const jobResults = settled.slice(1).map((s) => (s.status === 'fulfilled' ? s.value.state : String(s.reason)));
      expect(jobResults, `round ${round}`).toEqual(['rolling_back', 'rolling_back', 'rolling_back', 'rolling_back']);
      const run = await getRun(db, runId);
      expect(run.history.map((h) => h.to), `round ${round}`).toEqual(['running', 'stopping', 'rolling_back']);
    }
    await res.close(conns);
  }, 120_000);

  res.leakCheck();
});
