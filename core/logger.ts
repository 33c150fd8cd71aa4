import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { redactText } from './redact.js';

/**
 * Root logger; bind run/shard ids with `log.child({ run_id, shard })`. Errors go under `err`.
 * Every finished line passes through the credential redaction (core/redact.ts), so no field
 * — an `err` with a driver message, its stack or cause, a URL — can carry a password out.
 */
export function createLogger(cfg: Pick<Config, 'logLevel'>, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level: cfg.logLevel, base: { pid: process.pid, ...bindings }, hooks: { streamWrite: redactText } },
    pino.destination(2),
  );
}

export type { Logger };
