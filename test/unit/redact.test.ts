import { describe, expect, it } from 'vitest';
import { redactError, redactText, redactUrl } from '../../core/redact.js';
import { ConfigError, errorSummary, LnmError } from '../../core/errors.js';

const PW = 's3cr%40t-pw';

describe('redactText: passwords in URLs anywhere in free text', () => {
  it.each([
    ['mongodb single host', `mongodb://admin:${PW}@db.example.net:27017/lnm?authSource=admin`, 'mongodb://admin:***@db.example.net:27017/lnm?authSource=admin'],
    ['mongodb multi-host replica set', `mongodb://u:${PW}@h1:27017,h2:27017,h3/?replicaSet=rs0`, 'mongodb://u:***@h1:27017,h2:27017,h3/?replicaSet=rs0'],
    ['mongodb+srv', `mongodb+srv://u:${PW}@cluster0.example.net/`, 'mongodb+srv://u:***@cluster0.example.net/'],
    ['redis with an empty user', `redis://:${PW}@127.0.0.1:6379/0`, 'redis://:***@127.0.0.1:6379/0'],
    ['rediss with a user', `rediss://default:${PW}@cache:6380`, 'rediss://default:***@cache:6380'],
    ['postgres', `postgres://postgres:${PW}@127.0.0.1:5432/lnm_ferretdb?pool_max_conns=20`, 'postgres://postgres:***@127.0.0.1:5432/lnm_ferretdb?pool_max_conns=20'],
    ['https webhook', `https://hook:${PW}@alerts.example.net/x`, 'https://hook:***@alerts.example.net/x'],
    ['an unescaped @ in the password over-redacts, never leaks', 'mongodb://u:p@ss@h/', 'mongodb://u:***@h/'],
  ])('%s', (_name, url, want) => {
    expect(redactText(url)).toBe(want);
    expect(redactText(`cannot connect to ${url}; run "services up"`)).toBe(`cannot connect to ${want}; run "services up"`);
    expect(redactText(JSON.stringify({ msg: `x ${url}` }))).toBe(JSON.stringify({ msg: `x ${want}` }));
  });

  it.each([
    ['tlsCertificateKeyFilePassword', `mongodb://h/?tls=true&tlsCertificateKeyFilePassword=${PW}&w=1`, 'mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***&w=1'],
    ['password=', `https://h/cb?user=a&password=${PW}`, 'https://h/cb?user=a&password=***'],
    ['token=', `https://h/x?token=${PW}#f`, 'https://h/x?token=***#f'],
    ['libpq keyword', `host=db user=postgres password=${PW} dbname=x`, 'host=db user=postgres password=*** dbname=x'],
    ['AWS session token', `mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:${PW}`, 'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:***'],
  ])('secret parameter: %s', (_name, text, want) => {
    expect(redactText(text)).toBe(want);
  });

  it('leaves text without credentials alone (user-only URLs, e-mail addresses, plain URLs)', () => {
    for (const text of [
      'mongodb://127.0.0.1:27017/',
      'https://github.com/x/y/issues/1',
      'mongodb://reader@h1,h2/?authMechanism=MONGODB-X509',
      'mail ops@example.net about password authentication failed for user "x"',
    ]) {
      expect(redactText(text)).toBe(text);
    }
  });
});

describe('redactUrl: one configured value, parseable or not', () => {
  it('redacts a URL and, without a scheme, everything before the last @', () => {
    expect(redactUrl(`redis://:${PW}@h:6379`)).toBe('redis://:***@h:6379');
    expect(redactUrl(`admin:${PW}@db:27017`)).toBe('***@db:27017');
    expect(redactUrl(`mongodb:/admin:${PW}@db`)).toBe('***@db');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('errors never carry a password', () => {
  it('LnmError messages are redacted at construction, errorSummary redacts driver errors', () => {
    expect(new LnmError('ERR_SERVICE', `cannot reach redis://:${PW}@h:6379`).message).toBe('cannot reach redis://:***@h:6379');
    expect(new ConfigError('MONGO_URL', `"mongodb://u:${PW}@h:x" is bad`).message).not.toContain(PW);
    const driver = Object.assign(new Error(`connection to mongodb://u:${PW}@h failed`), { code: 'ECONNREFUSED' });
    expect(errorSummary(driver)).toEqual({ code: 'ERR_DRIVER_ECONNREFUSED', message: 'connection to mongodb://u:***@h failed' });
  });

  it('redactError keeps type, code, stack and the cause chain, all redacted', () => {
    const cause = new Error(`getaddrinfo for postgres://p:${PW}@db failed`);
    const err = Object.assign(new TypeError(`fetch https://u:${PW}@hook.example.net/ failed`, { cause }), { code: 'E1' });
    const out = redactError(err);
    expect(JSON.stringify(out)).not.toContain(PW);
    expect(out).toMatchObject({ type: 'TypeError', code: 'E1', message: 'fetch https://u:***@hook.example.net/ failed' });
    expect(out.stack).toEqual(expect.stringContaining('TypeError: fetch https://u:***@'));
    expect(out.cause).toMatchObject({ type: 'Error', message: 'getaddrinfo for postgres://p:***@db failed' });
    expect(redactError(`plain ${PW} string`)).toEqual({ message: `plain ${PW} string` });
  });
});
