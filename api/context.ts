/** Options every API function takes: a configuration (default: the environment) and a logger. */
import { pino } from 'pino';
import { loadConfig, type Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';

export interface ApiOptions {
  /** Default: `loadConfig()` over the process environment. */
  config?: Config;
  /** Default: a silent logger. */
  log?: Logger;
}

export function resolveOptions(opts: ApiOptions = {}): { cfg: Config; log: Logger } {
  return { cfg: opts.config ?? loadConfig(), log: opts.log ?? pino({ level: 'silent' }) };
}
