import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BundleHash } from '../../core/store/corpus-hash.js';
import { advisoryGroups, compareIdentity } from '../../core/store/corpus-scan.js';
import { compareUtf16, externalSort } from '../../core/external-sort.js';
import type { IdentityRow } from '../../core/supersedes.js';

const h = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const row = (upstream_id: string, n: number, vendor = 'nvd', tenant = 't1'): IdentityRow => ({
  raw_id: `${upstream_id}-${n}`, tenant, vendor, upstream_id, fetched_at: new Date(Date.UTC(2024, 0, 1, 0, 0, 10 - n)), content_hash: h(n),
});

async function* from<T>(xs: readonly T[]): AsyncGenerator<T> {
  yield* xs;
}

async function bundleOf(rows: readonly IdentityRow[], runRecords: number): Promise<string> {
  const bundle = new BundleHash();
  for await (const g of advisoryGroups(externalSort(rows, { compare: compareIdentity, runRecords }))) bundle.add(g);
  return bundle.digest();
}

describe('the corpus bundle hash (one definition)', () => {
  // One upstream id a prefix of another: whole-line bytewise order puts `…12345|` first
  // ('5' < '|'); the documented order compares the upstream ids themselves.
  const rows = [row('CVE-2021-12345', 1), row('CVE-2021-1234', 2), row('CVE-2021-1234', 1), row('CVE-2021-12345', 3), row('CVE-2021-123', 4, 'ghsa')];
  const documented = [
    `t1|ghsa|CVE-2021-123|${h(4)}\n`,
    `t1|nvd|CVE-2021-1234|${h(1)}\n`,
    `t1|nvd|CVE-2021-1234|${h(2)}\n`,
    `t1|nvd|CVE-2021-12345|${h(1)}\n`,
    `t1|nvd|CVE-2021-12345|${h(3)}\n`,
  ];
  const expected = createHash('sha256').update(documented.join('')).digest('hex');

  it('orders advisories field by field, a prefix id first, content hashes ascending within one', async () => {
    expect(await bundleOf(rows, 100)).toBe(expected);
    expect([...documented].sort(compareUtf16)).not.toEqual(documented); // line order would differ
  });

  it('is the same in any input order, sorted in memory or through spilled runs', async () => {
    expect(await bundleOf([...rows].reverse(), 100)).toBe(expected);
    expect(await bundleOf([...rows].reverse(), 1)).toBe(expected);
  });

  it('groups consecutive rows of one advisory and orders revisions by fetched_at', async () => {
    const groups = [];
    for await (const g of advisoryGroups(from([...rows].sort(compareIdentity)))) groups.push(g);
    expect(groups.map((g) => [g.vendor, g.upstream_id, g.revisions.map((r) => r.raw_id)])).toEqual([
      ['ghsa', 'CVE-2021-123', ['CVE-2021-123-4']],
      ['nvd', 'CVE-2021-1234', ['CVE-2021-1234-2', 'CVE-2021-1234-1']],
      ['nvd', 'CVE-2021-12345', ['CVE-2021-12345-3', 'CVE-2021-12345-1']],
    ]);
  });
});
