/**
 * Event-path benchmark: import the rustsec corpus (one outbox row per new observation),
 * a real run processed in this process (one row per changed observation), then drain the
 * outbox through the publisher and time `--replay-one`; prints one JSON line.
 *   npm run build && node dist/bench/events.js [nats|redis]
 * Uses MONGO_URL/REDIS_URL/NATS_URL like the CLI; its own database, stream and keys,
 * removed at the end.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { obliterateAll } from '../core/jobs.js';
import { applyMigrations } from '../core/store/migrations.js';
import { outboxColl } from '../core/store/outbox.js';
import { getRun } from '../core/store/runs.js';
import { replayOne } from '../producer/freeze.js';
import { importCorpus } from '../producer/import.js';
import { startRun } from '../producer/start.js';
import { runPublisher } from '../workers/publisher.js';
import { processShard, shardContext } from '../workers/shard-processor.js';

const RUSTSEC = fileURLToPath(new URL('../../data/rustsec/advisory_raw.jsonl.gz', import.meta.url));
const transport = process.argv[2] === 'redis' ? 'redis' : 'nats';
const base = loadConfig();
const cfg = loadConfig({
  ...process.env,
  LNM_DB: `${base.db}_bench_events`,
  LNM_QUEUE_PREFIX: `${base.queuePrefix}-bench-events`,
  LNM_EVENT_TRANSPORT: transport,
  LNM_NATS_STREAM: 'LNM_BENCH_EVENTS',
  LNM_EVENT_SUBJECT_PREFIX: 'lnm_bench_events',
  LNM_EVENT_REDIS_PREFIX: 'lnm_bench_events',
});
const log = pino({ level: 'silent' });
const secs = (t: number): number => Math.round((Date.now() - t) / 10) / 100;

const conns = await Connections.open(cfg);
try {
  await conns.db.dropDatabase();
  await applyMigrations(conns.db, cfg);
  let t = Date.now();
  const imported = await importCorpus(conns.db, RUSTSEC, { homeDir: cfg.homeDir }, log);
  const importS = secs(t);
  t = Date.now();
  const run = await startRun(conns, { dryRun: false, batchSize: 500, stopOnError: false, tenant: null, commandLine: ['bench'], force: { reason: 'benchmark' } }, log);
  for (let shard = 0; shard < run.shards_total; shard++) await processShard(shardContext(conns, log), { run_id: run._id, shard });
  const runS = secs(t);
  const rows = await outboxColl(conns.db).countDocuments({});
  t = Date.now();
  const ac = new AbortController();
  const publisher = runPublisher(conns, log, { signal: ac.signal });
  // An existence check, not a count: FerretDB counts by a full scan (1.4 s here).
  while (await outboxColl(conns.db).findOne({ pending: true }, { projection: { _id: 1 } })) await sleep(200);
  const publishS = secs(t);
  ac.abort();
  const stats = await publisher;
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) latencies.push((await replayOne(conns)).latency_ms);
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      transport,
      import: { docs: imported.accepted, seconds: importS },
      run: { run_id: run._id, shards: (await getRun(conns.db, run._id)).shards_total, seconds: runS, backfill_rows: rows - imported.accepted },
      publish: { rows, seconds: publishS, events_per_s: Math.round(rows / publishS), published: stats.published, pages: stats.pages },
      replay_one_ms: { min: latencies[0], median: latencies[2], max: latencies[4] },
    })}\n`,
  );
} finally {
  await obliterateAll(conns);
  await conns.db.dropDatabase();
  await conns.close();
  if (transport === 'nats') {
    const nc = await connect({ servers: cfg.events.natsUrl });
    await (await jetstreamManager(nc)).streams.delete(cfg.events.natsStream).catch(() => undefined);
    await nc.close();
  } else {
    const r = new Redis(cfg.redisUrl);
    await r.del(`lnm_bench_events:advisory.observation.updated:v1`);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', 'lnm_bench_events:dedupe:*', 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await r.quit();
  }
}
