/**
 * Connections to MongoDB and Redis, and typed BullMQ queue handles, owned in one place so
 * `close()` releases everything (and is safe to call twice). `withConnections` opens,
 * runs a function and always closes.
 */
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import type { Config } from './config.js';
import { CONTRACT, type JobData, type JobName, type QueueKey } from './contract.js';
import { ServiceError } from './errors.js';

/** A BullMQ queue typed by the contract: its payload and job name. */
export type TypedQueue<K extends QueueKey> = Queue<JobData<K>, unknown, JobName<K>>;

export function redisClient(cfg: Pick<Config, 'redisUrl'>): Redis {
  // BullMQ requires maxRetriesPerRequest: null for blocking connections.
  return new Redis(cfg.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
}

export class Connections {
  readonly cfg: Config;
  readonly mongo: MongoClient;
  readonly db: Db;
  private readonly redisClients: Redis[] = [];
  private readonly queues = new Map<QueueKey, Queue>();
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
      throw new ServiceError('mongodb', `cannot connect to ${cfg.mongoUrl}; run "lnm-backfill services up" or set MONGO_URL`, err);
    }
    return new Connections(cfg, mongo);
  }

  /** A Redis connection owned by these connections (closed by `close()`). */
  redis(): Redis {
    const r = redisClient(this.cfg);
    this.redisClients.push(r);
    return r;
  }

  queue<K extends QueueKey>(key: K): TypedQueue<K> {
    let q = this.queues.get(key);
    if (!q) {
      q = new Queue(CONTRACT[key].name, { connection: this.redis(), prefix: this.cfg.queuePrefix });
      this.queues.set(key, q);
    }
    return q as TypedQueue<K>;
  }

  queueEvents(key: QueueKey): QueueEvents {
    const e = new QueueEvents(CONTRACT[key].name, { connection: this.redis(), prefix: this.cfg.queuePrefix });
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

/** Open connections, run `fn`, close them whatever happens. */
export async function withConnections<T>(cfg: Config, fn: (conns: Connections) => Promise<T>): Promise<T> {
  const conns = await Connections.open(cfg);
  try {
    return await fn(conns);
  } finally {
    await conns.close();
  }
}
