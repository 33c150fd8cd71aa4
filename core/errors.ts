/**
 * Error codes and error classes. Every code the tool can report is in ERROR_CODES with a
 * one-line meaning (the README lists them); classes carry a stable code, the offending
 * path, and `unrecoverable` for errors that must not be retried (bad payloads, broken
 * manifests, idempotency violations under stop-on-error). The exit status of the CLI is
 * decided by the error's class (`exitCodeFor`), never by comparing code strings. Messages
 * pass through the credential redaction: an error never carries a password.
 */
import { redactText } from './redact.js';

export const ERROR_CODES = {
  ERR_USAGE: 'the command line does not match the command (unknown option, missing argument); the usage is printed',
  ERR_CONFIG: 'an environment variable or option value is invalid; the message names it',
  ERR_BATCH_TOO_LARGE: '`start --batch-size` above the bound whose shard manifest fits the 16 MiB BSON limit (the bound is in the message)',
  ERR_SERVICE: 'MongoDB, Redis or a local server could not be reached or started',
  ERR_NOT_FOUND: 'the run (or other record) named does not exist',
  ERR_RUN_STATE: 'the run is not in a state that allows this action (the transition table forbids it)',
  ERR_PAYLOAD: 'a job payload or stored manifest does not match the contract; failed without retry',
  ERR_INPUT: 'the input file cannot be opened or read to its end (missing, truncated or corrupt gzip); path = the file',
  ERR_INPUT_JSON: 'an input line is not valid JSON; the line is rejected, the import goes on',
  ERR_INPUT_UTF8: 'an input line is not valid UTF-8 (rejected, never decoded to U+FFFD)',
  ERR_INPUT_LINE_TOO_LONG: "an input line exceeds the importer's line limit (64 MiB) and was skipped without being held in memory",
  ERR_INPUT_TRUNCATED: 'the last line was cut off by the end of a truncated or corrupt input',
  ERR_IMPORT_TOO_LARGE: 'the stored document would exceed the 16 MiB BSON document limit',
  ERR_IMPORT_REFUSED: 'the database server refused to store this document (its message follows)',
  ERR_IDEMPOTENCY_VIOLATION: 'a write collided with an existing edge or tombstone of different content',
  ERR_JOB_FAILED: 'BullMQ failed a shard job for good without the worker recording why (e.g. stalled too often)',
  ERR_ROLLBACK_INCOMPLETE: 'documents stamped with the run id remain after its rollback',
  ERR_ROLLBACK_BUSY: 'a rollback cannot start now: another rollback of the run holds its lock, or shards are in flight',
  ERR_SCOPE_OVERLAP: 'another active run covers the same tenant(s); wait for it, or --force with --reason',
  ERR_PLANNING_INTERRUPTED: 'the producer stopped before the run was planned; `start --resume <run>` plans it again',
  ERR_VALIDATION_TIMEOUT: 'validation gave no result within LNM_VALIDATE_TIMEOUT_MS; run `validate <run>`',
  ERR_VALIDATION: 'validation found missing or extra edges, missing tombstones, violations or errors',
  ERR_STOP: 'the run was stopped before it finished',
  ERR_STOP_SHARD_FAILED: 'stop-on-error: a shard failed for good',
  ERR_STOP_VIOLATION: 'stop-on-error: an idempotency violation was found',
  ERR_STOP_ERROR_RATE: 'the failed fraction of settled shards exceeded LNM_ERROR_RATE_MAX',
  ERR_STOP_VIOLATIONS_THRESHOLD: 'idempotency violations exceeded LNM_VIOLATIONS_MAX',
  ERR_INTERNAL: 'an unexpected error (a bug); the log has the stack trace',
  ERR_INGEST_FROZEN: '`import` refused: ingest is frozen (`ingest_enabled` is false)',
  ERR_NOT_MIGRATED: 'a migration is pending: run `lnm-backfill migrate`',
  ERR_MIGRATION_CHANGED: "an applied migration's definition (checksum) changed since it was applied",
  ERR_MIGRATION_CONFLICT: "an existing index has a migration's index name but other keys or options",
  ERR_REASON_REQUIRED: 'a freeze, unfreeze or forced start needs a reason',
  ERR_EVENT_TRANSPORT: 'the event transport (NATS / Redis) is unreachable or refused a request',
  ERR_REPLAY_TIMEOUT: '`unfreeze --replay-one`: the republished event was not read back in time',
  ERR_REPLAY_NOTHING: '`unfreeze --replay-one`: no observation exists to build an event from',
  ERR_EVENT_TOO_LARGE: 'dead-letter reason: the serialized event exceeds the 512 KiB limit',
  ERR_EVENT_SOURCE_MISSING: 'dead-letter reason: the observation (or its raw document) an event names is gone',
  ERR_START_NOT_FROZEN: 'a non-dry-run start while ingest is not frozen (and no --force with a reason)',
  ERR_START_NOT_APPROVED: 'a non-dry-run start without both approvals of a matching dry run',
  ERR_APPROVAL_NOT_APPROVABLE: '`approve` of a run that is not a succeeded dry run with a corpus hash',
  ERR_APPROVAL_EXISTS: 'this role already approved this plan',
  ERR_APPROVAL_SAME_PERSON: 'the same person already approved this plan in the other role',
  ERR_SNAPSHOT_INVALID: 'a snapshot file cannot be used: unreadable, not gzip JSONL of the snapshot format, no `<file>.sha256`, or counts differing from its header',
  ERR_SNAPSHOT_HASH_MISMATCH: "a snapshot file's SHA-256 differs from its `<file>.sha256` (modified or truncated): restore refused",
  ERR_SNAPSHOT_CHANGED: 'the edges or tombstones of the scope changed while the snapshot was written (a run writing?); take it again',
  ERR_RESTORE_MISMATCH: 'after a restore, the edges and tombstones of the scope still differ from the snapshot (something wrote meanwhile)',
  ERR_KIT_INVALID: 'a kit file that cannot be read or lacks `advisory_raw_sha256`',
  ERR_AOC_001: 'AOC: the document is not a JSON object',
  ERR_AOC_002: 'AOC: a derived field (severity, cvss, effective_*, ...) is forbidden in raw documents',
  ERR_AOC_003: 'AOC: an unknown top-level field',
  ERR_AOC_004: 'AOC: tenant is missing or empty',
  ERR_AOC_005: 'AOC: provenance is missing (source.vendor, upstream.upstream_id, fetched_at, content_hash)',
  ERR_AOC_006: 'AOC: upstream.content_hash is not sha256:<64 lowercase hex>',
  ERR_AOC_007: 'AOC: a timestamp is not ISO-8601 or is impossible',
  ERR_AOC_008: 'AOC: a field has the wrong type (content, identifiers, linkset must be objects)',
  ERR_AOC_009: 'AOC: a server-assigned field (_id, ingested_at) is present in the input',
  ERR_AOC_010: "AOC: a key the store cannot hold unchanged: '.' or leading '$' outside content, NUL anywhere, or U+FF0E/U+FF04 in content",
  ERR_AOC_011: "AOC: '|' in tenant or source.vendor (the separator of raw ids, edge lines and bundle lines)",
  ERR_AOC_012: 'AOC: the document nests deeper than 100 levels (the MongoDB limit)',
  ERR_AOC_013: 'AOC: a string or key holds a lone UTF-16 surrogate, which storage would replace by U+FFFD',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, v);
}

