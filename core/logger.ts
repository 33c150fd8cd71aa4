import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** The JSON log file of a CLI process on a terminal (a person reads stderr there). */
export function logFilePath(cfg: Pick<Config, 'homeDir'>): string {
  return path.join(cfg.homeDir, 'logs', 'lnm-backfill.log');
}

/**
 * Root logger; bind run/shard ids with `log.child({ run_id, shard })`. Errors go under `err`.
 * JSON lines go to `file` when given (appended, folders created), else to stderr.
 */
export function createLogger(cfg: Pick<Config, 'logLevel'>, bindings: Record<string, unknown> = {}, file?: string): Logger {
  const dest = file ? pino.destination({ dest: file, mkdir: true, append: true, sync: true }) : pino.destination(2);
  return pino({ level: cfg.logLevel, base: { pid: process.pid, ...bindings } }, dest);
}

export type { Logger };
