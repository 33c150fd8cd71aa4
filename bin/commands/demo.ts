/**
 * `demo`: the main job end to end on bundled and seeded data, in its own database and
 * queue prefix (`<LNM_DB>_demo`, `<LNM_QUEUE_PREFIX>-demo`), which it resets first, along
 * the runbook: migrate, import the rustsec history, seed 20 000 synthetic documents,
 * freeze, dry run, two approvals, real run with two local workers, validate, unfreeze
 * with a one-event replay, and check the rustsec edges against the corpus's oracle.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { approveDryRun, freeze, importCorpus, migrateDatabase, seedCorpus, servicesUp, startBackfill, unfreeze, validateRun, waitForRun, type RunStatus } from '../../api/index.js';
import type { Config } from '../../core/config.js';
import { withConnections } from '../../core/connections.js';
import { obliterateAll } from '../../core/jobs.js';
import { COLL } from '../../core/store/collections.js';
import { edgeDigest, edgeLine } from '../../core/supersedes.js';
import type { Command, CommandContext } from '../cli/command.js';
import { ProgressView } from '../progress.js';
import { workerStderr } from './run.js';

const DATA = fileURLToPath(new URL('../../../data/rustsec/', import.meta.url));
const SYNTHETIC_DOCS = 20_000;

async function tenantDigest(cfg: Config, tenant: string): Promise<{ edges: number; digest: string }> {
  return withConnections(cfg, async (conns) => {
    const lines: string[] = [];
    for await (const e of conns.db.collection(COLL.supersedes).find({ tenant })) {
      lines.push(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
    }
    return { edges: lines.length, digest: edgeDigest(lines) };
  });
}

async function reset(cfg: Config): Promise<void> {
  await withConnections(cfg, async (conns) => {
    await conns.db.dropDatabase();
    await obliterateAll(conns);
  });
}

async function runOnce(ctx: CommandContext, cfg: Config, dryRun: boolean): Promise<RunStatus> {
  const o = { config: cfg, log: ctx.log };
  const flags = [...(dryRun ? ['--dry-run'] : []), '--stop-on-error'];
  const queued = await startBackfill({ ...o, dryRun, stopOnError: true, commandLine: ['lnm-backfill', 'start', ...flags, '--wait', '--local-workers=2'] });
  const view = new ProgressView(process.stderr, ctx.tty);
  const final = await waitForRun(queued.run_id, { ...o, localWorkers: 2, workerStderr: workerStderr(ctx), onProgress: view.update });
  view.end();
  return final;
}

export const demo: Command = {
  name: 'demo',
  migrated: false,
  longRunning: true,
  summary: 'services, bundled rustsec + seeded documents, dry run, real run, validation, summary',
  positionals: [],
  options: { docs: { type: 'integer', value: 'N', min: 0, description: `synthetic documents to seed besides rustsec (default ${SYNTHETIC_DOCS})` } },
  async run(ctx) {
    const t0 = Date.now();
    const docs = (ctx.options.docs as number | undefined) ?? SYNTHETIC_DOCS;
    const say = (s: string) => process.stderr.write(`demo: ${s}\n`);
    say('making Redis and MongoDB available');
    await servicesUp({ config: ctx.cfg, log: ctx.log });
    const cfg: Config = Object.freeze({ ...ctx.cfg, db: `${ctx.cfg.db}_demo`, queuePrefix: `${ctx.cfg.queuePrefix}-demo` });
    const o = { config: cfg, log: ctx.log };
    say(`resetting database ${cfg.db} and queues ${cfg.queuePrefix}:*`);
    await reset(cfg);
    await migrateDatabase(o);
    say('importing the bundled rustsec corpus (tenant "default")');
    const imp = await importCorpus(`${DATA}advisory_raw.jsonl.gz`, o);
    say(`  accepted ${imp.accepted}, idempotency hits ${imp.duplicates}, rejected ${JSON.stringify(imp.rejected)}`);
    say(`seeding ${docs} synthetic documents (tenants tenant-1, tenant-2)`);
    await seedCorpus({ ...o, docs, seed: 42, tenants: 2 });
    say('freeze: ingest and the outbox publisher stop for the change window');
    await freeze({ ...o, reason: 'demo change window', by: 'demo' });
    say('dry run (zero writes to advisory_*)');
    const dry = await runOnce(ctx, cfg, true);
    say(`  would insert ${dry.edges_inserted} edges, ${dry.tombstones_inserted} tombstones`);
    say('approvals of the dry run\'s plan: storage (alice), security (bob)');
    await approveDryRun(dry.run_id, { ...o, role: 'storage', by: 'alice', note: 'demo' });
    await approveDryRun(dry.run_id, { ...o, role: 'security', by: 'bob', note: 'demo' });
    say('real run: --batch-size=500 --stop-on-error, 2 local workers');
    const t1 = Date.now();
    const real = await runOnce(ctx, cfg, false);
    const runS = (Date.now() - t1) / 1000;
    const val = await validateRun(real.run_id, o);
    say('unfreeze, with one event replayed and read back from the transport');
    const thawed = await unfreeze({ ...o, reason: 'demo done', by: 'demo', replayOne: true });
    const replay = thawed.replay?.ok ? `event ${thawed.replay.event_id} read back in ${thawed.replay.latency_ms} ms` : `FAILED ${thawed.replay?.code ?? ''}`;
    const rustsec = await tenantDigest(cfg, 'default');
    const expected = JSON.parse(readFileSync(`${DATA}expected.json`, 'utf8')) as { expected_supersedes_edges: number; edges_sha256_oracle_format: string };
    const rustsecOk = rustsec.edges === expected.expected_supersedes_edges && rustsec.digest === expected.edges_sha256_oracle_format;
    const ok = real.state === 'succeeded' && val.report.ok && rustsecOk && dry.edges_inserted === real.edges_inserted && thawed.replay?.ok === true;
    const summary = {
      ok,
      run_id: real.run_id,
      state: real.state,
      documents: val.report.documents,
      advisories: val.report.advisories,
      edges_inserted: real.edges_inserted,
      tombstones: val.report.tombstones.present,
      idempotent_hits: real.idempotent_hits,
      violations: real.violations,
      errors: real.errors,
      validation_ok: val.report.ok,
      report_sha256: val.report_sha256,
      dry_run_edges: dry.edges_inserted,
      rustsec: { edges: rustsec.edges, expected: expected.expected_supersedes_edges, digest_matches: rustsecOk },
      replay_one: thawed.replay,
      run_elapsed_s: Number(runS.toFixed(1)),
      docs_per_s: Math.round(val.report.documents / runS),
      total_elapsed_s: Number(((Date.now() - t0) / 1000).toFixed(1)),
    };
    const text = [
      `demo ${ok ? 'OK' : 'FAILED'}: run ${real.run_id} ${real.state}`,
      `  documents ${summary.documents}, advisories ${summary.advisories}`,
      `  edges ${summary.edges_inserted} (dry run predicted ${summary.dry_run_edges}), tombstones ${summary.tombstones}`,
      `  idempotent hits ${summary.idempotent_hits}, violations ${summary.violations}, errors ${summary.errors}`,
      `  validation ${val.report.ok ? 'ok' : 'FAILED'}, report sha256 ${val.report_sha256}`,
      `  rustsec: ${rustsec.edges}/${expected.expected_supersedes_edges} edges, oracle digest ${rustsecOk ? 'matches' : 'DIFFERS'}`,
      `  unfreeze: ${replay}`,
      `  real run ${summary.run_elapsed_s} s (${summary.docs_per_s} docs/s), total ${summary.total_elapsed_s} s`,
    ].join('\n');
    return { exitCode: ok ? 0 : 1, result: summary, text };
  },
};
