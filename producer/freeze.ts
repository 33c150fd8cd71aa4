/**
 * `freeze` / `unfreeze [--replay-one]` (DESIGN §1 steps 2 and 8): flip `ingest_enabled`
 * and `outbox_publisher_enabled` together, each change recorded with who/when/why in the
 * flag history. `--replay-one` then proves the event path: it republishes one recent
 * observation event and reads it back from the transport within a timeout.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Db } from 'mongodb';
import type { Connections } from '../core/connections.js';
import { openTransport } from '../core/events/open.js';
import { operatorName } from '../core/operator.js';
import { errorSummary, LnmError } from '../core/errors.js';
import { COLL } from '../core/store/collections.js';
import { FLAGS, setFlag, type FlagDoc, type PublisherMode } from '../core/store/flags.js';
import type { ObservationDoc } from '../core/store/observations.js';
import { EVENT_TYPE, importEventRow, type ObservationEvent } from '../core/store/outbox.js';
import { completeEvent, recentRow } from '../core/store/outbox-publish.js';

export interface FlipOptions {
  /** Who: defaults to the OS user. */
  by?: string;
  /** Why: required. */
  reason: string;
}

export interface FlagsResult {
  at: Date;
  ingest: FlagDoc;
  publisher: FlagDoc;
  /** Whether each flag actually changed (a second freeze changes nothing but is recorded). */
  changed: { ingest: boolean; publisher: boolean };
}

export type ReplayResult =
  | { ok: true; event_id: string; observation_id: string; transport: string; subject: string; position: string | null; latency_ms: number }
  | { ok: false; code: string; message: string };

export interface UnfreezeResult extends FlagsResult {
  replay: ReplayResult | null;
}

function requireReason(reason: string, command: string): string {
  if (!reason.trim()) {
    throw new LnmError('ERR_REASON_REQUIRED', `${command} needs --reason "<why>": it is recorded in the flag history`, { path: '--reason', unrecoverable: true });
  }
  return reason.trim();
}

async function flip(db: Db, value: boolean, mode: PublisherMode | undefined, opts: FlipOptions, command: string): Promise<FlagsResult> {
  const change = { by: operatorName(opts.by), reason: requireReason(opts.reason, command) };
  const at = new Date();
  const ingest = await setFlag(db, FLAGS.ingest, { ...change, value }, at);
  const publisher = await setFlag(db, FLAGS.publisher, { ...change, value, ...(mode ? { mode } : {}) }, at);
  return { at, ingest: ingest.flag, publisher: publisher.flag, changed: { ingest: ingest.history.changed, publisher: publisher.history.changed } };
}

/** Ingest off; the publisher stops (`stop`, default) or publishes to the blackhole subject. */
export async function freeze(conns: Connections, opts: FlipOptions & { outbox?: PublisherMode }): Promise<FlagsResult> {
  return flip(conns.db, false, opts.outbox ?? 'stop', opts, 'freeze');
}

export async function unfreeze(conns: Connections, opts: FlipOptions & { replayOne?: boolean }): Promise<UnfreezeResult> {
  const flags = await flip(conns.db, true, undefined, opts, 'unfreeze');
  if (!opts.replayOne) return { ...flags, replay: null };
  try {
    return { ...flags, replay: await replayOne(conns) };
  } catch (err) {
    const s = errorSummary(err);
    return { ...flags, replay: { ok: false, code: s.code, message: s.message } };
  }
}

/** A recent observation event: the latest published outbox row, else any row, else an observation. */
async function recentEvent(db: Db): Promise<ObservationEvent> {
  const row = await recentRow(db);
  if (row) {
    const c = await completeEvent(db, row);
    if (c.ok) return c.event;
  }
  const obs = await db.collection<ObservationDoc>(COLL.observations).findOne({});
  const raw = obs ? await db.collection(COLL.raw).findOne({ _id: obs.rawId as never }) : null;
  if (!obs || !raw) {
    throw new LnmError('ERR_REPLAY_NOTHING', 'no observation to replay an event of. Fix: import a corpus first', { path: COLL.observations });
  }
  // The observation's own creation event (a complete row: no further reads).
  const c = await completeEvent(db, importEventRow({ _id: raw._id, identifiers: raw.identifiers, linkset: raw.linkset }, obs, new Date(), 0));
  if (!c.ok) throw new LnmError('ERR_REPLAY_NOTHING', c.reason, { path: COLL.observations });
  return c.event;
}

/**
 * Republish one recent observation event (same eventId: consumers drop it as seen; a
 * fresh transport de-duplication id, so the transport does not) and read it back through
 * a subscription opened before the publish. ERR_EVENT_TRANSPORT when the transport is
 * down, ERR_REPLAY_TIMEOUT when the event is not read back in time.
 */
export async function replayOne(conns: Connections, timeoutMs = conns.cfg.events.replayTimeoutMs): Promise<Extract<ReplayResult, { ok: true }>> {
  const event = await recentEvent(conns.db);
  const transport = await openTransport(conns.cfg);
  try {
    await transport.ensure();
    const sub = await transport.subscribe('observation');
    try {
      const dedupeId = `replay:${randomBytes(6).toString('hex')}:${event.eventId}`;
      const t0 = performance.now();
      const ack = await transport.publish('observation', { eventId: event.eventId, type: EVENT_TYPE, body: JSON.stringify(event), dedupeId });
      const deadline = t0 + timeoutMs;
      for (let left = timeoutMs; left > 0; left = deadline - performance.now()) {
        const m = await sub.next(left);
        if (m?.dedupeId === dedupeId) {
          return {
            ok: true,
            event_id: event.eventId,
            observation_id: event.observationId,
            transport: transport.kind,
            subject: transport.names.observation,
            position: ack.position,
            latency_ms: Math.round((performance.now() - t0) * 10) / 10,
          };
        }
      }
      throw new LnmError('ERR_REPLAY_TIMEOUT', `event ${event.eventId} was published but not read back from ${transport.names.observation} within ${timeoutMs} ms`, {
        path: `transport/${transport.kind}`,
        details: { event_id: event.eventId, position: ack.position },
      });
    } finally {
      await sub.close();
    }
  } finally {
    await transport.close();
  }
}
