/**
 * The outbox publisher (`lnm-backfill publisher`): reads unpublished rows of
 * `advisory_observation_events` page by page (a `pending: true` equality read, ordered by
 * replayCursor within the page), publishes each as `advisory.observation.updated@1`,
 * then stamps `publishedAt`. The eventId is the transport's de-duplication id, so a
 * crash between publishing and stamping re-publishes nothing new.
 *
 * It honours `outbox_publisher_enabled` before every page and every idle poll: when it
 * is off with mode `stop` nothing is published and rows accumulate; with mode
 * `blackhole` the rows go to the blackhole subject (and are stamped as such). Every
 * state change and every `heartbeatMs` it writes a heartbeat carrying the flag version
 * it acts on, so preflight can see that a stop was acknowledged.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { openTransport } from '../core/events/open.js';
import type { EventTransport } from '../core/events/transport.js';
import { FLAGS, getFlag, publisherDirective, type FlagDoc } from '../core/store/flags.js';
import { heartbeatId, writeHeartbeat, type PublisherState } from '../core/store/heartbeats.js';
import { EVENT_TYPE, MAX_EVENT_BYTES, type OutboxRow } from '../core/store/outbox.js';
import { completeEvent, deadLetter, markPublished, pendingPage } from '../core/store/outbox-publish.js';

export interface PublisherStats {
  pages: number;
  published: number;
  /** Published rows the transport already had (a re-publish after a crash): stamped, not stored twice. */
  duplicates: number;
  blackholed: number;
  dead_lettered: number;
  errors: number;
}

export interface PublisherOptions {
  /** Abort to stop: the current page finishes, a last heartbeat says `exited`. */
  signal: AbortSignal;
}

async function idle(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

class Publisher {
  readonly stats: PublisherStats = { pages: 0, published: 0, duplicates: 0, blackholed: 0, dead_lettered: 0, errors: 0 };
  private readonly beatId = heartbeatId('publisher');
  private readonly startedAt = new Date();
  private lastBeat = 0;
  private lastState: PublisherState | undefined;

  constructor(
    private readonly conns: Connections,
    private readonly transport: EventTransport,
    private readonly log: Logger,
  ) {}

  async beat(state: PublisherState, flag: FlagDoc | null): Promise<void> {
    const ev = this.conns.cfg.events;
    if (state === this.lastState && Date.now() - this.lastBeat < ev.heartbeatMs) return;
    if (state !== this.lastState) this.log.info({ state, flag_updated_at: flag?.updated_at ?? null }, `publisher ${state}`);
    await writeHeartbeat(this.conns.db, {
      _id: this.beatId,
      component: 'publisher',
      host: os.hostname(),
      pid: process.pid,
      state,
      flag_updated_at: flag?.updated_at ?? null,
      interval_ms: ev.heartbeatMs,
      transport: this.transport.kind,
      started_at: this.startedAt,
      at: new Date(),
    });
    this.lastBeat = Date.now();
    this.lastState = state;
  }

  /** Publish one page in order; stamp what the transport accepted. */
  async publishPage(rows: OutboxRow[], channel: 'observation' | 'blackhole'): Promise<void> {
    const { db } = this.conns;
    const completed = await Promise.all(rows.map((r) => completeEvent(db, r)));
    const sends: Array<Promise<{ id: string; position: string | null; duplicate: boolean }>> = [];
    for (const [i, row] of rows.entries()) {
      const c = completed[i]!;
      if (!c.ok) {
        await deadLetter(db, row, 'ERR_EVENT_SOURCE_MISSING', c.reason, null);
        this.stats.dead_lettered++;
        continue;
      }
      const body = JSON.stringify(c.event);
      const bytes = Buffer.byteLength(body);
      if (bytes > MAX_EVENT_BYTES) {
        await deadLetter(db, row, 'ERR_EVENT_TOO_LARGE', `serialized event is ${bytes} bytes, over the ${MAX_EVENT_BYTES}-byte limit`, bytes);
        this.log.warn({ event_id: row._id, bytes }, 'event dead-lettered: too large');
        this.stats.dead_lettered++;
        continue;
      }
      // Issued in page order on one connection, so they arrive in that order.
      sends.push(this.transport.publish(channel, { eventId: row._id, type: EVENT_TYPE, body }).then((a) => ({ id: row._id, ...a })));
    }
    const settled = await Promise.allSettled(sends);
    const acked = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    await markPublished(db, acked, channel === 'blackhole' ? 'blackhole' : 'stream', new Date());
    for (const a of acked) {
      if (channel === 'blackhole') this.stats.blackholed++;
      else if (a.duplicate) this.stats.duplicates++;
      else this.stats.published++;
    }
    this.stats.pages++;
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** One step: returns how long to wait before the next (0 = go on at once). */
  async step(): Promise<number> {
    const { db, cfg } = this.conns;
    const flag = await getFlag(db, FLAGS.publisher);
    const d = publisherDirective(flag);
    await this.beat(d.action === 'publish' ? 'publishing' : d.action === 'stop' ? 'stopped' : 'blackhole', flag);
    if (d.action === 'stop') return cfg.events.publisherPollMs;
    const page = await pendingPage(db, cfg.events.publisherBatch);
    if (page.length === 0) return cfg.events.publisherPollMs;
    await this.publishPage(page, d.action === 'blackhole' ? 'blackhole' : 'observation');
    return 0;
  }
}

/** Run until `signal` aborts. Transient failures (transport or database) are logged and retried. */
export async function runPublisher(conns: Connections, log: Logger, opts: PublisherOptions): Promise<PublisherStats> {
  const plog = log.child({ component: 'publisher' });
  const transport = await openTransport(conns.cfg, { reconnect: true });
  const p = new Publisher(conns, transport, plog);
  try {
    await transport.ensure();
    plog.info({ transport: transport.kind, subject: transport.names.observation }, 'publisher started');
    while (!opts.signal.aborted) {
      let wait: number;
      try {
        wait = await p.step();
      } catch (err) {
        p.stats.errors++;
        plog.warn({ err }, 'publisher step failed; retrying');
        wait = conns.cfg.events.publisherPollMs;
      }
      if (wait > 0) await idle(wait, opts.signal);
    }
    await p.beat('exited', await getFlag(conns.db, FLAGS.publisher)).catch((err: unknown) => plog.warn({ err }, 'last heartbeat failed'));
    plog.info(p.stats, 'publisher stopped');
    return p.stats;
  } finally {
    await transport.close();
  }
}
