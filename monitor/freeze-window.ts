/**
 * The freeze-window proof (`validate`, the evidence bundle, `unfreeze`): no observation
 * event and no `advisory.linkset.updated` was published while the outbox publisher was
 * frozen. A window comes from the flag history (a time `outbox_publisher_enabled` went off,
 * to the next time it went on, or now while still frozen): the one a run started in, or
 * the last one; the proof reads what the transport retained in it (JetStream by start time,
 * Redis by entry-id range). The times are this tool's clock against the transport
 * server's: on one host, or with synchronized clocks, they agree. */
import type { Connections } from '../core/connections.js';
import { openTransport } from '../core/events/open.js';
import type { RangeCount } from '../core/events/transport.js';
import { errorSummary } from '../core/errors.js';
import { FLAGS, flagHistory, type FlagHistoryDoc, type PublisherMode } from '../core/store/flags.js';
import type { RunDoc } from '../core/store/runs.js';

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

/**
 * How the proof stands: `passed` (every channel is retained by a stream and none holds an
 * event in the window), `failed` (events were published in it), `unverified` (the transport
 * cannot be read, or no stream retains a channel: what was published there cannot be ruled
 * out), `not_frozen` (no freeze to prove: a real run started with --force while the
 * publisher ran, or no freeze in the flag history), `not_applicable` (a dry run publishes
 * nothing). Only `failed` fails `validate`.
 */
export type FreezeProofStatus = 'passed' | 'failed' | 'unverified' | 'not_frozen' | 'not_applicable';

export interface FreezeWindowCheck {
  status: FreezeProofStatus;
  /** status is `passed` or `not_applicable`. */
  ok: boolean;
  reason: string;
  window: FreezeWindow | null;
  transport: string;
  /** One entry per channel read: observation events and linkset events. */
  channels: RangeCount[];
}

/** Every freeze window of the publisher flag's history, oldest first (pure). */
function* freezeWindows(history: readonly FlagHistoryDoc[], now: Date): Generator<FreezeWindow> {
  let current: FreezeWindow | null = null;
  for (const h of history) {
    if (!h.changed) continue;
    if (!h.value && !current) {
      current = { from: h.at, to: now, open: true, mode: h.mode ?? 'stop', frozen_by: h.by, reason: h.reason, unfrozen_by: null };
    } else if (h.value && current) {
      yield { ...current, to: h.at, open: false, unfrozen_by: h.by };
      current = null;
    }
  }
  if (current) yield current;
}

/** The last freeze window of the publisher flag's history (pure). */
export function latestFreezeWindow(history: readonly FlagHistoryDoc[], now: Date): FreezeWindow | null {
  let last: FreezeWindow | null = null;
  for (const w of freezeWindows(history, now)) last = w;
  return last;
}

/** The freeze window in effect at `at` (a run's start), if the publisher was frozen then (pure). */
export function freezeWindowAt(history: readonly FlagHistoryDoc[], at: Date, now: Date): FreezeWindow | null {
  for (const w of freezeWindows(history, now)) if (w.from <= at && at <= w.to) return w;
  return null;
}

/** The proof over one window: what the transport retained on each channel in it. */
async function readWindow(conns: Connections, window: FreezeWindow): Promise<FreezeWindowCheck> {
  const transport = conns.cfg.events.transport;
  const unverified = (reason: string, channels: RangeCount[] = []): FreezeWindowCheck => ({ status: 'unverified', ok: false, reason, window, transport, channels });
  let t;
  try {
    t = await openTransport(conns.cfg);
  } catch (err) {
    return unverified(`cannot read the transport: ${errorSummary(err).message}`);
  }
  let channels: RangeCount[];
  try {
    channels = [
      await t.countRange('observation', window.from, window.to, SAMPLE),
      await t.countRange('linkset', window.from, window.to, SAMPLE),
    ];
  } catch (err) {
    return unverified(`cannot read the transport: ${errorSummary(err).message}`);
  } finally {
    await t.close();
  }
  const found = channels.filter((c) => c.count > 0);
  if (found.length > 0) {
    const reason = found.map((c) => `${c.count} event(s) on ${c.name} during the freeze (e.g. ${c.sample.join(', ')})`).join('; ');
    return { status: 'failed', ok: false, reason, window, transport, channels };
  }
  const unretained = channels.filter((c) => c.stream === null).map((c) => c.name);
  if (unretained.length > 0) return unverified(`no stream retains ${unretained.join(' or ')}: what was published there cannot be ruled out`, channels);
  const reason = `nothing retained on ${channels.map((c) => c.name).join(' or ')} between ${window.from.toISOString()} and ${window.to.toISOString()}`;
  return { status: 'passed', ok: true, reason, window, transport, channels };
}

/** The proof over the freeze in effect now (`unfreeze` reports it for the window it closes); null when not frozen. */
export async function checkOpenFreezeWindow(conns: Connections, now = new Date()): Promise<FreezeWindowCheck | null> {
  const window = latestFreezeWindow(await flagHistory(conns.db, FLAGS.publisher), now);
  return window?.open ? readWindow(conns, window) : null;
}

/** The proof over the freeze the run started in. */
export async function checkRunFreezeWindow(conns: Connections, run: RunDoc, now = new Date()): Promise<FreezeWindowCheck> {
  const transport = conns.cfg.events.transport;
  if (run.dry_run) return { status: 'not_applicable', ok: true, reason: 'a dry run writes no outbox row and publishes nothing', window: null, transport, channels: [] };
  const at = run.started_at ?? run.created_at;
  const window = freezeWindowAt(await flagHistory(conns.db, FLAGS.publisher), at, now);
  if (!window) return { status: 'not_frozen', ok: false, reason: `the outbox publisher was not frozen when the run started (${at.toISOString()})`, window, transport, channels: [] };
  return readWindow(conns, window);
}
