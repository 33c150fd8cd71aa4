/**
 * Alerts: one structured log line per alert, an in-memory counter per code, and an
 * optional fire-and-forget webhook POST. Raising an alert never throws and never waits
 * for the webhook; `settle()` awaits the in-flight POSTs (tests, shutdown).
 */
import type { Logger } from '../core/logger.js';
import type { MonitorConfig } from '../core/config.js';
import { redactError } from '../core/redact.js';
import type { Alert } from './decisions.js';

export type FetchImpl = (input: string, init: RequestInit) => Promise<Response>;

/**
 * fetch refuses a URL with `user:password@` (and its error would echo the URL): the
 * credentials move to a Basic Authorization header.
 */
export function webhookTarget(webhookUrl: string): { url: string; authorization?: string } {
  const u = new URL(webhookUrl);
  if (!u.username && !u.password) return { url: webhookUrl };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization: `Basic ${basic}` };
}

export class Alerter {
  private readonly counters = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly log: Logger,
    private readonly cfg: MonitorConfig,
    private readonly fetchImpl: FetchImpl = globalThis.fetch,
  ) {}

  /** Logs, counts and (when configured) starts the webhook POST; resolves without awaiting it. */
  raise(runId: string, alert: Alert): Promise<void> {
    try {
      this.counters.set(alert.code, (this.counters.get(alert.code) ?? 0) + 1);
      this.log[alert.level]({ alert: alert.code, run_id: runId }, alert.message);
      if (this.cfg.alertWebhookUrl) {
        const body = { alert: alert.code, level: alert.level, message: alert.message, run_id: runId, at: new Date().toISOString() };
        const p = this.post(runId, alert, body);
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      }
    } catch (err) {
      // A broken logger or a throwing fetch stub must not stop the run.
      try {
        this.log.warn({ err, alert: alert.code, run_id: runId }, 'alert could not be raised');
      } catch {
        /* nothing left to report to */
      }
    }
    return Promise.resolve();
  }

  /** Alerts raised so far, per code. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }

  /** Waits for every webhook POST started so far. Never rejects. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private async post(runId: string, alert: Alert, body: Record<string, unknown>): Promise<void> {
    try {
      const { url, authorization } = webhookTarget(this.cfg.alertWebhookUrl);
      const res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.cfg.alertWebhookTimeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) {
        this.log.warn({ alert: alert.code, run_id: runId, status: res.status }, 'alert webhook answered with an error status');
      }
    } catch (err) {
      this.log.warn({ err: redactError(err), alert: alert.code, run_id: runId }, 'alert webhook failed');
    }
  }
}
