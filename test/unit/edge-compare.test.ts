import { describe, expect, it } from 'vitest';
import { compareUtf16 } from '../../core/external-sort.js';
import { edgeDigest } from '../../core/supersedes.js';
import { compareEdgeLines } from '../../monitor/edge-compare.js';

async function* sorted(xs: readonly string[]): AsyncGenerator<string> {
  yield* [...xs].sort(compareUtf16);
}

const line = (id: string, a: number, b: number) => `t|nvd|${id}|sha256:${a}|sha256:${b}`;

describe('compareEdgeLines', () => {
  it('counts distinct lines, missing and extra with their first lines in order, and the digest of the present set', async () => {
    const expected = [line('CVE-2021-1234', 1, 2), line('CVE-2021-12345', 1, 2), line('A', 1, 2), line('B', 1, 2)];
    const present = [line('CVE-2021-12345', 1, 2), line('A', 1, 2), line('C', 1, 2), line('C', 1, 2), line('D', 3, 4)];
    const r = await compareEdgeLines(sorted(expected), sorted(present), 1);
    expect(r).toEqual({
      expected: 4,
      present: 4,
      missing: 2,
      extra: 2,
      missing_sample: [line('B', 1, 2)],
      extra_sample: [line('C', 1, 2)],
      digest: edgeDigest(new Set(present)),
    });
  });

  it('is all zero with the digest of nothing on two empty streams', async () => {
    expect(await compareEdgeLines(sorted([]), sorted([]), 10)).toEqual({ expected: 0, present: 0, missing: 0, extra: 0, missing_sample: [], extra_sample: [], digest: edgeDigest([]) });
  });

  it('refuses a stream out of order', async () => {
    async function* bad(): AsyncGenerator<string> {
      yield 'b';
      yield 'a';
    }
    await expect(compareEdgeLines(bad(), sorted([]), 10)).rejects.toThrow(/out of order/);
  });
});
