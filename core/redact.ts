/**
 * Credential redaction, the one place that knows what a secret looks like. Everything
 * that may carry a connection URL or a driver message to a log line, stdout, stderr or a
 * stored error goes through it: error messages (LnmError), the logger's output line
 * (core/logger.ts), `services` status, alert webhook failures.
 *
 * - `redactText(text)`: free text (messages, stacks, whole JSON log lines). In every
 *   `scheme://user:password@host…` the password becomes `***` (the user stays, so an
 *   operator can tell which account); works for multi-host MongoDB URLs, redis
 *   `redis://:password@`, postgres and http(s). Query and keyword parameters whose name
 *   says secret (`password=`, `tlsCertificateKeyFilePassword=`, `sslpassword=`,
 *   `token=`, `AWS_SESSION_TOKEN:`…) lose their value.
 * - `redactUrl(value)`: one configured value that should be a URL, parseable or not.
 *   Without a `scheme://`, everything before the last `@` is treated as credentials.
 *
 * Passwords must be percent-encoded in URLs (the MongoDB driver and ioredis refuse raw
 * `@ / : ?`); the userinfo match still runs to the LAST `@` of a token, so a raw `@` or
 * `/` in a password over-redacts rather than leaks.
 */
export const REDACTED = '***';

/** `scheme://` + userinfo up to the last `@` of a token (no whitespace, quotes or angle brackets). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s'"<>]*)@/gi;
/** `?name=value` / `&name=value` / `name=value` where the name says secret. */
const SECRET_PARAM = /(\b[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|apikey|api_key)\s*=\s*)('[^']*'|[^\s&;,'"<>#]*)/gi;
/** `authMechanismProperties=AWS_SESSION_TOKEN:value` (MongoDB). */
const MECHANISM_TOKEN = /(AWS_SESSION_TOKEN:)[^\s,&;'"<>#]*/gi;

function userinfo(_m: string, scheme: string, info: string): string {
  const colon = info.indexOf(':');
  return colon < 0 ? `${scheme}${info}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
}

export function redactText(text: string): string {
  if (!text) return text;
  return text
    .replace(USERINFO, userinfo)
    .replace(SECRET_PARAM, (_m, name: string) => `${name}${REDACTED}`)
    .replace(MECHANISM_TOKEN, (_m, name: string) => `${name}${REDACTED}`);
}

export function redactUrl(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return redactText(value);
  const at = value.lastIndexOf('@');
  return at < 0 ? redactText(value) : `${REDACTED}@${redactText(value.slice(at + 1))}`;
}

/**
 * An error as a log field (`{ err: redactError(e) }`) with every text redacted: type,
 * message, code, stack and the cause chain. For loggers that may not be the root one
 * (whose output line is redacted anyway, core/logger.ts).
 */
export function redactError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: redactText(String(err)) };
  const out: Record<string, unknown> = { type: err.name, message: redactText(err.message) };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.stack) out.stack = redactText(err.stack);
  if (err.cause !== undefined && depth < 5) out.cause = redactError(err.cause, depth + 1);
  return out;
}
