/**
 * Two monitors on one deployment (real Redis + MongoDB-wire server): only the lock
 * holder acts, leadership passes on close, and two monitors racing on a run that must
 * be stopped act on it once (one `stopping`, one rollback) and leave it rolled back.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil, quietLog } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import { type RunJson, type SeedJson } from '../helpers/oracle.js';
import { FakeProbe, FAST_MONITOR_ENV, rollbackSettled, stamped } from '../helpers/monitor.js';
import type { Config } from '../../core/config.js';
import type { Connections } from '../../core/connections.js';
import { rollbackJobId, shardId } from '../../core/contract.js';
import { getShard, manifestsColl } from '../../core/store/shards.js';
import { Monitor, type MonitorHooks } from '../../monitor/monitor.js';
import { newRunId } from '../../core/contract.js';
import { createRun } from '../../core/store/runs.js';

const ENV = {
  ...FAST_MONITOR_ENV,
};
const res = useResources();
const cfg = res.config('two_monitors', ENV);
// A short lock (300 ms): it must be renewed many times during a run's stop and rollback.
const shortCfg = res.config('two_monitors_short', { ...ENV, LNM_MONITOR_LOCK_TTL_MS: '300', LNM_PROBE_INTERVAL_MS: '100' });
// 1.5 s: the keeper renews every 500 ms, so only a stall of over a second could lose it.
const slowCfg = res.config('two_monitors_slow', { ...ENV, LNM_MONITOR_LOCK_TTL_MS: '1500' });

async function monitorOn(c: Config, hooks: MonitorHooks = {}): Promise<{ conns: Connections; monitor: Monitor; probe: FakeProbe }> {
  const conns = await res.open(c);
  const probe = new FakeProbe();
  const monitor = new Monitor(conns, quietLog, { probe: probe.probe, hooks });
  res.track(monitor);
  return { conns, monitor, probe };
}

describe('two monitors', () => {
  it('exactly one acts; after the leader closes, the other acts', async () => {
    const a = await monitorOn(cfg);
    const b = await monitorOn(cfg);
    const [ra, rb] = await Promise.all([a.monitor.tick(), b.monitor.tick()]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
    const [leader, other] = ra ? [a, b] : [b, a];
    expect(leader.probe.calls).toBe(1);
    expect(other.probe.calls).toBe(0); // the follower does not even probe
    // Leadership is sticky while the leader keeps ticking.
    for (let i = 0; i < 3; i++) expect(await Promise.all([leader.monitor.tick(), other.monitor.tick()])).toEqual([true, false]);
    expect(await leader.conns.redis().get(leader.monitor.lock.key)).toBe(leader.monitor.lock.token);

    await leader.monitor.close();
    expect(await other.monitor.tick()).toBe(true);
    expect(await other.conns.redis().get(other.monitor.lock.key)).toBe(other.monitor.lock.token);
    expect(await leader.monitor.tick()).toBe(false); // a closed monitor's lock is gone; the other holds it
    await other.monitor.close();
    expect(await other.conns.redis().exists(other.monitor.lock.key)).toBe(0);
    await res.close(a.conns);
    await res.close(b.conns);
  });

  it('two monitors racing on a stop-on-error run: one stop, one rollback, rolled back', async () => {
    const seed = await cliJson<SeedJson>(shortCfg, ['seed', '--docs', '1200', '--seed', '7', '--tenants', '1', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBeGreaterThan(1100);
    const run = await cliJson<RunJson>(shortCfg, ['start', '--force', '--reason=test', '--stop-on-error', '--batch-size=100', '--json'], { env: ENV });
    expect(run.shards).toBeGreaterThan(5);
    const runId = run.run_id;
    const a = await monitorOn(shortCfg);
    const b = await monitorOn(shortCfg);
    const { db } = a.conns;
    const corrupt = await manifestsColl(db).updateOne({ _id: shardId(runId, 3) }, { $set: { advisories: [{ tenant: 'default' }] as never } });
    expect(corrupt.modifiedCount).toBe(1);

    const worker = res.worker(shortCfg, ENV);
    await Promise.all([a.monitor.start(), b.monitor.start()]);
    const final = await pollUntil(
      async () => {
        // Extra concurrent ticks on top of both monitors' own loops.
        const acted = await Promise.all([a.monitor.tick(), b.monitor.tick()]);
        expect(acted.filter(Boolean).length).toBeLessThanOrEqual(1);
        return rollbackSettled(a.conns, runId);
      },
      'the run to be rolled back',
      600_000,
      50,
    );
    expect(final.state, `rollback_error: ${JSON.stringify(final.rollback_error)}\n${res.workerLog(worker).slice(-3000)}`).toBe('rolled_back');
    expect(final.history.filter((h) => h.to === 'stopping')).toHaveLength(1);
    expect(final.history.map((h) => h.to)).toEqual(['running', 'stopping', 'rolling_back', 'rolled_back']);
    expect(final.error?.code).toBe('ERR_PAYLOAD');
    expect(final.rollback?.remaining).toBe(0);
    expect(await stamped(db, runId)).toEqual({ edges: 0, tombstones: 0 });
    expect((await getShard(db, shardId(runId, 3)))?.state).toBe('failed');
    // One rollback job, completed once (it returns just after moving the run to rolled_back).
    const rq = a.conns.queue('rollback');
    await pollUntil(async () => (await (await rq.getJob(rollbackJobId(runId)))?.getState()) === 'completed', 'the rollback job to complete', 60_000, 20);
    const job = await rq.getJob(rollbackJobId(runId));
    expect(job?.attemptsMade, `failed attempts: ${JSON.stringify(job?.stacktrace)}\n${res.workerLog(worker).slice(-4000)}`).toBe(1);
    expect(await rq.getJobCounts('waiting', 'delayed', 'active', 'failed')).toEqual({ waiting: 0, delayed: 0, active: 0, failed: 0 });

    await Promise.all([a.monitor.close(), b.monitor.close()]);
    await res.stop(worker);
    expect(exited(worker)).toBe(true);
    await res.close(a.conns);
    await res.close(b.conns);
  }, 900_000);

  it('a tick slower than the lock TTL keeps the lock (the other never acts); a tick whose lock is lost stops acting', async () => {
    let slow: (() => Promise<void>) | undefined;
    const leadership: Array<{ who: string; leading: boolean }> = [];
    const a = await monitorOn(slowCfg, { beforeRun: () => slow?.() ?? Promise.resolve(), onLeadership: (leading) => leadership.push({ who: 'a', leading }) });
    const b = await monitorOn(slowCfg, { onLeadership: (leading) => leadership.push({ who: 'b', leading }) });
    // A run for the tick to spend time on (planned, fresh: nothing to do but look at it).
    await createRun(a.conns.db, {
      _id: newRunId(), dry_run: true, stop_on_error: false, rollback_on_stop: false, batch_size: 100, tenant: null,
      command_line: ['test'], args: {}, snapshot_bound: new Date(), observations_before: 0, created_at: new Date(),
    });
    // A tick that lasts more than 3 TTLs (the hook holds it 5 s): its lock is renewed on its own timer.
    let slowDone = false;
    slow = async () => {
      await new Promise((r) => setTimeout(r, 5000));
      slowDone = true;
    };
    const slowTick = a.monitor.tick();
    await pollUntil(async () => leadership.some((l) => l.who === 'a' && l.leading), 'a to lead', 10_000, 5);
    let bTicks = 0;
    while (!slowDone) {
      expect(await b.monitor.tick()).toBe(false);
      bTicks++;
    }
    expect(bTicks).toBeGreaterThan(3);
    expect(await slowTick).toBe(true);
    expect(leadership.filter((l) => l.who === 'b')).toEqual([]);

    // The lock taken from a mid-tick (its key deleted, b acquires): a's keeper notices and a stops acting.
    slow = async () => {
      slow = undefined;
      await a.conns.redis().del(a.monitor.lock.key);
      await pollUntil(() => b.monitor.tick(), 'b to take the lock', 10_000, 20);
      await pollUntil(async () => leadership.some((l) => l.who === 'a' && !l.leading), 'a to notice the loss', 10_000, 20);
    };
    expect(await a.monitor.tick()).toBe(false);
    expect(await b.monitor.tick()).toBe(true);
    await a.monitor.close();
    await b.monitor.close();
    await res.close(a.conns);
    await res.close(b.conns);
  }, 120_000);

  res.leakCheck();
});
