/**
 * `demo`: the main job end to end on bundled and seeded data, in its own database and
 * queue prefix (`<LNM_DB>_demo`, `<LNM_QUEUE_PREFIX>-demo`), which it resets first.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { QUEUES } from '../core/contract.js';
import { COLL } from '../core/store/collections.js';
import { edgeDigest, edgeLine } from '../core/supersedes.js';
import { servicesUp } from '../core/services/services.js';
import { importCorpus } from '../producer/import.js';
import { cmdSeed } from './seed-command.js';
import { cmdStart, cmdValidate, runResult } from './run-commands.js';

const FIXTURE = fileURLToPath(new URL('../../data/rustsec/', import.meta.url));
const SYNTHETIC_DOCS = 20_000;

async function tenantDigest(conns: Connections, tenant: string): Promise<{ edges: number; digest: string }> {
  const lines: string[] = [];
  for await (const e of conns.db.collection(COLL.supersedes).find({ tenant })) {
    lines.push(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
  }
  return { edges: lines.length, digest: edgeDigest(lines) };
}

export async function cmdDemo(base: Config, log: Logger): Promise<number> {
  const t0 = Date.now();
  const say = (s: string) => process.stderr.write(`demo: ${s}\n`);
  say('making Redis and MongoDB available');
  await servicesUp(base, log);
  const cfg: Config = Object.freeze({ ...base, db: `${base.db}_demo`, queuePrefix: `${base.queuePrefix}-demo` });
  const conns = await Connections.open(cfg);
  let rustsec: { edges: number; digest: string };
  try {
    say(`resetting database ${cfg.db} and queues ${cfg.queuePrefix}:*`);
    await conns.db.dropDatabase();
    for (const q of Object.values(QUEUES)) await conns.queue(q).obliterate({ force: true });
    say('importing the bundled rustsec corpus (tenant "default")');
    const imp = await importCorpus(conns.db, `${FIXTURE}advisory_raw.jsonl.gz`, { homeDir: cfg.homeDir }, log);
    say(`  accepted ${imp.accepted}, idempotency hits ${imp.duplicates}, rejected ${JSON.stringify(imp.rejected)}`);
    say(`seeding ${SYNTHETIC_DOCS} synthetic documents (tenants tenant-1, tenant-2)`);
    await cmdSeed(cfg, log, { docs: SYNTHETIC_DOCS, seed: 42, tenants: 2, out: undefined });
  } finally {
    await conns.close();
  }
  const flags = { batchSize: cfg.batchSize, stopOnError: true, tenant: null, wait: true, localWorkers: 2 };
  say('dry run (zero writes to advisory_*)');
  const dry = await cmdStart(cfg, log, { ...flags, dryRun: true, commandLine: ['lnm-backfill', 'start', '--dry-run', '--wait', '--local-workers=2'] });
  say(`  would insert ${dry.counts.edges_inserted} edges, ${dry.counts.tombstones_inserted} tombstones`);
  say('real run: --batch-size=500 --stop-on-error, 2 local workers');
  const t1 = Date.now();
  const real = await cmdStart(cfg, log, { ...flags, dryRun: false, commandLine: ['lnm-backfill', 'start', '--stop-on-error', '--wait', '--local-workers=2'] });
  const runS = (Date.now() - t1) / 1000;
  const val = await cmdValidate(cfg, real.run._id, undefined);
  const check = await Connections.open(cfg);
  try {
    rustsec = await tenantDigest(check, 'default');
  } finally {
    await check.close();
  }
  const expected = JSON.parse(readFileSync(`${FIXTURE}expected.json`, 'utf8')) as { expected_supersedes_edges: number; edges_sha256_oracle_format: string };
  const rustsecOk = rustsec.edges === expected.expected_supersedes_edges && rustsec.digest === expected.edges_sha256_oracle_format;
  const summary = {
    ...runResult(real),
    documents: val.report.documents,
    advisories: val.report.advisories,
    tombstones: val.report.tombstones.present,
    validation_ok: val.report.ok,
    report_sha256: val.report_sha256,
    dry_run_edges: dry.counts.edges_inserted,
    rustsec: { edges: rustsec.edges, expected: expected.expected_supersedes_edges, digest_matches: rustsecOk },
    run_elapsed_s: Number(runS.toFixed(1)),
    docs_per_s: Math.round(val.report.documents / runS),
    total_elapsed_s: Number(((Date.now() - t0) / 1000).toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const ok = real.run.state === 'succeeded' && val.report.ok && rustsecOk && dry.counts.edges_inserted === real.counts.edges_inserted;
  say(ok ? 'OK' : 'FAILED: see the summary above');
  return ok ? 0 : 1;
}
