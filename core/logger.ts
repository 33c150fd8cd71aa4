import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** Root logger; bind run/shard ids with `log.child({ run_id, shard })`. Errors go under `err`. */
export function createLogger(cfg: Pick<Config, 'logLevel'>, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level: cfg.logLevel, base: { pid: process.pid, ...bindings } }, pino.destination(2));
}

export type { Logger };
