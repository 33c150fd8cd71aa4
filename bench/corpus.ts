/**
 * A fresh database per case: its own LNM_DB and queue prefix, migrated, with the seeded
 * corpus of its size imported through the real CLI; removed again after the case.
 * The corpus is generated once per size to a file (`seed --out`), then imported.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { childEnv, loadConfig, type Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { obliterateAll } from '../core/jobs.js';
import { runCli } from './proc.js';

export const SEED = 1;
export const TENANTS = 3;

export interface CaseEnv {
  name: string;
  cfg: Config;
  env: NodeJS.ProcessEnv;
  conns: Connections;
  logFile: string;
}

export function benchDir(base: Config): string {
  const dir = path.join(base.homeDir, 'bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `10000` → `10k`, `1000000` → `1m`: short names for databases and prefixes. */
export function sizeName(docs: number): string {
  if (docs % 1_000_000 === 0) return `${docs / 1_000_000}m`;
  if (docs % 1000 === 0) return `${docs / 1000}k`;
  return String(docs);
}

function cliEnv(cfg: Config): NodeJS.ProcessEnv {
  return { ...childEnv(cfg), LNM_LOG_LEVEL: 'warn' };
}

async function cli(c: { env: NodeJS.ProcessEnv; logFile: string }, args: string[]): Promise<{ ms: number; out: string }> {
  const r = await runCli(c.env, args, c.logFile);
  if (r.code !== 0) throw new Error(`lnm-backfill ${args.join(' ')} exited ${r.code} (see ${c.logFile})`);
  return r;
}

/** The seeded corpus file of this size (generated once; deterministic for the seed). */
export async function corpusFile(base: Config, docs: number): Promise<string> {
  const file = path.join(benchDir(base), `corpus-${docs}-s${SEED}-t${TENANTS}.jsonl.gz`);
  if (!existsSync(file)) {
    const logFile = path.join(benchDir(base), 'seed.log');
    await cli({ env: cliEnv(base), logFile }, ['seed', `--docs=${docs}`, `--seed=${SEED}`, `--tenants=${TENANTS}`, `--out=${file}.tmp.jsonl.gz`, '--json']);
    await rename(`${file}.tmp.jsonl.gz`, file);
  }
  return file;
}

async function wipe(conns: Connections): Promise<void> {
  await conns.db.dropDatabase();
  await obliterateAll(conns);
  const redis = conns.sharedRedis();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${conns.cfg.queuePrefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A fresh, migrated database holding the corpus of `docs` documents; returns it with the import's time and count. */
export async function freshCase(base: Config, docs: number, kind: string): Promise<{ c: CaseEnv; import_s: number; accepted: number }> {
  const name = `bench_${sizeName(docs)}_${kind}`;
  const cfg = loadConfig({ ...process.env, LNM_DB: `${base.db}_${name}`, LNM_QUEUE_PREFIX: `${base.queuePrefix}-${name.replace(/_/g, '-')}` });
  const conns = await Connections.open(cfg);
  await wipe(conns);
  const c: CaseEnv = { name, cfg, env: cliEnv(cfg), conns, logFile: path.join(benchDir(base), `${name}.log`) };
  await cli(c, ['migrate', '--json']);
  const r = await cli(c, ['import', await corpusFile(base, docs), '--json']);
  return { c, import_s: r.ms / 1000, accepted: (JSON.parse(r.out) as { accepted: number }).accepted };
}

/** Remove the case's database and Redis keys and close its connections. */
export async function disposeCase(c: CaseEnv): Promise<void> {
  try {
    await wipe(c.conns);
  } finally {
    await c.conns.close();
  }
}
