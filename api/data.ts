/** Getting a corpus in: import a JSONL(.gz) file through the AOC guard, or seed a synthetic one. */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { withConnections } from '../core/connections.js';
import { recordImport } from '../core/store/imports.js';
import { importCorpus as importFile, type ImportResult } from '../producer/import.js';
import { writeCorpusFile } from '../producer/seed.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { ImportResult };

export interface ImportOptions extends ApiOptions {
  /** Where rejected lines go (default: under LNM_HOME/rejects). */
  rejectsFile?: string;
}

export async function importCorpus(file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const started_at = new Date();
    const r = await importFile(conns.db, file, { homeDir: cfg.homeDir, ...(opts.rejectsFile ? { rejectsFile: opts.rejectsFile } : {}) }, log);
    // Recorded for the evidence of later runs (the rejects file it names is copied into it).
    const { lines, accepted, duplicates, out_of_order_duplicates, rejected } = r;
    const rejects_file = r.rejects_file ? path.resolve(r.rejects_file) : null;
    await recordImport(conns.db, { file: path.resolve(file), rejects_file, lines, accepted, duplicates, out_of_order_duplicates, rejected, started_at, finished_at: new Date() });
    return r;
  });
}

export interface SeedOptions extends ApiOptions {
  docs: number;
  seed?: number;
  tenants?: number;
  /** Write the corpus to this JSONL(.gz) file instead of importing it. */
  out?: string;
}

export interface SeedResult {
  file: string;
  docs: number;
  import?: ImportResult;
}

/** A deterministic synthetic corpus, written to `out` or imported into the database. */
export async function seedCorpus(opts: SeedOptions): Promise<SeedResult> {
  const { cfg } = resolveOptions(opts);
  const gen = { docs: opts.docs, seed: opts.seed ?? 1, tenants: opts.tenants ?? 1 };
  if (opts.out) return { file: opts.out, docs: await writeCorpusFile(opts.out, gen) };
  // A private temporary file: two seeds at once must not truncate each other's input.
  const file = path.join(cfg.homeDir, 'seed', `seed-${gen.docs}-${gen.seed}-${gen.tenants}-${process.pid}.jsonl.gz`);
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    const docs = await writeCorpusFile(file, gen);
    return { file, docs, import: await importCorpus(file, opts) };
  } finally {
    rmSync(file, { force: true });
  }
}
