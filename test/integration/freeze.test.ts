/**
 * freeze / unfreeze against the real services: both flags flipped with who/when/why and
 * every flip in the history; `import` refused while frozen, importing nothing;
 * `unfreeze --replay-one` reads its event back on NATS and on Redis, and fails clearly
 * (ERR_EVENT_TRANSPORT) with the transport down, the flags still unfrozen.
 */
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { eventsConfig, retainedEventIds, rustsecHead } from '../helpers/events.js';
import { loadConfig } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { LnmError } from '../../core/errors.js';
import { freePort } from '../../core/services/proc.js';
import { COLL } from '../../core/store/collections.js';
import { FLAGS, flagHistory, getFlag } from '../../core/store/flags.js';
import { outboxColl } from '../../core/store/outbox.js';
import { freeze, replayOne, unfreeze } from '../../producer/freeze.js';
import { importCorpus } from '../../producer/import.js';

const LONG = 300_000;

async function counts(conns: Connections): Promise<number[]> {
  return Promise.all([COLL.raw, COLL.observations, COLL.events].map((c) => conns.db.collection(c).countDocuments({})));
}

async function rejection(p: Promise<unknown>): Promise<LnmError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof LnmError)) throw new Error(`expected an LnmError, got ${String(err)}`);
  return err;
}

describe('freeze and unfreeze', () => {
  const res = useResources();
  const cfg = res.adopt(eventsConfig('freeze', 'nats'));
  const home = cfg.homeDir;
  let conns: Connections;

  beforeAll(async () => {
    conns = res.track(await Connections.open(cfg));
  });

  it('replay-one on an empty database fails with ERR_REPLAY_NOTHING', async () => {
    expect((await rejection(replayOne(conns))).code).toBe('ERR_REPLAY_NOTHING');
  });

  it('freeze needs a reason, then flips both flags with who/when/why and records every flip', async () => {
    expect((await rejection(freeze(conns, { reason: '  ' }))).code).toBe('ERR_REASON_REQUIRED');
    expect(await getFlag(conns.db, FLAGS.ingest)).toBeNull();

    const first = await freeze(conns, { reason: 'supersedes backfill' });
    expect(first.changed).toEqual({ ingest: true, publisher: true });
    expect(first.ingest).toMatchObject({ value: false, updated_by: os.userInfo().username, reason: 'supersedes backfill' });
    expect(first.publisher).toMatchObject({ value: false, mode: 'stop' });
    const again = await freeze(conns, { by: 'ops-2', reason: 'still frozen', outbox: 'blackhole' });
    expect(again.changed).toEqual({ ingest: false, publisher: true });
    expect(await getFlag(conns.db, FLAGS.publisher)).toMatchObject({ value: false, mode: 'blackhole', updated_by: 'ops-2' });

    const history = await flagHistory(conns.db, FLAGS.publisher);
    expect(history.map((h) => [h.value, h.mode, h.by, h.changed, h.previous])).toEqual([
      [false, 'stop', os.userInfo().username, true, null],
      [false, 'blackhole', 'ops-2', true, { value: false, mode: 'stop' }],
    ]);
    expect((await flagHistory(conns.db, FLAGS.ingest)).map((h) => h.changed)).toEqual([true, false]);
  });

  it('import during the freeze is refused and imports nothing', async () => {
    const before = await counts(conns);
    const err = await rejection(importCorpus(conns.db, await rustsecHead(home, 50), { homeDir: home }, quietLog));
    expect(err.code).toBe('ERR_INGEST_FROZEN');
    expect(err.message).toContain('unfreeze');
    expect(await counts(conns)).toEqual(before);
  });

  it('unfreeze re-enables ingest: the import writes raw documents, observations and one outbox row each', async () => {
    const r = await unfreeze(conns, { by: 'ops-1', reason: 'backfill validated' });
    expect(r.changed).toEqual({ ingest: true, publisher: true });
    expect(r.replay).toBeNull();
    const imported = await importCorpus(conns.db, await rustsecHead(home, 50), { homeDir: home }, quietLog);
    expect(imported.accepted).toBeGreaterThan(40);
    expect(await counts(conns)).toEqual([imported.accepted, imported.accepted, imported.accepted]);
    // A re-import adds no row: the eventIds are those of the same new observations.
    await importCorpus(conns.db, await rustsecHead(home, 50), { homeDir: home }, quietLog);
    expect(await outboxColl(conns.db).countDocuments({})).toBe(imported.accepted);
  });

  res.leakCheck();
});

describe.each(['nats', 'redis'] as const)('unfreeze --replay-one on %s', (kind) => {
  const res = useResources();
  const cfg = res.adopt(eventsConfig('replay', kind));
  const home = cfg.homeDir;
  let conns: Connections;

  beforeAll(async () => {
    conns = res.track(await Connections.open(cfg));
    await importCorpus(conns.db, await rustsecHead(home, 20), { homeDir: home }, quietLog);
    await freeze(conns, { reason: 'window' });
  }, LONG);

  it('republishes one recent observation event and reads it back', async () => {
    const r = await unfreeze(conns, { reason: 'done', replayOne: true });
    expect(r.ingest.value && r.publisher.value).toBe(true);
    expect(r.replay).toMatchObject({ ok: true, transport: kind });
    if (!r.replay?.ok) throw new Error('replay failed');
    expect(r.replay.latency_ms).toBeGreaterThan(0);
    expect(await outboxColl(conns.db).findOne({ _id: r.replay.event_id })).not.toBeNull();
    expect(await retainedEventIds(cfg)).toEqual([r.replay.event_id]);
  }, LONG);

  it('with the transport down it fails clearly, and the flags are unfrozen all the same', async () => {
    const port = await freePort();
    const down = loadConfig({
      ...process.env,
      ...(kind === 'nats' ? { NATS_URL: `nats://127.0.0.1:${port}` } : { REDIS_URL: `redis://127.0.0.1:${port}` }),
      LNM_DB: cfg.db,
      LNM_EVENT_TRANSPORT: kind,
      LNM_EVENT_CONNECT_TIMEOUT_MS: '1000',
    });
    const downConns = await res.open(down);
    await freeze(downConns, { reason: 'again' });
    const t0 = Date.now();
    const r = await unfreeze(downConns, { reason: 'transport check', replayOne: true });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.replay).toMatchObject({ ok: false, code: 'ERR_EVENT_TRANSPORT', message: expect.stringContaining(kind === 'nats' ? 'NATS_URL' : 'REDIS_URL') });
    expect(r.ingest.value && r.publisher.value).toBe(true);
    await res.close(downConns);
  }, LONG);

  res.leakCheck();
});
