/**
 * Throttling on replication lag with hysteresis, and the lag alert raised once
 * (real Redis + MongoDB-wire server; an in-process Monitor whose probe reports the lag
 * the test sets and whose webhook fetch is captured; an in-process worker whose shards
 * write only against permits the test hands out, so which shard is in flight when the
 * run is throttled is decided by the test). While throttled the run's queue is paused:
 * no job is even fetched.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil, quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { type RunJson, type SeedJson } from '../helpers/oracle.js';
import { FakeProbe, FAST_MONITOR_ENV, FetchCounter, lastEntry, Permits, runJobs, shardSnap, type ShardSnap, WebhookSink } from '../helpers/monitor.js';
import type { QueueEvents } from 'bullmq';
import { startWorker, type WorkerHandle } from '../../api/index.js';
import { shardQueueName } from '../../core/contract.js';
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
let worker: WorkerHandle;
let events: QueueEvents;
let fetched: FetchCounter;
const permits = new Permits();
let runId = '';
let held: ShardSnap;


const state = async () => (await getRun(conns.db, runId)).state;
/** Resolves after `n` more monitor ticks (each acting tick calls the probe once). */
const ticks = (n: number) => {
  const target = probe.calls + n;
  return pollUntil(async () => probe.calls >= target, `${n} monitor ticks`, 60_000, 20);
};

describe('throttle on replication lag', () => {
  it('a run progresses under an in-process monitor while the lag is low', async () => {
    expect(cfg.monitor).toMatchObject({ lagThrottleS: 5, lagResumeS: 2, alertLagS: 60, alertWebhookUrl: 'http://127.0.0.1:9/hook' });
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '2000', '--seed', '5', '--tenants', '1', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBeGreaterThan(1900);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json'], { env: ENV });
    expect(run.shards).toBeGreaterThan(10);
    runId = run.run_id;
    conns = await res.open(cfg);
    events = conns.queueEvents(shardQueueName(runId));
    fetched = new FetchCounter(events);
    await events.waitUntilReady();
    alerter = new Alerter(quietLog, cfg.monitor, sink.fetch);
    monitor = res.track(new Monitor(conns, quietLog, { probe: probe.probe, alerter }));
    await monitor.start();
    worker = res.track(await startWorker({ config: cfg, log: quietLog, concurrency: 1, hooks: { beforeWrite: permits.take } }));
    permits.grant(1);
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size === 1 && permits.waiting, 'a first shard done, a second in flight', 300_000);
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

    // The shard in flight at the switch finishes; after it, no job is even fetched.
    permits.grant(1000);
    await pollUntil(async () => (await runJobs(conns, runId)).active === 0, 'no shard in flight', 120_000);
    held = await shardSnap(conns.db, runId);
    const heldAt = Date.now();
    expect(held.done.size).toBe(2);
    expect(held.pending).toBe(held.total - 2);
    const fetchedAtHold = fetched.count;
    await ticks(5);
    expect(fetched.count - fetchedAtHold, 'jobs of a throttled run fetched').toBe(0);
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
    await worker.close();
    expect(await conns.redis().exists(lockKey)).toBe(0);
    await events.close();
    await res.close(conns);
  });

  res.leakCheck();
});
