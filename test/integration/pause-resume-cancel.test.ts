/**
 * Operator control of a live run through the CLI (real Redis + MongoDB-wire server,
 * one real worker process): pause holds every shard (jobs are deferred, none
 * finishes), resume continues, cancel withdraws the queued jobs and keeps done shards
 * done, and a resume after cancel finishes the run with a consistent report.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import { driveToEnd, type RunJson, type SeedJson, type ValidateJson } from '../helpers/oracle.js';
import { DelayedCounter, FAST_MONITOR_ENV, lastEntry, runJobs, shardSnap, type ShardSnap } from '../helpers/monitor.js';
import type { ChildProcess } from 'node:child_process';
import type { Connections } from '../../core/connections.js';
import { getRun } from '../../core/store/runs.js';
import { listShards } from '../../core/store/shards.js';

const ENV = {
  ...FAST_MONITOR_ENV,
  // Longer than one shard takes on a slow server: a pause must settle, not time out.
  LNM_PAUSE_GRACE_MS: '120000',
};
const res = useResources();
const cfg = res.config('pause_resume', ENV);
type ControlJson = { run_id: string; state: string; reason: string | null };

let conns: Connections;
let worker: ChildProcess;
let runId = '';
let deferred: DelayedCounter;
let beforeCancel: ShardSnap;


/** Resolves once some job of the run has been deferred `times` times more than at the call. */
function deferredAgain(times: number): Promise<true> {
  const start = new Map(deferred.byJob);
  return pollUntil(
    async () => [...deferred.byJob].some(([id, n]) => n - (start.get(id) ?? 0) >= times) || null,
    `a shard deferred ${times} more time(s)`,
    60_000,
  );
}

describe('pause, resume and cancel a live run', () => {
  it('seeds a corpus, starts a run and a worker; a shard finishes', async () => {
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '4000', '--seed', '3', '--tenants', '2', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBeGreaterThan(3900);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json'], { env: ENV });
    expect(run.state).toBe('running');
    expect(run.shards).toBeGreaterThan(20);
    runId = run.run_id;
    conns = await res.open(cfg);
    const events = conns.queueEvents('shards');
    await events.waitUntilReady();
    deferred = new DelayedCounter(events, runId);
    worker = res.worker(cfg, ENV);
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size >= 1, 'a first shard done', 300_000);
  }, 600_000);

  it('pause: settles to paused; while paused jobs are deferred and no shard finishes', async () => {
    const r = await cliJson<ControlJson>(cfg, ['pause', runId, '--json'], { env: ENV });
    expect(r).toMatchObject({ run_id: runId, state: 'paused' });
    const run = await getRun(conns.db, runId);
    const pausedAt = lastEntry(run, 'paused')!.at.getTime();
    expect(run.history.map((h) => h.to).slice(-2)).toEqual(['pausing', 'paused']);
    const snap = await shardSnap(conns.db, runId);
    expect(snap.pending, 'the run must still have work (else the test proves nothing)').toBeGreaterThan(5);
    expect(snap.lastFinished).toBeLessThanOrEqual(pausedAt);
    // (A job may be active right now: a worker taking it only to defer it.)

    // The worker keeps looking at the run's jobs and defers them; a job deferred twice
    // means at least one full defer period (1 s) passed while paused.
    await deferredAgain(2);
    expect((await runJobs(conns, runId)).delayed).toBeGreaterThan(0);
    const after = await shardSnap(conns.db, runId);
    expect(after.done).toEqual(snap.done);
    expect(after.failed).toBe(0);
    expect(after.lastFinished).toBeLessThanOrEqual(pausedAt);
    expect((await getRun(conns.db, runId)).state).toBe('paused');
    expect(exited(worker)).toBe(false);
  }, 300_000);

  it('resume: running again, and more shards finish', async () => {
    const before = await shardSnap(conns.db, runId);
    const r = await cliJson<ControlJson>(cfg, ['resume', runId, '--json'], { env: ENV });
    expect(r.state).toBe('running');
    await pollUntil(async () => (await shardSnap(conns.db, runId)).done.size > before.done.size, 'progress after resume', 300_000);
    beforeCancel = await shardSnap(conns.db, runId);
    // Done shards stayed done with the same finish time.
    for (const [id, at] of before.done) expect(beforeCancel.done.get(id)).toBe(at);
  }, 400_000);

  it('cancel: queued jobs withdrawn, done shards stay done, pending stay pending', async () => {
    const r = await cliJson<ControlJson>(cfg, ['cancel', runId, '--json'], { env: ENV });
    expect(r.state).toBe('cancelled');
    const run = await getRun(conns.db, runId);
    const cancelledAt = lastEntry(run, 'cancelled')!.at.getTime();
    expect(run.history.map((h) => h.to).slice(-2)).toEqual(['cancelling', 'cancelled']);
    expect(await runJobs(conns, runId)).toEqual({ waiting: 0, delayed: 0, prioritized: 0, active: 0 });

    const snap = await shardSnap(conns.db, runId);
    expect(snap.failed).toBe(0);
    expect(snap.pending).toBeGreaterThan(0);
    expect(snap.done.size + snap.pending).toBe(snap.total);
    expect(snap.lastFinished).toBeLessThanOrEqual(cancelledAt);
    for (const [id, at] of beforeCancel.done) expect(snap.done.get(id)).toBe(at);
    // A pending shard's job is withdrawn, or (taken by the live worker while the
    // cancel went through the queue) completed as a `skip`: never processed, never
    // able to run again without a resume.
    const q = conns.queue('shards', runId);
    for (const s of await listShards(conns.db, runId)) {
      if (s.state === 'done') continue;
      expect(s.finished_at, s._id).toBeUndefined();
      const job = await q.getJob(s._id);
      if (!job) continue;
      expect(await job.getState(), s._id).toBe('completed');
      expect(job.returnvalue, s._id).toEqual({ action: 'skip', state: expect.stringMatching(/^cancel/) });
    }
    // The state is the switch: a cancelled run is not finalized.
    beforeCancel = snap;
  }, 300_000);

  it('resume after cancel: pending shards are requeued and the run finishes consistently', async () => {
    const r = await cliJson<ControlJson>(cfg, ['resume', runId, '--json'], { env: ENV });
    expect(r.state).toBe('running');
    const jobs = await runJobs(conns, runId);
    expect(jobs.waiting + jobs.delayed + jobs.active + jobs.prioritized).toBeGreaterThan(0);
    const end = await driveToEnd(conns, runId, 600_000);
    expect(end.run.state).toBe('succeeded');
    expect(end.shards.failed).toBe(0);
    expect(end.shards.done).toBe(end.shards.total);
    const final = await shardSnap(conns.db, runId);
    for (const [id, at] of beforeCancel.done) expect(final.done.get(id), `${id} re-processed`).toBe(at);
    expect(end.run.history.map((h) => h.to)).toEqual(['running', 'pausing', 'paused', 'running', 'cancelling', 'cancelled', 'running', 'validating', 'succeeded']);

    const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json'], { env: ENV });
    expect(v.ok).toBe(true);
    expect(v.edges.missing).toBe(0);
    expect(v.edges.extra).toBe(0);
    expect(v.edges.present).toBe(v.edges.expected);
    expect(v.report.violations).toBe(0);
  }, 900_000);

  it('stops its worker and closes its connections', async () => {
    await res.stop(worker);
    expect(exited(worker)).toBe(true);
    await res.close(conns);
  });

  res.leakCheck();
});
