/**
 * Access to the monitor's HTTP server. On a loopback bind nothing is required (only this
 * host reaches it). On any other bind the server refuses to start without an access token
 * or basic-auth credentials, and every route but /healthz then requires one of them.
 * Comparisons are constant-time over SHA-256 digests (no length leak).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from '../../core/errors.js';

export interface Credentials {
  /** Bearer token; empty = none. */
  token: string;
  /** `user:password`; empty = none. */
  basicAuth: string;
}

/** 127.0.0.0/8, ::1, `localhost` and the IPv4-mapped loopback. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export function hasCredentials(c: Credentials): boolean {
  return c.token !== '' || c.basicAuth !== '';
}

/** Throws ERR_CONFIG when `host` is not loopback and no credential is configured. */
export function assertBindAllowed(host: string, c: Credentials): void {
  if (isLoopback(host) || hasCredentials(c)) return;
  throw new ConfigError(
    'LNM_MONITOR_HOST',
    `refusing to serve on ${host} without credentials: set LNM_MONITOR_TOKEN or LNM_MONITOR_BASIC_AUTH (or bind 127.0.0.1)`,
  );
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Whether an `Authorization` header value grants access. With no credential configured
 * everything is allowed (loopback bind, checked at start).
 */
export function authorized(header: string | undefined, c: Credentials): boolean {
  if (!hasCredentials(c)) return true;
  if (!header) return false;
  const m = /^(\S+)\s+(\S+)$/.exec(header.trim());
  if (!m) return false;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer' && c.token !== '') return same(m[2]!, c.token);
  if (scheme === 'basic' && c.basicAuth !== '') return same(Buffer.from(m[2]!, 'base64').toString('utf8'), c.basicAuth);
  return false;
}

/** The `WWW-Authenticate` challenge of a 401 (basic first, so a browser prompts for it). */
export function challenge(c: Credentials): string {
  return [c.basicAuth ? 'Basic realm="lnm-backfill monitor", charset="UTF-8"' : '', c.token ? 'Bearer realm="lnm-backfill monitor"' : '']
    .filter(Boolean)
    .join(', ');
}
