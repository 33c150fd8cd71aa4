/**
 * Chaos 5: a network stall. Worker A reaches FerretDB and Redis only through StallProxy
 * (loopback); worker B directly. The proxies stall A's traffic at its first edge write
 * after a third of the run: its write is held, and so are its lock renewals, so its shard
 * jobs' locks expire (LNM_LOCK_DURATION_MS 3 s) and B takes them over and finishes them.
 * Only then is the stall released: A's held write lands on the edges B wrote, is
 * classified `resumed` (same run, same content) and changes nothing; A records its late
 * attempt and goes on working. The run ends with the expected digest, no duplicate.
 *
 * Both of A's connections stall (a partition of A's host): with MongoDB alone stalled, A
 * would keep renewing its BullMQ lock over Redis and nobody would take the shard over.
 *
 * What A records after the release depends on where each of its jobs was held: the job
 * whose write was held records its late attempt (`done`, counts all `resumed`); a job held
 * before its write (A runs two at a time) reads its shard `done` after the release and
 * returns `noop` without a run-log entry — a done shard is a no-op (DESIGN §4); a job whose
 * shard A had marked done just before the stall (its progress record and run-log entry
 * held) is taken over by B as such a no-op, and A records it after the release. So the
 * scenario waits for the entry of A's held write, not for an entry of every stalled job
 * (waiting for the latter is what "no run-log entry after release" was about).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { shardId, shardQueueName } from '../../core/contract.js';
import { COLL } from '../../core/store/collections.js';
import { entries } from '../../core/store/run-log.js';
import { listShards } from '../../core/store/shards.js';
import { ChaosRig, LONG } from './harness.js';
import { forgetResult, recordResult } from './results.js';
import { StallProxy } from './stall-proxy.js';

const rig = new ChaosRig('stall');
const proxies: StallProxy[] = [];
afterAll(async () => {
  await rig.teardown();
  for (const p of proxies) await p.close();
});

describe('chaos: a worker\'s network stalled longer than its job lock', () => {
  it('5. stall one worker\'s traffic mid-write: its shard is taken over, its late writes do no harm', async () => {
    const t0 = Date.now();
    forgetResult(5);
    await rig.setup();
    const mongo = await StallProxy.start(rig.ferret!.port);
    const redis = await StallProxy.start(Number(new URL(rig.cfg.redisUrl).port));
    proxies.push(mongo, redis);
    const run = await rig.start();
    const id = run.run_id;
    const stalled = new Set<string>();
    rig.conns.queueEvents(shardQueueName(id)).on('stalled', ({ jobId }) => stalled.add(jobId));
    rig.monitor();
    const a = rig.worker({ MONGO_URL: `mongodb://127.0.0.1:${mongo.port}/`, REDIS_URL: `redis://127.0.0.1:${redis.port}` });
    const b = rig.worker();
    const byA = `${hostname()}:${a.pid}`;

    await rig.poll(async () => (await rig.summary(id)).shards.done >= Math.floor(run.shards / 3), 'a third of the shards done');
    // A's next insert into advisory_supersedes stalls A's MongoDB and Redis traffic at once.
    mongo.stallOn(COLL.supersedes, () => redis.stall());
    const stallAt = await rig.poll(async () => mongo.stalledAt, 'worker A to reach an edge write', 900_000, 20);
    expect(redis.stalled).toBe(true);
    // A's jobs are among those active now (their locks cannot expire before LNM_LOCK_DURATION_MS).
    const activeAtStall = (await rig.conns.queue('shards', id).getActive()).map((j) => j.id!);

    // B's stalled-job check finds A's expired locks and takes the jobs over. Wait until every
    // job active at the stall is done: B's own ones, and A's, which only B can have finished.
    const takenOver = await rig.poll(async () => {
      const want = new Set(activeAtStall);
      const done = (await listShards(rig.conns.db, id)).filter((s) => want.has(s._id) && s.state === 'done');
      return done.length === want.size ? activeAtStall.filter((j) => stalled.has(j)) : null;
    }, 'the shards in flight at the stall to be done', 120_000);
    const takeoverMs = Date.now() - stallAt;
    // A job of A's whose shard A had marked done just before the stall (only its progress
    // record, over Redis, and its run-log entry were held) is taken over as a no-op: B
    // records nothing for it. Every other taken-over shard was written and recorded by B.
    // (B appends its entry just after marking the shard done: wait for the entries.)
    const { redone, doneByB } = await rig.poll(async () => {
      const finishedBeforeStall = new Set((await listShards(rig.conns.db, id)).filter((s) => s.finished_at !== undefined && s.finished_at.getTime() < stallAt).map((s) => s._id));
      const redone = takenOver.filter((s) => !finishedBeforeStall.has(s));
      const doneByB = new Map((await entries(rig.conns.db, id, 'shard')).filter((e) => e.outcome === 'done' && e.by !== byA).map((e) => [shardId(id, Number(e.shard)), e]));
      return redone.every((s) => doneByB.has(s)) ? { redone, doneByB } : null;
    }, 'another worker to record every taken-over shard A had not finished', 60_000);
    expect(redone.length, `active at the stall: ${activeAtStall.join(', ')}; stalled: ${[...stalled].join(', ')}`).toBeGreaterThan(0);
    const stallMs = Date.now() - stallAt;
    mongo.release();
    redis.release();
    const releasedAt = Date.now();

    // A's held write lands after the takeover: A records its attempt of a taken-over shard (it was not fenced: no rollback).
    const late = await rig.poll(async () => {
      const mine = (await entries(rig.conns.db, id, 'shard')).filter((e) => e.by === byA && redone.includes(shardId(id, Number(e.shard))) && e.at.getTime() >= stallAt);
      return mine.length > 0 ? mine : null;
    }, 'worker A to record its late attempt of a taken-over shard', 120_000);
    const lateMs = Date.now() - releasedAt;
    for (const e of late) {
      const counts = e.counts as Record<string, number>;
      const theirs = doneByB.get(shardId(id, Number(e.shard)))!.counts as Record<string, number>;
      // Everything A wrote was already there from B, under the same run: resumed, not a hit, not a violation.
      expect({ outcome: e.outcome, edges: counts.edges_inserted, hits: counts.idempotent_hits, violations: counts.violations }).toEqual({ outcome: 'done', edges: theirs.edges_inserted, hits: 0, violations: 0 });
    }

    await rig.settleSucceeded(id);
    expect([a.exitCode, b.exitCode], rig.log(a).slice(-3000)).toEqual([null, null]);
    const v = await rig.verify(id);
    recordResult({
      n: 5,
      scenario: 'network stall: one worker\'s MongoDB + Redis traffic held at its edge write, longer than the job lock',
      faults: `worker A stalled ${(stallMs / 1000).toFixed(1)} s (lock 3 s) at ${COLL.supersedes} insert; ${takenOver.length} shard job(s) taken over, ${redone.length} of them done by worker B; after release A's late writes were all \`resumed\` (${late.length} late attempt(s), 0 hits, 0 violations)`,
      expected: rig.expected.digest,
      final: v.finalDigest,
      duplicates: v.duplicates,
      recoveryMs: [takeoverMs, lateMs],
      totalMs: Date.now() - t0,
    });
  }, LONG);
});
