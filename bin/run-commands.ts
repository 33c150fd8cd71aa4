/** The run commands behind the CLI: start, worker, status, validate. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { childEnv, type Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { assertRunId } from '../core/contract.js';
import { summarizeRun, type RunSummary } from '../core/store/summary.js';
import { startRun } from '../producer/start.js';
import { followRun } from './follow.js';
import { LocalWorkers } from './local-workers.js';
import { reportBytes, validateRun, type ValidationResult } from '../monitor/validate.js';
import { startWorker } from '../workers/worker.js';
import { Monitor } from '../monitor/monitor.js';

export const CLI_PATH = fileURLToPath(new URL('./lnm-backfill.js', import.meta.url));

export interface StartFlags {
  dryRun: boolean;
  batchSize: number;
  stopOnError: boolean;
  tenant: string | null;
  wait: boolean;
  localWorkers: number;
  commandLine: string[];
}

/** The `--json` result of `start`, also used by the demo's summary. */
export function runResult(s: RunSummary) {
  return {
    run_id: s.run._id,
    state: s.run.state,
    dry_run: s.run.dry_run,
    shards: s.shards.total,
    docs: s.counts.docs,
    edges_inserted: s.counts.edges_inserted,
    tombstones_inserted: s.counts.tombstones_inserted,
    idempotent_hits: s.counts.idempotent_hits,
    violations: s.counts.violations,
    errors: s.counts.errors,
    ...(s.run.error ? { error: s.run.error } : {}),
  };
}

/**
 * `start`: plan and enqueue; with `--wait`, follow the run to its end with an in-process
 * monitor (it acts only if no other monitor holds the leader lock).
 */
export async function cmdStart(cfg: Config, log: Logger, flags: StartFlags): Promise<RunSummary> {
  const conns = await Connections.open(cfg);
  const workers = new LocalWorkers(CLI_PATH);
  let monitor: Monitor | undefined;
  const stopWorkers = () => void workers.stop();
  process.once('SIGINT', stopWorkers);
  try {
    const run = await startRun(conns, { ...flags }, log);
    process.stderr.write(`run ${run._id}: ${run.shards_total} shard(s), ${run.snapshot?.docs ?? 0} document(s)${run.dry_run ? ' (dry run)' : ''}\n`);
    if (!flags.wait) return await summarizeRun(conns.db, run._id);
    workers.start(flags.localWorkers, childEnv(cfg));
    const m = (monitor = new Monitor(conns, log));
    return await followRun(conns, run._id, log, {
      out: process.stderr,
      tty: process.stderr.isTTY === true,
      tick: async () => {
        await m.tick();
      },
    });
  } finally {
    process.removeListener('SIGINT', stopWorkers);
    await monitor?.close();
    await workers.stop();
    await conns.close();
  }
}

export async function cmdWorker(cfg: Config, log: Logger, concurrency: number | undefined): Promise<void> {
  const w = await startWorker(cfg, log, concurrency === undefined ? {} : { concurrency });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping worker: finishing the current shard');
      void w.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

export async function cmdStatus(cfg: Config, runId: string): Promise<RunSummary> {
  const conns = await Connections.open(cfg);
  try {
    return await summarizeRun(conns.db, assertRunId(runId, 'run'));
  } finally {
    await conns.close();
  }
}

export async function cmdValidate(cfg: Config, runId: string, outDir: string | undefined): Promise<ValidationResult & { file?: string }> {
  const conns = await Connections.open(cfg);
  try {
    const result = await validateRun(conns.db, assertRunId(runId, 'run'));
    if (!outDir) return result;
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, 'report.json');
    writeFileSync(file, reportBytes(result.report));
    writeFileSync(`${file}.sha256`, `${result.report_sha256}  report.json\n`);
    return { ...result, file };
  } finally {
    await conns.close();
  }
}
