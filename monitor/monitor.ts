/**
 * The monitor: one acting instance per deployment (a Redis leader lock with expiry).
 * Each tick it probes lag and load once, then for every live run: stop on error or
 * threshold breach (then rollback), throttle/unthrottle with hysteresis, raise alerts
 * once per condition, settle pausing/cancelling runs, and finalize finished runs.
 * Queue `failed` events trigger an immediate tick.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { errorSummary, JobFailedError, RunStateError } from '../core/errors.js';
import { runsColl, transitionRun, type RunDoc } from '../core/store/runs.js';
import { WATCHED_STATES } from '../core/store/run-status.js';
import { firstShardError, getShard, markShardFailed } from '../core/store/shards.js';
import { summarizeRun } from '../core/store/summary.js';
import { Alerter } from './alerts.js';
import { stopRun, stopError } from './control.js';
import { waitDrained } from '../core/jobs.js';
import { decideAlerts, decideStop, decideThrottle, type ProbeSample } from './decisions.js';
import { finalizeIfComplete } from './finalize.js';
import { LeaderLock } from './lock.js';
import { makeMongoProbe, type Probe } from './probes.js';

export interface MonitorOptions {
  probe?: Probe;
  alerter?: Alerter;
}

export class Monitor {
  readonly lock: LeaderLock;
  private readonly probe: Probe;
  private readonly alerter: Alerter;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private closed = false;
  lastSample: ProbeSample | undefined;

  constructor(
    private readonly conns: Connections,
    private readonly log: Logger,
    opts: MonitorOptions = {},
  ) {
    const m = conns.cfg.monitor;
    this.lock = new LeaderLock(conns.redis(), `${conns.cfg.queuePrefix}:monitor:leader`, m.lockTtlMs);
    this.probe = opts.probe ?? makeMongoProbe(conns.db, m.probeTimeoutMs);
    this.alerter = opts.alerter ?? new Alerter(log, m);
  }

  /** One pass; returns whether this instance acted (held the leader lock). */
  async tick(): Promise<boolean> {
    const leader = (await this.lock.renew()) || (await this.lock.tryAcquire());
    if (!leader) return false;
    const sample = await this.probe();
    this.lastSample = sample;
    const runs = await runsColl(this.conns.db).find({ state: { $in: [...WATCHED_STATES] } }, { projection: { history: 0 } }).toArray();
    for (const run of runs) {
      try {
        await this.tickRun(run, sample);
      } catch (err) {
        if (!(err instanceof RunStateError)) this.log.error({ err, run_id: run._id }, 'monitor tick failed');
      }
    }
    return true;
  }

  private async tickRun(run: RunDoc, sample: ProbeSample): Promise<void> {
    const { db, cfg } = this.conns;
    const rlog = this.log.child({ run_id: run._id });
    if (run.state === 'stopping') {
      await stopRun(this.conns, run._id, run.error ?? stopError('ERR_STOP', 'stopped'), rlog);
      return;
    }
    const s = await summarizeRun(db, run._id);
    if (run.state !== 'cancelling') {
      const d = decideStop(cfg.monitor, run, { settled: s.shards.done + s.shards.failed, failed: s.shards.failed, violations: s.counts.violations });
      if (d.stop) {
        const error = (await firstShardError(db, run._id)) ?? stopError(d.code ?? 'ERR_STOP', d.reason ?? 'stop requested');
        rlog.error({ code: d.code, reason: d.reason, first_error: error }, 'stopping run');
        await stopRun(this.conns, run._id, error, rlog);
        return;
      }
    }
    if (run.state === 'running' || run.state === 'throttled') {
      const t = decideThrottle(cfg.monitor, run.state === 'throttled', sample);
      if (t.throttle && run.state === 'running') {
        await transitionRun(db, run._id, 'throttled', { from: ['running'], reason: t.reasons.join('; '), set: { throttle_reasons: t.reasons } });
        rlog.warn({ reasons: t.reasons }, 'run throttled');
      } else if (!t.throttle && run.state === 'throttled') {
        await transitionRun(db, run._id, 'running', { from: ['throttled'], reason: 'below resume thresholds', set: { throttle_reasons: [] } });
        rlog.info('run resumed after throttling');
      }
    }
    const runtimeS = run.started_at ? (Date.now() - run.started_at.getTime()) / 1000 : 0;
    const raised = new Set(run.alerts_raised ?? []);
    for (const alert of decideAlerts(cfg.monitor, { runtimeS, lag: sample.lag, raised })) {
      await runsColl(db).updateOne({ _id: run._id }, { $addToSet: { alerts_raised: alert.code } });
      await this.alerter.raise(run._id, alert);
    }
    if (run.state === 'pausing' && (await waitDrained(this.conns, run._id, 0))) {
      await transitionRun(db, run._id, 'paused', { from: ['pausing'], reason: 'no shard in flight' });
    } else if (run.state === 'cancelling' && (await waitDrained(this.conns, run._id, 0))) {
      await transitionRun(db, run._id, 'cancelled', { from: ['cancelling'], reason: 'no shard in flight' });
    }
    await finalizeIfComplete(db, run._id, this.log);
  }

  /** Tick every probe interval and on every failed shard job, until `close()`. */
  async start(): Promise<void> {
    const events = this.conns.queueEvents('shards');
    events.on('failed', ({ jobId, failedReason }) => {
      void this.checkpointFailedJob(jobId, failedReason).finally(() => this.kick());
    });
    await events.waitUntilReady();
    const loop = () => {
      if (this.closed) return;
      this.kick();
      this.timer = setTimeout(loop, this.conns.cfg.monitor.probeIntervalMs);
    };
    loop();
  }

  /**
   * A job BullMQ failed for good without the processor recording it (stalled too often,
   * a worker killed on the last attempt): mark its shard failed so the run can settle.
   */
  private async checkpointFailedJob(jobId: string, reason: string): Promise<void> {
    try {
      const job = await this.conns.queue('shards').getJob(jobId);
      if (!job || !(await job.isFailed())) return;
      const shard = await getShard(this.conns.db, jobId);
      if (shard?.state === 'pending') await markShardFailed(this.conns.db, jobId, new JobFailedError(jobId, reason));
    } catch (err) {
      this.log.error({ err, job_id: jobId }, 'could not checkpoint a failed job');
    }
  }

  /** Run a tick now (coalesced with one in progress). */
  kick(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .then(() => undefined, (err: unknown) => this.log.error({ err: errorSummary(err) }, 'monitor tick failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stop ticking, wait for the current tick, release the lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.alerter.settle();
    await this.lock.release();
  }
}
