/**
 * The monitor: one acting instance per deployment, elected by a Redis lock with expiry
 * that a timer of its own renews (ttl/3), so a slow tick never outlives the lock; when a
 * renewal fails the instance stops acting at once — the tick in progress aborts before
 * its next step. Each tick probes lag and load (at most every probe interval), then runs
 * `tickRun` (monitor/run-tick.ts) for every run that is not terminal, and cleans up runs
 * that just ended (their queues leave the workers' set; their scope is released; a rolled
 * back run is checked once more for late writes). Every instance also processes
 * validation jobs, outside the tick.
 */
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { CONTRACT, type ValidateJob } from '../core/contract.js';
import { activeRunIds, activeShardJobs, unregisterRun } from '../core/jobs.js';
import { LeaderLock } from '../core/lock.js';
import { countOwned, sweepRun } from '../core/store/owned-writes.js';
import { append } from '../core/store/run-log.js';
import { getRun, listRunIds, type RunDoc } from '../core/store/runs.js';
import { inGroup, TERMINAL_STATES, WATCHED_STATES } from '../core/store/run-status.js';
import { releaseScope } from '../core/store/scope-locks.js';
import { errorSummary, RunStateError } from '../core/errors.js';
import { Alerter } from './alerts.js';
import type { ProbeSample } from './decisions.js';
import { runValidation } from './finalize.js';
import { makeMongoProbe, type Probe } from './probes.js';
import { tickRun } from './run-tick.js';

/** The leader lock was lost mid-tick: stop acting. */
class LeaderLost extends Error {}

export interface MonitorHooks {
  /** Called before each run's step of an acting tick (tests slow a tick down with it). */
  beforeRun?: (runId: string) => Promise<void>;
  /** Called when this instance starts or stops acting as the leader. */
  onLeadership?: (leading: boolean) => void;
}

export interface MonitorOptions {
  probe?: Probe;
  alerter?: Alerter;
  hooks?: MonitorHooks;
  /** Process validation jobs in this process (default true). */
  validate?: boolean;
}

