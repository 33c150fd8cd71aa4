/**
 * Who writes the outbox during a backfill (real MongoDB-wire server, shards processed in
 * this process): a dry run writes nothing; a real run writes one row per observation it
 * changed; a retried shard adds none; rollback removes the run's unpublished rows and
 * keeps the published ones (history).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { settleInProcess } from '../helpers/oracle.js';
import { runInProcess, rustsecHead } from '../helpers/events.js';
import { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { outboxColl } from '../../core/store/outbox.js';
import { markPublished } from '../../core/store/outbox-publish.js';
import { getRun } from '../../core/store/runs.js';
import { shardsColl } from '../../core/store/shards.js';
import { importCorpus } from '../../producer/import.js';
import { startRun } from '../../producer/start.js';
import { beginRollback, rollbackRun } from '../../workers/rollback.js';
import { processShard, shardContext } from '../../workers/shard-processor.js';

const LONG = 300_000;
const res = useResources();
const cfg = res.config('outbox_backfill');
const home = cfg.homeDir;
let conns: Connections;
let runId = '';
let runRows = 0;
const ctx = () => shardContext(conns, quietLog, 1, 3);

beforeAll(async () => {
  conns = res.track(await Connections.open(cfg));
  await importCorpus(conns.db, await rustsecHead(home, 400), { homeDir: home }, quietLog);
}, LONG);

describe('backfill outbox rows', () => {
  it('a dry run writes no outbox row', async () => {
    const before = await outboxColl(conns.db).countDocuments({});
    const dry = await runInProcess(conns, { dryRun: true });
    expect(dry.state).toBe('succeeded');
    expect(dry.counters!.edges_inserted).toBeGreaterThan(50);
    expect(await outboxColl(conns.db).countDocuments({})).toBe(before);
  }, LONG);

  it('a real run writes one row per changed observation; a retried shard adds none', async () => {
    const run = await startRun(conns, { dryRun: false, batchSize: 100, stopOnError: false, tenant: null, commandLine: ['test'], force: { reason: 'test' } }, quietLog);
    runId = run._id;
    for (let s = 0; s < run.shards_total; s++) await processShard(ctx(), { run_id: runId, shard: s });
    const edges = await conns.db.collection(COLL.supersedes).find({ run_id: runId }).toArray();
    const chains = new Set(edges.map((e) => `${e.tenant}|${e.vendor}|${e.upstream_id}`)).size;
    runRows = await outboxColl(conns.db).countDocuments({ run_id: runId });
    expect(runRows).toBe(edges.length + chains);
    const ids = (await outboxColl(conns.db).find({ run_id: runId }).toArray()).map((r) => r._id).sort();

    // The shard's job runs again (a retry after a crash before the shard was marked done).
    await shardsColl(conns.db).updateOne({ _id: `${runId}-s000000` }, { $set: { state: 'pending' } });
    const again = await processShard(ctx(), { run_id: runId, shard: 0 });
    expect(again.action).toBe('done');
    if (again.action === 'done') expect(again.counts.edges_inserted).toBeGreaterThan(0); // resumed, its own earlier writes
    expect((await outboxColl(conns.db).find({ run_id: runId }).toArray()).map((r) => r._id).sort()).toEqual(ids);

    expect((await settleInProcess(conns, runId)).state).toBe('succeeded');
  }, LONG);

  it('rollback removes the run\'s unpublished rows and keeps what was published', async () => {
    const published = (await outboxColl(conns.db).find({ run_id: runId }).limit(3).toArray()).map((r) => ({ id: r._id, position: null }));
    await markPublished(conns.db, published, 'stream', new Date());
    await beginRollback(conns, runId, 'test', 'operator');
    const r = await rollbackRun(conns, runId, quietLog);
    expect(r.events_removed).toBe(runRows - 3);
    expect((await outboxColl(conns.db).find({ run_id: runId }).toArray()).map((x) => x._id).sort()).toEqual(published.map((p) => p.id).sort());
    expect((await getRun(conns.db, runId)).state).toBe('rolled_back');
    // The import rows are untouched.
    expect(await outboxColl(conns.db).countDocuments({ kind: 'import', pending: true })).toBe(await conns.db.collection(COLL.observations).countDocuments({}));
  }, LONG);

  res.leakCheck();
});
