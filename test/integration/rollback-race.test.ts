/**
 * Rollback never races a writer, and a partial rollback is recoverable either way:
 *  - a worker held (test hook) between its read of the run and its writes: the operator's
 *    rollback is refused while the shard is in flight; the writer, finding a rollback begun
 *    after its writes, removes them (fence); the rollback then proves zero remaining with
 *    counters that add up;
 *  - a rollback killed midway: `resume` redoes the rolled-back shards (exact edge set), and
 *    for a run left rolling_back the monitor re-enqueues the rollback job, which finishes it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CLI, cliJson, pollUntil, quietLog, runCli, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { driveToEnd, type ImportJson, type RunJson, rustsecExpected, type ValidateJson } from '../helpers/oracle.js';
import { FAST_MONITOR_ENV, stamped } from '../helpers/monitor.js';
import { startWorker, type WorkerHandle } from '../../api/index.js';
import { childEnv } from '../../core/config.js';
import { getRun, transitionRun } from '../../core/store/runs.js';
import { listShards, shardsColl } from '../../core/store/shards.js';
import { entries } from '../../core/store/run-log.js';
import { outboxColl } from '../../core/store/outbox.js';
import { summarizeRun } from '../../core/store/summary.js';

const X = rustsecExpected();
const ENV = { ...FAST_MONITOR_ENV, LNM_PAUSE_GRACE_MS: '300', LNM_LOCK_DURATION_MS: '2000', LNM_STALLED_INTERVAL_MS: '1000' };
const res = useResources();
const cfg = res.config('rollback_race', ENV);
const LONG = 600_000;

describe('rollback and writers', () => {
  it('a rollback is refused while a shard is in flight; the late writer fences itself; then zero remaining', async () => {
    expect((await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json'], { env: ENV })).accepted).toBe(X.accepted_documents_after_duplicate_drop);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=200', '--json'], { env: ENV });
    const conns = await res.open(cfg);
    let armed = false;
    let heldId: string | undefined;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const worker: WorkerHandle = res.track(
      await startWorker({
        config: cfg,
        log: quietLog,
        concurrency: 1,
        hooks: {
          beforeWrite: async (id) => {
            if (!armed || heldId) return;
            heldId = id;
            await gate;
          },
        },
      }),
    );
    await pollUntil(async () => (await summarizeRun(conns, run.run_id)).shards.done >= 2, 'two shards done', LONG);
    armed = true;
    await pollUntil(async () => heldId, 'a shard held before its writes', LONG, 20);

    const cancelled = await cliJson<{ state: string }>(cfg, ['cancel', run.run_id, '--force', '--json'], { env: ENV });
    expect(cancelled.state).toBe('cancelled'); // forced after the grace period, one shard still in flight
    const refused = await runCli(cfg, ['rollback', run.run_id, '--json'], ENV);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_ROLLBACK_BUSY');
    expect((await getRun(conns.db, run.run_id)).state).toBe('cancelled');
    // As when the writer's lock has expired (a stall): its job is no longer seen in flight and
    // the rollback begins. The writer finds the run rolling back after its writes and removes them.
    await transitionRun(conns.db, run.run_id, 'rolling_back', { from: ['cancelled'], reason: 'rollback: the held writer lost its job (test)' });

    release();
    const fenced = await pollUntil(async () => (await entries(conns.db, run.run_id, 'shard')).find((e) => e.outcome === 'fenced'), 'the held writer to fence itself', LONG, 50);
    expect(fenced.shard).toBe(Number(heldId!.slice(-6)));
    await pollUntil(async () => (await conns.queue('shards', run.run_id).getActiveCount()) === 0, 'no shard in flight', 60_000, 50);

    const done = (await listShards(conns.db, run.run_id)).filter((s) => s.state === 'done');
    const written = done.reduce((n, s) => n + (s.counts?.edges_inserted ?? 0), 0);
    expect((await stamped(conns.db, run.run_id)).edges).toBe(written); // the fenced shard left nothing
    // Its outbox rows were written before its fence read and went with the run's other unpublished rows.
    expect(await outboxColl(conns.db).countDocuments({ run_id: run.run_id, pending: true })).toBe(0);
    const rolled = await cliJson<{ edges_removed: number; tombstones_removed: number; remaining: number }>(cfg, ['rollback', run.run_id, '--json'], { env: ENV });
    expect(rolled).toMatchObject({ edges_removed: written, tombstones_removed: written, remaining: 0 });
    expect(await stamped(conns.db, run.run_id)).toEqual({ edges: 0, tombstones: 0 });
    expect((await getRun(conns.db, run.run_id)).state).toBe('rolled_back');
    await worker.close();
    await res.close(conns);
  }, LONG);

  it('a shard cut short (pending, its writes stamped) is left to the run_id sweep, not deleted id by id: zero remaining', async () => {
    const runId = await finishedRun();
    const conns = await res.open(cfg);
    const cut = (await listShards(conns.db, runId))[1]!;
    await shardsColl(conns.db).updateOne({ _id: cut._id }, { $set: { state: 'pending' } }); // as if its attempt died after writing
    const before = await stamped(conns.db, runId);
    expect(before.edges).toBeGreaterThan(0);
    const rolled = await cliJson<{ edges_removed: number; tombstones_removed: number; remaining: number }>(cfg, ['rollback', runId, '--json'], { env: ENV });
    expect(rolled).toMatchObject({ edges_removed: before.edges, tombstones_removed: before.tombstones, remaining: 0 });
    expect(await stamped(conns.db, runId)).toEqual({ edges: 0, tombstones: 0 });
    const after = await listShards(conns.db, runId);
    expect(after.find((s) => s._id === cut._id)?.rolled_back).toBeUndefined();
    expect(after.filter((s) => s._id !== cut._id).every((s) => s.rolled_back !== undefined)).toBe(true);
    await res.close(conns);
  }, LONG);

  /** Run the CLI rollback and SIGKILL it once some but not all shards are rolled back. */
  async function killRollbackMidway(runId: string): Promise<void> {
    const conns = await res.open(cfg);
    const child = spawn(process.execPath, [CLI, 'rollback', runId, '--json'], { env: { ...childEnv(cfg), ...ENV }, stdio: 'ignore' });
    await pollUntil(async () => (await listShards(conns.db, runId)).some((s) => s.rolled_back), 'a first shard rolled back', LONG, 10);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const shards = await listShards(conns.db, runId);
    expect(shards.some((s) => !s.rolled_back), 'the rollback must be killed midway').toBe(true);
    expect((await getRun(conns.db, runId)).state).toBe('rolling_back');
    await res.close(conns);
  }

  async function finishedRun(): Promise<string> {
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json'], { env: ENV });
    const conns = await res.open(cfg);
    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, run.run_id, LONG);
    expect(end.run.state).toBe('succeeded');
    await res.stop(worker);
    await res.close(conns);
    return run.run_id;
  }

  it('resume after a partial rollback redoes the rolled-back shards: exact edge set', async () => {
    const runId = await finishedRun();
    await killRollbackMidway(runId);
    const conns = await res.open(cfg);
    // As if that rollback had failed: the run is failed with its rollback error kept.
    await transitionRun(conns.db, runId, 'failed', { from: ['rolling_back'], reason: 'rollback failed (test)', set: { rollback_error: { code: 'ERR_INTERNAL', message: 'killed', at: new Date() } } });
    expect((await cliJson<{ state: string }>(cfg, ['resume', runId, '--json'], { env: ENV })).state).toBe('running');
    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, runId, LONG);
    expect(end.run.state).toBe('succeeded');
    expect((await listShards(conns.db, runId)).every((s) => s.state === 'done' && !s.rolled_back && !s.rollback_started_at)).toBe(true);
    const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json'], { env: ENV });
    expect(v.ok).toBe(true);
    expect(v.edges.digest).toBe(X.edges_sha256_oracle_format);
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('a run left rolling_back by a killed rollback: the monitor re-enqueues it and a worker finishes it', async () => {
    const runId = (await getRunIds()).pop()!;
    await killRollbackMidway(runId);
    const conns = await res.open(cfg);
    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, runId, LONG);
    expect(end.run.state).toBe('rolled_back');
    expect(end.run.rollback?.remaining).toBe(0);
    expect(await stamped(conns.db, runId)).toEqual({ edges: 0, tombstones: 0 });
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  async function getRunIds(): Promise<string[]> {
    const conns = await res.open(cfg);
    const ids = (await conns.db.collection<{ _id: string }>('backfill_runs').find({}).toArray()).map((r) => r._id).sort();
    await res.close(conns);
    return ids;
  }

  res.leakCheck();
});
