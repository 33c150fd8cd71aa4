/**
 * The event transports of the outbox publisher, `unfreeze --replay-one` and the
 * freeze-window check: NATS JetStream or Redis Streams, behind one small interface.
 * They live in core because three roles use them (the publisher in workers/, replay in
 * producer/, the freeze-window proof in monitor/).
 *
 * Channels: `observation` (the durable stream consumers read), `blackhole` (where a
 * publisher frozen with `--outbox=blackhole` sends events: nothing retains them) and
 * `linkset` (`advisory.linkset.updated`, never published here; only read by the check).
 */
import type { Config, EventsConfig } from '../config.js';
import { LnmError } from '../errors.js';

export type Channel = 'observation' | 'blackhole' | 'linkset';

export interface OutgoingEvent {
  eventId: string;
  type: string;
  body: string;
  /** Transport de-duplication id; the eventId unless a replay must not be dropped. */
  dedupeId?: string;
}

export interface PublishAck {
  /** Stream sequence (NATS) or entry id (Redis); null on the blackhole. */
  position: string | null;
  /** The transport already had this de-duplication id: nothing new was stored. */
  duplicate: boolean;
}

export interface ReceivedEvent {
  position: string;
  eventId: string | null;
  dedupeId: string | null;
  at: Date;
  body: string;
}

export interface Subscription {
  /** The next event on the channel after the subscription started, or null after `timeoutMs`. */
  next(timeoutMs: number): Promise<ReceivedEvent | null>;
  close(): Promise<void>;
}

export interface RangeCount {
  channel: Channel;
  /** Subject (NATS) or stream key (Redis) read. */
  name: string;
  /** The retaining stream read, or null when none retains this channel (nothing to read). */
  stream: string | null;
  count: number;
  /** Up to `sample` eventIds (or positions when a message carries none). */
  sample: string[];
}

export interface EventTransport {
  readonly kind: EventsConfig['transport'];
  /** Subject (NATS) or key/channel (Redis) of each channel. */
  readonly names: Record<Channel, string>;
  /** Create the durable stream when missing (NATS); no-op for Redis. */
  ensure(): Promise<void>;
  publish(channel: 'observation' | 'blackhole', event: OutgoingEvent): Promise<PublishAck>;
  subscribe(channel: 'observation'): Promise<Subscription>;
  /** Events the transport retained on a channel between two instants (inclusive). */
  countRange(channel: 'observation' | 'linkset', from: Date, to: Date, sample: number): Promise<RangeCount>;
  close(): Promise<void>;
}

export const DEDUPE_HEADER = 'Nats-Msg-Id';
export const EVENT_ID_HEADER = 'Concelier-Event-Id';
export const EVENT_TYPE_HEADER = 'Concelier-Event-Type';

export function natsSubjects(ev: EventsConfig): Record<Channel, string> {
  const p = ev.subjectPrefix;
  return {
    observation: `${p}.advisory.observation.updated.v1`,
    blackhole: `${p}.blackhole.advisory.observation.updated.v1`,
    linkset: `${p}.advisory.linkset.updated.v1`,
  };
}

export function redisNames(ev: EventsConfig): Record<Channel, string> {
  const p = ev.redisPrefix;
  return {
    observation: `${p}:advisory.observation.updated:v1`,
    // A pub/sub channel: fire-and-forget, nothing retains it.
    blackhole: `${p}:blackhole:advisory.observation.updated:v1`,
    linkset: `${p}:advisory.linkset.updated:v1`,
  };
}

export function transportError(cfg: Pick<Config, 'events'>, message: string, cause?: unknown): LnmError {
  const what = cfg.events.transport === 'nats' ? `NATS ${cfg.events.natsUrl}` : 'Redis (REDIS_URL)';
  return new LnmError('ERR_EVENT_TRANSPORT', `${what}: ${message}`, { path: `transport/${cfg.events.transport}`, cause });
}
