import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference, loadConfig, renderConfigReference } from '../../core/config.js';
import { MAX_BATCH_SIZE } from '../../core/manifest-bound.js';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/errors.js';

/** Load with an explicit env (never process.env) and return the ConfigError it throws. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('defaults (empty environment)', () => {
  const cfg = loadConfig({});

  it('points at the local services of DESIGN §7 and marks them as not from env', () => {
    const mongo = new URL(cfg.mongoUrl);
    expect([mongo.protocol, mongo.hostname, mongo.port]).toEqual(['mongodb:', '127.0.0.1', '27017']);
    const redis = new URL(cfg.redisUrl);
    expect([redis.protocol, redis.hostname, redis.port]).toEqual(['redis:', '127.0.0.1', '6379']);
    expect(cfg.mongoUrlFromEnv).toBe(false);
    expect(cfg.redisUrlFromEnv).toBe(false);
  });

  it('uses the DESIGN §1 batch size and alert thresholds (run time 2 h, oplog lag 60 s)', () => {
    expect(cfg.batchSize).toBe(500);
    expect(cfg.monitor.alertRuntimeS).toBe(2 * 60 * 60);
    expect(cfg.monitor.alertLagS).toBe(60);
    expect(cfg.monitor.violationsMax).toBe(0);
  });

  it('has valid names, an absolute home folder and resume thresholds below their throttle thresholds', () => {
    expect(cfg.db).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cfg.queuePrefix).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(path.isAbsolute(cfg.homeDir)).toBe(true);
    expect(cfg.monitor.lagResumeS).toBeLessThan(cfg.monitor.lagThrottleS);
    expect(cfg.monitor.opsResumePerS).toBeLessThan(cfg.monitor.opsThrottlePerS);
    expect(cfg.monitor.cpuResumePct).toBeLessThan(cfg.monitor.cpuThrottlePct);
    expect(cfg.monitor.alertWebhookUrl).toBe('');
    expect(Number.isInteger(cfg.workerConcurrency) && cfg.workerConcurrency >= 1).toBe(true);
  });

  it('publishes observation events on the local NATS JetStream stream CONCELIER_OBS', () => {
    expect(cfg.events).toMatchObject({ transport: 'nats', natsUrl: 'nats://127.0.0.1:4222', natsUrlFromEnv: false, natsStream: 'CONCELIER_OBS', subjectPrefix: 'concelier', redisPrefix: 'concelier' });
    expect(cfg.retention).toEqual({ outboxDays: 7, manifestDays: 30 });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ LNM_BATCH_SIZE: '', MONGO_URL: '' }).batchSize).toBe(cfg.batchSize);
  });
});

describe('values from the environment', () => {
  it('reads valid overrides', () => {
    const cfg = loadConfig({
      MONGO_URL: 'mongodb+srv://db.example.net/', REDIS_URL: 'rediss://cache:6380', LNM_DB: 'lnm_test-1',
      LNM_BATCH_SIZE: '250', LNM_LAG_THROTTLE_S: '2.5', LNM_ALERT_WEBHOOK_URL: 'https://hooks.example.net/x',
    });
    expect(cfg.mongoUrl).toBe('mongodb+srv://db.example.net/');
    expect(cfg.mongoUrlFromEnv).toBe(true);
    expect(cfg.redisUrl).toBe('rediss://cache:6380');
    expect(cfg.redisUrlFromEnv).toBe(true);
    expect(cfg.db).toBe('lnm_test-1');
    expect(cfg.batchSize).toBe(250);
    expect(cfg.monitor.lagThrottleS).toBe(2.5);
    expect(cfg.monitor.lagResumeS).toBeLessThanOrEqual(2.5);
    expect(cfg.monitor.alertWebhookUrl).toBe('https://hooks.example.net/x');
    const ev = loadConfig({ NATS_URL: 'nats://nats:4222', LNM_EVENT_TRANSPORT: 'redis', LNM_EVENT_SUBJECT_PREFIX: 'acme.concelier' }).events;
    expect([ev.natsUrl, ev.natsUrlFromEnv, ev.transport, ev.subjectPrefix]).toEqual(['nats://nats:4222', true, 'redis', 'acme.concelier']);
  });

  it.each([
    'mongodb://u:p%40ss@h1:27017,h2:27017/?replicaSet=rs0',
    'mongodb://h1,h2,h3/lnm?replicaSet=rs0&readPreference=primary',
    'mongodb://[::1]:27017,127.0.0.1:27018/',
    'mongodb://%2Ftmp%2Fmongodb-27017.sock/',
  ])('accepts the production MongoDB URL %s (validated by the driver\'s parser)', (value) => {
    const cfg = loadConfig({ MONGO_URL: value });
    expect([cfg.mongoUrl, cfg.mongoUrlFromEnv]).toEqual([value, true]);
  });

  it('accepts the range bounds', () => {
    expect(loadConfig({ LNM_BATCH_SIZE: '1' }).batchSize).toBe(1);
    expect(loadConfig({ LNM_BATCH_SIZE: String(MAX_BATCH_SIZE) }).batchSize).toBe(MAX_BATCH_SIZE);
  });

  it('bounds LNM_BATCH_SIZE by the shard manifest size, naming the bound', () => {
    expect(MAX_BATCH_SIZE).toBe(16_368);
    expect(() => loadConfig({ LNM_BATCH_SIZE: '100000' })).toThrow(/LNM_BATCH_SIZE: 100000 is outside 1\.\.16368/);
  });
});

describe('validation errors name the variable (ERR_CONFIG, path = variable)', () => {
  it.each([
    ['bad integer', 'LNM_BATCH_SIZE', 'five hundred'],
    ['fraction for an integer', 'LNM_BATCH_SIZE', '12.5'],
    ['bad integer', 'LNM_WORKER_CONCURRENCY', 'lots'],
    ['not a number', 'LNM_LAG_THROTTLE_S', 'NaN'],
    ['infinite', 'LNM_ERROR_RATE_MAX', 'Infinity'],
    ['below range', 'LNM_BATCH_SIZE', '0'],
    ['above range', 'LNM_BATCH_SIZE', String(MAX_BATCH_SIZE + 1)],
    ['above range', 'LNM_WORKER_CONCURRENCY', '65'],
    ['negative', 'LNM_JOB_BACKOFF_MS', '-1'],
    ['fraction above 1', 'LNM_ERROR_RATE_MAX', '1.5'],
    ['bad URL scheme', 'MONGO_URL', 'http://127.0.0.1:27017/'],
    ['bad URL scheme', 'REDIS_URL', 'mongodb://127.0.0.1:6379'],
    ['bad URL scheme', 'LNM_ALERT_WEBHOOK_URL', 'ftp://hooks.example.net/'],
    ['not a URL', 'MONGO_URL', 'not a url'],
    ['no scheme', 'MONGO_URL', 'localhost:27017'],
    ['no host', 'MONGO_URL', 'mongodb://'],
    ['srv with several hosts', 'MONGO_URL', 'mongodb+srv://a.example.net,b.example.net/'],
    ['bad port in a host list', 'MONGO_URL', 'mongodb://h1:27017,h2:notaport/'],
    ['port out of range', 'MONGO_URL', 'mongodb://h1:70000/'],
    ['bad db name (dot)', 'LNM_DB', 'lnm.prod'],
    ['bad db name (slash)', 'LNM_DB', 'a/b'],
    ['bad db name (space)', 'LNM_DB', 'my db'],
    ['bad db name (too long)', 'LNM_DB', 'x'.repeat(61)],
    ['bad queue prefix', 'LNM_QUEUE_PREFIX', 'bull:lnm'],
    ['bad log level', 'LNM_LOG_LEVEL', 'verbose'],
    ['unknown transport', 'LNM_EVENT_TRANSPORT', 'kafka'],
    ['bad URL scheme', 'NATS_URL', 'redis://127.0.0.1:4222'],
    ['subject wildcard', 'LNM_EVENT_SUBJECT_PREFIX', 'concelier.>'],
    ['empty subject token', 'LNM_EVENT_SUBJECT_PREFIX', 'a..b'],
    ['bad stream name (dot)', 'LNM_NATS_STREAM', 'CONCELIER.OBS'],
    ['below range', 'LNM_OUTBOX_TTL_DAYS', '0'],
    ['above range', 'LNM_PUBLISHER_BATCH', '5001'],
  ])('%s: %s=%s', (_what, name, value) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.path).toBe(name);
    expect(err.message).toContain(name);
    expect(err.unrecoverable).toBe(true);
  });

  it.each([
    ['MONGO_URL', 'mongodb://admin:S3cr3tPw@h1:27017,h2:badport/'],
    ['MONGO_URL', 'admin:S3cr3tPw@h1:27017'],
    ['REDIS_URL', 'redis//:S3cr3tPw@cache:6379'],
    ['LNM_ALERT_WEBHOOK_URL', 'https://hook:S3cr3tPw@exa mple.net/'],
  ])('never echoes the password of a rejected URL (%s)', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.path).toBe(name);
    expect(err.message).not.toContain('S3cr3tPw');
    expect(err.message).toContain('***');
  });

  it('checks a resume threshold against its own throttle threshold', () => {
    const err = configError({ LNM_LAG_THROTTLE_S: '10', LNM_LAG_RESUME_S: '11' });
    expect([err.code, err.path]).toEqual(['ERR_CONFIG', 'LNM_LAG_RESUME_S']);
    expect(loadConfig({ LNM_LAG_THROTTLE_S: '10', LNM_LAG_RESUME_S: '10' }).monitor.lagResumeS).toBe(10);
  });

  // Number(' ') is 0 and Number('0x10') is 16: neither may pass as a number.
  it.each([' ', '0x10', '1e3'])('rejects the non-decimal integer %j', (value) => {
    const err = configError({ LNM_JOB_BACKOFF_MS: value });
    expect([err.code, err.path]).toEqual(['ERR_CONFIG', 'LNM_JOB_BACKOFF_MS']);
  });

  it('does not read process.env when an env object is given', () => {
    const saved = process.env.LNM_BATCH_SIZE;
    process.env.LNM_BATCH_SIZE = 'not-a-number';
    try {
      expect(loadConfig({}).batchSize).toBe(500);
    } finally {
      if (saved === undefined) delete process.env.LNM_BATCH_SIZE;
      else process.env.LNM_BATCH_SIZE = saved;
    }
  });
});

describe('configuration reference', () => {
  it('lists every variable the loader reads, each with a meaning', () => {
    const ref = configReference();
    expect(ref.length).toBeGreaterThan(40);
    expect(ref.filter((v) => v.doc === '').map((v) => v.name)).toEqual([]);
    expect(new Set(ref.map((v) => v.name)).size).toBe(ref.length);
    expect(ref.find((v) => v.name === 'LNM_BATCH_SIZE')).toMatchObject({ default: '500', accepts: expect.stringContaining('integer') });
  });

  it('is the README table, exactly', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    expect(m?.[1]).toBe(renderConfigReference());
  });
});
