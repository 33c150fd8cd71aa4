import { describe, it, expect } from 'vitest';
import { loadConfig, type MonitorConfig } from '../../core/config.js';
import { decideAlerts, decideStop, decideThrottle, type Lag, type ProbeSample } from '../../monitor/decisions.js';

const cfg: MonitorConfig = {
  ...loadConfig({}).monitor,
  lagThrottleS: 5,
  lagResumeS: 2.5,
  opsThrottlePerS: 1000,
  opsResumePerS: 700,
  cpuThrottlePct: 90,
  cpuResumePct: 60,
  errorRateMax: 0.1,
  violationsMax: 2,
  alertRuntimeS: 7200,
  alertLagS: 60,
};

const lag = (seconds: number): Lag => ({ available: true, seconds });
const noLag: Lag = { available: false, reason: 'not a replica set (NoReplicationEnabled)' };

function sample(p: Partial<ProbeSample> = {}): ProbeSample {
  return { at: 1_700_000_000_000, lag: lag(0), opsPerS: 10, cpuPct: 5, flowControl: null, ...p };
}

describe('decideThrottle', () => {
  it.each<[string, boolean, ProbeSample, boolean, string[]]>([
    ['calm stays running', false, sample(), false, []],
    ['lag over threshold throttles', false, sample({ lag: lag(7) }), true, ['lag 7.0s > 5s']],
    ['lag exactly at threshold does not throttle', false, sample({ lag: lag(5) }), false, []],
    ['lag 6s throttles', false, sample({ lag: lag(6) }), true, ['lag 6.0s > 5s']],
    ['throttled at 4s stays throttled (hysteresis)', true, sample({ lag: lag(4) }), true, ['lag 4.0s >= 2.5s (resume)']],
    ['throttled at exactly the resume threshold stays', true, sample({ lag: lag(2.5) }), true, ['lag 2.5s >= 2.5s (resume)']],
    ['throttled resumes at 2s', true, sample({ lag: lag(2) }), false, []],
    ['unavailable lag never throttles', false, sample({ lag: noLag }), false, []],
    ['unavailable lag never blocks resume', true, sample({ lag: noLag }), false, []],
    ['ops over threshold throttles', false, sample({ opsPerS: 1500 }), true, ['ops 1500/s > 1000/s']],
    ['ops at threshold does not throttle', false, sample({ opsPerS: 1000 }), false, []],
    ['ops between resume and throttle keeps throttle', true, sample({ opsPerS: 800 }), true, ['ops 800/s >= 700/s (resume)']],
    ['ops below resume resumes', true, sample({ opsPerS: 699 }), false, []],
    ['null ops never throttles', false, sample({ opsPerS: null }), false, []],
    ['null ops never blocks resume', true, sample({ opsPerS: null }), false, []],
    ['cpu over threshold throttles', false, sample({ cpuPct: 95 }), true, ['cpu 95.0% > 90%']],
    ['cpu between resume and throttle keeps throttle', true, sample({ cpuPct: 75 }), true, ['cpu 75.0% >= 60% (resume)']],
    ['cpu below resume resumes', true, sample({ cpuPct: 59.9 }), false, []],
    ['null cpu never blocks resume', true, sample({ cpuPct: null }), false, []],
    ['flow control lagged throttles', false, sample({ flowControl: { enabled: true, isLagged: true } }), true, ['flow control lagged']],
    ['flow control lagged keeps throttle', true, sample({ flowControl: { enabled: true, isLagged: true } }), true, ['flow control lagged']],
    ['flow control not lagged is calm', false, sample({ flowControl: { enabled: true, isLagged: false } }), false, []],
    ['several signals give several reasons', false, sample({ lag: lag(7), opsPerS: 2000, cpuPct: 99 }), true,
      ['lag 7.0s > 5s', 'ops 2000/s > 1000/s', 'cpu 99.0% > 90%']],
    ['resume needs every signal below: lag ok, cpu not', true, sample({ lag: lag(1), cpuPct: 70 }), true, ['cpu 70.0% >= 60% (resume)']],
  ])('%s', (_name, throttled, s, throttle, reasons) => {
    expect(decideThrottle(cfg, throttled, s)).toEqual({ throttle, reasons });
  });

  it('a resume threshold of 0 does not wedge a run whose signal reached 0', () => {
    const zero = { ...cfg, lagThrottleS: 0, lagResumeS: 0 };
    expect(decideThrottle(zero, true, sample({ lag: lag(0) })).throttle).toBe(false);
    expect(decideThrottle(zero, true, sample({ lag: lag(0.5) })).throttle).toBe(true);
  });

  it('never lists unavailable lag as a reason', () => {
    const d = decideThrottle(cfg, false, sample({ lag: noLag, cpuPct: 99 }));
    expect(d.reasons.some((r) => r.includes('unavailable'))).toBe(false);
    expect(d.reasons).toEqual(['cpu 99.0% > 90%']);
  });
});

