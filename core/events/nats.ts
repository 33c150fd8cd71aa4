/**
 * NATS JetStream transport. Observation events go to the stream `LNM_NATS_STREAM`
 * (default CONCELIER_OBS; created when missing) on `<prefix>.advisory.observation.updated.v1`,
 * with `Nats-Msg-Id` = eventId so the server drops a re-publish inside its duplicate
 * window. The blackhole is a core-NATS publish on `<prefix>.blackhole.…`: no stream
 * captures it, so nothing is retained.
 */
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Config } from '../config.js';
import {
  DEDUPE_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  natsSubjects,
  transportError,
  type Channel,
  type EventTransport,
  type OutgoingEvent,
  type PublishAck,
  type RangeCount,
  type ReceivedEvent,
  type Subscription,
} from './transport.js';

/** The shortest wait the JetStream client accepts for a pull. */
const MIN_PULL_MS = 1000;

const received = (m: JsMsg): ReceivedEvent => ({
  position: String(m.seq),
  eventId: m.headers?.get(EVENT_ID_HEADER) || null,
  dedupeId: m.headers?.get(DEDUPE_HEADER) || null,
  at: new Date(Math.floor(m.info.timestampNanos / 1e6)),
  body: m.string(),
});

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

class NatsTransport implements EventTransport {
  readonly kind = 'nats' as const;
  readonly names: Record<Channel, string>;

  constructor(
    private readonly cfg: Config,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {
    this.names = natsSubjects(cfg.events);
  }

  private get stream(): string {
    return this.cfg.events.natsStream;
  }

  async ensure(): Promise<void> {
    const subject = this.names.observation;
    try {
      const info = await this.jsm.streams.info(this.stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.includes(subject)) await this.jsm.streams.update(this.stream, { subjects: [...subjects, subject] });
    } catch (err) {
      if (!isStreamNotFound(err)) throw transportError(this.cfg, `stream ${this.stream}: ${(err as Error).message}`, err);
      await this.jsm.streams
        .add({ name: this.stream, subjects: [subject], duplicate_window: nanos(this.cfg.events.dedupeWindowS * 1000) })
        .catch((e: unknown) => {
          throw transportError(this.cfg, `cannot create stream ${this.stream}: ${(e as Error).message}`, e);
        });
    }
  }

  async publish(channel: 'observation' | 'blackhole', event: OutgoingEvent): Promise<PublishAck> {
    const h = headers();
    h.set(EVENT_ID_HEADER, event.eventId);
    h.set(EVENT_TYPE_HEADER, event.type);
    if (channel === 'blackhole') {
      this.nc.publish(this.names.blackhole, event.body, { headers: h });
      await this.nc.flush();
      return { position: null, duplicate: false };
    }
    try {
      const ack = await this.js.publish(this.names.observation, event.body, {
        msgID: event.dedupeId ?? event.eventId,
        headers: h,
        timeout: this.cfg.events.connectTimeoutMs,
      });
      return { position: String(ack.seq), duplicate: ack.duplicate };
    } catch (err) {
      throw transportError(this.cfg, `publish to ${this.names.observation} failed: ${(err as Error).message}`, err);
    }
  }

  /** An ordered consumer starting right after the stream's current last message. */
  async subscribe(): Promise<Subscription> {
    const info = await this.jsm.streams.info(this.stream).catch((err: unknown) => {
      throw transportError(this.cfg, `stream ${this.stream}: ${(err as Error).message}. Fix: run the publisher once (it creates the stream)`, err);
    });
    const consumer = await this.js.consumers.get(this.stream, {
      // A single subject (filter_subject): nats-server 2.9 knows no filter_subjects.
      filter_subjects: this.names.observation,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
    });
    return {
      next: async (timeoutMs) => {
        const m = await consumer.next({ expires: Math.max(MIN_PULL_MS, timeoutMs) });
        return m ? received(m) : null;
      },
      close: async () => {
        await consumer.delete().catch(() => undefined);
      },
    };
  }

  async countRange(channel: 'observation' | 'linkset', from: Date, to: Date, sample: number): Promise<RangeCount> {
    const subject = this.names[channel];
    // No stream for the subject (never created, or none captures it) is "nothing retained";
    // any other error (timeout, permissions) is thrown, never taken for an empty stream.
    const notFound = (err: unknown): null => {
      if ((err as Error).name === 'StreamNotFoundError') return null;
      throw err;
    };
    const stream = channel === 'observation' ? this.stream : await this.jsm.streams.find(subject).catch(notFound);
    const out: RangeCount = { channel, name: subject, stream, count: 0, sample: [] };
    if (!stream) return out;
    const info = await this.jsm.streams.info(stream).catch(notFound);
    if (!info) return { ...out, stream: null };
    if (info.state.messages === 0 || new Date(info.state.last_ts) < from) return out;
    const consumer = await this.js.consumers.get(stream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: from.toISOString(),
    });
    try {
      for (;;) {
        const m = await consumer.next({ expires: MIN_PULL_MS });
        if (!m) break;
        const r = received(m);
        if (r.at > to) break;
        out.count++;
        if (out.sample.length < sample) out.sample.push(r.eventId ?? `seq:${r.position}`);
        if (m.info.pending === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return out;
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

export async function openNats(cfg: Config, opts: { reconnect?: boolean }): Promise<EventTransport> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: cfg.events.natsUrl,
      name: 'lnm-backfill',
      timeout: cfg.events.connectTimeoutMs,
      reconnect: opts.reconnect === true,
      maxReconnectAttempts: opts.reconnect ? -1 : 0,
    });
  } catch (err) {
    throw transportError(cfg, `cannot connect (${(err as Error).message}). Fix: run "lnm-backfill services up" (nats-server -js) or set NATS_URL`, err);
  }
  try {
    const jsm = await jetstreamManager(nc);
    return new NatsTransport(cfg, nc, jetstream(nc), jsm);
  } catch (err) {
    await nc.close();
    throw transportError(cfg, `JetStream unavailable (${(err as Error).message}). Fix: start nats-server with -js`, err);
  }
}
