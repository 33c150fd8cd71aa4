import { describe, expect, it } from 'vitest';
import { LnmError, PayloadError } from '../../core/errors.js';
import type { IdentityRow } from '../../core/supersedes.js';
import { type PlannedShard, ShardCutter } from '../../producer/shard-planner.js';
import { xorshift } from '../helpers/prng.js';

interface Adv { tenant: string; vendor: string; upstream_id: string; size: number }


let rowSeq = 0;
function rowsOf(advs: readonly Adv[]): IdentityRow[] {
  const rows: IdentityRow[] = [];
  for (const a of advs) {
    for (let i = 0; i < a.size; i++) {
      rows.push({ raw_id: `r${rowSeq++}`, tenant: a.tenant, vendor: a.vendor, upstream_id: a.upstream_id,
        fetched_at: new Date(Date.UTC(2024, 0, 1) + i * 1000), content_hash: `sha256:${i.toString(16).padStart(64, '0')}` });
    }
  }
  return rows;
}

function plan(batch: number, rows: readonly IdentityRow[]): { shards: PlannedShard[]; fromFinish: number } {
  const cutter = new ShardCutter(batch);
  const shards: PlannedShard[] = [];
  for (const r of rows) shards.push(...cutter.push(r));
  const last = cutter.finish();
  shards.push(...last);
  return { shards, fromFinish: last.length };
}

const adv = (upstream_id: string, size: number, tenant = 't1', vendor = 'osv'): Adv => ({ tenant, vendor, upstream_id, size });
const sizes = (shards: PlannedShard[]): number[][] => shards.map((s) => s.advisories.map((a) => a.revisions.length));

/** Every invariant of DESIGN §4 shard cutting, checked against the input alone. */
function checkInvariants(batch: number, advs: readonly Adv[], rows: readonly IdentityRow[], shards: PlannedShard[]): void {
  expect(shards.map((s) => s.index)).toEqual(shards.map((_, i) => i));
  const flat = shards.flatMap((s) => s.advisories);
  // never split, none lost or duplicated, order preserved
  expect(flat.map((g) => [g.tenant, g.vendor, g.upstream_id])).toEqual(advs.map((a) => [a.tenant, a.vendor, a.upstream_id]));
  expect(flat.flatMap((g) => g.revisions.map((r) => r.raw_id))).toEqual(rows.map((r) => r.raw_id));
  expect(shards.reduce((n, s) => n + s.docs, 0)).toBe(rows.length);
  for (const [i, s] of shards.entries()) {
    expect(s.advisories.length).toBeGreaterThan(0);
    expect(s.docs).toBe(s.advisories.reduce((n, g) => n + g.revisions.length, 0));
    if (s.docs > batch) expect(s.advisories).toHaveLength(1);
    // greedy: a shard is closed only when the next advisory would not fit
    const next = shards[i + 1]?.advisories[0];
    if (next) expect(s.docs + next.revisions.length).toBeGreaterThan(batch);
  }
}