export class LnmError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly unrecoverable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { path?: string; unrecoverable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(redactText(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.path = opts.path;
    this.unrecoverable = opts.unrecoverable ?? false;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, path: this.path, details: this.details };
  }
}

/** The command line does not fit the command; `usage` is the command's usage text. */
export class UsageError extends LnmError {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super('ERR_USAGE', message, { unrecoverable: true });
  }
}

/** Invalid or missing configuration value (env var or CLI flag). */
export class ConfigError extends LnmError {
  constructor(path: string, message: string) {
    super('ERR_CONFIG', `${path}: ${message}`, { path, unrecoverable: true });
  }
}

/** A job payload or a stored manifest that does not match the contract. Never retried. */
export class PayloadError extends LnmError {
  constructor(path: string, message: string) {
    super('ERR_PAYLOAD', `${path}: ${message}`, { path, unrecoverable: true });
  }
}

/** An illegal run-state transition. */
export class RunStateError extends LnmError {
  constructor(runId: string, from: string, to: string, why?: string) {
    super('ERR_RUN_STATE', `run ${runId}: illegal transition ${from} -> ${to}${why ? ` (${why})` : ''}`, {
      path: `backfill_runs/${runId}/state`,
      details: { from, to },
    });
  }
}

export class NotFoundError extends LnmError {
  constructor(what: string, id: string) {
    super('ERR_NOT_FOUND', `${what} ${id} not found`, { path: `${what}/${id}`, unrecoverable: true });
  }
}

