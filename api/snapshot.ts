/**
 * Snapshot and restore of the edges and tombstones of a scope (producer/snapshot.ts,
 * producer/restore.ts): taken before a production run, restored when a rollback fails.
 */
import { withConnections } from '../core/connections.js';
import { defaultSnapshotFile, resolveScope, writeSnapshot, type SnapshotResult } from '../producer/snapshot.js';
import { restoreSnapshot as restoreFile, type RestoreResult } from '../producer/restore.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { SnapshotResult, RestoreResult };

export interface SnapshotOptions extends ApiOptions {
  /** Default: `<LNM_HOME>/snapshots/snapshot-<tenant or all>-<UTC stamp>.jsonl.gz`. */
  out?: string;
}

/** `ref`: a run id or `latest` (that run's scope), a tenant, or `{ tenant }` (null: every tenant). */
export async function takeSnapshot(ref: string | { tenant: string | null }, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const scope = await resolveScope(conns.db, ref);
    return writeSnapshot(conns.db, scope, opts.out ?? defaultSnapshotFile(cfg.homeDir, scope), log);
  });
}

export interface RestoreOptions extends ApiOptions {
  /** Apply the restore; without it nothing is written and the result is what it would do. */
  yes?: boolean;
}

export async function restoreSnapshot(file: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const { cfg, log } = resolveOptions(opts);
  return withConnections(cfg, (conns) =>
    restoreFile(
      conns.db,
      file,
      { yes: opts.yes === true, deleteBatch: cfg.deleteBatch, sortRunRows: cfg.scan.sortRunRows, ...(cfg.scan.sortDir ? { sortDir: cfg.scan.sortDir } : {}) },
      log,
    ),
  );
}
