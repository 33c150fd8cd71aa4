import { describe, it, expect, afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { loadConfig } from '../../core/config.js';
import { LeaderLock } from '../../core/lock.js';

const cfg = loadConfig();
const clients: Redis[] = [];
let seq = 0;

function client(): Redis {
  const r = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
  clients.push(r);
  return r;
}

function uniqueKey(): string {
  seq += 1;
  return `lnm-test:${process.pid}:${Date.now()}:${seq}:monitor-lock`;
}

async function pollUntil(cond: () => Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

afterAll(async () => {
  for (const r of clients) if (r.status !== 'end') await r.quit();
  expect(await pollUntil(async () => clients.every((r) => r.status === 'end'), 5_000)).toBe(true);
});

describe('LeaderLock (real Redis)', () => {
  it('two locks on the same key: exactly one acquires; the other cannot renew or release it', async () => {
    const key = uniqueKey();
    const [ra, rb] = [client(), client()];
    const a = new LeaderLock(ra, key, 10_000);
    const b = new LeaderLock(rb, key, 10_000);
    expect(a.token).not.toBe(b.token);

    const results = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const [holder, other] = results[0] ? [a, b] : [b, a];
    expect(await ra.get(key)).toBe(holder.token);

    expect(await other.renew()).toBe(false);
    await other.release();
    expect(await ra.get(key)).toBe(holder.token);
    expect(await other.tryAcquire()).toBe(false);

    expect(await holder.renew()).toBe(true);
    const ttl = await ra.pttl(key);
    expect(ttl).toBeGreaterThan(9_000);
    expect(ttl).toBeLessThanOrEqual(10_000);

    await holder.release();
    expect(await ra.exists(key)).toBe(0);
    await holder.release(); // twice is fine
    expect(await holder.renew()).toBe(false);

    expect(await other.tryAcquire()).toBe(true);
    expect(await ra.get(key)).toBe(other.token);
    await holder.release(); // the former holder cannot delete the new holder's lock
    expect(await ra.get(key)).toBe(other.token);
    await other.release();
    expect(await ra.exists(key)).toBe(0);
  });

  it('after expiry the other acquires, and the expired holder can no longer renew', async () => {
    const key = uniqueKey();
    const a = new LeaderLock(client(), key, 300);
    const b = new LeaderLock(client(), key, 300);
    const started = Date.now(); // before a's lock is set: b cannot take it in less than the ttl from here
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await pollUntil(() => b.tryAcquire(), 5_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // not before the ttl (less a margin for the clocks)
    expect(await a.renew()).toBe(false);
    await b.release();
  });

  it('release after the client has quit is a no-op', async () => {
    const r = client();
    const lock = new LeaderLock(r, uniqueKey(), 300);
    expect(await lock.tryAcquire()).toBe(true);
    await lock.release();
    await r.quit();
    await expect(lock.release()).resolves.toBeUndefined(); // while the client is closing
    expect(await pollUntil(async () => r.status === 'end', 5_000)).toBe(true);
    await expect(lock.release()).resolves.toBeUndefined(); // and once it has ended
  });

  it('rejects a non-positive ttl', () => {
    expect(() => new LeaderLock(clients[0] ?? client(), uniqueKey(), 0)).toThrow(RangeError);
  });
});
