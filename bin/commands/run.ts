/** start, status, validate: a run's life from the command line, over the public API. */
import { openSync } from 'node:fs';
import { getRunStatus, startBackfill, takeSnapshot, validateRun, waitForRun, type RunStatus } from '../../api/index.js';
import { UsageError } from '../../core/errors.js';
import { parseTenantOption } from '../../core/tenant.js';
import { operatorName } from '../../core/operator.js';
import { usage, type Command, type CommandContext } from '../cli/command.js';
import { LiveStatusView, ProgressView, progressLine } from '../progress.js';
import { freezeWindowLine } from './operations.js';

/** Exit status of a settled or queued run: 1 when it failed or was rolled back. */
export function runExitCode(s: RunStatus): number {
  return s.state === 'failed' || s.state === 'rolled_back' ? 1 : 0;
}

/** Where local workers write their JSON logs: the CLI's log file on a terminal, else our stderr. */
export function workerStderr(ctx: CommandContext): number | 'inherit' {
  return ctx.logFile ? openSync(ctx.logFile, 'a') : 'inherit';
}

function summaryText(s: RunStatus): string {
  const lines = [
    `run ${s.run_id}: ${s.state}${s.reason ? ` (${s.reason})` : ''}${s.dry_run ? ' [dry run]' : ''}`,
    `  shards ${s.shards_done}/${s.shards} done${s.shards_failed ? `, ${s.shards_failed} failed` : ''}; documents ${s.docs}/${s.docs_planned}`,
    `  ${s.dry_run ? 'would insert' : 'inserted'} ${s.edges_inserted} edges, ${s.tombstones_inserted} tombstones; idempotent hits ${s.idempotent_hits}; violations ${s.violations}; errors ${s.errors}`,
  ];
  if (s.violations > 0) {
    const reasons = Object.entries(s.violations_by_reason).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`);
    lines.push(`  violations by reason: ${reasons.join(', ')}`);
  }
  if (s.error) lines.push(`  error ${s.error.code}: ${s.error.message}`);
  return lines.join('\n');
}

export const start: Command = {
  name: 'start',
  longRunning: (o) => o.wait === true,
  summary: 'record a run, plan its shards and enqueue them; with --wait follow it to the end',
  positionals: [],
  options: {
    'dry-run': { type: 'boolean', description: 'same planning and computation, zero writes to advisory_*' },
    'batch-size': { type: 'integer', value: 'N', description: 'documents per shard (default LNM_BATCH_SIZE)' },
    'stop-on-error': { type: 'boolean', description: 'first failed shard or violation stops the run and rolls it back' },
    tenant: { type: 'string', value: 'T', description: 'only this tenant (default: every tenant)' },
    wait: { type: 'boolean', description: 'follow the run until it settles (runs the monitor in this process too)' },
    'local-workers': { type: 'integer', value: 'N', min: 0, description: 'with --wait: start N worker processes for the run' },
    'rollback-on-stop': { type: 'boolean', description: 'roll back when the run is stopped (the default with --stop-on-error)' },
    'no-rollback-on-stop': { type: 'boolean', description: 'leave a stopped run failed, without rolling it back' },
    force: { type: 'boolean', description: 'start although unfrozen, unapproved or overlapping an active run (needs --reason)' },
    reason: { type: 'string', value: 'TEXT', description: 'why --force is needed (recorded on the run and in the evidence)' },
    by: { type: 'string', value: 'NAME', description: 'who forces (recorded with the reason; default: the OS user)' },
    resume: { type: 'string', value: 'RUN', description: 're-plan a run whose planning was interrupted (its producer died)' },
    snapshot: { type: 'boolean', description: "first snapshot the scope's edges and tombstones (see snapshot; its file and SHA-256 are printed and in --json)" },
  },
  async run(ctx) {
    const o = ctx.options;
    if (o['local-workers'] !== undefined && !o.wait) throw new UsageError('start: --local-workers needs --wait', usage(start));
    if (o.force && !o.reason) throw new UsageError('start: --force needs --reason="why"', usage(start));
    if (o['rollback-on-stop'] && o['no-rollback-on-stop']) throw new UsageError('start: --rollback-on-stop and --no-rollback-on-stop exclude each other', usage(start));
    if (o.snapshot && (o['dry-run'] || o.resume)) throw new UsageError('start: --snapshot is for a new writing run (not --dry-run or --resume)', usage(start));
    const rollbackOnStop = o['rollback-on-stop'] ? true : o['no-rollback-on-stop'] ? false : undefined;
    const tenant = parseTenantOption(o.tenant as string | undefined);
    const snap = o.snapshot ? await takeSnapshot({ tenant }, { config: ctx.cfg, log: ctx.log }) : undefined;
    if (snap) process.stderr.write(`snapshot ${snap.file} sha256 ${snap.sha256}\n`);
    const withSnapshot = <T extends object>(r: T) => (snap ? { ...r, snapshot: { file: snap.file, sha256: snap.sha256, counts: snap.counts } } : r);
    const queued = await startBackfill({
      ...(rollbackOnStop === undefined ? {} : { rollbackOnStop }),
      ...(o.force ? { force: { reason: String(o.reason), by: typeof o.by === 'string' ? o.by : operatorName() } } : {}),
      ...(o.resume ? { resume: String(o.resume) } : {}),
      config: ctx.cfg,
      log: ctx.log,
      dryRun: o['dry-run'] === true,
      batchSize: (o['batch-size'] as number | undefined) ?? ctx.cfg.batchSize,
      stopOnError: o['stop-on-error'] === true,
      tenant,
      commandLine: ctx.argv,
    });
    process.stderr.write(`run ${queued.run_id}: ${queued.shards} shard(s), ${queued.docs_planned} document(s) planned${queued.dry_run ? ' (dry run)' : ''}\n`);
    if (!o.wait) return { exitCode: runExitCode(queued), result: withSnapshot(queued), text: summaryText(queued) };
    const view = new ProgressView(process.stderr, ctx.tty);
    const final = await waitForRun(queued.run_id, {
      config: ctx.cfg,
      log: ctx.log,
      localWorkers: (o['local-workers'] as number | undefined) ?? 0,
      workerStderr: workerStderr(ctx),
      onProgress: view.update,
    });
    view.end();
    return { exitCode: runExitCode(final), result: withSnapshot(final), text: summaryText(final) };
  },
};

export const status: Command = {
  name: 'status',
  longRunning: (o) => o.once !== true && o.json !== true, // the live view (on a terminal)
  summary: 'progress, rate, ETA and counts of a run',
  positionals: [{ name: 'run', description: 'run id (run-YYYYMMDDTHHMMSSZ-xxxxxx), or latest' }],
  options: {
    once: { type: 'boolean', description: 'one snapshot, even on a terminal' },
  },
  notes: ['On a terminal: a live view (progress bar, docs/s, ETA, throttle state, alerts) redrawn until the run settles or Ctrl-C. Off a terminal (stdout or stderr piped), with --json or --once: one snapshot.'],
  async run(ctx) {
    // A person at a terminal, not a pipe or `$(…)` (stdout too): else one snapshot.
    const live = ctx.options.once !== true && ctx.tty && process.stdout.isTTY === true && ctx.options.json !== true;
    if (!live) {
      const s = await getRunStatus(ctx.args[0]!, { config: ctx.cfg, log: ctx.log });
      return { exitCode: 0, result: s, text: `${progressLine(s)}\n${summaryText(s)}` };
    }
    const stop = new AbortController();
    const onSigint = (): void => stop.abort();
    process.once('SIGINT', onSigint);
    try {
      const view = new LiveStatusView(process.stderr);
      const s = await waitForRun(ctx.args[0]!, { config: ctx.cfg, log: ctx.log, monitor: false, signal: stop.signal, onProgress: view.update });
      return { exitCode: 0, result: s, text: summaryText(s) };
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};

export const validate: Command = {
  name: 'validate',
  summary: 'consistency report of a run (report.json + SHA-256) and the freeze-window proof; exit 1 when a check fails',
  positionals: [{ name: 'run', description: 'run id, or latest' }],
  options: { out: { type: 'string', value: 'DIR', description: 'write report.json and report.json.sha256 into DIR (default LNM_ARTIFACTS_DIR/reports/<run>)' } },
  async run(ctx) {
    const out = ctx.options.out as string | undefined;
    const r = await validateRun(ctx.args[0]!, { config: ctx.cfg, log: ctx.log, ...(out ? { outDir: out } : { writeReport: true }) });
    const freezeFailed = r.freeze_window.status === 'failed';
    const result = {
      ok: r.report.ok && !freezeFailed,
      failing_checks: [...r.report.failing_checks, ...(freezeFailed ? ['freeze_window'] : [])],
      edges: r.report.edges,
      observations: r.report.observations,
      report_sha256: r.report_sha256,
      report: r.report,
      freeze_window: r.freeze_window,
      ...(r.file ? { file: r.file } : {}),
    };
    const text = [
      `validation of ${r.run_id}: ${result.ok ? 'ok' : `FAILED: ${result.failing_checks.join(', ')}`}`,
      ...r.report.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}  ${Object.entries(c.counts).map(([k, v]) => `${k} ${v}`).join(', ')}${c.samples.length ? `\n        ${c.samples.join('\n        ')}` : ''}`),
      `  edges expected ${r.report.edges.expected}, present ${r.report.edges.present}, missing ${r.report.edges.missing}, extra ${r.report.edges.extra}`,
      `  edge digest ${r.report.edges.digest}`,
      `  report sha256 ${r.report_sha256}${r.file ? ` (${r.file})` : ''}`,
      `  ${freezeWindowLine(r.freeze_window)}`,
    ].join('\n');
    return { exitCode: result.ok ? 0 : 1, result, text };
  },
};
