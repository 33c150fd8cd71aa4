/**
 * The chaos corpus, seeded once per suite invocation instead of once per scenario: the
 * global setup starts a FerretDB on a PostgreSQL database of its own, migrates it, seeds
 * the CORPUS_DOCS documents through the CLI, computes the expected edges from advisory_raw
 * with the oracle, and stops it keeping the database. Each scenario's FerretDB then starts
 * on a `CREATE DATABASE … TEMPLATE` copy of it (servers.ts): a file copy inside
 * PostgreSQL instead of an import of 20 000 documents. Every scenario still ends checking
 * the copy's raw and observation counts and the edge digest against the expectation.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { migrateDatabase } from '../../api/index.js';
import { Connections } from '../../core/connections.js';
import { cliJson, pipelineConfig, removeHome } from '../helpers/env.js';
import { independentEdges, type IndependentEdges, type SeedJson } from '../helpers/oracle.js';
import { CORPUS_DOCS, CORPUS_SEED } from './corpus.js';
import { resultsDir } from './results.js';
import { OwnFerret } from './servers.js';

/** The MongoDB database name inside every copy of the template (each copy has its own FerretDB and PostgreSQL database). */
export const CORPUS_DB = 'chaos_corpus';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL database holding the seeded corpus ('' when the suite runs on a given MONGO_URL). */
    chaosTemplate: string;
  }
}

export const SEED_ARGS = ['seed', '--docs', String(CORPUS_DOCS), '--seed', String(CORPUS_SEED), '--tenants', '2', '--json'];

/** The seed's import must have accepted the whole corpus. */
export function checkSeed(seed: SeedJson): void {
  const i = seed.import;
  if (i?.accepted !== CORPUS_DOCS || i.duplicates !== 0 || Object.keys(i.rejected ?? {}).length > 0) {
    throw new Error(`the chaos corpus was not seeded whole: ${JSON.stringify(i)}`);
  }
}

/**
 * The expected edges of the seeded corpus, computed from advisory_raw by the oracle once
 * per suite invocation (every scenario runs over the same deterministic corpus; a scenario
 * whose corpus differed would fail on the digest, never pass by it).
 */
export async function expectedEdges(conns: Connections): Promise<IndependentEdges> {
  const file = path.join(resultsDir(), `expected-${CORPUS_DOCS}-${CORPUS_SEED}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as IndependentEdges;
  const x = await independentEdges(conns.db);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(x));
  return x;
}

/** Seed the corpus into a new PostgreSQL database and return its name (the template). */
export async function buildTemplate(): Promise<string> {
  const ferret = await OwnFerret.start({ pgDb: `lnm_chaos_tmpl_${process.pid}` });
  const { cfg, home } = pipelineConfig('chaos_tmpl', { MONGO_URL: ferret.url, LNM_DB: CORPUS_DB, LNM_LOG_LEVEL: 'warn' });
  try {
    await migrateDatabase({ config: cfg });
    checkSeed(await cliJson<SeedJson>(cfg, SEED_ARGS, { env: { LNM_LOG_LEVEL: 'warn' } }));
    const conns = await Connections.open(cfg);
    try {
      const x = await expectedEdges(conns);
      if (x.documents !== CORPUS_DOCS) throw new Error(`the oracle saw ${x.documents} documents, not ${CORPUS_DOCS}`);
    } finally {
      await conns.close();
    }
  } catch (err) {
    await ferret.close();
    throw err;
  } finally {
    removeHome(home);
  }
  await ferret.close({ keepDatabase: true });
  return ferret.pgDb;
}
