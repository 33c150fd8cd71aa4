import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type AdvisoryGroup,
  type Revision,
  edgeDigest,
  edgeId,
  edgeLine,
  supersedesForAdvisory,
  supersedesForGroups,
  tombstoneId,
} from '../../core/supersedes.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
/** A well-formed content hash whose hex order follows `n` (hex digits sort like numbers when zero-padded). */
const h = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const at = (s: number): Date => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
const rev = (raw_id: unknown, sec: number, hash: string): Revision => ({ raw_id, fetched_at: at(sec), content_hash: hash });
const group = (revisions: Revision[], over: Partial<AdvisoryGroup> = {}): AdvisoryGroup => ({
  tenant: 't1', vendor: 'osv', upstream_id: 'GHSA-aaaa-bbbb-cccc', revisions, ...over,
});

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}
function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  const r = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
const pairs = (g: AdvisoryGroup): string[][] =>
  supersedesForAdvisory(g).edges.map((e) => [String(e.older.raw_id), String(e.newer.raw_id)]);

describe('ordering', () => {
  it('orders by fetched_at, not by input order', () => {
    const g = group([rev('c', 30, h(1)), rev('a', 10, h(3)), rev('b', 20, h(2))]);
    expect(pairs(g)).toEqual([['a', 'b'], ['b', 'c']]);
  });

  it('breaks fetched_at ties by content_hash, never by _id', () => {
    // raw ids sort opposite to the hashes, so an _id tie-break would give the reverse chain
    const g = group([rev('z', 5, h(1)), rev('a', 5, h(2)), rev('m', 0, h(9))]);
    expect(pairs(g)).toEqual([['m', 'z'], ['z', 'a']]);
  });

  it('gives the same edges and tombstones for every permutation of the input', () => {
    const revs = [rev('r1', 1, h(5)), rev('r2', 1, h(4)), rev('r3', 2, h(1)), rev('r4', 2, h(2)), rev('r5', 3, h(3)), rev('r6', 0, h(7))];
    const base = supersedesForAdvisory(group(revs));
    expect(pairs(group(revs))).toEqual([['r6', 'r2'], ['r2', 'r1'], ['r1', 'r3'], ['r3', 'r4'], ['r4', 'r5']]);
    for (let seed = 1; seed <= 50; seed++) {
      expect(supersedesForAdvisory(group(shuffle(revs, seed)))).toEqual(base);
    }
  });
});

describe('duplicate content hashes', () => {
  it('keeps the earliest revision of a hash, drops and counts a later non-adjacent repeat', () => {
    const g = group([rev('a', 1, h(1)), rev('b', 2, h(2)), rev('c', 3, h(1)), rev('d', 4, h(3))]);
    const r = supersedesForAdvisory(g);
    expect(r.duplicate_revisions).toBe(1);
    expect(pairs(g)).toEqual([['a', 'b'], ['b', 'd']]);
    expect(r.tombstones.map((t) => t.raw_id)).toEqual(['a', 'b']);
  });

  it('keeps the earliest even when the repeat comes first in the input', () => {
    const g = group([rev('late', 9, h(1)), rev('mid', 5, h(2)), rev('early', 1, h(1))]);
    expect(pairs(g)).toEqual([['early', 'mid']]);
    expect(supersedesForAdvisory(g).duplicate_revisions).toBe(1);
  });

  it('sums duplicates across groups', () => {
    const a = group([rev('a1', 1, h(1)), rev('a2', 2, h(1))]);
    const b = group([rev('b1', 1, h(1)), rev('b2', 2, h(2)), rev('b3', 3, h(1)), rev('b4', 4, h(2))], { upstream_id: 'X' });
    const r = supersedesForGroups([a, b]);
    expect(r.duplicate_revisions).toBe(3);
    expect(r.edges).toHaveLength(1);
  });
});

