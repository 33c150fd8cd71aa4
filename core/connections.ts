/**
 * Connections to MongoDB and Redis, and BullMQ queue handles, owned in one place so
 * `close()` releases everything (and is safe to call twice).
 */
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import type { Config } from './config.js';
import { QUEUES } from './contract.js';
import { ServiceError } from './errors.js';
import { redactUrl } from './redact.js';

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export function redisClient(cfg: Pick<Config, 'redisUrl'>): Redis {
  // BullMQ requires maxRetriesPerRequest: null for blocking connections.
  return new Redis(cfg.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
}

export class Connections {
  readonly cfg: Config;
  readonly mongo: MongoClient;
  readonly db: Db;
  private readonly redisClients: Redis[] = [];
  private readonly queues = new Map<QueueName, Queue>();
  private readonly events: QueueEvents[] = [];
  private closed = false;

  private constructor(cfg: Config, mongo: MongoClient) {
    this.cfg = cfg;
    this.mongo = mongo;
    this.db = mongo.db(cfg.db);
  }

  static async open(cfg: Config): Promise<Connections> {
    const mongo = new MongoClient(cfg.mongoUrl, { serverSelectionTimeoutMS: 10_000, maxPoolSize: 20 });
    try {
      await mongo.connect();
    } catch (err) {
      throw new ServiceError('mongodb', `cannot connect to ${redactUrl(cfg.mongoUrl)}; run "lnm-backfill services up" or set MONGO_URL`, err);
    }
    return new Connections(cfg, mongo);
  }

  /** A Redis connection owned by these connections (closed by `close()`). */
  redis(): Redis {
    const r = redisClient(this.cfg);
    this.redisClients.push(r);
    return r;
  }

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis(), prefix: this.cfg.queuePrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  queueEvents(name: QueueName): QueueEvents {
    const e = new QueueEvents(name, { connection: this.redis(), prefix: this.cfg.queuePrefix });
    this.events.push(e);
    return e;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.events.map((e) => e.close()), ...[...this.queues.values()].map((q) => q.close())]);
    await Promise.allSettled(this.redisClients.map((r) => r.quit()));
    await this.mongo.close();
  }
}
