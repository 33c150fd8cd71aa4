/**
 * A run's progress counters in O(1): totals kept in Redis, updated atomically (one Lua
 * script) when a shard settles. Each shard's last contribution is kept beside the totals,
 * so recording a shard again (a retried job, a resumed or rebuilt run) replaces its
 * contribution instead of adding it twice, and resetting a shard subtracts it. The shard
 * documents in MongoDB stay the source of truth: when the totals are missing (Redis lost
 * its data) they are rebuilt from them, once, by whoever reads them first — recording is
 * idempotent per shard, so concurrent rebuilds agree.
 *
 * Why not `$inc` on the run document: FerretDB 1.24 applies updates as a read then a
 * whole-document write, so concurrent increments are lost (DESIGN §7).
 */
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { emptyCounts, shardsColl, type ShardCounts, type ShardState } from './shards.js';

export interface Progress {
  shards_done: number;
  shards_failed: number;
  /** Documents of done shards (the rate and ETA count these). */
  docs_done: number;
  counts: ShardCounts;
}

const COUNT_FIELDS = Object.keys(emptyCounts()) as Array<keyof ShardCounts>;
const FIELDS = ['shards_done', 'shards_failed', 'docs_done', ...COUNT_FIELDS] as const;
/** Marks totals that cover every shard recorded since the run began (absent after a Redis loss). */
const COMPLETE = 'complete';

/** KEYS: totals, contributions. ARGV: shard id, then the new contribution (one value per FIELD, or none to remove). */
const RECORD = `
local fields = {${FIELDS.map((f) => `'${f}'`).join(', ')}}
local old = redis.call('hget', KEYS[2], ARGV[1])
local oldv = {}
if old then for v in string.gmatch(old, '[^,]+') do oldv[#oldv + 1] = tonumber(v) end end
local n = #ARGV - 1
if n > 0 then
  redis.call('hset', KEYS[2], ARGV[1], table.concat(ARGV, ',', 2))
else
  redis.call('hdel', KEYS[2], ARGV[1])
end
for i, f in ipairs(fields) do
  local delta = (tonumber(ARGV[i + 1]) or 0) - (oldv[i] or 0)
  if delta ~= 0 then redis.call('hincrby', KEYS[1], f, delta) end
end
return 1`;

function keys(prefix: string, runId: string): [string, string] {
  // One hash tag per run keeps both keys in one Redis Cluster slot when the prefix has none.
  const base = prefix.includes('{') ? `${prefix}:progress:${runId}` : `${prefix}:progress:{${runId}}`;
  return [base, `${base}:shards`];
}

function contribution(state: ShardState, docs: number, counts: ShardCounts | undefined): string[] {
  const c = { ...emptyCounts(), ...counts };
  const row: Record<(typeof FIELDS)[number], number> = {
    shards_done: state === 'done' ? 1 : 0,
    shards_failed: state === 'failed' ? 1 : 0,
    docs_done: state === 'done' ? docs : 0,
    ...c,
  };
  return FIELDS.map((f) => String(row[f]));
}

export class ProgressStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Start a run's counters (empty and complete). Idempotent. */
  async init(runId: string): Promise<void> {
    const [totals] = keys(this.prefix, runId);
    await this.redis.hsetnx(totals, COMPLETE, '1');
  }

  /** Record a settled shard (done or failed) with its counts; replaces an earlier record of it. */
  async record(runId: string, shardId: string, state: ShardState, docs: number, counts: ShardCounts | undefined): Promise<void> {
    const [totals, shards] = keys(this.prefix, runId);
    await this.redis.eval(RECORD, 2, totals, shards, shardId, ...(state === 'pending' ? [] : contribution(state, docs, counts)));
  }

  /** Take a shard's contribution out (it is pending again). */
  async reset(runId: string, shardId: string): Promise<void> {
    const [totals, shards] = keys(this.prefix, runId);
    await this.redis.eval(RECORD, 2, totals, shards, shardId);
  }

  /** The totals; rebuilt from the shard documents when Redis lost them. */
  async read(db: Db, runId: string): Promise<Progress> {
    const [totals] = keys(this.prefix, runId);
    let h = await this.redis.hgetall(totals);
    if (h[COMPLETE] !== '1') {
      await this.rebuild(db, runId);
      h = await this.redis.hgetall(totals);
    }
    const n = (f: string): number => Number(h[f] ?? 0);
    const counts = emptyCounts();
    for (const f of COUNT_FIELDS) counts[f] = n(f);
    return { shards_done: n('shards_done'), shards_failed: n('shards_failed'), docs_done: n('docs_done'), counts };
  }

  /** Re-record every settled shard of the run from MongoDB (O(shards); only after a loss). */
  async rebuild(db: Db, runId: string): Promise<void> {
    const cursor = shardsColl(db).find({ run_id: runId }, { projection: { _id: 1, state: 1, docs: 1, counts: 1 } });
    for await (const s of cursor) await this.record(runId, s._id, s.state, s.docs, s.counts);
    const [totals] = keys(this.prefix, runId);
    await this.redis.hset(totals, COMPLETE, '1');
  }

  /** Forget a run's counters (its run document keeps the settled totals). */
  async drop(runId: string): Promise<void> {
    await this.redis.del(...keys(this.prefix, runId));
  }
}