describe('ShardCutter', () => {
  it('packs whole advisories up to the batch size', () => {
    const advs = [adv('A', 2), adv('B', 2), adv('C', 1), adv('D', 3), adv('E', 1)];
    const rows = rowsOf(advs);
    const { shards } = plan(5, rows);
    expect(sizes(shards)).toEqual([[2, 2, 1], [3, 1]]);
    expect(shards.map((s) => s.docs)).toEqual([5, 4]);
    checkInvariants(5, advs, rows, shards);
  });

  it('never splits an advisory: one that would overflow starts the next shard', () => {
    const advs = [adv('A', 3), adv('B', 3), adv('C', 3)];
    const { shards } = plan(4, rowsOf(advs));
    expect(sizes(shards)).toEqual([[3], [3], [3]]);
  });

  it('gives an advisory larger than the batch a shard of its own', () => {
    const advs = [adv('A', 1), adv('B', 9), adv('C', 1), adv('D', 1)];
    const rows = rowsOf(advs);
    const { shards } = plan(3, rows);
    expect(sizes(shards)).toEqual([[1], [9], [1, 1]]);
    checkInvariants(3, advs, rows, shards);
  });

  it('with batch size 1 gives every advisory its own shard', () => {
    const advs = [adv('A', 1), adv('B', 4), adv('C', 1), adv('D', 2)];
    const rows = rowsOf(advs);
    const { shards } = plan(1, rows);
    expect(sizes(shards)).toEqual([[1], [4], [1], [2]]);
    checkInvariants(1, advs, rows, shards);
  });

  it('separates the same upstream_id under different vendors and tenants', () => {
    const advs = [adv('X', 2, 't1', 'ghsa'), adv('X', 2, 't1', 'osv'), adv('X', 2, 't2', 'osv')];
    const rows = rowsOf(advs);
    const { shards } = plan(100, rows);
    expect(shards).toHaveLength(1);
    expect(shards[0]?.advisories.map((g) => `${g.tenant}/${g.vendor}/${g.upstream_id}:${g.revisions.length}`)).toEqual(['t1/ghsa/X:2', 't1/osv/X:2', 't2/osv/X:2']);
    checkInvariants(100, advs, rows, shards);
  });

  it('returns nothing for an empty stream', () => {
    expect(plan(10, []).shards).toEqual([]);
  });

  it('emits shards while streaming, not all at the end', () => {
    const advs = Array.from({ length: 100 }, (_, i) => adv(`U${String(i).padStart(3, '0')}`, 1 + (i % 3)));
    const { shards, fromFinish } = plan(7, rowsOf(advs));
    expect(shards.length).toBeGreaterThan(20);
    expect(fromFinish).toBeLessThanOrEqual(2);
  });

  it('accepts MongoDB (UTF-8 byte) order, which differs from UTF-16 order for astral characters', () => {
    // UTF-16: '\u{1F600}' (D83D..) < '\uFF5E'; UTF-8: EF BD 9E < F0 9F 98 80
    const advs = [adv('a\uFF5E', 1), adv('a\u{1F600}', 1)];
    expect(() => plan(10, rowsOf(advs))).not.toThrow();
  });

  it.each([
    ['upstream_id goes backwards', [adv('B', 1), adv('A', 1)]],
    ['an advisory reappears after another', [adv('A', 1), adv('B', 1), adv('A', 1)]],
    ['vendor goes backwards', [adv('A', 1, 't1', 'osv'), adv('A', 1, 't1', 'ghsa')]],
    ['tenant goes backwards', [adv('Z', 1, 't2'), adv('A', 1, 't1')]],
  ])('throws ERR_PAYLOAD on out-of-order input: %s', (_name, advs) => {
    let caught: unknown;
    try {
      plan(10, rowsOf(advs));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PayloadError);
    expect((caught as LnmError).code).toBe('ERR_PAYLOAD');
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects batch size %s with ERR_PAYLOAD', (batch) => {
    expect(() => new ShardCutter(batch)).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }));
  });
});

describe('ShardCutter properties (seeded random inputs)', () => {
  it('holds every invariant over 400 random corpora', () => {
    const rnd = xorshift(20240601);
    const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
    for (let iter = 0; iter < 400; iter++) {
      const batch = rnd() < 0.1 ? 1 : int(1, 40);
      // distinct identity tuples, sorted field by field (ASCII, so JS order = byte order)
      const seen = new Set<string>();
      const advs: Adv[] = [];
      for (let i = int(0, 60); i > 0; i--) {
        const a = adv(`ID-${int(0, 30)}`, 1, `t${int(1, 3)}`, ['ghsa', 'nvd', 'osv'][int(0, 2)] ?? 'osv');
        const key = `${a.tenant}|${a.vendor}|${a.upstream_id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        // geometric revision counts with an occasional advisory far larger than the batch
        let size = 1;
        while (size < 60 && rnd() < 0.45) size++;
        if (rnd() < 0.03) size = batch + int(1, 50);
        advs.push({ ...a, size });
      }
      advs.sort((x, y) => (x.tenant < y.tenant ? -1 : x.tenant > y.tenant ? 1 : x.vendor < y.vendor ? -1 : x.vendor > y.vendor ? 1 : x.upstream_id < y.upstream_id ? -1 : x.upstream_id > y.upstream_id ? 1 : 0));
      const rows = rowsOf(advs);
      const { shards } = plan(batch, rows);
      checkInvariants(batch, advs, rows, shards);
    }
  });
});
