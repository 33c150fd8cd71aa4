/**
 * The chaos suite's global setup: expectations are computed afresh; the corpus is seeded
 * once into a PostgreSQL template that every scenario's FerretDB copies (template.ts),
 * unless MONGO_URL names a server to run on; at the end, RESULTS.md is rewritten and the
 * template dropped.
 */
import type { TestProject } from 'vitest/node';
import { clearExpectations, writeResults } from './results.js';
import { dropPgDatabase } from './servers.js';
import { buildTemplate } from './template.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  clearExpectations();
  const t0 = Date.now();
  const template = process.env.MONGO_URL ? '' : await buildTemplate();
  if (template) process.stderr.write(`chaos corpus seeded into template ${template} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  project.provide('chaosTemplate', template);
  return async () => {
    writeResults();
    if (template) await dropPgDatabase(template);
  };
}
