/** `seed`: a deterministic synthetic corpus, to a JSONL file or through `import` into the database. */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { importCorpus, type ImportResult } from '../producer/import.js';
import { writeCorpusFile } from '../producer/seed.js';

export interface SeedFlags {
  docs: number;
  seed: number;
  tenants: number;
  out: string | undefined;
}

export async function cmdSeed(cfg: Config, log: Logger, f: SeedFlags): Promise<{ file: string; docs: number; import?: ImportResult }> {
  const opts = { docs: f.docs, seed: f.seed, tenants: f.tenants };
  if (f.out) return { file: f.out, docs: await writeCorpusFile(f.out, opts) };
  // A private temporary file: two seeds at once must not truncate each other's input.
  const file = path.join(cfg.homeDir, 'seed', `seed-${f.docs}-${f.seed}-${f.tenants}-${process.pid}.jsonl.gz`);
  mkdirSync(path.dirname(file), { recursive: true });
  const docs = await writeCorpusFile(file, opts);
  const conns = await Connections.open(cfg);
  try {
    return { file, docs, import: await importCorpus(conns.db, file, { homeDir: cfg.homeDir }, log) };
  } finally {
    rmSync(file, { force: true });
    await conns.close();
  }
}
