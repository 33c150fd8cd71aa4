/** Outbox rows (eventIds, backfill rows per changed observation), freeze windows, plan hashes, index checks: pure parts. */
import { describe, expect, it } from 'vitest';
import { argsHash, planHash } from '../../core/store/approvals.js';
import type { FlagHistoryDoc } from '../../core/store/flags.js';
import { migrationChecksum, migrations } from '../../core/store/migrations.js';
import { observationFor, observationIdFor } from '../../core/store/observations.js';
import { backfillEventRows, eventIdFor, importEventRow, linksetSummary, replayCursor } from '../../core/store/outbox.js';
import { supersedesForAdvisory, type AdvisoryGroup } from '../../core/supersedes.js';
import { freezeWindowAt, latestFreezeWindow } from '../../monitor/freeze-window.js';
import { indexCheck } from '../../producer/preflight.js';
import { loadConfig } from '../../core/config.js';

const h = (c: string): string => `sha256:${c.repeat(64)}`;
const group: AdvisoryGroup = {
  tenant: 't1',
  vendor: 'osv',
  upstream_id: 'GHSA-1',
  revisions: [
    { raw_id: 'rC', fetched_at: new Date('2024-03-01T00:00:00Z'), content_hash: h('c') },
    { raw_id: 'rA', fetched_at: new Date('2024-01-01T00:00:00Z'), content_hash: h('a') },
    { raw_id: 'rB', fetched_at: new Date('2024-02-01T00:00:00Z'), content_hash: h('b') },
  ],
};
const { edges, tombstones } = supersedesForAdvisory(group); // A→B, B→C; tombstones for A and B
const all = { edges: new Set(edges.map((e) => e._id)), tombstones: new Set(tombstones.map((t) => t._id)) };
const at = new Date('2024-06-01T00:00:00Z');

describe('backfill outbox rows', () => {
  it('one row per changed observation, in chain order; the middle one is linked and tombstoned', () => {
    const rows = backfillEventRows('run-1', edges, tombstones, all, at);
    expect(rows.map((r) => [r.payload.observationId, r.payload.changes])).toEqual([
      ['obs-rA', ['tombstoned']],
      ['obs-rB', ['linked', 'tombstoned']],
      ['obs-rC', ['linked']],
    ]);
    const [a, b, c] = rows;
    expect(a!.payload).toMatchObject({ supersededById: 'obs-rB', documentSha: h('a'), advisoryId: 'GHSA-1', source: 'osv', tenantId: 't1' });
    expect(a!.payload.supersedesId).toBeUndefined();
    expect(b!.payload).toMatchObject({ supersedesId: 'obs-rA', supersededById: 'obs-rC' });
    expect(c!.payload).toMatchObject({ supersedesId: 'obs-rB' });
    expect(c!.payload.supersededById).toBeUndefined();
    for (const r of rows) {
      expect(r).toMatchObject({ pending: true, publishedAt: null, kind: 'backfill', run_id: 'run-1', complete: false });
      expect(r._id).toBe(r.payload.eventId);
      expect(r.payload.replayCursor).toBe(r.replayCursor);
    }
    expect(rows.map((r) => r.replayCursor)).toEqual([...rows.map((r) => r.replayCursor)].sort());
  });

  it('is deterministic: the same run and the same writes give the same eventIds at any time', () => {
    const again = backfillEventRows('run-1', edges, tombstones, all, new Date());
    expect(again.map((r) => r._id)).toEqual(backfillEventRows('run-1', edges, tombstones, all, at).map((r) => r._id));
    const other = backfillEventRows('run-2', edges, tombstones, all, at);
    expect(other.map((r) => r._id).some((id) => again.some((r) => r._id === id))).toBe(false);
  });

  it('writes nothing for idempotency hits: only what this run inserted or resumed', () => {
    const onlyFirstEdge = { edges: new Set([edges[0]!._id]), tombstones: new Set<string>() };
    expect(backfillEventRows('run-1', edges, tombstones, onlyFirstEdge, at).map((r) => [r.payload.observationId, r.payload.changes])).toEqual([['obs-rB', ['linked']]]);
    // A tombstone written by this run whose edge was a hit still gets its row.
    const onlyTombstone = { edges: new Set<string>(), tombstones: new Set([tombstones[1]!._id]) };
    expect(backfillEventRows('run-1', edges, tombstones, onlyTombstone, at).map((r) => [r.payload.observationId, r.payload.changes])).toEqual([['obs-rB', ['tombstoned']]]);
    expect(backfillEventRows('run-1', edges, tombstones, { edges: new Set(), tombstones: new Set() }, at)).toEqual([]);
  });
});

