/**
 * Small error classes with stable codes. `unrecoverable` marks errors that must not be
 * retried (bad payloads, broken manifests, idempotency violations under stop-on-error).
 */
export class LnmError extends Error {
  readonly code: string;
  readonly path: string | undefined;
  readonly unrecoverable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { path?: string; unrecoverable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
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
  constructor(runId: string, from: string, to: string) {
    super('ERR_RUN_STATE', `run ${runId}: illegal transition ${from} -> ${to}`, {
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

/** Input that cannot be read at all (not JSON, unreadable file). */
export class InputError extends LnmError {
  constructor(path: string, message: string) {
    super('ERR_INPUT', `${path}: ${message}`, { path, unrecoverable: true });
  }
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof LnmError && err.unrecoverable;
}

export function errorSummary(err: unknown): { code: string; message: string; path?: string } {
  if (err instanceof LnmError) return { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_')) return { code, message: err.message };
    return { code: code === undefined ? 'ERR_INTERNAL' : `ERR_DRIVER_${String(code)}`, message: err.message };
  }
  return { code: 'ERR_INTERNAL', message: String(err) };
}

/**
 * Codes of the operations around a run (preflight, migrations, freeze, outbox and
 * publisher, approvals). One line each: what it means.
 */
export const OPS_CODES = {
  /** `import` refused: ingest is frozen (`ingest_enabled` is false). */
  INGEST_FROZEN: 'ERR_INGEST_FROZEN',
  /** A migration is pending: run `lnm-backfill migrate`. */
  NOT_MIGRATED: 'ERR_NOT_MIGRATED',
  /** An applied migration's definition (checksum) changed since it was applied. */
  MIGRATION_CHANGED: 'ERR_MIGRATION_CHANGED',
  /** An existing index has a migration's index name but other keys or options. */
  MIGRATION_CONFLICT: 'ERR_MIGRATION_CONFLICT',
  /** A freeze, unfreeze or forced start needs a reason. */
  REASON_REQUIRED: 'ERR_REASON_REQUIRED',
  /** The event transport (NATS / Redis) is unreachable or refused a request. */
  EVENT_TRANSPORT: 'ERR_EVENT_TRANSPORT',
  /** `unfreeze --replay-one`: the republished event was not read back in time. */
  REPLAY_TIMEOUT: 'ERR_REPLAY_TIMEOUT',
  /** `unfreeze --replay-one`: no observation exists to build an event from. */
  REPLAY_NOTHING: 'ERR_REPLAY_NOTHING',
  /** Dead-letter reason: the serialized event exceeds the 512 KiB limit. */
  EVENT_TOO_LARGE: 'ERR_EVENT_TOO_LARGE',
  /** Dead-letter reason: the observation (or its raw document) an event names is gone. */
  EVENT_SOURCE_MISSING: 'ERR_EVENT_SOURCE_MISSING',
  /** A non-dry-run start while ingest is not frozen (and no --force with a reason). */
  START_NOT_FROZEN: 'ERR_START_NOT_FROZEN',
  /** A non-dry-run start without both approvals of a matching dry run. */
  START_NOT_APPROVED: 'ERR_START_NOT_APPROVED',
  /** `approve` of a run that is not a succeeded dry run with a corpus hash. */
  APPROVAL_NOT_APPROVABLE: 'ERR_APPROVAL_NOT_APPROVABLE',
  /** This role already approved this plan. */
  APPROVAL_EXISTS: 'ERR_APPROVAL_EXISTS',
  /** The same person already approved this plan in the other role. */
  APPROVAL_SAME_PERSON: 'ERR_APPROVAL_SAME_PERSON',
  /** A kit file that cannot be read or lacks `advisory_raw_sha256`. */
  KIT_INVALID: 'ERR_KIT_INVALID',
} as const;
