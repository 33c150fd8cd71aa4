/**
 * The cost of a monitor tick and of a status read does not grow with the run's size
 * (issue: scale): counted in server round-trips — MongoDB commands (the driver's command
 * events) and Redis commands — for the same corpus planned into 7 shards and into 60+.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Connections } from '../../core/connections.js';
import type { Config } from '../../core/config.js';
import { summarizeRun } from '../../core/store/summary.js';
import { Monitor } from '../../monitor/monitor.js';
import { cliJson, quietLog, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { FakeProbe, FAST_MONITOR_ENV } from '../helpers/monitor.js';
import { type ImportJson, type RunJson } from '../helpers/oracle.js';

const res = useResources();
const small = res.config('tick_cost_small', FAST_MONITOR_ENV);
const large = res.config('tick_cost_large', FAST_MONITOR_ENV);
const LONG = 600_000;

/** Count the commands a Redis client sends (every call goes through sendCommand). */
function countRedis(redis: Redis): { n: number } {
  const counter = { n: 0 };
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((cmd: Parameters<Redis['sendCommand']>[0]) => {
    counter.n++;
    return send(cmd);
  }) as Redis['sendCommand'];
  return counter;
}

interface Cost {
  shards: number;
  tick: { mongo: number; redis: number };
  status: { mongo: number; redis: number };
}

/** Plan a run over the corpus (no worker: it stays running with every shard pending) and count one tick and one status read. */
async function cost(cfg: Config, batch: number): Promise<Cost> {
  expect((await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json'])).accepted).toBeGreaterThan(3000);
  const run = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', `--batch-size=${batch}`, '--json']);
  const conns = await Connections.open(cfg, { monitorCommands: true });
  try {
    let mongo = 0;
    conns.mongo.on('commandStarted', () => mongo++);
    const redis = countRedis(conns.sharedRedis());
    const monitor = new Monitor(conns, quietLog, { probe: new FakeProbe().probe, validate: false });
    expect(await monitor.tick()).toBe(true); // first tick: acquires the lock, opens queue handles
    [mongo, redis.n] = [0, 0];
    expect(await monitor.tick()).toBe(true);
    const tick = { mongo, redis: redis.n };
    await monitor.close();
    [mongo, redis.n] = [0, 0];
    const s = await summarizeRun(conns, run.run_id);
    expect(s.shards).toMatchObject({ total: run.shards, done: 0 });
    return { shards: run.shards, tick, status: { mongo, redis: redis.n } };
  } finally {
    await conns.close();
  }
}

describe('tick and status cost do not grow with the shard count', () => {
  it('a run of 7 shards and a run of 60+ shards cost the same round-trips per tick', async () => {
    const a = await cost(small, 500);
    const b = await cost(large, 50);
    expect(a.shards).toBeLessThan(10);
    expect(b.shards).toBeGreaterThan(60);
    expect(b.tick).toEqual(a.tick);
    expect(b.status).toEqual(a.status);
    expect(a.tick.mongo).toBeGreaterThan(0);
    expect(a.tick.redis).toBeGreaterThan(0);
  }, LONG);

  res.leakCheck();
});
