/**
 * lnm-backfill's public API for scripts. Every function takes an optional `config`
 * (default: the environment, as the CLI) and `log` (default: silent), and returns plain
 * typed results; the CLI's commands are thin callers of these.
 */
export { loadConfig, type Config } from '../core/config.js';
export { ERROR_CODES, LnmError, type ErrorCode } from '../core/errors.js';
export type { RunState } from '../core/store/run-status.js';
export type { ApiOptions } from './context.js';
export { startBackfill, waitForRun, getRunStatus, listRunStatuses, type RunStatus, type StartBackfillOptions, type WaitOptions, type Progress } from './runs.js';
export { pauseRun, resumeRun, cancelRun, rollbackRun, validateRun, type ControlResult, type ControlOptions, type ValidateOptions, type ValidateResult } from './control.js';
export { startWorker, startMonitor, type WorkerOptions, type WorkerHandle, type MonitorHandle, type MonitorOptions } from './processes.js';
export { importCorpus, seedCorpus, type ImportOptions, type ImportResult, type SeedOptions, type SeedResult } from './data.js';
export {
  writeEvidence,
  verifyEvidence,
  writeKitHashes,
  utcStamp,
  type EvidenceOptions,
  type EvidenceResult,
  type VerifyResult,
  type KitOptions,
  type KitResult,
  type KitManifest,
} from './evidence.js';
export { takeSnapshot, restoreSnapshot, type SnapshotOptions, type SnapshotResult, type RestoreOptions, type RestoreResult } from './snapshot.js';
export { servicesUp, servicesDown, servicesStatus, type ServicesStatus } from './services.js';
export type { RollbackResult } from '../workers/rollback.js';
export type { ValidationReport, ValidationResult } from '../monitor/validate.js';
export type { FreezeProofStatus, FreezeWindowCheck } from '../monitor/freeze-window.js';
export {
  migrateDatabase,
  migrationsStatus,
  requireMigrated,
  preflight,
  freeze,
  unfreeze,
  approveDryRun,
  startPublisher,
  type PreflightOptions,
  type FreezeOptions,
  type UnfreezeOptions,
  type ApproveOptions,
  type PublisherHandle,
  type MigrateResult,
  type MigrationStatus,
  type PreflightResult,
  type FlagsResult,
  type UnfreezeResult,
  type UnfreezeReport,
  type ApprovalDoc,
  type ApprovalRole,
  type PublisherStats,
} from './operations.js';