export class Monitor {
  readonly lock: LeaderLock;
  private readonly probe: Probe;
  private readonly alerter: Alerter;
  private readonly hooks: MonitorHooks;
  private leading = false;
  private keeper: { stop(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<unknown> | undefined;
  private validator: Worker | undefined;
  private closed = false;
  lastSample: ProbeSample | undefined;

  constructor(
    private readonly conns: Connections,
    private readonly log: Logger,
    private readonly opts: MonitorOptions = {},
  ) {
    const m = conns.cfg.monitor;
    this.lock = new LeaderLock(conns.redis(), `${conns.cfg.queuePrefix}:monitor:leader`, m.lockTtlMs);
    this.probe = opts.probe ?? makeMongoProbe(conns.db, m.probeTimeoutMs);
    this.alerter = opts.alerter ?? new Alerter(log, m);
    this.hooks = opts.hooks ?? {};
  }

  /** Alerts raised by this instance, per code. */
  alertCounts(): Record<string, number> {
    return this.alerter.counts();
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) this.keeper = this.lock.keep(() => this.setLeading(false));
    else this.keeper?.stop();
    this.hooks.onLeadership?.(leading);
  }

  /** Act only while the lock is surely ours: its keeper saw no failure and its lease has not run out. */
  private assertLeading(): void {
    if (!this.leading || this.closed || !this.lock.held()) throw new LeaderLost('the monitor lock was lost');
  }

  private async sampled(): Promise<ProbeSample> {
    const every = this.conns.cfg.monitor.probeIntervalMs;
    if (!this.lastSample || Date.now() - this.lastSample.at >= every) this.lastSample = await this.probe();
    return this.lastSample;
  }

  /** Runs to look at: non-terminal by the state cache, plus the runs whose queues workers serve. */
  private async runIds(): Promise<string[]> {
    return [...new Set([...(await listRunIds(this.conns.db, WATCHED_STATES)), ...(await activeRunIds(this.conns))])];
  }

  /** One pass; returns whether this instance acted (held the leader lock). */
  async tick(): Promise<boolean> {
    if (this.closed) return false;
    this.setLeading((await this.lock.renew()) || (await this.lock.tryAcquire()));
    if (!this.leading) return false;
    const sample = await this.sampled();
    const ctx = {
      conns: this.conns,
      log: this.log,
      alerter: this.alerter,
      sample,
      planning: async (runId: string) => (await this.conns.sharedRedis().exists(`${this.conns.cfg.queuePrefix}:planning:${runId}`)) === 1,
    };
    try {
      for (const runId of await this.runIds()) {
        await this.hooks.beforeRun?.(runId);
        this.assertLeading();
        let run: RunDoc;
        try {
          run = await getRun(this.conns.db, runId);
          if (inGroup(run.state, TERMINAL_STATES)) await this.retire(run);
          else await tickRun(ctx, run);
        } catch (err) {
          if (err instanceof LeaderLost) throw err;
          if (!(err instanceof RunStateError)) this.log.error({ err, run_id: runId }, 'monitor step failed');
        }
      }
    } catch (err) {
      if (!(err instanceof LeaderLost)) throw err;
      this.log.warn('monitor lock lost mid-tick: stopped acting');
      return false;
    }
    return true;
  }

  /**
   * A run that reached a terminal state: once no shard of it is in flight, its queue leaves
   * the workers' set and its scope is released. A rolled-back run is checked once more
   * for writes that landed after its rollback (a writer that lost its job during a stall).
   */
  private async retire(run: RunDoc): Promise<void> {
    if ((await activeShardJobs(this.conns, run._id)) > 0) return;
    if (run.state === 'rolled_back' && !run.dry_run) {
      // A writer that lost its job can land late writes until its stall ends; look again
      // until a lock period and a stall check have passed since the rollback.
      const { lockDurationMs, stalledIntervalMs, deleteBatch } = this.conns.cfg;
      const late = await countOwned(this.conns.db, run._id);
      if (late > 0) {
        const removed = await sweepRun(this.conns.db, run._id, deleteBatch);
        this.log.error({ run_id: run._id, ...removed }, 'late writes of a rolled-back run removed');
        await append(this.conns.db, run._id, 'rollback', { late_writes_removed: removed });
      }
      if (Date.now() - run.updated_at.getTime() < lockDurationMs + stalledIntervalMs) return;
    }
    await releaseScope(this.conns.db, run._id);
    await unregisterRun(this.conns, run._id);
    await this.conns.forgetQueue(run._id);
  }

  /** Tick every LNM_MONITOR_TICK_MS until `close()`; process validation jobs meanwhile. */
  async start(): Promise<void> {
    if (this.opts.validate !== false) {
      this.validator = new Worker<ValidateJob>(
        CONTRACT.validate.name,
        async (job) => runValidation(this.conns, CONTRACT.validate.parse(job.data).run_id, this.log),
        { connection: this.conns.sharedRedis(), prefix: this.conns.cfg.queuePrefix, concurrency: 1, lockDuration: this.conns.cfg.lockDurationMs, stalledInterval: this.conns.cfg.stalledIntervalMs },
      );
      this.validator.on('error', (err) => this.log.error({ err }, 'validation worker error'));
      await this.validator.waitUntilReady();
    }
    const loop = (): void => {
      if (this.closed) return;
      this.ticking = this.tick()
        .catch((err: unknown) => this.log.error({ err: errorSummary(err) }, 'monitor tick failed'))
        .finally(() => {
          this.ticking = undefined;
          if (!this.closed) this.timer = setTimeout(loop, this.conns.cfg.monitor.tickIntervalMs);
        });
    };
    loop();
  }

  /** Stop ticking, wait for the current tick, release the lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.validator?.close();
    this.setLeading(false);
    await this.alerter.settle();
    await this.lock.release();
  }
}