describe('chains', () => {
  it('a single revision yields no edge and no tombstone', () => {
    const r = supersedesForAdvisory(group([rev('only', 1, h(1))]));
    expect(r).toEqual({ edges: [], tombstones: [], duplicate_revisions: 0 });
  });

  it.each([2, 3, 7, 15])('%i revisions yield k-1 edges and k-1 tombstones, each older one superseded by the next', (k) => {
    const revs = Array.from({ length: k }, (_, i) => rev(`r${i}`, i * 60, h(1000 - i)));
    const r = supersedesForAdvisory(group(shuffle(revs, k)));
    expect(r.edges).toHaveLength(k - 1);
    expect(r.tombstones).toHaveLength(k - 1);
    for (let i = 0; i < k - 1; i++) {
      const e = r.edges[i];
      const t = r.tombstones[i];
      expect(e?.older).toEqual({ raw_id: `r${i}`, content_hash: h(1000 - i), fetched_at: at(i * 60) });
      expect(e?.newer).toEqual({ raw_id: `r${i + 1}`, content_hash: h(1000 - i - 1), fetched_at: at((i + 1) * 60) });
      expect(t).toMatchObject({ tenant: 't1', raw_id: `r${i}`, superseded_by_raw_id: `r${i + 1}`, reason: 'superseded' });
    }
    // the newest revision is never tombstoned; a chain is linear
    expect(r.tombstones.map((t) => t.raw_id)).not.toContain(`r${k - 1}`);
    expect(new Set(r.edges.map((e) => e.newer.raw_id)).size).toBe(k - 1);
    expect(new Set(r.edges.map((e) => e.older.raw_id)).size).toBe(k - 1);
  });

  it('keeps tenants and vendors apart: the same upstream_id under two vendors is two advisories', () => {
    const groups = [
      group([rev('a1', 1, h(1)), rev('a2', 2, h(2))], { tenant: 't1', vendor: 'osv', upstream_id: 'CVE-2024-1' }),
      group([rev('b1', 1, h(1)), rev('b2', 2, h(2))], { tenant: 't1', vendor: 'nvd', upstream_id: 'CVE-2024-1' }),
      group([rev('c1', 1, h(1)), rev('c2', 2, h(2))], { tenant: 't2', vendor: 'osv', upstream_id: 'CVE-2024-1' }),
    ];
    const r = supersedesForGroups(groups);
    expect(r.edges.map((e) => `${e.tenant}/${e.vendor}/${String(e.older.raw_id)}>${String(e.newer.raw_id)}`)).toEqual([
      't1/osv/a1>a2', 't1/nvd/b1>b2', 't2/osv/c1>c2',
    ]);
    expect(new Set(r.edges.map((e) => e._id)).size).toBe(3);
    expect(r.tombstones.map((t) => t.tenant)).toEqual(['t1', 't1', 't2']);
  });
});

describe('deterministic ids', () => {
  it('edge _id is sha256 of tenant|vendor|upstream_id|older_hash|newer_hash', () => {
    const g = group([rev('x', 1, h(10)), rev('y', 2, h(11))], { tenant: 'acme', vendor: 'ghsa', upstream_id: 'GHSA-1' });
    const [e] = supersedesForAdvisory(g).edges;
    expect(e?._id).toBe(sha(`acme|ghsa|GHSA-1|${h(10)}|${h(11)}`));
    expect(edgeLine({ tenant: 'acme', vendor: 'ghsa', upstream_id: 'GHSA-1', older_hash: h(10), newer_hash: h(11) }))
      .toBe(`acme|ghsa|GHSA-1|${h(10)}|${h(11)}`);
    expect(edgeId('a|b|c|d|e')).toBe(sha('a|b|c|d|e'));
  });

  it('edge _id does not depend on raw ids', () => {
    const a = supersedesForAdvisory(group([rev('x', 1, h(1)), rev('y', 2, h(2))])).edges[0];
    const b = supersedesForAdvisory(group([rev('p', 1, h(1)), rev('q', 2, h(2))])).edges[0];
    expect(a?._id).toBe(b?._id);
  });

  it('tombstone _id is deterministic from (tenant, raw_id) and distinct across tenants and raw ids', () => {
    const id = tombstoneId('t1', 'raw-1');
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(tombstoneId('t1', 'raw-1')).toBe(id);
    expect(tombstoneId('t2', 'raw-1')).not.toBe(id);
    expect(tombstoneId('t1', 'raw-2')).not.toBe(id);
    const [t] = supersedesForAdvisory(group([rev('raw-1', 1, h(1)), rev('raw-9', 2, h(2))])).tombstones;
    expect(t?._id).toBe(id);
  });
});

