/**
 * Every non-terminal state has a way forward (issue: run control that cannot get stuck),
 * each created for real or by seeding the state, each ending in a terminal state with
 * the expected edge set:
 *  - the producer SIGKILLed while planning: the monitor fails the run, `start --resume` re-plans it;
 *  - the validating process dies holding the validation job: the job is recovered and the run validated;
 *  - validation that never reports: the run fails after LNM_VALIDATE_TIMEOUT_MS;
 *  - shard jobs lost (removed) or failed for good while no monitor ran: repaired and requeued;
 *  - `start --wait --local-workers=2` SIGKILLed: its worker processes exit with it, even one
 *    whose parent was gone before it started listening for that.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { UnrecoverableError, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CLI, cliJson, pollUntil, quietLog, RUSTSEC } from '../helpers/env.js';
import { liveWorkerCount, useResources } from '../helpers/resources.js';
import { driveToEnd, type ImportJson, independentEdges, type RunJson, rustsecExpected, type ValidateJson } from '../helpers/oracle.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import { childEnv } from '../../core/config.js';
import { shardId, shardQueueName, CONTRACT } from '../../core/contract.js';
import { listRunIds, getRun, transitionRun } from '../../core/store/runs.js';
import { RUN_STATES } from '../../core/store/run-status.js';
import { Monitor } from '../../monitor/monitor.js';

const X = rustsecExpected();
const ENV = { ...FAST_MONITOR_ENV, LNM_PLAN_STALE_MS: '1500', LNM_LOCK_DURATION_MS: '2000', LNM_STALLED_INTERVAL_MS: '1000' };
const res = useResources();
const cfg = res.config('stuck_states', ENV);
const LONG = 600_000;

async function expectDigest(runId: string): Promise<void> {
  const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json'], { env: ENV });
  expect(v.ok).toBe(true);
  expect(v.edges.digest).toBe(X.edges_sha256_oracle_format);
}

describe('stuck states', () => {
  it('imports the rustsec corpus', async () => {
    const imp = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json'], { env: ENV });
    expect(imp.accepted).toBe(X.accepted_documents_after_duplicate_drop);
  }, LONG);

  it('producer SIGKILLed while planning: the monitor fails the run, start --resume plans and finishes it', async () => {
    const conns = await res.open(cfg);
    const producer = spawn(process.execPath, [CLI, 'start', '--force', '--reason=test', '--batch-size=200', '--json'], { env: { ...childEnv(cfg), ...ENV }, stdio: 'ignore' });
    const runId = await pollUntil(async () => (await listRunIds(conns.db, RUN_STATES))[0], 'the run to be recorded', 60_000, 5);
    producer.kill('SIGKILL');
    expect((await getRun(conns.db, runId)).state).toBe('planned');

    const monitor = res.track(new Monitor(conns, quietLog));
    await monitor.start();
    const failed = await pollUntil(async () => {
      const r = await getRun(conns.db, runId);
      return r.state === 'failed' ? r : null;
    }, 'the monitor to fail the interrupted run', 60_000);
    expect(failed.error?.code).toBe('ERR_PLANNING_INTERRUPTED');
    // A producer that was only slow (its heartbeat lapsed) learns why its run is no longer its own.
    await expect(transitionRun(conns.db, runId, 'running', { from: ['planned'], reason: 'late producer' })).rejects.toThrow(/failed -> running \(failed: planning interrupted: no heartbeat from its producer for over \d+ ms/);
    await monitor.close();

    const resumed = await cliJson<RunJson>(cfg, ['start', `--resume=${runId}`, '--json'], { env: ENV });
    expect(resumed).toMatchObject({ run_id: runId, state: 'running' });
    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, runId, LONG);
    expect(end.run.state).toBe('succeeded');
    expect(end.run.history.map((h) => h.to)).toEqual(['failed', 'planned', 'running', 'validating', 'succeeded']);
    expect(end.counts.edges_inserted).toBe(X.expected_supersedes_edges);
    await expectDigest(runId);
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('the validator dies holding the validation job: the job is recovered and the run validated', async () => {
    const conns = await res.open(cfg);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--json'], { env: ENV });
    const worker = res.worker(cfg, ENV);
    // A monitor that settles runs but validates nothing: the run waits in validating.
    const settler = res.track(new Monitor(conns, quietLog, { validate: false }));
    await settler.start();
    await pollUntil(async () => (await getRun(conns.db, run.run_id)).state === 'validating', 'validating', LONG);
    // A validator that takes the job and dies with it (closed without finishing it).
    let taken!: () => void;
    const took = new Promise<void>((resolve) => (taken = resolve));
    const dying = new Worker(CONTRACT.validate.name, () => (taken(), new Promise(() => undefined)), { connection: conns.redis(), prefix: cfg.queuePrefix, lockDuration: 2000 });
    await took;
    await dying.close(true);
    expect(await (await conns.queue('validate').getJob(`validate-${run.run_id}`))?.getState()).toBe('active');
    await settler.close();
    const end = await driveToEnd(conns, run.run_id, LONG); // a full monitor: its validator recovers the stalled job
    expect(end.run.state).toBe('succeeded');
    expect(end.run.report?.ok).toBe(true);
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('validation that never reports: the run fails after the validation timeout', async () => {
    const env = { ...ENV, LNM_VALIDATE_TIMEOUT_MS: '1500' };
    const conns = await res.open({ ...cfg, monitor: { ...cfg.monitor, validateTimeoutMs: 1500 } });
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--json'], { env });
    const worker = res.worker(cfg, env);
    const monitor = res.track(new Monitor(conns, quietLog, { validate: false }));
    await monitor.start();
    const failed = await pollUntil(async () => {
      const r = await getRun(conns.db, run.run_id);
      return r.state === 'failed' ? r : null;
    }, 'the timeout to fail the run', LONG);
    expect(failed.error?.code).toBe('ERR_VALIDATION_TIMEOUT');
    expect(failed.history.map((h) => h.to)).toEqual(['running', 'validating', 'failed']);
    await monitor.close();
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('a removed job and jobs failed for good while no monitor ran: repaired, the run succeeds', async () => {
    const conns = await res.open(cfg);
    const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=200', '--json'], { env: ENV });
    expect(run.shards).toBeGreaterThan(4);
    const queue = conns.queue('shards', run.run_id);
    expect((await queue.remove(shardId(run.run_id, 0))) === 1).toBe(true);
    // A rogue consumer fails the next two jobs for good (no retry, shard left pending).
    // Its pause and run promises are awaited before and after close: a pause still in
    // flight when the worker closes would reject on the closed connection.
    let failures = 0;
    let closing = false;
    let paused: Promise<void> | undefined;
    const rogue = new Worker(shardQueueName(run.run_id), async () => {
      failures++;
      throw new UnrecoverableError('rogue consumer');
    }, { connection: conns.redis(), prefix: cfg.queuePrefix, autorun: false });
    rogue.on('failed', () => {
      if (failures >= 2 && !closing) paused ??= rogue.pause();
    });
    const running = rogue.run();
    await pollUntil(async () => (await queue.getFailedCount()) >= 2, 'two jobs failed for good', 60_000, 20);
    closing = true;
    await paused;
    await rogue.close();
    await running;

    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, run.run_id, LONG);
    expect(end.run.state).toBe('succeeded');
    expect(end.shards).toMatchObject({ done: run.shards, failed: 0 });
    expect(end.run.report?.ok).toBe(true);
    expect((await independentEdges(conns.db)).edges).toBe(X.expected_supersedes_edges);
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('start --wait --local-workers=2 SIGKILLed: its worker processes exit with it', async () => {
    const conns = await res.open(cfg);
    const before = new Set(await listRunIds(conns.db, RUN_STATES));
    const parent = spawn(process.execPath, [CLI, 'start', '--force', '--reason=test', '--wait', '--local-workers=2', '--batch-size=100', '--json'], { env: { ...childEnv(cfg), ...ENV }, stdio: 'ignore' });
    await pollUntil(async () => (await liveWorkerCount(cfg)) === 2, 'two local workers', LONG, 50);
    parent.kill('SIGKILL');
    await pollUntil(async () => (await liveWorkerCount(cfg)) === 0, 'the local workers to exit', 60_000, 100);
    const started = (await listRunIds(conns.db, RUN_STATES)).filter((id) => !before.has(id));
    expect(started).toHaveLength(1);
    const runId = started[0]!;
    const worker = res.worker(cfg, ENV);
    const end = await driveToEnd(conns, runId, LONG);
    expect(end.run.state).toBe('succeeded');
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  it('a local worker whose parent is gone before it was listening for that exits too', async () => {
    // The parent closes the channel at once: the worker sees the disconnect while it is still
    // starting (migration check, connections), before it waits for a stop.
    const child = spawn(process.execPath, [CLI, 'worker'], { env: { ...childEnv(cfg), ...ENV }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    res.children.push({ child, stderr });
    const exit = once(child, 'exit');
    child.disconnect();
    const [code] = await exit;
    expect(code, stderr.join('')).toBe(0);
  }, LONG);

  res.leakCheck();
});
