import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { redactText } from './redact.js';

/** The JSON log file of a CLI process on a terminal (a person reads stderr there). */
export function logFilePath(cfg: Pick<Config, 'homeDir'>): string {
  return path.join(cfg.homeDir, 'logs', 'lnm-backfill.log');
}

/**
 * Root logger; bind run/shard ids with `log.child({ run_id, shard })`. Errors go under `err`.
 * JSON lines go to `file` when given (appended, folders created), else to stderr. Every
 * finished line passes through the credential redaction (core/redact.ts), so no field — an
 * `err` with a driver message, its stack or cause, a URL — can carry a password out.
 */
export function createLogger(cfg: Pick<Config, 'logLevel'>, bindings: Record<string, unknown> = {}, file?: string): Logger {
  const dest = file ? pino.destination({ dest: file, mkdir: true, append: true, sync: true }) : pino.destination(2);
  return pino({ level: cfg.logLevel, base: { pid: process.pid, ...bindings }, hooks: { streamWrite: redactText } }, dest);
}

export type { Logger };
