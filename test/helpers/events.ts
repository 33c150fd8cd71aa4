/**
 * Event-path test helpers: a configuration with its own JetStream stream, subject prefix
 * and Redis key prefix (parallel test files never read each other's events), cleanup of
 * what the transport retained, a background publisher, and small corpora.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { once } from 'node:events';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import type { Config } from '../../core/config.js';
import { natsSubjects } from '../../core/events/transport.js';
import type { Connections } from '../../core/connections.js';
import { openTransport } from '../../core/events/open.js';
import type { RunDoc } from '../../core/store/runs.js';
import { startRun } from '../../producer/start.js';
import { processShard, shardContext } from '../../workers/shard-processor.js';
import { runPublisher, type PublisherStats } from '../../workers/publisher.js';
import { pipelineConfig } from './env.js';
import { settleInProcess } from './oracle.js';
import { quietLog, RUSTSEC } from './env.js';

export type TransportKind = 'nats' | 'redis';

/** A pipeline config for one transport (its stream, subjects and keys are the file's own, as every test config's). */
export function eventsConfig(name: string, transport: TransportKind, extra: Record<string, string> = {}): { cfg: Config; home: string } {
  return pipelineConfig(`${name}_${transport}`, {
    LNM_EVENT_TRANSPORT: transport,
    LNM_PUBLISHER_POLL_MS: '50',
    LNM_HEARTBEAT_MS: '200',
    ...extra,
  });
}

const linksetStream = (cfg: Config): string => `${cfg.events.natsStream}_LINKSET`;

/**
 * On NATS, a stream of the test's own that retains the linkset subject, as the system that
 * publishes `advisory.linkset.updated` would have (this tool never creates one): without
 * it the freeze-window proof is `unverified`. On Redis a stream key is retained by itself.
 */
export async function retainLinkset(cfg: Config): Promise<void> {
  if (cfg.events.transport !== 'nats') return;
  const nc = await connect({ servers: cfg.events.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: linksetStream(cfg), subjects: [natsSubjects(cfg.events).linkset] });
  } finally {
    await nc.close();
  }
}

/** Remove the test's JetStream streams and Redis keys (never anything else); fails fast when a server is gone. */
export async function dropTransport(cfg: Config): Promise<void> {
  const nc = await connect({ servers: cfg.events.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(cfg.events.natsStream).catch(() => undefined);
    await jsm.streams.delete(linksetStream(cfg)).catch(() => undefined);
  } finally {
    await nc.close();
  }
  const r = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${cfg.events.redisPrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Every eventId the transport retained on the observation channel (in stream order). */
export async function retainedEventIds(cfg: Config, since = new Date(0)): Promise<string[]> {
  const t = await openTransport(cfg);
  try {
    const r = await t.countRange('observation', since, new Date(Date.now() + 60_000), 1_000_000);
    expectCount(r.count, r.sample.length);
    return r.sample;
  } finally {
    await t.close();
  }
}

function expectCount(count: number, sampled: number): void {
  if (count !== sampled) throw new Error(`sample (${sampled}) does not cover the count (${count})`);
}

/** A publisher running in this process until `stop()`. */
export function backgroundPublisher(conns: Connections): { stop: () => Promise<PublisherStats>; done: Promise<PublisherStats> } {
  const ac = new AbortController();
  const done = runPublisher(conns, quietLog, { signal: ac.signal });
  return {
    done,
    stop: async () => {
      ac.abort();
      return done;
    },
  };
}

/** The first `n` lines of the rustsec corpus, as a JSONL file in `dir`. */
export async function rustsecHead(dir: string, n: number, name = `head-${n}.jsonl`): Promise<string> {
  const file = path.join(dir, name);
  const out = createWriteStream(file);
  const lines = createInterface({ input: createReadStream(RUSTSEC).pipe(createGunzip()), crlfDelay: Infinity });
  let i = 0;
  for await (const line of lines) {
    if (i++ >= n) break;
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  lines.close();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return file;
}

/**
 * A whole run in this process, no queue consumer: plan, process every shard, finalize.
 * (The jobs `startRun` enqueues stay in the test's own queue prefix until cleanup.)
 */
export async function runInProcess(conns: Connections, opts: { dryRun: boolean; batchSize?: number; force?: { reason: string } }): Promise<RunDoc> {
  const run = await startRun(conns, { dryRun: opts.dryRun, batchSize: opts.batchSize ?? 100, stopOnError: false, tenant: null, commandLine: ['test'], ...(opts.force ? { force: opts.force } : {}) }, quietLog);
  for (let shard = 0; shard < run.shards_total; shard++) {
    await processShard(shardContext(conns, quietLog), { run_id: run._id, shard });
  }
  return settleInProcess(conns, run._id);
}
