/**
 * Edge and chain checks over the merged stream of expected and present edge lines (both in
 * the edge digest's order, as validation's merge yields them): a line of one advisory is
 * `tenant|vendor|upstream_id|older_hash|newer_hash`, and sorted lines of one advisory are
 * contiguous (they share the prefix up to the two hashes), so each advisory is judged as its
 * lines go by, holding one advisory's edges at a time.
 *
 *  - missing: an expected edge (a consecutive pair of revisions) that is not present;
 *  - extra: a present edge that is not such a pair;
 *  - branched: an advisory where a revision has two successors or two predecessors;
 *  - broken: an advisory with ≥ 2 revisions whose present edges are not its one expected
 *    path from the first to the latest revision (a gap, a wrong link, a cycle).
 */
import { Sampled, check, mergeSamples, type Check } from './check.js';

interface Line {
  older: string;
  newer: string;
  expected: boolean;
  present: boolean;
}

/** `tenant|vendor|upstream_id` and the two hashes of an edge line (hashes hold no '|'). */
function split(line: string): { key: string; older: string; newer: string } {
  const b = line.lastIndexOf('|');
  const a = line.lastIndexOf('|', b - 1);
  return { key: line.slice(0, a), older: line.slice(a + 1, b), newer: line.slice(b + 1) };
}

export class ChainChecker {
  readonly missing = new Sampled();
  readonly extra = new Sampled();
  readonly branched = new Sampled();
  readonly broken = new Sampled();
  expected = 0;
  present = 0;
  private key: string | undefined;
  private lines: Line[] = [];

  /** One distinct edge line of the merge, with where it was found. */
  line(line: string, expected: boolean, present: boolean): void {
    const s = split(line);
    if (s.key !== this.key) this.close();
    this.key = s.key;
    this.lines.push({ older: s.older, newer: s.newer, expected, present });
    if (expected) this.expected++;
    if (present) this.present++;
    if (expected && !present) this.missing.add(line);
    if (present && !expected) this.extra.add(line);
  }

  /** Judge the open advisory (called on the next advisory's first line and at the end). */
  close(): void {
    const key = this.key;
    const lines = this.lines;
    this.key = undefined;
    this.lines = [];
    if (key === undefined) return;
    const present = lines.filter((l) => l.present);
    const succ = new Map<string, number>();
    const pred = new Map<string, number>();
    for (const l of present) {
      succ.set(l.older, (succ.get(l.older) ?? 0) + 1);
      pred.set(l.newer, (pred.get(l.newer) ?? 0) + 1);
    }
    const fork = [...succ, ...pred].some(([, n]) => n > 1);
    if (fork) this.branched.add(key);
    const expected = lines.filter((l) => l.expected);
    // The expected path, exactly: every expected edge present and nothing else present.
    if (expected.length > 0 && !fork && (present.length !== expected.length || expected.some((l) => !l.present))) this.broken.add(key);
  }

  checks(): Check[] {
    this.close();
    return [
      check('edge_per_consecutive_pair', this.missing.count === 0, { expected: this.expected, present: this.present, missing: this.missing.count }, this.missing.samples),
      check('no_other_edge', this.extra.count === 0, { present: this.present, extra: this.extra.count }, this.extra.samples),
      check(
        'chains_linear',
        this.branched.count === 0 && this.broken.count === 0,
        { branched: this.branched.count, broken: this.broken.count },
        mergeSamples([
          ['branched', this.branched],
          ['broken', this.broken],
        ]),
      ),
    ];
  }
}
