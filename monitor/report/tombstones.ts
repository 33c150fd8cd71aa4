/**
 * The tombstone check: one tombstone for every superseded observation, none for a latest
 * revision. Both sides arrive sorted (external sorts): the expected keys `tenant|raw_id`
 * tagged superseded (S) or latest (L), and the present tombstones' keys; one merge pass
 * counts and samples what differs.
 */
import { compareUtf16 } from '../../core/external-sort.js';
import { Sampled, check, mergeSamples, type Check } from './check.js';

/** Below any character of a tenant or raw id key (NUL and U+0001 are refused at import). */
const TAG = '\u0001';

export const expectedTombstone = (key: string) => `${key}${TAG}S`;
export const latestRevision = (key: string) => `${key}${TAG}L`;

export async function tombstoneCheck(expectedSorted: AsyncIterable<string>, presentSorted: AsyncIterable<string>): Promise<Check> {
  const missing = new Sampled();
  const latest = new Sampled();
  const unknown = new Sampled();
  let expected = 0;
  let present = 0;
  const exp = expectedSorted[Symbol.asyncIterator]();
  const pre = presentSorted[Symbol.asyncIterator]();
  let e = await exp.next();
  let p = await pre.next();
  while (!e.done || !p.done) {
    const eKey = e.done ? undefined : e.value.slice(0, -2);
    const superseded = !e.done && e.value.endsWith('S');
    const c = e.done ? 1 : p.done ? -1 : compareUtf16(eKey!, p.value);
    if (c <= 0 && superseded) expected++;
    if (c >= 0) present++;
    if (c < 0 && superseded) missing.add(eKey!);
    if (c === 0 && !superseded) latest.add(eKey!);
    if (c > 0) unknown.add(p.value as string);
    if (c <= 0) e = await exp.next();
    if (c >= 0) p = await pre.next();
  }
  return check(
    'tombstones',
    missing.count + latest.count + unknown.count === 0,
    { expected, present, missing: missing.count, latest_revision: latest.count, unknown: unknown.count },
    mergeSamples([
      ['missing', missing],
      ['latest revision', latest],
      ['unknown', unknown],
    ]),
  );
}