/** A service (MongoDB, Redis, FerretDB build) could not be reached or started. */
export class ServiceError extends LnmError {
  constructor(service: string, message: string, cause?: unknown) {
    super('ERR_SERVICE', `${service}: ${message}`, { path: service, cause });
  }
}

/** A write that collides with an existing edge or tombstone of different content. */
export class ViolationError extends LnmError {
  constructor(shardId: string, count: number, sample: unknown) {
    super('ERR_IDEMPOTENCY_VIOLATION', `shard ${shardId}: ${count} idempotency violation(s)`, {
      path: `backfill_shards/${shardId}`,
      unrecoverable: true,
      details: { count, sample },
    });
  }
}

/** An input file that cannot be opened or read to its end (missing, truncated gzip). */
export class InputError extends LnmError {
  constructor(path: string, message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super('ERR_INPUT', `${path}: ${message}`, { path, unrecoverable: true, ...opts });
  }
}

/** A shard job BullMQ failed for good without the processor recording a reason. */
export class JobFailedError extends LnmError {
  constructor(jobId: string, reason: string) {
    super('ERR_JOB_FAILED', reason, { path: `backfill_shards/${jobId}` });
  }
}

/** Documents of a run remain after its rollback. */
export class RollbackIncompleteError extends LnmError {
  constructor(runId: string, path: string, details: Record<string, unknown> & { remaining: number }) {
    super('ERR_ROLLBACK_INCOMPLETE', `run ${runId}: ${details.remaining} document(s) of the run remain after rollback`, { path, details });
  }
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof LnmError && err.unrecoverable;
}

/** Exit status of the CLI for an error: 2 for a wrong command line or configuration, else 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
}

/** Code, message (credentials redacted) and path of any thrown value. */
export function errorSummary(err: unknown): { code: string; message: string; path?: string } {
  if (err instanceof LnmError) return { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = redactText(err.message);
    if (isErrorCode(code)) return { code, message };
    return { code: code === undefined ? 'ERR_INTERNAL' : `ERR_DRIVER_${String(code)}`, message };
  }
  return { code: 'ERR_INTERNAL', message: redactText(String(err)) };
}

/** Per-line rejection codes of `import` (written to the rejects file with the line number). */
export const IMPORT_CODES = {
  JSON: 'ERR_INPUT_JSON',
  UTF8: 'ERR_INPUT_UTF8',
  LINE_TOO_LONG: 'ERR_INPUT_LINE_TOO_LONG',
  TRUNCATED: 'ERR_INPUT_TRUNCATED',
  TOO_LARGE: 'ERR_IMPORT_TOO_LARGE',
  REFUSED: 'ERR_IMPORT_REFUSED',
} as const;