describe('import outbox rows and event ids', () => {
  const raw = {
    _id: 'r1',
    tenant: 't1',
    source: { vendor: 'osv' },
    upstream: { upstream_id: 'GHSA-2', content_hash: h('d') },
    identifiers: { aliases: ['CVE-1', 'GHSA-2', 'CVE-1'] },
    linkset: { purls: ['a', 'b'], cpe: 'x' },
    ingested_at: at,
  };
  it('builds a complete created event for a new observation', () => {
    const obs = observationFor(raw);
    expect(obs._id).toBe(observationIdFor('r1'));
    const row = importEventRow(raw, obs, at, 7);
    expect(row).toMatchObject({ kind: 'import', run_id: null, complete: true, pending: true, publishedAt: null, replayCursor: replayCursor(at, 7) });
    expect(row.payload).toMatchObject({
      eventId: row._id,
      observationId: 'obs-r1',
      changes: ['created'],
      ingestedAt: at.toISOString(),
      linksetSummary: { aliases: ['CVE-1', 'GHSA-2'], linkset: { cpe: 1, purls: 2 } },
    });
    expect(row.payload.observationHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('event ids are unambiguous: separators inside a field do not collide', () => {
    const a = eventIdFor({ kind: 'import', tenant: 'a|b', observationId: 'c', change: 'created', runId: null });
    const b = eventIdFor({ kind: 'import', tenant: 'a', observationId: 'b|c', change: 'created', runId: null });
    expect(a).not.toBe(b);
    expect(linksetSummary({})).toEqual({ aliases: [], linkset: {} });
  });
});

describe('freeze windows from the flag history', () => {
  const e = (at: string, value: boolean, changed = true): FlagHistoryDoc => ({
    _id: at,
    flag: 'outbox_publisher_enabled',
    value,
    ...(value ? {} : { mode: 'stop' as const }),
    previous: null,
    changed,
    at: new Date(at),
    by: value ? 'ops-b' : 'ops-a',
    reason: 'r',
  });
  const now = new Date('2024-01-01T10:00:00Z');
  it('takes the last freeze and its unfreeze; repeated freezes do not move the start', () => {
    const w = latestFreezeWindow([e('2024-01-01T01:00:00Z', false), e('2024-01-01T02:00:00Z', true), e('2024-01-01T03:00:00Z', false), e('2024-01-01T03:30:00Z', false, false), e('2024-01-01T04:00:00Z', true)], now);
    expect(w).toMatchObject({ from: new Date('2024-01-01T03:00:00Z'), to: new Date('2024-01-01T04:00:00Z'), open: false, frozen_by: 'ops-a', unfrozen_by: 'ops-b' });
  });
  it('an open freeze ends now; no freeze gives null', () => {
    expect(latestFreezeWindow([e('2024-01-01T01:00:00Z', false)], now)).toMatchObject({ to: now, open: true, unfrozen_by: null });
    expect(latestFreezeWindow([e('2024-01-01T01:00:00Z', true)], now)).toBeNull();
  });
  it('the window a run started in: not the last one, none when the run started unfrozen', () => {
    const history = [e('2024-01-01T01:00:00Z', false), e('2024-01-01T02:00:00Z', true), e('2024-01-01T03:00:00Z', false)];
    expect(freezeWindowAt(history, new Date('2024-01-01T01:30:00Z'), now)).toMatchObject({ from: new Date('2024-01-01T01:00:00Z'), to: new Date('2024-01-01T02:00:00Z'), open: false });
    expect(freezeWindowAt(history, new Date('2024-01-01T05:00:00Z'), now)).toMatchObject({ from: new Date('2024-01-01T03:00:00Z'), to: now, open: true });
    expect(freezeWindowAt(history, new Date('2024-01-01T02:30:00Z'), now)).toBeNull();
    expect(freezeWindowAt(history, new Date('2024-01-01T00:30:00Z'), now)).toBeNull();
  });
});

describe('plan hashes', () => {
  const args = { dry_run: true, batch_size: 500, stop_on_error: true, tenant: null };
  it('a dry run and the real run with the same arguments share a plan; the corpus and every other argument count', () => {
    expect(planHash(args, 'c1')).toBe(planHash({ ...args, dry_run: false }, 'c1'));
    expect(planHash(args, 'c1')).not.toBe(planHash(args, 'c2'));
    expect(planHash(args, 'c1')).not.toBe(planHash({ ...args, batch_size: 100 }, 'c1'));
    expect(argsHash(args)).toBe(argsHash({ ...args, dry_run: false }));
  });
});

describe('migrations and index checks', () => {
  it('checksums are stable and cover the configured retention', () => {
    const a = migrations(loadConfig({})).map(migrationChecksum);
    expect(migrations(loadConfig({})).map(migrationChecksum)).toEqual(a);
    const b = migrations(loadConfig({ LNM_OUTBOX_TTL_DAYS: '9' })).map(migrationChecksum);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
  });

  it('an index check names missing, wrong keys and non-unique', () => {
    const spec = { name: 'u', key: { tenant: 1, 'x.y': 1 }, unique: true };
    expect(indexCheck('c', 'coll', spec, [{ name: 'u', key: { tenant: 1, 'x.y': 1 }, unique: true }]).ok).toBe(true);
    expect(indexCheck('c', 'coll', spec, [{ name: 'other', key: { tenant: 1, 'x.y': 1 }, unique: true }])).toMatchObject({ ok: true, reason: expect.stringContaining('named "other"') });
    expect(indexCheck('c', 'coll', spec, [])).toMatchObject({ ok: false, reason: expect.stringContaining('missing') });
    expect(indexCheck('c', 'coll', spec, [{ name: 'u', key: { 'x.y': 1, tenant: 1 }, unique: true }])).toMatchObject({ ok: false, reason: expect.stringContaining('wrong keys') });
    expect(indexCheck('c', 'coll', spec, [{ name: 'u', key: { tenant: 1, 'x.y': 1 } }])).toMatchObject({ ok: false, reason: expect.stringContaining('not unique') });
  });
});
