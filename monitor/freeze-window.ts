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

export interface FreezeWindowCheck {
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

async function readWindow(conns: Connections, window: FreezeWindow): Promise<FreezeWindowCheck> {
  const transport = conns.cfg.events.transport;
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

/** The proof over the publisher's last freeze window. */
export async function checkFreezeWindow(conns: Connections, now = new Date()): Promise<FreezeWindowCheck> {
  const window = latestFreezeWindow(await flagHistory(conns.db, FLAGS.publisher), now);
  if (!window) return { ok: false, reason: 'no freeze of the outbox publisher in the flag history', window, transport: conns.cfg.events.transport, channels: [] };
  return readWindow(conns, window);
}

/**
 * How the proof stands for one run: `passed` (nothing published in the freeze its start fell
 * in), `failed` (events were published in it), `unverified` (the transport cannot be read),
 * `not_frozen` (a real run started with --force while the publisher ran: nothing to prove),
 * `not_applicable` (a dry run publishes nothing). Only `failed` fails `validate`.
 */
export type FreezeProofStatus = 'passed' | 'failed' | 'unverified' | 'not_frozen' | 'not_applicable';

export interface RunFreezeWindowCheck extends FreezeWindowCheck {
  status: FreezeProofStatus;
}

export async function checkRunFreezeWindow(conns: Connections, run: RunDoc, now = new Date()): Promise<RunFreezeWindowCheck> {
  const transport = conns.cfg.events.transport;
  if (run.dry_run) return { status: 'not_applicable', ok: true, reason: 'a dry run writes no outbox row and publishes nothing', window: null, transport, channels: [] };
  const at = run.started_at ?? run.created_at;
  const window = freezeWindowAt(await flagHistory(conns.db, FLAGS.publisher), at, now);
  if (!window) return { status: 'not_frozen', ok: false, reason: `the outbox publisher was not frozen when the run started (${at.toISOString()})`, window, transport, channels: [] };
  const check = await readWindow(conns, window);
  const status: FreezeProofStatus = check.ok ? 'passed' : check.channels.length === 0 ? 'unverified' : 'failed';
  return { status, ...check };
}
