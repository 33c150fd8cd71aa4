/**
 * Resume: (a) a run whose checkpoint has one shard done and one half-written is
 * completed by a worker without duplicates or idempotency hits; (b) a worker killed
 * with SIGKILL mid-run loses its in-flight shards only until their locks expire, and a
 * fresh worker completes the run with exactly the expected edges.
 */
import { describe, expect, it } from 'vitest';
import { cliJson, pollUntil, quietLog, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { driveToEnd, edgeIntegrity, type ImportJson, independentEdges, type RunJson, rustsecExpected, type SeedJson, type ValidateJson } from '../helpers/oracle.js';
import { COLL } from '../../core/store/collections.js';
import { getShard, manifestsColl, shardsColl, type ShardDoc } from '../../core/store/shards.js';
import { ProgressStore } from '../../core/store/progress.js';
import { summarizeRun } from '../../core/store/summary.js';
import { supersedesForGroups } from '../../core/supersedes.js';
import { processShard } from '../../workers/shard-processor.js';
import type { IdDoc } from '../../workers/idempotent-write.js';

const X = rustsecExpected();
const res = useResources();
const A = { cfg: res.config('resume_seeded') };
const B = { cfg: res.config('resume_crash') };
const CRASH_ENV = { LNM_LOCK_DURATION_MS: '2000', LNM_STALLED_INTERVAL_MS: '1000', LNM_WORKER_CONCURRENCY: '2' };
const LONG = 600_000;


describe('resume', () => {
  it('a) from a checkpoint with one shard done and one half-written shard: no duplicates, no hits, exact edges', async () => {
    const { cfg } = A;
    const imp = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json']);
    expect(imp.accepted).toBe(X.accepted_documents_after_duplicate_drop);
    // No --wait: the run is planned, its jobs wait in the queue with no worker.
    const started = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--json']);
    expect(started.state).toBe('running');
    expect(started.shards).toBeGreaterThanOrEqual(2);
    const runId = started.run_id;

    const conns = await res.open(cfg);
    try {
      const { db } = conns;
      expect(await conns.queue('shards', runId).getWaitingCount()).toBe(started.shards);
      const all = await shardsColl(db).find({ run_id: runId }).toArray();
      const manifests = new Map((await manifestsColl(db).find({ run_id: runId }).toArray()).map((m) => [m._id, m.advisories]));
      const withEdges = all
        .map((s) => ({ s, edges: supersedesForGroups(manifests.get(s._id) ?? []).edges }))
        .filter((x) => x.edges.length >= 2)
        .sort((x, y) => x.s.shard - y.s.shard);
      expect(withEdges.length).toBeGreaterThanOrEqual(2);
      const done = withEdges[0]!;
      const half = withEdges[1]!;

      // Shard 1: processed to completion in-process (as a worker would).
      const progress = new ProgressStore(conns.sharedRedis(), cfg.queuePrefix);
      const outcome = await processShard({ db, log: quietLog, progress, attempt: 1, maxAttempts: 1, deleteBatch: cfg.deleteBatch }, { run_id: runId, shard: done.s.shard });
      expect(outcome).toMatchObject({ action: 'done', counts: { edges_inserted: done.edges.length, tombstones_inserted: done.edges.length, idempotent_hits: 0 } });
      expect((await getShard(db, done.s._id))?.state).toBe('done');

      // Shard 2: the first half of its edges written by this run, then the writer "died".
      const firstHalf = half.edges.slice(0, Math.floor(half.edges.length / 2));
      const stamp = { run_id: runId, created_at: new Date() };
      await db.collection<IdDoc>(COLL.supersedes).insertMany(firstHalf.map(({ _id, ...edge }) => ({ _id, ...edge, ...stamp })));
      const halfShard = (await getShard(db, half.s._id)) as ShardDoc;
      expect(halfShard.state).toBe('pending');

      const worker = res.worker(cfg);
      const final = await driveToEnd(conns, runId, LONG);
      await res.stop(worker, 'SIGTERM');
      expect(worker.exitCode, res.workerLog(worker)).toBe(0);

      expect(final.run.state).toBe('succeeded');
      expect(final.shards).toMatchObject({ total: started.shards, done: started.shards, failed: 0 });
      expect(final.counts).toMatchObject({
        docs: X.accepted_documents_after_duplicate_drop,
        edges_inserted: X.expected_supersedes_edges,
        tombstones_inserted: X.expected_supersedes_edges,
        idempotent_hits: 0,
        violations: 0,
        errors: 0,
      });

      // The half-done shard counts its own earlier writes as inserted by this run.
      const halfAfter = (await getShard(db, half.s._id))!;
      expect(halfAfter.state).toBe('done');
      expect(halfAfter.counts).toMatchObject({ edges_inserted: half.edges.length, tombstones_inserted: half.edges.length, idempotent_hits: 0, violations: 0 });
      // The shard done before the worker started was not processed again.
      const doneAfter = (await getShard(db, done.s._id))!;
      expect(doneAfter.attempts).toBe(1);
      expect(doneAfter.counts).toEqual((outcome as { counts: unknown }).counts);

      const e = await edgeIntegrity(db);
      expect(e).toMatchObject({ total: X.expected_supersedes_edges, ids: X.expected_supersedes_edges, pairs: X.expected_supersedes_edges });
      expect(e.runIds).toEqual({ [runId]: X.expected_supersedes_edges });
      expect(await db.collection(COLL.tombstones).countDocuments({})).toBe(X.expected_supersedes_edges);
    } finally {
      await res.close(conns);
    }

    const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json']);
    expect(v.ok).toBe(true);
    expect(v.edges).toMatchObject({ expected: X.expected_supersedes_edges, present: X.expected_supersedes_edges, missing: 0, extra: 0, digest: X.edges_sha256_oracle_format });
    expect(v.observations).toEqual({ before: X.accepted_documents_after_duplicate_drop, after: X.accepted_documents_after_duplicate_drop });
  }, LONG);

  it('b) a worker killed with SIGKILL mid-run: stalled shards come back and a fresh worker finishes exactly', async () => {
    const { cfg } = B;
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '6000', '--seed', '7', '--tenants', '2', '--json']);
    expect(seed.docs).toBe(6000);
    expect(seed.import?.rejected).toEqual({});
    const started = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=100', '--json']);
    expect(started.state).toBe('running');
    const runId = started.run_id;
    const total = started.shards;
    expect(total).toBeGreaterThanOrEqual(60);

    const conns = await res.open(cfg);
    try {
      const { db } = conns;
      const queue = conns.queue('shards', runId);
      const expected = await independentEdges(db);
      expect(expected.documents).toBe(seed.import!.accepted);
      expect(expected.edges).toBeGreaterThan(0);

      // Kill a worker while it holds a shard. The kill can land between two shards; then
      // no job was in flight and another worker is killed, until one held a shard.
      let inFlight: string[] = [];
      for (let kills = 0; inFlight.length === 0; kills++) {
        expect(kills, 'no worker was ever killed holding a shard').toBeLessThan(10);
        const w = res.worker(cfg, CRASH_ENV);
        await pollUntil(async () => (await queue.getActiveCount()) >= 1 || (await summarizeRun(conns, runId)).shards.done >= total, 'a shard in flight', LONG, 20);
        await res.stop(w, 'SIGKILL');
        expect(w.signalCode).toBe('SIGKILL');
        // With no worker alive, nothing checks for stalled jobs: what the dead worker held stays active.
        inFlight = (await queue.getActive()).map((j) => j.id!);
      }
      const atKill = await summarizeRun(conns, runId);
      expect(atKill.shards.done).toBeLessThan(total);

      const second = res.worker(cfg, CRASH_ENV);
      const final = await driveToEnd(conns, runId, LONG);
      await res.stop(second, 'SIGTERM');
      expect(second.exitCode, res.workerLog(second)).toBe(0);

      expect(final.run.state).toBe('succeeded');
      expect(final.shards).toMatchObject({ total, done: total, failed: 0 });
      expect(final.counts).toMatchObject({
        docs: expected.documents,
        edges_inserted: expected.edges,
        tombstones_inserted: expected.edges,
        idempotent_hits: 0,
        violations: 0,
        errors: 0,
      });
      // The shards in flight at the kill were recovered as stalled jobs and completed.
      for (const id of inFlight) {
        const job = await queue.getJob(id);
        expect(job?.stalledCounter, id).toBeGreaterThanOrEqual(1);
        expect(await job?.getState(), id).toBe('completed');
        expect((await getShard(db, id))?.state, id).toBe('done');
      }

      const e = await edgeIntegrity(db);
      expect(e).toMatchObject({ total: expected.edges, ids: expected.edges, pairs: expected.edges, newer: expected.edges, older: expected.edges });
      expect(await db.collection(COLL.tombstones).countDocuments({})).toBe(expected.edges);
      const shardDocs = await shardsColl(db).find({ run_id: runId }, { projection: { docs: 1 } }).toArray();
      expect(shardDocs.reduce((n, s) => n + s.docs, 0)).toBe(expected.documents);

      const v = await cliJson<ValidateJson>(cfg, ['validate', runId, '--json']);
      expect(v.ok).toBe(true);
      expect(v.edges).toMatchObject({ expected: expected.edges, present: expected.edges, missing: 0, extra: 0, digest: expected.digest });
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('ran at least three worker processes', () => {
    expect(res.children.length).toBeGreaterThanOrEqual(3);
  });

  res.leakCheck();
});
