/** The configured event transport (`LNM_EVENT_TRANSPORT`), connected. */
import type { Config } from '../config.js';
import { openNats } from './nats.js';
import { openRedisStreams } from './redis-streams.js';
import type { EventTransport } from './transport.js';

/**
 * Connects or fails with ERR_EVENT_TRANSPORT. `reconnect` (long-running publisher) keeps
 * retrying a lost connection; one-shot callers (replay, checks) fail fast.
 */
export async function openTransport(cfg: Config, opts: { reconnect?: boolean } = {}): Promise<EventTransport> {
  return cfg.events.transport === 'nats' ? openNats(cfg, opts) : openRedisStreams(cfg, opts);
}
