/**
 * Small error classes with stable codes. `unrecoverable` marks errors that must not be
 * retried (bad payloads, broken manifests, idempotency violations under stop-on-error).
 * Messages pass through the credential redaction: an error never carries a password.
 */
import { redactText } from './redact.js';

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

/** An input file that cannot be opened or read to its end (missing, truncated gzip). */
export class InputError extends LnmError {
  constructor(path: string, message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super('ERR_INPUT', `${path}: ${message}`, { path, unrecoverable: true, ...opts });
  }
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof LnmError && err.unrecoverable;
}

/** Code, message (credentials redacted) and path of any thrown value. */
export function errorSummary(err: unknown): { code: string; message: string; path?: string } {
  if (err instanceof LnmError) return { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = redactText(err.message);
    if (typeof code === 'string' && code.startsWith('ERR_')) return { code, message };
    return { code: code === undefined ? 'ERR_INTERNAL' : `ERR_DRIVER_${String(code)}`, message };
  }
  return { code: 'ERR_INTERNAL', message: redactText(String(err)) };
}

// ---------------------------------------------------------------------------------------
// Catalog of the codes added by issue 12 (hardening), one line of meaning each. The
// AOC_CODES constants live with the guard (core/aoc-guard.ts); their meanings are here.

/** Per-line rejection codes of `import` (written to the rejects file with the line number). */
export const IMPORT_CODES = {
  JSON: 'ERR_INPUT_JSON',
  UTF8: 'ERR_INPUT_UTF8',
  LINE_TOO_LONG: 'ERR_INPUT_LINE_TOO_LONG',
  TRUNCATED: 'ERR_INPUT_TRUNCATED',
  TOO_LARGE: 'ERR_IMPORT_TOO_LARGE',
  REFUSED: 'ERR_IMPORT_REFUSED',
} as const;

export const ERROR_CODES: Readonly<Record<string, string>> = {
  ERR_INPUT: 'the input file cannot be opened or read to its end (missing, truncated or corrupt gzip); path = the file',
  ERR_INPUT_JSON: 'the line is not valid JSON',
  ERR_INPUT_UTF8: 'the line is not valid UTF-8 (rejected, never decoded to U+FFFD)',
  ERR_INPUT_LINE_TOO_LONG: 'the line exceeds the importer\'s line limit and was skipped without being held in memory',
  ERR_INPUT_TRUNCATED: 'the last line was cut off by the end of a truncated or corrupt input',
  ERR_IMPORT_TOO_LARGE: 'the stored document would exceed the 16 MiB BSON document limit',
  ERR_IMPORT_REFUSED: 'the database server refused to store this document (its message follows)',
  ERR_AOC_009: 'a server-assigned field (_id, ingested_at) is present in the input',
  ERR_AOC_010: "a key the store cannot hold unchanged: '.' or leading '$' outside content, NUL anywhere, or the escape characters U+FF0E/U+FF04 in content",
  ERR_AOC_011: "'|' in tenant or source.vendor (the separator of raw ids, edge lines and bundle lines)",
  ERR_AOC_012: 'the document nests deeper than 100 levels (the MongoDB limit)',
  ERR_AOC_013: 'a string or key holds a lone UTF-16 surrogate, which storage would replace by U+FFFD',
};
