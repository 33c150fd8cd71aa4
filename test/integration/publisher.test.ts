/**
 * The outbox publisher on both transports (real NATS JetStream and Redis Streams, a
 * stream / key prefix of this file's own): frozen, nothing is published while import and
 * backfill rows accumulate; unfrozen, every row is published exactly once by eventId,
 * a re-publish is dropped by the transport; `--outbox=blackhole` retains nothing; an
 * oversized event goes to the dead letter; the freeze-window proof holds, and fails when
 * something was published during a freeze.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { backgroundPublisher, eventsConfig, retainLinkset, retainedEventIds, runInProcess, rustsecHead } from '../helpers/events.js';
import { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { FLAGS, getFlag } from '../../core/store/flags.js';
import { listHeartbeats, type PublisherState } from '../../core/store/heartbeats.js';
import { applyMigrations } from '../../core/store/migrations.js';
import { MAX_EVENT_BYTES, outboxColl, type OutboxRow } from '../../core/store/outbox.js';
import type { RunDoc } from '../../core/store/runs.js';
import { checkOpenFreezeWindow, checkRunFreezeWindow } from '../../monitor/freeze-window.js';
import { unfreeze as unfreezeReporting } from '../../api/index.js';
import { freeze, replayOne } from '../../producer/freeze.js';
import { importCorpus } from '../../producer/import.js';

const LONG = 300_000;

describe.each(['nats', 'redis'] as const)('publisher on %s', (kind) => {
  const res = useResources();
  const cfg = res.adopt(eventsConfig('publisher', kind));
  const home = cfg.homeDir;
  let conns: Connections;
  let publisher: ReturnType<typeof backgroundPublisher> | undefined;
  // Closed in this order, before the file's connections: the publisher (after a failed test), then the stream.
  res.track({ close: async () => publisher?.stop() });
  let total = 0;
  let run: RunDoc;

  const pending = () => outboxColl(conns.db).countDocuments({ pending: true });
  /** An existence check for polling: FerretDB counts by a full scan. */
  const drained = async () => !(await outboxColl(conns.db).findOne({ pending: true }, { projection: { _id: 1 } }));
  /** The publisher's heartbeat once it acts on the current flag document in `state`. */
  const acknowledged = (state: PublisherState) =>
    pollUntil(async () => {
      const flag = await getFlag(conns.db, FLAGS.publisher);
      const [beat] = await listHeartbeats(conns.db, 'publisher');
      return beat && beat.state === state && beat.flag_updated_at?.getTime() === flag?.updated_at.getTime() ? beat : null;
    }, `publisher heartbeat ${state}`, 30_000, 50);
  /** Resolves after the publisher has beaten `n` more times (it was alive all along). */
  const beats = async (n: number) => {
    const [first] = await listHeartbeats(conns.db, 'publisher');
    const start = first!.at.getTime();
    return pollUntil(async () => {
      const [b] = await listHeartbeats(conns.db, 'publisher');
      return b && b.at.getTime() >= start + n * cfg.events.heartbeatMs ? b : null;
    }, `${n} heartbeats`, 30_000, 50);
  };

  beforeAll(async () => {
    conns = res.track(await Connections.open(cfg));
    await applyMigrations(conns.db, cfg);
    await retainLinkset(cfg);
  }, LONG);

  it('frozen: nothing is published while import and backfill rows accumulate', async () => {
    const imported = await importCorpus(conns.db, await rustsecHead(home, 300), { homeDir: home }, quietLog);
    expect(imported.accepted).toBeGreaterThan(250);
    expect(await pending()).toBe(imported.accepted);
    await freeze(conns, { by: 'tester', reason: 'backfill window' });
    publisher = backgroundPublisher(conns);
    expect((await acknowledged('stopped')).transport).toBe(kind);

    run = await runInProcess(conns, { dryRun: false, force: { reason: 'test: no approvals needed here' } });
    expect(run.state).toBe('succeeded');
    const backfillRows = await outboxColl(conns.db).countDocuments({ run_id: run._id });
    const chains = new Set((await conns.db.collection(COLL.supersedes).find({ run_id: run._id }).toArray()).map((e) => e.upstream_id)).size;
    expect(backfillRows).toBe(run.counters!.edges_inserted + chains);
    total = imported.accepted + backfillRows;

    await beats(3);
    expect(await pending()).toBe(total);
    expect(await retainedEventIds(cfg)).toEqual([]);
  }, LONG);

  it('the freeze window proof holds while nothing was published', async () => {
    const check = await checkRunFreezeWindow(conns, run);
    expect(check).toMatchObject({ status: 'passed', ok: true, transport: kind, window: { open: true, frozen_by: 'tester', mode: 'stop' } });
    expect(check.channels.map((c) => [c.channel, c.count])).toEqual([['observation', 0], ['linkset', 0]]);
  }, LONG);

  it('unfrozen: everything is published exactly once, by eventId', async () => {
    const unfrozen = await unfreezeReporting({ config: cfg, log: quietLog, by: 'tester', reason: 'backfill done' });
    // The proof over the window it closed, read just before.
    expect(unfrozen.freeze_window).toMatchObject({ status: 'passed', window: { open: true, frozen_by: 'tester' } });
    await pollUntil(drained, 'the outbox to drain', 120_000, 100);
    const ids = await retainedEventIds(cfg);
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    const rows = await outboxColl(conns.db).find({}, { projection: { _id: 1, published_to: 1, publishedAt: 1 } }).toArray();
    expect(new Set(ids)).toEqual(new Set(rows.map((r) => r._id)));
    expect(rows.every((r) => r.published_to === 'stream' && r.publishedAt instanceof Date)).toBe(true);

    // The run's window is closed now, and still clean; nothing is frozen now.
    const check = await checkRunFreezeWindow(conns, run);
    expect(check).toMatchObject({ status: 'passed', window: { open: false, unfrozen_by: 'tester' } });
    expect(await checkOpenFreezeWindow(conns)).toBeNull();
  }, LONG);

  it('a re-publish (rows marked pending again, as after a crash before stamping) adds nothing to the transport', async () => {
    const again = (await outboxColl(conns.db).find({}).limit(5).toArray()).map((r) => r._id);
    for (const _id of again) await outboxColl(conns.db).updateOne({ _id }, { $set: { pending: true, publishedAt: null } });
    await pollUntil(drained, 'the re-marked rows to be stamped again', 60_000, 50);
    expect((await retainedEventIds(cfg)).length).toBe(total);
  }, LONG);

  it('an event over 512 KiB goes to the dead letter with its reason, never to the transport', async () => {
    const sample = (await outboxColl(conns.db).findOne({ kind: 'import' }))!;
    const huge: OutboxRow = {
      ...sample,
      _id: `${sample._id}-huge`,
      pending: true,
      publishedAt: null,
      payload: { ...sample.payload, eventId: `${sample._id}-huge`, linksetSummary: { aliases: ['x'.repeat(MAX_EVENT_BYTES)], linkset: {} } },
    };
    await outboxColl(conns.db).insertOne(huge);
    // Moved: into the dead letter first, then out of the outbox.
    await pollUntil(async () => (await outboxColl(conns.db).findOne({ _id: huge._id })) === null, 'the row to leave the outbox', 60_000, 50);
    const dead = await conns.db.collection(COLL.deadLetters).findOne({ _id: huge._id as never });
    // (Only small fields compared: a failing diff of the row would print 512 KiB.)
    expect([dead?.code, dead?.bytes > MAX_EVENT_BYTES, String(dead?.reason).includes('over the')]).toEqual(['ERR_EVENT_TOO_LARGE', true, true]);
    expect((await retainedEventIds(cfg)).length).toBe(total);
  }, LONG);

  it('frozen with --outbox=blackhole: rows are stamped as blackholed and nothing is retained', async () => {
    await freeze(conns, { by: 'tester', reason: 'noisy replay', outbox: 'blackhole' });
    await acknowledged('blackhole');
    const base = (await outboxColl(conns.db).find({ kind: 'backfill' }).limit(4).toArray()).map((r) => ({
      ...r,
      _id: `${r._id}-bh`,
      pending: true,
      publishedAt: null,
      payload: { ...r.payload, eventId: `${r._id}-bh` },
    }));
    await outboxColl(conns.db).insertMany(base);
    await pollUntil(drained, 'the blackholed rows to be stamped', 60_000, 50);
    const stamped = await outboxColl(conns.db).find({ published_to: 'blackhole' }).toArray();
    expect(stamped.map((r) => r._id).sort()).toEqual(base.map((r) => r._id).sort());
    expect((await retainedEventIds(cfg)).length).toBe(total);
    expect((await checkOpenFreezeWindow(conns))?.status).toBe('passed');
  }, LONG);

  it('the freeze window proof fails when an event was published during the freeze', async () => {
    const replay = await replayOne(conns);
    expect(replay.ok).toBe(true);
    const check = (await checkOpenFreezeWindow(conns))!;
    expect([check.status, check.ok]).toEqual(['failed', false]);
    expect(check.channels[0]).toMatchObject({ channel: 'observation', count: 1, sample: [replay.event_id] });
    expect(check.reason).toContain('1 event(s)');
  }, LONG);

  it('stops on abort with a last heartbeat', async () => {
    const stats = await publisher!.stop();
    publisher = undefined;
    expect(stats.published).toBe(total);
    expect(stats.duplicates).toBeGreaterThanOrEqual(5);
    expect(stats.blackholed).toBe(4);
    expect(stats.dead_lettered).toBe(1);
    const [beat] = await listHeartbeats(conns.db, 'publisher');
    expect(beat!.state).toBe('exited');
  }, LONG);

  res.leakCheck();
});
