/**
 * Expected vs present edge lines, both streamed in the edge digest's order (UTF-16 units,
 * `compareUtf16`), compared in one merge pass: counts of distinct lines (a repeated line
 * counts once, as in a set), missing and extra with their first `sample` lines in order,
 * and the edge digest of the present lines. Memory: the two heads and the samples.
 */
import { compareUtf16 } from '../core/external-sort.js';
import { EdgeDigest } from '../core/supersedes.js';

export interface EdgeComparison {
  expected: number;
  present: number;
  missing: number;
  extra: number;
  missing_sample: string[];
  extra_sample: string[];
  digest: string;
}

/** Distinct lines of a sorted stream; fails on a line out of order. */
async function* distinct(lines: AsyncIterable<string>, what: string): AsyncGenerator<string> {
  let last: string | undefined;
  for await (const l of lines) {
    if (last !== undefined) {
      const c = compareUtf16(last, l);
      if (c === 0) continue;
      if (c > 0) throw new Error(`${what} edge lines out of order: ${JSON.stringify(l)} after ${JSON.stringify(last)}`);
    }
    last = l;
    yield l;
  }
}

/** `onLine` sees every distinct line in order, with whether it was expected and present (the chain checks). */
export async function compareEdgeLines(
  expectedSorted: AsyncIterable<string>,
  presentSorted: AsyncIterable<string>,
  sample: number,
  onLine?: (line: string, expected: boolean, present: boolean) => void,
): Promise<EdgeComparison> {
  const out: EdgeComparison = { expected: 0, present: 0, missing: 0, extra: 0, missing_sample: [], extra_sample: [], digest: '' };
  const digest = new EdgeDigest();
  const exp = distinct(expectedSorted, 'expected')[Symbol.asyncIterator]();
  const pre = distinct(presentSorted, 'present')[Symbol.asyncIterator]();
  let e = await exp.next();
  let p = await pre.next();
  while (!e.done || !p.done) {
    const c = e.done ? 1 : p.done ? -1 : compareUtf16(e.value, p.value);
    onLine?.((c <= 0 ? e.value : p.value) as string, c <= 0, c >= 0);
    if (c <= 0) out.expected++;
    if (c >= 0) {
      out.present++;
      digest.add(p.value as string);
    }
    if (c < 0) {
      if (out.missing++ < sample) out.missing_sample.push(e.value as string);
    } else if (c > 0) {
      if (out.extra++ < sample) out.extra_sample.push(p.value as string);
    }
    if (c <= 0) e = await exp.next();
    if (c >= 0) p = await pre.next();
  }
  out.digest = digest.digest();
  return out;
}