describe('decideStop', () => {
  type Case = [string, boolean, { settled: number; failed: number; violations: number }, string | undefined];
  it.each<Case>([
    ['stop-on-error: clean run continues', true, { settled: 10, failed: 0, violations: 0 }, undefined],
    ['stop-on-error: first failed shard stops', true, { settled: 1, failed: 1, violations: 0 }, 'ERR_STOP_SHARD_FAILED'],
    ['stop-on-error: first violation stops', true, { settled: 1, failed: 0, violations: 1 }, 'ERR_STOP_VIOLATION'],
    ['stop-on-error: violation wins over failure', true, { settled: 2, failed: 1, violations: 1 }, 'ERR_STOP_VIOLATION'],
    ['no settled shards yet continues', false, { settled: 0, failed: 0, violations: 0 }, undefined],
    ['error rate below max continues', false, { settled: 100, failed: 9, violations: 0 }, undefined],
    ['error rate exactly at max continues', false, { settled: 100, failed: 10, violations: 0 }, undefined],
    ['error rate above max stops', false, { settled: 100, failed: 11, violations: 0 }, 'ERR_STOP_ERROR_RATE'],
    ['violations at max continue', false, { settled: 5, failed: 0, violations: 2 }, undefined],
    ['violations above max stop', false, { settled: 5, failed: 0, violations: 3 }, 'ERR_STOP_VIOLATIONS_THRESHOLD'],
  ])('%s', (_name, stop_on_error, counts, code) => {
    const d = decideStop(cfg, { stop_on_error }, counts);
    expect(d.stop).toBe(code !== undefined);
    expect(d.code).toBe(code);
    if (code) expect(d.reason).toEqual(expect.any(String));
    else expect(d.reason).toBeUndefined();
  });

  it('errorRateMax 0 stops on the first failure but not before', () => {
    const strict = { ...cfg, errorRateMax: 0 };
    expect(decideStop(strict, { stop_on_error: false }, { settled: 50, failed: 0, violations: 0 }).stop).toBe(false);
    expect(decideStop(strict, { stop_on_error: false }, { settled: 50, failed: 1, violations: 0 })).toMatchObject({
      stop: true,
      code: 'ERR_STOP_ERROR_RATE',
      reason: 'error rate 1/50 = 0.0200 > 0',
    });
  });
});

describe('decideAlerts', () => {
  const none = new Set<string>();
  type Case = [string, { runtimeS: number; lag: Lag; raised: ReadonlySet<string> }, string[]];
  it.each<Case>([
    ['nothing to raise', { runtimeS: 10, lag: lag(1), raised: none }, []],
    ['runtime over limit', { runtimeS: 7201, lag: lag(1), raised: none }, ['ALERT_RUNTIME']],
    ['runtime exactly at limit', { runtimeS: 7200, lag: lag(1), raised: none }, []],
    ['lag over limit', { runtimeS: 10, lag: lag(61), raised: none }, ['ALERT_LAG']],
    ['both at once', { runtimeS: 8000, lag: lag(90), raised: none }, ['ALERT_RUNTIME', 'ALERT_LAG']],
    ['runtime fires once', { runtimeS: 8000, lag: lag(1), raised: new Set(['ALERT_RUNTIME']) }, []],
    ['lag fires once, runtime still fires', { runtimeS: 8000, lag: lag(90), raised: new Set(['ALERT_LAG']) }, ['ALERT_RUNTIME']],
    ['unavailable lag never alerts', { runtimeS: 10, lag: noLag, raised: none }, []],
  ])('%s', (_name, state, codes) => {
    expect(decideAlerts(cfg, state).map((a) => a.code)).toEqual(codes);
  });

  it('gives levels and messages', () => {
    expect(decideAlerts(cfg, { runtimeS: 7300, lag: lag(75), raised: none })).toEqual([
      { code: 'ALERT_RUNTIME', level: 'warn', message: 'run time 7300s > 7200s' },
      { code: 'ALERT_LAG', level: 'error', message: 'replication lag 75.0s > 60s' },
    ]);
  });

  it('fires once across successive calls when the caller records raised codes', () => {
    const raised = new Set<string>();
    const fired: string[] = [];
    for (const runtimeS of [7000, 7300, 7400, 9000]) {
      for (const a of decideAlerts(cfg, { runtimeS, lag: lag(100), raised })) {
        fired.push(a.code);
        raised.add(a.code);
      }
    }
    expect(fired).toEqual(['ALERT_LAG', 'ALERT_RUNTIME']);
  });
});
