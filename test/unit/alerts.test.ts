import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { loadConfig, type MonitorConfig } from '../../core/config.js';
import { Alerter, webhookTarget, type FetchImpl } from '../../monitor/alerts.js';
import type { Alert } from '../../monitor/decisions.js';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function fakeFetch(behaviour: 'ok' | 'reject' | 'status500' = 'ok') {
  const calls: { url: string; init: RequestInit }[] = [];
  const impl: FetchImpl = async (url, init) => {
    calls.push({ url, init });
    if (behaviour === 'reject') throw new TypeError('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
    return new Response('{}', { status: behaviour === 'ok' ? 200 : 500 });
  };
  return { impl, calls };
}

const base = loadConfig({}).monitor;
const withHook: MonitorConfig = { ...base, alertWebhookUrl: 'http://alerts.invalid/hook', alertWebhookTimeoutMs: 500 };
const lagAlert: Alert = { code: 'ALERT_LAG', level: 'error', message: 'replication lag 75.0s > 60s' };
const runtimeAlert: Alert = { code: 'ALERT_RUNTIME', level: 'warn', message: 'run time 7300s > 7200s' };

describe('Alerter', () => {
  it('logs one line with the code, counts it and POSTs the JSON body', async () => {
    const { log, lines } = memoryLogger();
    const { impl, calls } = fakeFetch();
    const alerter = new Alerter(log, withHook, impl);
    await alerter.raise('run-1', lagAlert);
    await alerter.settle();

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, alert: 'ALERT_LAG', run_id: 'run-1', msg: lagAlert.message });
    expect(alerter.counts()).toEqual({ ALERT_LAG: 1 });

    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.url).toBe('http://alerts.invalid/hook');
    expect(call.init.method).toBe('POST');
    expect(new Headers(call.init.headers).get('content-type')).toBe('application/json');
    expect(call.init.signal).toBeInstanceOf(AbortSignal);
    const body = JSON.parse(String(call.init.body)) as Record<string, unknown>;
    expect(body).toEqual({ alert: 'ALERT_LAG', level: 'error', message: lagAlert.message, run_id: 'run-1', at: expect.any(String) });
    expect(Number.isNaN(Date.parse(String(body.at)))).toBe(false);
  });

  it('logs at the alert level and counts per code', async () => {
    const { log, lines } = memoryLogger();
    const alerter = new Alerter(log, base, fakeFetch().impl);
    await alerter.raise('run-2', runtimeAlert);
    await alerter.raise('run-2', lagAlert);
    await alerter.raise('run-3', runtimeAlert);
    expect(lines.map((l) => [l.level, l.alert, l.run_id])).toEqual([
      [40, 'ALERT_RUNTIME', 'run-2'],
      [50, 'ALERT_LAG', 'run-2'],
      [40, 'ALERT_RUNTIME', 'run-3'],
    ]);
    expect(alerter.counts()).toEqual({ ALERT_RUNTIME: 2, ALERT_LAG: 1 });
  });

  it('does not call the webhook when no URL is configured', async () => {
    const { log } = memoryLogger();
    const { impl, calls } = fakeFetch();
    const alerter = new Alerter(log, { ...base, alertWebhookUrl: '' }, impl);
    await alerter.raise('run-4', lagAlert);
    await alerter.settle();
    expect(calls).toHaveLength(0);
  });

  it('a rejecting webhook does not make raise throw, and is logged at warn with err', async () => {
    const { log, lines } = memoryLogger();
    const { impl, calls } = fakeFetch('reject');
    const alerter = new Alerter(log, withHook, impl);
    await expect(alerter.raise('run-5', lagAlert)).resolves.toBeUndefined();
    await alerter.settle();
    expect(calls).toHaveLength(1);
    const warn = lines.find((l) => l.level === 40);
    expect(warn).toMatchObject({ alert: 'ALERT_LAG', run_id: 'run-5', msg: 'alert webhook failed' });
    expect((warn?.err as { message?: string } | undefined)?.message).toContain('ECONNREFUSED');
    expect(alerter.counts()).toEqual({ ALERT_LAG: 1 });
  });

  it('logs an error status from the webhook at warn', async () => {
    const { log, lines } = memoryLogger();
    const alerter = new Alerter(log, withHook, fakeFetch('status500').impl);
    await alerter.raise('run-6', runtimeAlert);
    await alerter.settle();
    expect(lines.filter((l) => l.msg === 'alert webhook answered with an error status')).toMatchObject([
      { level: 40, status: 500, alert: 'ALERT_RUNTIME', run_id: 'run-6' },
    ]);
  });

  it('raise returns before a slow webhook answers; settle waits for it', async () => {
    const { log } = memoryLogger();
    let answer: (r: Response) => void = () => undefined;
    let done = false;
    const slow: FetchImpl = () =>
      new Promise<Response>((resolve) => {
        answer = resolve;
      });
    const alerter = new Alerter(log, withHook, slow);
    await alerter.raise('run-7', lagAlert);
    const settled = alerter.settle().then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    answer(new Response('ok'));
    await settled;
    expect(done).toBe(true);
  });

  it('sends webhook credentials as a Basic Authorization header, never in the URL', async () => {
    const { log } = memoryLogger();
    const { impl, calls } = fakeFetch();
    const alerter = new Alerter(log, { ...withHook, alertWebhookUrl: 'https://ops:pa%3Ass@hooks.example.net/lnm?x=1' }, impl);
    await alerter.raise('run-8', lagAlert);
    await alerter.settle();
    expect(calls.map((c) => c.url)).toEqual(['https://hooks.example.net/lnm?x=1']);
    const auth = new Headers(calls[0]!.init.headers).get('authorization');
    expect(Buffer.from(auth!.replace(/^Basic /, ''), 'base64').toString()).toBe('ops:pa:ss');
    expect(webhookTarget('http://alerts.invalid/hook')).toEqual({ url: 'http://alerts.invalid/hook' });
  });

  it('a failing webhook whose error echoes a password-bearing URL logs it redacted', async () => {
    const { log, lines } = memoryLogger();
    const leaky: FetchImpl = async () => {
      throw new TypeError('fetch failed', { cause: new Error('proxy http://proxy:Pr0xyPw@10.0.0.1:3128 refused') });
    };
    const alerter = new Alerter(log, { ...withHook, alertWebhookUrl: 'https://ops:HookPw@hooks.example.net/x' }, leaky);
    await alerter.raise('run-9', lagAlert);
    await alerter.settle();
    const text = JSON.stringify(lines);
    expect(text).toContain('alert webhook failed');
    expect(text).toContain('proxy:***@10.0.0.1');
    expect(text).not.toMatch(/Pr0xyPw|HookPw/);
  });
});