describe('ObjectId-like raw ids', () => {
  class FakeObjectId {
    constructor(private readonly hex: string) {}
    toHexString(): string { return this.hex; }
  }
  const oid = (n: number): FakeObjectId => new FakeObjectId(n.toString(16).padStart(24, '0'));

  it('carries the raw id objects through to edges and tombstones', () => {
    const [o1, o2] = [oid(1), oid(2)];
    const r = supersedesForAdvisory(group([rev(o2, 2, h(2)), rev(o1, 1, h(1))]));
    expect(r.edges[0]?.older.raw_id).toBe(o1);
    expect(r.edges[0]?.newer.raw_id).toBe(o2);
    expect(r.tombstones[0]?.raw_id).toBe(o1);
    expect(r.tombstones[0]?.superseded_by_raw_id).toBe(o2);
  });

  it('tombstone ids are keyed on the hex string: equal hex, equal id; different hex, different id', () => {
    expect(tombstoneId('t', oid(7))).toBe(tombstoneId('t', oid(7)));
    expect(tombstoneId('t', oid(7))).not.toBe(tombstoneId('t', oid(8)));
    // JSON.stringify of these objects would be "{}" for every id: make sure that is not the key
    expect(tombstoneId('t', oid(7))).not.toBe(tombstoneId('t', {}));
  });
});

describe('edgeDigest', () => {
  const independentDigest = (lines: string[]): string => {
    const hash = createHash('sha256');
    for (const l of [...lines].sort()) hash.update(`${l}\n`);
    return hash.digest('hex');
  };

  it('equals sha256 over sorted lines, each followed by "\\n", whatever the input order', () => {
    const lines = ['t|v|b|x|y', 't|v|a|x|y', 'a|v|z|x|y', 't|u|a|x|y'];
    const expected = sha('a|v|z|x|y\nt|u|a|x|y\nt|v|a|x|y\nt|v|b|x|y\n');
    expect(independentDigest(lines)).toBe(expected);
    expect(edgeDigest(lines)).toBe(expected);
    expect(edgeDigest(shuffle(lines, 3))).toBe(expected);
  });

  it('of no edges is sha256 of the empty string', () => {
    expect(edgeDigest([])).toBe(sha(''));
  });
});

describe('rustsec corpus (known answers from the fixture README)', () => {
  const fixture = new URL('../../data/rustsec/', import.meta.url);
  const expected = JSON.parse(readFileSync(new URL('expected.json', fixture), 'utf8')) as Record<string, unknown>;
  const lines = gunzipSync(readFileSync(new URL('advisory_raw.jsonl.gz', fixture))).toString('utf8').split('\n').filter(Boolean);
  type Line = { tenant: string; source: { vendor: string }; upstream: { upstream_id: string; fetched_at: string; content_hash: string } };

  it('reproduces the expected edge count, duplicate count and §5 edge digest', () => {
    const groups = new Map<string, AdvisoryGroup>();
    lines.forEach((l, i) => {
      const d = JSON.parse(l) as Line;
      const key = `${d.tenant}\u0000${d.source.vendor}\u0000${d.upstream.upstream_id}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { tenant: d.tenant, vendor: d.source.vendor, upstream_id: d.upstream.upstream_id, revisions: [] }));
      g.revisions.push({ raw_id: `line-${i}`, fetched_at: new Date(d.upstream.fetched_at), content_hash: d.upstream.content_hash });
    });
    expect(lines).toHaveLength(expected.total_documents as number);
    const r = supersedesForGroups([...groups.values()]);
    expect(r.edges).toHaveLength(expected.expected_supersedes_edges as number);
    expect(r.tombstones).toHaveLength(expected.expected_supersedes_edges as number);
    expect(r.duplicate_revisions).toBe(expected.duplicate_hash_revisions as number);
    const edgeLines = r.edges.map((e) => `${e.tenant}|${e.vendor}|${e.upstream_id}|${e.older.content_hash}|${e.newer.content_hash}`);
    expect(edgeDigest(edgeLines)).toBe(expected.edges_sha256_oracle_format);
    expect(r.edges.map((e) => e._id)).toEqual(edgeLines.map(sha));
  });
});
