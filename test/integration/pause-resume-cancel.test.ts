/**
 * Operator control of a live run through the CLI (real Redis + MongoDB-wire server). The
 * worker runs in this process with a test hook that lets shards write only against
 * permits the test hands out, so "a shard is in flight" and "nothing more may start" are
 * states the test sets, not races it hopes to win:
 *  - pause settles once the in-flight shard finishes; while paused, no job of the run is
 *    even fetched (the run's queue is paused: zero reads per held job), over several
 *    monitor ticks and worker discovery rounds;
 *  - resume continues; cancel withdraws the queued jobs and keeps done shards done;
 *  - resume after cancel finishes the run with a consistent report.
 */
import { describe, expect, it } from 'vitest';
import type { QueueEvents } from 'bullmq';
import { startWorker, type WorkerHandle } from '../../api/index.js';
import type { Connections } from '../../core/connections.js';
import { shardQueueName } from '../../core/contract.js';
import { getRun } from '../../core/store/runs.js';
import { listShards } from '../../core/store/shards.js';
import { Monitor } from '../../monitor/monitor.js';
import { cliJson, pollUntil, quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { type RunJson, type SeedJson, type ValidateJson } from '../helpers/oracle.js';
import { FakeProbe, FAST_MONITOR_ENV, FetchCounter, lastEntry, Permits, runJobs, shardSnap, type ShardSnap } from '../helpers/monitor.js';

const ENV = {
  ...FAST_MONITOR_ENV,
  // Longer than one shard takes on a slow server: a pause must settle, not time out.
  LNM_PAUSE_GRACE_MS: '120000',
};
const res = useResources();
const cfg = res.config('pause_resume', ENV);
type ControlJson = { run_id: string; state: string; reason: string | null };
const LONG = 600_000;

let conns: Connections;
let worker: WorkerHandle;
let monitor: Monitor;
let events: QueueEvents;
const probe = new FakeProbe();
let runId = '';
let beforeCancel: ShardSnap;

const permits = new Permits();
let fetched: FetchCounter;

/** Resolves after `n` more acting monitor ticks (each calls the probe once). */
const ticks = (n: number) => {
  const target = probe.calls + n;
  return pollUntil(async () => probe.calls >= target, `${n} monitor ticks`, 60_000, 20);
};

describe('pause, resume and cancel a live run', () => {
  it('seeds a corpus, starts a run, a worker and a monitor; two shards finish, a third waits in flight', async () => {
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '4000', '--seed', '3', '--tenants', '2', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBeGreaterThan(3900);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json'], { env: ENV });
    expect(run.state).toBe('running');
    expect(run.shards).toBeGreaterThan(20);
    runId = run.run_id;
    conns = await res.open(cfg);
    events = conns.queueEvents(shardQueueName(runId));
    fetched = new FetchCounter(events);
    await events.waitUntilReady();
    monitor = res.track(new Monitor(conns, quietLog, { probe: probe.probe }));
    await monitor.start();
    worker = res.track(await startWorker({ config: cfg, log: quietLog, concurrency: 1, hooks: { beforeWrite: permits.take } }));
    permits.grant(2);
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size === 2 && permits.waiting, 'two shards done and a third in flight', LONG);
  }, LONG);

  it('pause: settles to paused once the in-flight shard finishes; then no job is fetched and nothing changes', async () => {
    const pausing = cliJson<ControlJson>(cfg, ['pause', runId, '--json'], { env: ENV });
    await pollUntil(async () => (await getRun(conns.db, runId)).state === 'pausing', 'pausing', LONG);
    permits.grant(1); // the shard in flight may finish; the pause waits for it
    expect(await pausing).toMatchObject({ run_id: runId, state: 'paused' });
    const run = await getRun(conns.db, runId);
    const pausedAt = lastEntry(run, 'paused')!.at.getTime();
    expect(run.history.map((h) => h.to).slice(-2)).toEqual(['pausing', 'paused']);
    const snap = await shardSnap(conns.db, runId);
    expect(snap.done.size).toBe(3);
    expect(snap.pending).toBe(snap.total - 3);
    expect(snap.lastFinished).toBeLessThanOrEqual(pausedAt);

    // Permits for everything: only the paused queue keeps the worker from working.
    permits.grant(1000);
    const fetchedAtPause = fetched.count;
    await ticks(5);
    await pollUntil(async () => probe.calls > 0 && (await runJobs(conns, runId)).waiting > 0, 'jobs waiting in the paused queue', 10_000);
    expect(fetched.count - fetchedAtPause, 'jobs of a paused run fetched by the worker').toBe(0);
    const after = await shardSnap(conns.db, runId);
    expect(after.done).toEqual(snap.done);
    expect(after.failed).toBe(0);
    expect((await getRun(conns.db, runId)).state).toBe('paused');
  }, LONG);

  it('resume: running again, and more shards finish', async () => {
    const before = await shardSnap(conns.db, runId);
    const r = await cliJson<ControlJson>(cfg, ['resume', runId, '--json'], { env: ENV });
    expect(r.state).toBe('running');
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size > before.done.size, 'progress after resume', LONG);
    permits.revoke(); // hold the next shard in flight before the cancel
    await pollUntil(async () => permits.waiting, 'a shard in flight', LONG);
    beforeCancel = await shardSnap(conns.db, runId);
    for (const [id, at] of before.done) expect(beforeCancel.done.get(id)).toBe(at);
  }, LONG);

  it('cancel: queued jobs withdrawn, the in-flight shard finishes, done shards stay done, pending stay pending', async () => {
    const cancelling = cliJson<ControlJson>(cfg, ['cancel', runId, '--json'], { env: ENV });
    // The cancel claims the state, then pauses the queue: released before the pause, the
    // worker could fetch the next job (it would skip it, but the job would stay, completed).
    const q = conns.queue('shards', runId);
    await pollUntil(async () => (await getRun(conns.db, runId)).state === 'cancelling' && (await q.isPaused()), 'cancelling, the queue paused', LONG);
    permits.grant(1);
    expect((await cancelling).state).toBe('cancelled');
    const run = await getRun(conns.db, runId);
    const cancelledAt = lastEntry(run, 'cancelled')!.at.getTime();
    expect(run.history.map((h) => h.to).slice(-2)).toEqual(['cancelling', 'cancelled']);
    expect(await runJobs(conns, runId)).toEqual({ waiting: 0, delayed: 0, prioritized: 0, active: 0 });

    const snap = await shardSnap(conns.db, runId);
    expect(snap.failed).toBe(0);
    expect(snap.done.size).toBe(beforeCancel.done.size + 1);
    expect(snap.pending).toBe(snap.total - snap.done.size);
    expect(snap.lastFinished).toBeLessThanOrEqual(cancelledAt);
    for (const [id, at] of beforeCancel.done) expect(snap.done.get(id)).toBe(at);
    for (const s of await listShards(conns.db, runId)) {
      if (s.state === 'done') continue;
      expect(s.finished_at, s._id).toBeUndefined();
      expect(await q.getJob(s._id), `${s._id} still queued`).toBeUndefined();
    }
    beforeCancel = snap;
  }, LONG);

  it('resume after cancel: pending shards are requeued and the run finishes consistently', async () => {
    permits.grant(1000);
    const r = await cliJson<ControlJson>(cfg, ['resume', runId, '--json'], { env: ENV });
    expect(r.state).toBe('running');
    const end = await pollUntil(async () => {
      const run = await getRun(conns.db, runId);
      return run.state === 'succeeded' || run.state === 'failed' ? run : null;
    }, 'the run to finish', LONG);
    expect(end.state).toBe('succeeded');
    const final = await shardSnap(conns.db, runId);
    expect(final.done.size).toBe(final.total);
    for (const [id, at] of beforeCancel.done) expect(final.done.get(id), `${id} re-processed`).toBe(at);
    expect(end.history.map((h) => h.to)).toEqual(['running', 'pausing', 'paused', 'running', 'cancelling', 'cancelled', 'running', 'validating', 'succeeded']);

    const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json'], { env: ENV });
    expect(v.ok).toBe(true);
    expect(v.edges).toMatchObject({ missing: 0, extra: 0 });
    expect(v.edges.present).toBe(v.edges.expected);
    expect(v.report.violations).toBe(0);
  }, LONG);

  it('stops its worker and monitor and closes its connections', async () => {
    await worker.close();
    await monitor.close();
    await events.close();
    await res.close(conns);
  });

  res.leakCheck();
});
