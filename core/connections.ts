/**
 * Connections to MongoDB and Redis, and typed BullMQ queue handles, owned in one place so
 * `close()` releases everything (and is safe to call twice). `withConnections` opens,
 * runs a function and always closes.
 */
import { MongoClient, type Db } from 'mongodb';
import { Cluster, Redis } from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import type { Config } from './config.js';
import { CONTRACT, shardQueueName, type JobData, type JobName, type QueueKey, type SharedQueueKey } from './contract.js';
import { ServiceError } from './errors.js';
import { redactUrl } from './redact.js';

/** A BullMQ queue typed by the contract: its payload and job name. */
export type TypedQueue<K extends QueueKey> = Queue<JobData<K>, unknown, JobName<K>>;

/**
 * A Redis connection: the single Redis of REDIS_URL, or a Redis Cluster client when
 * REDIS_CLUSTER_NODES is set (BullMQ accepts both; the cluster client answers the same
 * commands, so it is typed as a Redis here). BullMQ requires maxRetriesPerRequest: null.
 */
export function redisClient(cfg: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): Redis {
  if (cfg.redisClusterNodes.length === 0) return new Redis(cfg.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const url = new URL(cfg.redisUrl);
  const auth = { ...(url.username ? { username: decodeURIComponent(url.username) } : {}), ...(url.password ? { password: decodeURIComponent(url.password) } : {}) };
  return new Cluster(cfg.redisClusterNodes, { redisOptions: { maxRetriesPerRequest: null, ...auth } }) as unknown as Redis;
}

/** The master nodes of a cluster client, or the client itself (SCAN and INFO are per node). */
export function redisNodes(redis: Redis): Redis[] {
  const client = redis as unknown;
  return client instanceof Cluster ? client.nodes('master') : [redis];
}

export class Connections {
  readonly cfg: Config;
  readonly mongo: MongoClient;
  readonly db: Db;
  private readonly redisClients: Redis[] = [];
  private shared: Redis | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly events: QueueEvents[] = [];
  private closed = false;

  private constructor(cfg: Config, mongo: MongoClient) {
    this.cfg = cfg;
    this.mongo = mongo;
    this.db = mongo.db(cfg.db);
  }

  /** `monitorCommands`: emit the driver's command events (`conns.mongo.on('commandStarted')`), for diagnostics. */
  static async open(cfg: Config, opts: { monitorCommands?: boolean } = {}): Promise<Connections> {
    const mongo = new MongoClient(cfg.mongoUrl, { serverSelectionTimeoutMS: 10_000, maxPoolSize: 20, monitorCommands: opts.monitorCommands ?? false });
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

  /** One non-blocking Redis connection shared by every queue handle and plain command. */
  sharedRedis(): Redis {
    this.shared ??= this.redis();
    return this.shared;
  }

  /** The shards queue of one run. */
  queue(key: 'shards', runId: string): TypedQueue<'shards'>;
  /** A queue shared by every run. */
  queue<K extends SharedQueueKey>(key: K): TypedQueue<K>;
  queue(key: QueueKey, runId?: string): Queue {
    const name = key === 'shards' ? shardQueueName(runId ?? '') : CONTRACT[key].name;
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.sharedRedis(), prefix: this.cfg.queuePrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Close the handle of a run's shards queue (a long-lived process forgets finished runs). */
  async forgetQueue(runId: string): Promise<void> {
    const name = shardQueueName(runId);
    const q = this.queues.get(name);
    this.queues.delete(name);
    await q?.close();
  }

  queueEvents(name: string): QueueEvents {
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

/** Open connections, run `fn`, close them whatever happens. */
export async function withConnections<T>(cfg: Config, fn: (conns: Connections) => Promise<T>): Promise<T> {
  const conns = await Connections.open(cfg);
  try {
    return await fn(conns);
  } finally {
    await conns.close();
  }
}
