/** Make Redis and a MongoDB-wire server available (dev and CI machines; see README *Services*). */
import { servicesDown as down, servicesStatus as status, servicesUp as up, type ServicesStatus } from '../core/services/services.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { ServicesStatus };

/** Idempotent: reuses what answers, starts what is missing, never touches servers it did not start. */
export async function servicesUp(opts: ApiOptions = {}): Promise<ServicesStatus> {
  const { cfg, log } = resolveOptions(opts);
  return up(cfg, log);
}

/** Stops only the servers `servicesUp` started. */
export async function servicesDown(opts: ApiOptions = {}): Promise<{ stopped: string[] }> {
  const { cfg, log } = resolveOptions(opts);
  return down(cfg, log);
}

export async function servicesStatus(opts: ApiOptions = {}): Promise<ServicesStatus> {
  return status(resolveOptions(opts).cfg);
}
