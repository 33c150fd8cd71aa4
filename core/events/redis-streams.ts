/**
 * Redis Streams transport. Observation events are XADDed to
 * `<prefix>:advisory.observation.updated:v1` by a script that first claims the eventId
 * (`SET <prefix>:dedupe:<id> NX EX <window>`), so a re-publish inside the de-duplication
 * window adds nothing — the same guarantee as JetStream's `Nats-Msg-Id`. The blackhole is
 * a pub/sub PUBLISH: nothing retains it.
 */
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import {
  redisNames,
  transportError,
  type Channel,
  type EventTransport,
  type OutgoingEvent,
  type PublishAck,
  type RangeCount,
  type ReceivedEvent,
  type Subscription,
} from './transport.js';

const PUBLISH_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[5]) then
  return redis.call('XADD', KEYS[2], '*', 'eventId', ARGV[1], 'type', ARGV[2], 'dedupeId', ARGV[3], 'data', ARGV[4])
end
return false`;

const PAGE = 500;

type Entry = [id: string, fields: string[]];

interface ScriptedRedis extends Redis {
  lnmPublish(dedupeKey: string, stream: string, eventId: string, type: string, dedupeId: string, body: string, ttlS: number): Promise<string | null>;
}

function received([id, fields]: Entry): ReceivedEvent {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  return { position: id, eventId: f.get('eventId') ?? null, dedupeId: f.get('dedupeId') ?? null, at: new Date(Number(id.split('-')[0])), body: f.get('data') ?? '' };
}

class RedisStreamsTransport implements EventTransport {
  readonly kind = 'redis' as const;
  readonly names: Record<Channel, string>;
  private readonly extra: Redis[] = [];

  constructor(
    private readonly cfg: Config,
    private readonly r: ScriptedRedis,
  ) {
    this.names = redisNames(cfg.events);
  }

  async ensure(): Promise<void> {
    // XADD creates the stream.
  }

  async publish(channel: 'observation' | 'blackhole', event: OutgoingEvent): Promise<PublishAck> {
    try {
      if (channel === 'blackhole') {
        await this.r.publish(this.names.blackhole, event.body);
        return { position: null, duplicate: false };
      }
      const dedupeId = event.dedupeId ?? event.eventId;
      const id = await this.r.lnmPublish(
        `${this.cfg.events.redisPrefix}:dedupe:${dedupeId}`,
        this.names.observation,
        event.eventId,
        event.type,
        dedupeId,
        event.body,
        this.cfg.events.dedupeWindowS,
      );
      return { position: id, duplicate: id === null };
    } catch (err) {
      throw transportError(this.cfg, `publish to ${this.names[channel]} failed: ${(err as Error).message}`, err);
    }
  }

  /** A blocking XREAD on its own connection, starting after the stream's last entry. */
  async subscribe(): Promise<Subscription> {
    const key = this.names.observation;
    const last = (await this.r.xrevrange(key, '+', '-', 'COUNT', 1)) as Entry[];
    let after = last[0]?.[0] ?? '0-0';
    const reader = this.r.duplicate();
    this.extra.push(reader);
    await reader.connect();
    return {
      next: async (timeoutMs) => {
        const res = (await reader.xread('COUNT', 1, 'BLOCK', Math.max(1, timeoutMs), 'STREAMS', key, after)) as Array<[string, Entry[]]> | null;
        const entry = res?.[0]?.[1][0];
        if (!entry) return null;
        after = entry[0];
        return received(entry);
      },
      close: async () => {
        await reader.quit().catch(() => reader.disconnect());
      },
    };
  }

  async countRange(channel: 'observation' | 'linkset', from: Date, to: Date, sample: number): Promise<RangeCount> {
    const key = this.names[channel];
    const out: RangeCount = { channel, name: key, stream: key, count: 0, sample: [] };
    let start = String(from.getTime());
    for (;;) {
      const page = (await this.r.xrange(key, start, String(to.getTime()), 'COUNT', PAGE)) as Entry[];
      for (const e of page) {
        out.count++;
        if (out.sample.length < sample) out.sample.push(received(e).eventId ?? `id:${e[0]}`);
      }
      if (page.length < PAGE) return out;
      start = `(${page[page.length - 1]![0]}`;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.r, ...this.extra].map((c) => c.quit().catch(() => c.disconnect())));
  }
}

/** `reconnect`: keep retrying a lost connection (publisher); else fail on the first loss. */
export async function openRedisStreams(cfg: Config, opts: { reconnect?: boolean }): Promise<EventTransport> {
  const r = new Redis(cfg.redisUrl, {
    lazyConnect: true,
    connectTimeout: cfg.events.connectTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    ...(opts.reconnect ? {} : { retryStrategy: () => null }),
  }) as ScriptedRedis;
  r.on('error', () => undefined); // surfaced by the command that fails
  r.defineCommand('lnmPublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT });
  try {
    await r.connect();
  } catch (err) {
    r.disconnect();
    throw transportError(cfg, `cannot connect (${(err as Error).message}). Fix: start Redis or set REDIS_URL`, err);
  }
  return new RedisStreamsTransport(cfg, r);
}
