import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { loadConfig } from '../../core/config.js';
import { makeMongoProbe, probeLag, probeLoad } from '../../monitor/probes.js';

const cfg = loadConfig();
const client = new MongoClient(cfg.mongoUrl, { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 2_000 });
let db: Db;
let replicaSet = false;

/** The server may still be starting (another process brings it up): poll, don't sleep blindly. */
async function waitForServer(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  throw new Error(`MongoDB-wire server at ${cfg.mongoUrl} not answering after ${timeoutMs}ms: ${String(last)}`);
}

beforeAll(async () => {
  await waitForServer(180_000);
  db = client.db(cfg.db);
  const hello = await client.db('admin').command({ hello: 1 });
  replicaSet = typeof hello.setName === 'string';
}, 200_000);

afterAll(async () => {
  await client.close();
});

describe('probes (real MongoDB-wire server)', () => {
  it('probeLag reports lag as unavailable with a reason on a server without a replica set', async () => {
    const lag = await probeLag(db, cfg.monitor.probeTimeoutMs);
    if (replicaSet) {
      // Only when pointed at a real replica set: lag is then measured, not unavailable.
      expect(lag).toEqual({ available: true, seconds: expect.any(Number) });
      return;
    }
    expect(lag.available).toBe(false);
    if (lag.available) return;
    expect(lag.reason).toMatch(/CommandNotFound|NoReplicationEnabled/);
    expect(lag).not.toHaveProperty('seconds');
  });

  it('probeLoad answers without throwing; ops/s needs two readings', async () => {
    const first = await probeLoad(db, null, cfg.monitor.probeTimeoutMs);
    expect(first.sample).not.toBeNull();
    expect(first.opsPerS).toBeNull();
    const second = await probeLoad(db, first.sample, cfg.monitor.probeTimeoutMs);
    expect(second.sample!.at).toBeGreaterThanOrEqual(first.sample!.at);
    if (second.sample!.total === null) {
      expect(second.opsPerS).toBeNull(); // FerretDB: serverStatus has no opcounters
    } else if (second.sample!.at > first.sample!.at) {
      expect(second.opsPerS).toBeGreaterThanOrEqual(0);
    }
  });

  it('makeMongoProbe returns a sample without throwing', async () => {
    const probe = makeMongoProbe(db, cfg.monitor.probeTimeoutMs);
    const before = Date.now();
    const a = await probe();
    const b = await probe();
    for (const s of [a, b]) {
      expect(s.at).toBeGreaterThanOrEqual(before);
      expect(typeof s.lag.available).toBe('boolean');
      expect(s.opsPerS === null || s.opsPerS >= 0).toBe(true);
      expect(s.cpuPct === null || (s.cpuPct >= 0 && s.cpuPct <= 100)).toBe(true);
    }
    expect(a.opsPerS).toBeNull();
    expect(b.lag.available).toBe(replicaSet);
  });
});
