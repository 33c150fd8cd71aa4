/**
 * Throttling on replication lag with hysteresis, and the lag alert raised once
 * (real Redis + MongoDB-wire server, one real worker process, an in-process Monitor
 * whose probe reports the lag the test sets and whose webhook fetch is captured).
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil, quietLog } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import { type RunJson, type SeedJson } from '../helpers/oracle.js';
import { DelayedCounter, FakeProbe, FAST_MONITOR_ENV, lastEntry, runJobs, shardSnap, type ShardSnap, WebhookSink } from '../helpers/monitor.js';
import type { ChildProcess } from 'node:child_process';
import type { Connections } from '../../core/connections.js';
import { getRun } from '../../core/store/runs.js';
import { inGroup, TERMINAL_STATES } from '../../core/store/run-status.js';
import { summarizeRun } from '../../core/store/summary.js';
import { Alerter } from '../../monitor/alerts.js';
import { Monitor } from '../../monitor/monitor.js';

const ENV = {
  ...FAST_MONITOR_ENV,
  LNM_LAG_THROTTLE_S: '5',
  LNM_LAG_RESUME_S: '2',
  LNM_ALERT_LAG_S: '60',
  LNM_ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
};
const res = useResources();
const cfg = res.config('throttle', ENV);
const probe = new FakeProbe();
const sink = new WebhookSink();

let conns: Connections;
let monitor: Monitor;
let alerter: Alerter;
let worker: ChildProcess;
let deferred: DelayedCounter;
let runId = '';
let held: ShardSnap;


const state = async () => (await getRun(conns.db, runId)).state;
/** Resolves after `n` more monitor ticks (each acting tick calls the probe once). */
const ticks = (n: number) => {
  const target = probe.calls + n;
  return pollUntil(async () => probe.calls >= target, `${n} monitor ticks`, 60_000, 20);
};
function deferredAgain(times: number): Promise<true> {
  const start = new Map(deferred.byJob);
  return pollUntil(async () => [...deferred.byJob].some(([id, n]) => n - (start.get(id) ?? 0) >= times) || null, 'a shard deferred again', 60_000);
}

describe('throttle on replication lag', () => {
  it('a run progresses under an in-process monitor while the lag is low', async () => {
    expect(cfg.monitor).toMatchObject({ lagThrottleS: 5, lagResumeS: 2, alertLagS: 60, alertWebhookUrl: 'http://127.0.0.1:9/hook' });
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '2000', '--seed', '5', '--tenants', '1', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBeGreaterThan(1900);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json'], { env: ENV });
    expect(run.shards).toBeGreaterThan(10);
    runId = run.run_id;
    conns = await res.open(cfg);
    const events = conns.queueEvents('shards');
    await events.waitUntilReady();
    deferred = new DelayedCounter(events, runId);
    alerter = new Alerter(quietLog, cfg.monitor, sink.fetch);
    monitor = res.track(new Monitor(conns, quietLog, { probe: probe.probe, alerter }));
    await monitor.start();
    worker = res.worker(cfg, ENV);
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size >= 1, 'a first shard done', 300_000);
    expect(await state()).toBe('running');
    expect(sink.calls).toEqual([]);
  }, 600_000);

  it('lag 70 s: throttled by the next tick, no shard finishes, ALERT_LAG raised once', async () => {
    probe.lagS = 70;
    await pollUntil(async () => (await state()) === 'throttled', 'run throttled', 30_000, 20);
    // The very tick that first sampled 70 s throttled the run (before the next sample).
    const run = await getRun(conns.db, runId);
    const throttledAt = lastEntry(run, 'throttled')!.at.getTime();
    const seventy = probe.log.filter((x) => x.lagS === 70);
    expect(throttledAt).toBeGreaterThanOrEqual(seventy[0]!.at);
    if (seventy[1]) expect(throttledAt).toBeLessThanOrEqual(seventy[1].at);
    expect(run.state_reason).toMatch(/lag 70\.0s > 5s/);
    expect(run.throttle_reasons).toEqual(['lag 70.0s > 5s']);

    // The shard in flight at the switch may still finish; after it, nothing does.
    await pollUntil(async () => (await runJobs(conns, runId)).active === 0, 'no shard in flight', 120_000);
    held = await shardSnap(conns.db, runId);
    const heldAt = Date.now();
    expect(held.pending).toBeGreaterThan(3);
    await deferredAgain(2);
    await ticks(5);
    const after = await shardSnap(conns.db, runId);
    expect(after.done).toEqual(held.done);
    expect(after.lastFinished).toBeLessThanOrEqual(heldAt);
    expect(await state()).toBe('throttled');

    await alerter.settle();
    expect(sink.count('ALERT_LAG')).toBe(1);
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toMatchObject({ url: 'http://127.0.0.1:9/hook', body: { alert: 'ALERT_LAG', level: 'error', run_id: runId } });
    expect(alerter.counts()).toEqual({ ALERT_LAG: 1 });
    expect((await getRun(conns.db, runId)).alerts_raised).toEqual(['ALERT_LAG']);
  }, 300_000);

  it('lag 3 s (between resume and throttle thresholds): still throttled (hysteresis)', async () => {
    probe.lagS = 3;
    await ticks(5);
    expect(await state()).toBe('throttled');
    expect((await shardSnap(conns.db, runId)).done).toEqual(held.done);
    await alerter.settle();
    expect(sink.calls).toHaveLength(1);
  }, 120_000);

  it('lag 1 s: back to running, shards progress and the run completes', async () => {
    probe.lagS = 1;
    await pollUntil(async () => (await state()) !== 'throttled', 'run unthrottled', 30_000, 20);
    const run = await getRun(conns.db, runId);
    expect(['running', 'validating', 'succeeded']).toContain(run.state);
    const throttledHistory = run.history.filter((h) => h.to === 'throttled' || h.from === 'throttled');
    expect(throttledHistory.map((h) => `${h.from}>${h.to}`)).toEqual(['running>throttled', 'throttled>running']);
    expect(run.throttle_reasons).toEqual([]);
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size > held.done.size, 'progress after unthrottle', 300_000);

    // The monitor alone finalizes the run (validating -> succeeded).
    const end = await pollUntil(async () => {
      const s = await summarizeRun(conns, runId);
      return inGroup(s.run.state, TERMINAL_STATES) ? s : null;
    }, 'the monitor to finish the run', 600_000, 200);
    expect(end.run.state).toBe('succeeded');
    expect(end.shards.done).toBe(end.shards.total);
    expect(end.run.report?.ok).toBe(true);
    await alerter.settle();
    expect(sink.calls).toHaveLength(1);
    expect(end.run.alerts_raised).toEqual(['ALERT_LAG']);
  }, 900_000);

  it('closing the monitor releases its lock; the worker stops', async () => {
    await monitor.close();
    const lockKey = monitor.lock.key;
    await res.stop(worker);
    expect(exited(worker)).toBe(true);
    expect(await conns.redis().exists(lockKey)).toBe(0);
    await res.close(conns);
  });

  res.leakCheck();
});
