/**
 * One check of the validation report (DESIGN §5): its name, whether it passed, its counts
 * and up to SAMPLE_MAX samples of what failed. Fed item by item, so a check over any
 * corpus size holds its counts and at most SAMPLE_MAX samples.
 */
export const SAMPLE_MAX = 20;

export interface Check {
  name: string;
  ok: boolean;
  counts: Record<string, number>;
  samples: string[];
}

/** A count with its first SAMPLE_MAX samples (in the order they were seen). */
export class Sampled {
  count = 0;
  readonly samples: string[] = [];

  add(sample: string): void {
    if (this.count++ < SAMPLE_MAX) this.samples.push(sample);
  }
}

/** Samples of several failures of one check, each prefixed with its kind, capped together. */
export function mergeSamples(parts: Array<[kind: string, s: Sampled]>): string[] {
  const out: string[] = [];
  for (const [kind, s] of parts) for (const x of s.samples) if (out.length < SAMPLE_MAX) out.push(`${kind}: ${x}`);
  return out;
}

export function check(name: string, ok: boolean, counts: Record<string, number>, samples: string[] = []): Check {
  return { name, ok, counts, samples };
}
