/** evidence: the signed-off bundle of a run, and its offline re-check (--verify); kit hashes: the offline-kit manifest. */
import { verifyEvidence, writeEvidence, writeKitHashes } from '../../api/index.js';
import { UsageError } from '../../core/errors.js';
import { parseTenantOption } from '../../core/tenant.js';
import { usage, type Command } from '../cli/command.js';

export const evidence: Command = {
  name: 'evidence',
  summary: 'write the evidence bundle of a run under artifacts/aoc-supersedes/<UTC timestamp>/; --verify re-checks one',
  positionals: [{ name: 'run-or-folder', description: 'run id (or latest); with --verify, the evidence folder' }],
  options: {
    out: { type: 'string', value: 'DIR', description: 'write into DIR (new or empty) instead of LNM_ARTIFACTS_DIR/aoc-supersedes/<timestamp>' },
    verify: { type: 'boolean', description: 're-check the folder: SHA256SUMS of every file, no unlisted file, report hashes; exit 1 naming each offending file' },
  },
  notes: ['The bundle: report.json, evidence.json, run-log.jsonl, dry-runs/*.report.json, rejects/*, SHA256SUMS.'],
  migrated: (o) => o.verify !== true,
  async run(ctx) {
    const target = ctx.args[0]!;
    if (ctx.options.verify) {
      if (ctx.options.out !== undefined) throw new UsageError('evidence: --out and --verify exclude each other', usage(evidence));
      const v = await verifyEvidence(target);
      const text = v.ok
        ? `evidence ${v.folder}: ok (${v.files_checked} files match SHA256SUMS; report hashes match evidence.json)`
        : [`evidence ${v.folder}: FAILED`, ...v.problems.map((p) => `  ${p.file}: ${p.problem}`)].join('\n');
      return { exitCode: v.ok ? 0 : 1, result: v, text };
    }
    const out = ctx.options.out as string | undefined;
    const r = await writeEvidence(target, { config: ctx.cfg, log: ctx.log, commandLine: ctx.argv, ...(out ? { outDir: out } : {}) });
    const text = [
      `evidence of ${r.run_id}: ${r.folder}`,
      `  report ${r.report_ok ? 'ok' : 'FAILED'}, sha256 ${r.report_sha256}`,
      `  corpus bundle ${r.corpus_sha256 ?? 'none (never planned)'}; idempotency violations ${r.idempotency_violations}; errors ${r.errors}`,
      `  ${r.files.length} files + SHA256SUMS`,
    ].join('\n');
    return { exitCode: 0, result: r, text };
  },
};

export const kit: Command = {
  name: 'kit',
  summary: 'kit hashes: the offline-kit manifest (SHA-256 of the in-scope advisory_raw and of a planned backfill bundle, with counts)',
  positionals: [{ name: 'what', description: 'hashes', choices: ['hashes'] }],
  options: {
    tenant: { type: 'string', value: 'T', description: 'only this tenant (default: every tenant)' },
    run: { type: 'string', value: 'RUN', description: 'the run whose shard manifests form the bundle (default: the newest run of the tenant scope)' },
    out: { type: 'string', value: 'DIR', description: 'write DIR/kit-hashes.json (default LNM_ARTIFACTS_DIR/offline-kit)' },
  },
  notes: ['preflight --kit=FILE compares a kit file with the database.'],
  async run(ctx) {
    const o = ctx.options;
    const r = await writeKitHashes({
      config: ctx.cfg,
      log: ctx.log,
      tenant: parseTenantOption(o.tenant as string | undefined),
      ...(typeof o.run === 'string' ? { runId: o.run } : {}),
      ...(typeof o.out === 'string' ? { outDir: o.out } : {}),
    });
    const b = r.kit.backfill_bundle;
    const text = [
      `offline kit ${r.file} (sha256 ${r.sha256})`,
      `  advisory_raw ${r.kit.advisory_raw_sha256} (${r.kit.advisory_raw.documents} documents, ${r.kit.tenant === null ? 'all tenants' : `tenant ${r.kit.tenant}`})`,
      b ? `  backfill bundle ${b.sha256} (run ${b.run_id}: ${b.shards} shards, ${b.advisories} advisories, ${b.documents} documents)` : '  backfill bundle: none (no run of this scope)',
    ].join('\n');
    return { exitCode: 0, result: r, text };
  },
};
