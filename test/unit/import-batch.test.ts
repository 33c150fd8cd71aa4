import { describe, expect, it } from 'vitest';
import { nextStamp } from '../../producer/import-batch.js';
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

describe('error catalog', () => {
  it('gives every import code and every AOC code added by issue 12 a meaning', () => {
    const added = [...Object.values(IMPORT_CODES), 'ERR_INPUT', AOC_CODES.SERVER_ASSIGNED, AOC_CODES.FORBIDDEN_KEY, AOC_CODES.SEPARATOR, AOC_CODES.TOO_DEEP, AOC_CODES.UNENCODABLE];
    for (const code of added) expect((ERROR_CODES as Record<string, string>)[code], code).toMatch(/^.{15,}$/);
  });
});
