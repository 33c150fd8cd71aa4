/**
 * Against the real services (Redis + MongoDB/FerretDB on loopback, or MONGO_URL/REDIS_URL).
 * Never calls servicesDown: other test files share these servers.
 */
import { describe, it, expect } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { servicesStatus, servicesUp } from '../../core/services/services.js';

/** First run may build FerretDB (~2 min) while another test file holds the start lock. */
const FIRST_UP_TIMEOUT_MS = 12 * 60_000;

describe('services', () => {
  it('servicesUp is idempotent: same URLs, the second call starts nothing', { timeout: FIRST_UP_TIMEOUT_MS }, async () => {
    const cfg = loadConfig();
    const first = await servicesUp(cfg);
    const second = await servicesUp(cfg);

    expect(second.mongo_url).toBe(first.mongo_url);
    expect(second.redis_url).toBe(first.redis_url);
    expect(second.mongo.url).toBe(first.mongo_url);
    expect(second.redis.url).toBe(first.redis_url);
    expect(second.nats_url).toBe(first.nats_url);
    expect(['existing', 'env']).toContain(second.mongo.source);
    expect(['existing', 'env']).toContain(second.redis.source);
    expect(['existing', 'env']).toContain(second.nats.source);
    expect(second.mongo.up && second.redis.up && second.nats.up).toBe(true);
    if (first.mongo.pid !== undefined) expect(second.mongo.pid).toBe(first.mongo.pid);
  });

  it('servicesStatus reports every service up', { timeout: FIRST_UP_TIMEOUT_MS }, async () => {
    const cfg = loadConfig();
    const up = await servicesUp(cfg);
    const status = await servicesStatus(cfg);

    expect(status.mongo.up).toBe(true);
    expect(status.redis.up).toBe(true);
    expect(status.nats.up).toBe(true);
    expect(status.nats_url).toBe(up.nats_url);
    expect(status.mongo_url).toBe(up.mongo_url);
    expect(status.redis_url).toBe(up.redis_url);
    if (status.mongo.source === 'started') expect(status.mongo.pid).toBeGreaterThan(0);
  });

  it('rejects fast with ERR_SERVICE when MONGO_URL does not answer', { timeout: 15_000 }, async () => {
    const cfg = loadConfig({ MONGO_URL: 'mongodb://127.0.0.1:1/' });
    const t0 = Date.now();
    await expect(servicesUp(cfg)).rejects.toMatchObject({
      code: 'ERR_SERVICE',
      message: expect.stringContaining('MONGO_URL'),
    });
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it('rejects fast with ERR_SERVICE naming NATS_URL when it does not answer', { timeout: 15_000 }, async () => {
    const cfg = loadConfig({ NATS_URL: 'nats://127.0.0.1:1' });
    const t0 = Date.now();
    await expect(servicesUp(cfg)).rejects.toMatchObject({ code: 'ERR_SERVICE', message: expect.stringContaining('NATS_URL') });
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});
