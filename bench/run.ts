/**
 * Benchmark: seed N synthetic documents into a fresh database, then time import,
 * planning and the real run with W local worker processes; prints one JSON line.
 *   npm run bench -- [docs=20000] [workers=2] [batch=500]
 * Uses MONGO_URL/REDIS_URL/LNM_* like the CLI; database `<LNM_DB>_bench`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { childEnv, loadConfig } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { obliterateAll } from '../core/jobs.js';
import { servicesUp } from '../core/services/services.js';

const CLI = fileURLToPath(new URL('../bin/lnm-backfill.js', import.meta.url));

async function cli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ ms: number; out: string; peakRssKb: number }> {
  const t = Date.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${err.slice(-2000)}`);
  const rss = Number(err.trim().split('\n').pop());
  return { ms: Date.now() - t, out: out.trim().split('\n').pop() ?? '', peakRssKb: Number.isFinite(rss) ? rss : -1 };
}

const [docs = 20_000, workers = 2, batch = 500] = process.argv.slice(2).map(Number);
const base = loadConfig();
await servicesUp(base);
const cfg = { ...base, db: `${base.db}_bench`, queuePrefix: `${base.queuePrefix}-bench` };
const conns = await Connections.open(cfg);
await conns.db.dropDatabase();
await obliterateAll(conns);
await conns.close();
const env = { ...childEnv(cfg), LNM_LOG_LEVEL: 'warn' };
const seed = await cli(env, ['seed', '--docs', String(docs), '--seed', '1', '--tenants', '3', '--json']);
const run = await cli(env, ['start', '--wait', `--batch-size=${batch}`, `--local-workers=${workers}`, '--json']);
const result = JSON.parse(run.out) as { edges_inserted: number; state: string; shards: number };
process.stdout.write(
  `${JSON.stringify({
    docs,
    workers,
    batch,
    seed_and_import_s: seed.ms / 1000,
    run_s: run.ms / 1000,
    docs_per_s: Math.round(docs / (run.ms / 1000)),
    edges: result.edges_inserted,
    shards: result.shards,
    state: result.state,
    producer_peak_rss_mb: Math.round(run.peakRssKb / 1024),
  })}\n`,
);
