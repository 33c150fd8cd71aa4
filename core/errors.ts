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
