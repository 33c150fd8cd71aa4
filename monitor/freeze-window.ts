/**
 * The freeze-window proof for the validation report: no observation event and no
 * `advisory.linkset.updated` was published while the outbox publisher was frozen. The
 * window comes from the flag history (the last time `outbox_publisher_enabled` went off,
 * to the next time it went on, or now while still frozen); the proof reads what the
 * transport retained in that window (JetStream by start time, Redis by entry-id range).
 * The times are this tool's clock against the transport server's: on one host, or with
 * synchronized clocks, they agree.
 */
import type { Connections } from '../core/connections.js';
import { openTransport } from '../core/events/open.js';
import type { RangeCount } from '../core/events/transport.js';
import { errorSummary } from '../core/errors.js';
import { FLAGS, flagHistory, type FlagHistoryDoc, type PublisherMode } from '../core/store/flags.js';

const SAMPLE = 5;

export interface FreezeWindow {
  from: Date;
  to: Date;
  /** Still frozen: `to` is the time of the check. */
  open: boolean;
  mode: PublisherMode;
  frozen_by: string;
  reason: string;
  unfrozen_by: string | null;
}

export interface FreezeWindowCheck {
  ok: boolean;
  reason: string;
  window: FreezeWindow | null;
  transport: string;
  /** One entry per channel read: observation events and linkset events. */
  channels: RangeCount[];
}

/** The last freeze window of the publisher flag's history (pure). */
export function latestFreezeWindow(history: readonly FlagHistoryDoc[], now: Date): FreezeWindow | null {
  let current: FreezeWindow | null = null;
  let last: FreezeWindow | null = null;
  for (const h of history) {
    if (!h.changed) continue;
    if (!h.value && !current) {
      current = { from: h.at, to: now, open: true, mode: h.mode ?? 'stop', frozen_by: h.by, reason: h.reason, unfrozen_by: null };
    } else if (h.value && current) {
      last = { ...current, to: h.at, open: false, unfrozen_by: h.by };
      current = null;
    }
  }
  return current ?? last;
}

export async function checkFreezeWindow(conns: Connections, now = new Date()): Promise<FreezeWindowCheck> {
  const window = latestFreezeWindow(await flagHistory(conns.db, FLAGS.publisher), now);
  const transport = conns.cfg.events.transport;
  if (!window) return { ok: false, reason: 'no freeze of the outbox publisher in the flag history', window, transport, channels: [] };
  let t;
  try {
    t = await openTransport(conns.cfg);
  } catch (err) {
    return { ok: false, reason: `cannot read the transport: ${errorSummary(err).message}`, window, transport, channels: [] };
  }
  try {
    const channels = [
      await t.countRange('observation', window.from, window.to, SAMPLE),
      await t.countRange('linkset', window.from, window.to, SAMPLE),
    ];
    const found = channels.filter((c) => c.count > 0);
    const ok = found.length === 0;
    const unretained = channels.filter((c) => c.stream === null).map((c) => `no stream retains ${c.name}`);
    const reason = ok
      ? [`nothing retained on ${channels.map((c) => c.name).join(' or ')} between ${window.from.toISOString()} and ${window.to.toISOString()}`, ...unretained].join('; ')
      : found.map((c) => `${c.count} event(s) on ${c.name} during the freeze (e.g. ${c.sample.join(', ')})`).join('; ');
    return { ok, reason, window, transport, channels };
  } finally {
    await t.close();
  }
}
