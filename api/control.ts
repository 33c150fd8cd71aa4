/** Operator actions on a run from a script: pause, resume, cancel, roll back, validate. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withConnections } from '../core/connections.js';
import { getRun, resolveRunRef, type RunDoc } from '../core/store/runs.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { cancelRun as cancel, pauseRun as pause, resumeRun as resume } from '../monitor/control.js';
import { checkRunFreezeWindow, type FreezeWindowCheck } from '../monitor/freeze-window.js';
import { reportBytes, validateRun as validate, type ValidationResult } from '../monitor/validate.js';
import { beginRollback, rollbackRun as rollback, type RollbackResult } from '../workers/rollback.js';
import { resolveOptions, type ApiOptions } from './context.js';

export interface ControlResult {
  run_id: string;
  state: RunDoc['state'];
  reason: string | null;
}

export interface ControlOptions extends ApiOptions {
  /** Settle a pausing/cancelling run after the grace period even with shards in flight. */
  force?: boolean;
}

const controlResult = (run: RunDoc): ControlResult => ({ run_id: run._id, state: run.state, reason: run.state_reason ?? null });

export async function pauseRun(runId: string, opts: ControlOptions = {}): Promise<ControlResult> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => controlResult(await pause(conns, await resolveRunRef(conns.db, runId), { force: opts.force ?? false })));
}

export async function resumeRun(runId: string, opts: ApiOptions = {}): Promise<ControlResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => controlResult(await resume(conns, await resolveRunRef(conns.db, runId), log)));
}

export async function cancelRun(runId: string, opts: ControlOptions = {}): Promise<ControlResult> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => controlResult(await cancel(conns, await resolveRunRef(conns.db, runId), { force: opts.force ?? false })));
}

/** Remove exactly what the run wrote and verify nothing of it remains. */
export async function rollbackRun(runId: string, opts: ApiOptions = {}): Promise<RollbackResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const id = await resolveRunRef(conns.db, runId);
    await beginRollback(conns, id, 'operator rollback', 'operator');
    return rollback(conns, id, log);
  });
}

export interface ValidateOptions extends ApiOptions {
  /** Write report.json (and report.json.sha256) into this folder. */
  outDir?: string;
  /** Without outDir: write them into LNM_ARTIFACTS_DIR/reports/<run id>/ (the CLI's default). */
  writeReport?: boolean;
}

export interface ValidateResult extends ValidationResult {
  /** Where report.json was written, if it was. */
  file?: string;
  /**
   * The freeze-window proof (issue 10): nothing published while the run's freeze held. Kept
   * out of report.json, whose hash must not depend on clocks or on what a transport retains.
   */
  freeze_window: FreezeWindowCheck;
}

export async function validateRun(runId: string, opts: ValidateOptions = {}): Promise<ValidateResult> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const id = await resolveRunRef(conns.db, runId);
    const result = await validate(conns.db, id, await resolveScan(conns.db, cfg.scan));
    const out = { ...result, freeze_window: await checkRunFreezeWindow(conns, await getRun(conns.db, id)) };
    const dir = opts.outDir ?? (opts.writeReport ? path.join(cfg.artifactsDir, 'reports', id) : undefined);
    if (!dir) return out;
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'report.json');
    writeFileSync(file, reportBytes(result.report));
    writeFileSync(`${file}.sha256`, `${result.report_sha256}  report.json\n`);
    return { ...out, file };
  });
}
