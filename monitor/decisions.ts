/**
 * The monitor's decisions: pure functions of the config, the current state and one
 * probe sample. No I/O, no clock; every branch is covered by table tests.
 */
import type { MonitorConfig } from '../core/config.js';
import type { ErrorCode } from '../core/errors.js';

/** Replication lag; unavailable on a standalone server or one without replSetGetStatus. */
export type Lag = { available: true; seconds: number } | { available: false; reason: string };

export interface ProbeSample {
  /** When the sample was taken, epoch ms. */
  at: number;
  lag: Lag;
  /** Primary operations per second; null when unknown (first sample, no opcounters). */
  opsPerS: number | null;
  /** Server CPU use in percent of the machine; null when unknown. */
  cpuPct: number | null;
  flowControl?: { enabled: boolean; isLagged: boolean } | null;
}

export interface ThrottleDecision {
  throttle: boolean;
  /** Why the run is (or stays) throttled; empty when it is not. Stable strings. */
  reasons: string[];
}

const s1 = (n: number): string => n.toFixed(1);
const int = (n: number): string => String(Math.round(n));

/**
 * Hysteresis: an unthrottled run throttles when any available signal is above its
 * throttle threshold (or flow control reports the majority lagging); a throttled run
 * resumes only when every available signal is below its resume threshold. Unknown
 * signals (unavailable lag, null ops or cpu) never throttle and never block resume.
 * A signal at 0 never blocks resume, so a resume threshold of 0 cannot wedge the run.
 */
export function decideThrottle(cfg: MonitorConfig, throttled: boolean, s: ProbeSample): ThrottleDecision {
  const reasons: string[] = [];
  const lag = s.lag.available ? s.lag.seconds : null;
  const lagged = s.flowControl?.enabled === true && s.flowControl.isLagged;
  if (!throttled) {
    if (lag !== null && lag > cfg.lagThrottleS) reasons.push(`lag ${s1(lag)}s > ${cfg.lagThrottleS}s`);
    if (s.opsPerS !== null && s.opsPerS > cfg.opsThrottlePerS) {
      reasons.push(`ops ${int(s.opsPerS)}/s > ${cfg.opsThrottlePerS}/s`);
    }
    if (s.cpuPct !== null && s.cpuPct > cfg.cpuThrottlePct) reasons.push(`cpu ${s1(s.cpuPct)}% > ${cfg.cpuThrottlePct}%`);
    if (lagged) reasons.push('flow control lagged');
    return { throttle: reasons.length > 0, reasons };
  }
  const blocks = (v: number | null, resume: number): v is number => v !== null && v > 0 && v >= resume;
  if (blocks(lag, cfg.lagResumeS)) reasons.push(`lag ${s1(lag)}s >= ${cfg.lagResumeS}s (resume)`);
  if (blocks(s.opsPerS, cfg.opsResumePerS)) reasons.push(`ops ${int(s.opsPerS)}/s >= ${cfg.opsResumePerS}/s (resume)`);
  if (blocks(s.cpuPct, cfg.cpuResumePct)) reasons.push(`cpu ${s1(s.cpuPct)}% >= ${cfg.cpuResumePct}% (resume)`);
  if (lagged) reasons.push('flow control lagged');
  return { throttle: reasons.length > 0, reasons };
}

export type StopCode = Extract<ErrorCode, `ERR_STOP_${string}`>;

export interface StopDecision {
  stop: boolean;
  reason?: string;
  code?: StopCode;
}

export interface StopCounts {
  /** Shards that reached a final state (done or failed). */
  settled: number;
  /** Shards that failed for good (attempts exhausted or unrecoverable). */
  failed: number;
  /** Idempotency violations seen so far. */
  violations: number;
}

/**
 * With stop-on-error the first violation (checked first: it is an integrity problem)
 * or the first failed shard stops the run. Without it, the run stops when violations
 * exceed violationsMax or the failed fraction of settled shards exceeds errorRateMax
 * (a rate exactly at the maximum does not stop).
 */
export function decideStop(
  cfg: MonitorConfig,
  run: { stop_on_error: boolean },
  counts: StopCounts,
): StopDecision {
  const { settled, failed, violations } = counts;
  if (run.stop_on_error) {
    if (violations > 0) {
      return { stop: true, code: 'ERR_STOP_VIOLATION', reason: `stop-on-error: ${violations} idempotency violation(s)` };
    }
    if (failed > 0) {
      return { stop: true, code: 'ERR_STOP_SHARD_FAILED', reason: `stop-on-error: ${failed} shard(s) failed` };
    }
    return { stop: false };
  }
  if (violations > cfg.violationsMax) {
    return {
      stop: true,
      code: 'ERR_STOP_VIOLATIONS_THRESHOLD',
      reason: `violations ${violations} > ${cfg.violationsMax}`,
    };
  }
  if (settled > 0 && failed / settled > cfg.errorRateMax) {
    return {
      stop: true,
      code: 'ERR_STOP_ERROR_RATE',
      reason: `error rate ${failed}/${settled} = ${(failed / settled).toFixed(4)} > ${cfg.errorRateMax}`,
    };
  }
  return { stop: false };
}

export type AlertCode = 'ALERT_RUNTIME' | 'ALERT_LAG';

export interface Alert {
  code: AlertCode;
  level: 'warn' | 'error';
  message: string;
}

/**
 * Alerts to raise now: run time over alertRuntimeS (warn) and replication lag over
 * alertLagS (error). Each condition fires once per run: codes in `raised` are skipped.
 * Unavailable lag never raises ALERT_LAG.
 */
export function decideAlerts(
  cfg: MonitorConfig,
  state: { runtimeS: number; lag: Lag; raised: ReadonlySet<string> },
): Alert[] {
  const out: Alert[] = [];
  if (!state.raised.has('ALERT_RUNTIME') && state.runtimeS > cfg.alertRuntimeS) {
    out.push({
      code: 'ALERT_RUNTIME',
      level: 'warn',
      message: `run time ${int(state.runtimeS)}s > ${cfg.alertRuntimeS}s`,
    });
  }
  if (!state.raised.has('ALERT_LAG') && state.lag.available && state.lag.seconds > cfg.alertLagS) {
    out.push({
      code: 'ALERT_LAG',
      level: 'error',
      message: `replication lag ${s1(state.lag.seconds)}s > ${cfg.alertLagS}s`,
    });
  }
  return out;
}
