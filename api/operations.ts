/**
 * The runbook around a run, from a script: migrate, preflight, freeze / unfreeze (with the
 * one-event replay), approvals of a dry run's plan, and the outbox publisher.
 */
import { withConnections, Connections } from '../core/connections.js';
import { assertMigrated, type MigrateResult, type MigrationStatus } from '../core/store/migrations.js';
import { resolveRunRef } from '../core/store/runs.js';
import { migrate, migrateStatus } from '../producer/migrate.js';
import { preflight as runPreflight, type PreflightResult } from '../producer/preflight.js';
import { freeze as doFreeze, unfreeze as doUnfreeze, type FlagsResult, type UnfreezeResult } from '../producer/freeze.js';
import { approve as doApprove } from '../producer/approvals.js';
import type { ApprovalDoc, ApprovalRole } from '../core/store/approvals.js';
import { runPublisher, type PublisherStats } from '../workers/publisher.js';
import { checkOpenFreezeWindow, type FreezeWindowCheck } from '../monitor/freeze-window.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { MigrateResult, MigrationStatus, PreflightResult, FlagsResult, UnfreezeResult, ApprovalDoc, ApprovalRole, PublisherStats };

/** Apply pending migrations (and re-apply changed ones). Idempotent. */
export async function migrateDatabase(opts: ApiOptions = {}): Promise<MigrateResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, (conns) => migrate(conns, log));
}

export async function migrationsStatus(opts: ApiOptions = {}): Promise<MigrationStatus[]> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, (conns) => migrateStatus(conns));
}

/** Throws ERR_NOT_MIGRATED / ERR_MIGRATION_CHANGED unless every migration is applied as defined. */
export async function requireMigrated(opts: ApiOptions = {}): Promise<void> {
  const { cfg } = resolveOptions(opts);
  await withConnections(cfg, (conns) => assertMigrated(conns.db, cfg));
}

export interface PreflightOptions extends ApiOptions {
  /** An offline-kit manifest (`kit hashes`) to compare with the database. */
  kitFile?: string;
}

export async function preflight(opts: PreflightOptions = {}): Promise<PreflightResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, (conns) => runPreflight(conns, opts.kitFile ? { kitFile: opts.kitFile } : {}, log));
}

export interface FreezeOptions extends ApiOptions {
  reason: string;
  by?: string;
  /** Stop the publisher (default) or point it at the blackhole subject. */
  outbox?: 'stop' | 'blackhole';
}

export async function freeze(opts: FreezeOptions): Promise<FlagsResult> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, (conns) => doFreeze(conns, { reason: opts.reason, ...(opts.by ? { by: opts.by } : {}), ...(opts.outbox ? { outbox: opts.outbox } : {}) }));
}

export interface UnfreezeOptions extends ApiOptions {
  reason: string;
  by?: string;
  /** Republish one recent event and read it back from the transport. */
  replayOne?: boolean;
}

export interface UnfreezeReport extends UnfreezeResult {
  /** The proof over the freeze this unfreeze closes, read just before (null: it was not frozen). */
  freeze_window: FreezeWindowCheck | null;
}

export async function unfreeze(opts: UnfreezeOptions): Promise<UnfreezeReport> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const proof = await checkOpenFreezeWindow(conns);
    const r = await doUnfreeze(conns, { reason: opts.reason, ...(opts.by ? { by: opts.by } : {}), replayOne: opts.replayOne ?? false });
    return { ...r, freeze_window: proof };
  });
}

export interface ApproveOptions extends ApiOptions {
  role: ApprovalRole;
  by: string;
  note?: string;
}

/** Approve a succeeded dry run's plan (its arguments and corpus bundle hash) for one role. */
export async function approveDryRun(dryRunId: string, opts: ApproveOptions): Promise<ApprovalDoc> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) =>
    doApprove(conns, { dryRunId: await resolveRunRef(conns.db, dryRunId), role: opts.role, by: opts.by, ...(opts.note ? { note: opts.note } : {}) }, log),
  );
}

export interface PublisherHandle {
  /** Stop after the current page; resolves with what was published. Safe to call twice. */
  close(): Promise<PublisherStats>;
}

/** The outbox publisher: honours the freeze flags within seconds. */
export async function startPublisher(opts: ApiOptions = {}): Promise<PublisherHandle> {
  const { cfg, log } = resolveOptions(opts);
  const conns = await Connections.open(cfg);
  const ac = new AbortController();
  const done = runPublisher(conns, log, { signal: ac.signal }).finally(() => conns.close());
  let closing: Promise<PublisherStats> | undefined;
  return {
    close() {
      closing ??= (ac.abort(), done);
      return closing;
    },
  };
}
