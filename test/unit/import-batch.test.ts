import { describe, expect, it } from 'vitest';
import { mapLimit, nextStamp } from '../../producer/import-batch.js';
import { ERROR_CODES, IMPORT_CODES } from '../../core/errors.js';
import { AOC_CODES } from '../../core/aoc-guard.js';

describe('nextStamp: each import batch has its own ingested_at', () => {
  it('is now, or 1 ms after the previous stamp when the clock has not moved past it', () => {
    expect(nextStamp(undefined, 1000).getTime()).toBe(1000);
    expect(nextStamp(new Date(999), 1000).getTime()).toBe(1000);
    expect(nextStamp(new Date(1000), 1000).getTime()).toBe(1001);
    expect(nextStamp(new Date(1005), 1000).getTime()).toBe(1006);
  });
});

describe('mapLimit', () => {
  it('keeps the order and never runs more than the limit at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, x));
      inFlight--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
    expect(await mapLimit([], 4, async (x: number) => x)).toEqual([]);
  });
});

describe('error catalog', () => {
  it('gives every import code and every AOC code added by issue 12 a meaning', () => {
    const added = [...Object.values(IMPORT_CODES), 'ERR_INPUT', AOC_CODES.SERVER_ASSIGNED, AOC_CODES.FORBIDDEN_KEY, AOC_CODES.SEPARATOR, AOC_CODES.TOO_DEEP, AOC_CODES.UNENCODABLE];
    for (const code of added) expect(ERROR_CODES[code], code).toMatch(/^.{15,}$/);
  });
});
