#!/usr/bin/env node
/** lnm-backfill: a thin router over the commands. Results go to stdout, logs to stderr. */
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { ConfigError, errorSummary, LnmError } from '../core/errors.js';
import { servicesDown, servicesStatus, servicesUp } from '../core/services/services.js';
import { Connections } from '../core/connections.js';
import { importCorpus } from '../producer/import.js';
import { cmdStart, cmdStatus, cmdValidate, cmdWorker, runResult } from './run-commands.js';
import { cmdSeed } from './seed-command.js';
import { cmdDemo } from './demo.js';
import { cmdControl, cmdMonitor, cmdRollback } from './control-commands.js';

const USAGE = `usage: lnm-backfill <command> [options]

  services up|down|status [--json]      make Redis and a MongoDB-wire server available
  import <file.jsonl[.gz]> [--rejects F] [--json]
  seed --docs N [--seed S] [--tenants T] [--out F.jsonl[.gz]] [--json]
  start [--dry-run] [--batch-size=500] [--stop-on-error] [--tenant=T] [--wait] [--local-workers=N] [--json]
  worker [--concurrency=N]
  status <run> [--json]
  validate <run> [--out DIR] [--json]
  monitor                                stop-on-error, thresholds, throttling, alerts (one acts per deployment)
  pause|resume|cancel <run> [--force]    --force settles a stuck pausing/cancelling after the grace period
  rollback <run> [--json]                remove exactly what the run wrote; verifies nothing remains
  demo                                   services, seed, dry run, real run, validate, summary

Configuration comes from the environment (MONGO_URL, REDIS_URL, LNM_DB, LNM_QUEUE_PREFIX, ...; see README).`;

function print(value: unknown, json: boolean, text?: string): void {
  process.stdout.write(json || text === undefined ? `${JSON.stringify(value, null, json ? 0 : 2)}\n` : `${text}\n`);
}

function intFlag(v: string | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${name}`, `expected an integer >= ${min}, got "${v}"`);
  return n;
}

async function main(argv: string[], cfg: Config, log: Logger): Promise<number> {
  const [command, ...rest] = argv;
  const { values: o, positionals: pos } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      'stop-on-error': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      tenant: { type: 'string' },
      'local-workers': { type: 'string' },
      concurrency: { type: 'string' },
      rejects: { type: 'string' },
      docs: { type: 'string' },
      seed: { type: 'string' },
      tenants: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const json = o.json === true;
  switch (command) {
    case 'services': {
      const sub = pos[0];
      if (sub === 'up') {
        const s = await servicesUp(cfg, log);
        print(json ? { mongo_url: s.mongo_url, redis_url: s.redis_url } : s, json);
      } else if (sub === 'down') print(await servicesDown(cfg, log), json);
      else if (sub === 'status') print(await servicesStatus(cfg), json);
      else throw new ConfigError('services', 'expected up, down or status');
      return 0;
    }
    case 'import': {
      const file = pos[0];
      if (!file) throw new ConfigError('import', 'expected a file argument');
      const conns = await Connections.open(cfg);
      try {
        const r = await importCorpus(conns.db, file, { homeDir: cfg.homeDir, ...(o.rejects ? { rejectsFile: o.rejects } : {}) }, log);
        print(json ? { accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected } : r, json);
      } finally {
        await conns.close();
      }
      return 0;
    }
    case 'seed':
      print(await cmdSeed(cfg, log, { docs: intFlag(o.docs, 'docs', 10_000), seed: intFlag(o.seed, 'seed', 1, 0), tenants: intFlag(o.tenants, 'tenants', 1), out: o.out }), json);
      return 0;
    case 'start': {
      const s = await cmdStart(cfg, log, {
        dryRun: o['dry-run'] === true,
        batchSize: intFlag(o['batch-size'], 'batch-size', cfg.batchSize),
        stopOnError: o['stop-on-error'] === true,
        tenant: o.tenant ?? null,
        wait: o.wait === true,
        localWorkers: intFlag(o['local-workers'], 'local-workers', 0, 0),
        commandLine: ['lnm-backfill', ...argv],
      });
      print(runResult(s), json);
      return s.run.state === 'failed' || s.run.state === 'rolled_back' ? 1 : 0;
    }
    case 'worker':
      await cmdWorker(cfg, log, o.concurrency === undefined ? undefined : intFlag(o.concurrency, 'concurrency', 1));
      return 0;
    case 'status': {
      const s = await cmdStatus(cfg, pos[0] ?? '');
      print(json ? { ...runResult(s), shards_done: s.shards.done, shards_failed: s.shards.failed, docs_per_s: s.docs_per_s, eta_s: s.eta_s } : s, json);
      return 0;
    }
    case 'validate': {
      const r = await cmdValidate(cfg, pos[0] ?? '', o.out);
      print(json ? { ok: r.report.ok, edges: r.report.edges, observations: r.report.observations, report_sha256: r.report_sha256, report: r.report } : r, json);
      return r.report.ok ? 0 : 1;
    }
    case 'monitor':
      await cmdMonitor(cfg, log);
      return 0;
    case 'pause':
    case 'resume':
    case 'cancel': {
      const run = await cmdControl(cfg, log, command, pos[0] ?? '', o.force === true);
      print({ run_id: run._id, state: run.state, reason: run.state_reason ?? null }, json);
      return 0;
    }
    case 'rollback':
      print(await cmdRollback(cfg, log, pos[0] ?? ''), json);
      return 0;
    case 'demo':
      return cmdDemo(cfg, log);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new ConfigError('command', `unknown command "${command}"\n${USAGE}`);
  }
}

let cfg: Config;
try {
  cfg = loadConfig();
} catch (err) {
  process.stderr.write(`lnm-backfill: ${(err as Error).message}\n`);
  process.exit(2);
}
const log = createLogger(cfg);
main(process.argv.slice(2), cfg, log).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const s = errorSummary(err);
    log.error({ err }, 'command failed');
    process.stderr.write(`lnm-backfill: ${s.code}: ${s.message}\n`);
    process.exitCode = err instanceof LnmError && err.code === 'ERR_CONFIG' ? 2 : 1;
  },
);
