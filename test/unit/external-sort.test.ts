import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { compareCodePoints, compareUtf16, ExternalSorter, externalSort, type ExternalSortStats } from '../../core/external-sort.js';
import { SORT_PREFIX } from '../../core/sort-dir.js';
import { xorshift } from '../helpers/prng.js';

const root = mkdtempSync(path.join(tmpdir(), 'lnm-sort-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('externalSort', () => {
  it('sorts in memory when the input fits one run, without touching the disk', async () => {
    const dir = mkdtempSync(path.join(root, 'one-'));
    let stats: ExternalSortStats | undefined;
    const out = await collect(externalSort(['c', 'a', 'b'], { compare: compareUtf16, runRecords: 10, tmpDir: dir }, (s) => (stats = s)));
    expect(out).toEqual(['a', 'b', 'c']);
    expect(stats).toEqual({ records: 3, spilled_runs: 0 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives nothing for an empty input', async () => {
    let stats: ExternalSortStats | undefined;
    expect(await collect(externalSort([], { compare: compareUtf16, runRecords: 1 }, (s) => (stats = s)))).toEqual([]);
    expect(stats).toEqual({ records: 0, spilled_runs: 0 });
  });

  it('merges many spilled runs (more than one merge pass) into the same order as an in-memory sort, stable, and removes its files', async () => {
    const dir = mkdtempSync(path.join(root, 'many-'));
    const rnd = xorshift(7);
    const rows = Array.from({ length: 5000 }, (_, i) => ({ k: Math.floor(rnd() * 700), seq: i, at: new Date(Date.UTC(2024, 0, 1) + i), id: new ObjectId() }));
    const compare = (a: { k: number }, b: { k: number }) => a.k - b.k;
    let stats: ExternalSortStats | undefined;
    // 5000 / 60 = 84 runs: above the fan-in of one merge (64), so intermediate files are merged first.
    const out = await collect(externalSort(rows, { compare, runRecords: 60, tmpDir: dir }, (s) => (stats = s)));
    expect(out).toEqual([...rows].sort(compare));
    expect(out[0]!.at).toBeInstanceOf(Date);
    expect(out[0]!.id).toBeInstanceOf(ObjectId);
    expect(stats).toEqual({ records: 5000, spilled_runs: 84 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('round-trips long records and strings with newlines and non-ASCII characters', async () => {
    const big = 'x'.repeat(200_000);
    const input = ['b\nline', big, 'a|é', '😀', '\uffff', 'a|e'];
    const out = await collect(externalSort(input, { compare: compareUtf16, runRecords: 2, tmpDir: root }));
    expect(out).toEqual([...input].sort());
  });

  it('removes its temp folder when the output is abandoned half way', async () => {
    const dir = mkdtempSync(path.join(root, 'abandon-'));
    const sorter = new ExternalSorter<number>({ compare: (a, b) => a - b, runRecords: 10, tmpDir: dir });
    for (let i = 100; i > 0; i--) await sorter.add(i);
    expect(readdirSync(dir)).toHaveLength(1);
    const got: number[] = [];
    for await (const x of sorter.sorted()) {
      got.push(x);
      if (got.length === 3) break;
    }
    expect(got).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("removes the folders left by this host's killed sorts before its own, and only those", async () => {
    const dir = mkdtempSync(path.join(root, 'stale-'));
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // a process that has exited
    const left = `${SORT_PREFIX}${dead}-aaaaaa`;
    mkdirSync(path.join(dir, left));
    writeFileSync(path.join(dir, left, 'run-0.bson'), 'x');
    const live = `${SORT_PREFIX}${process.pid}-bbbbbb`;
    const otherHost = `lnm-sort-elsewhere-${dead}-cccccc`;
    for (const d of [live, otherHost, 'unrelated']) mkdirSync(path.join(dir, d));
    const out = await collect(externalSort([3, 1, 2], { compare: (a, b) => a - b, runRecords: 1, tmpDir: dir }));
    expect(out).toEqual([1, 2, 3]);
    expect(readdirSync(dir).sort()).toEqual([live, otherHost, 'unrelated'].sort());
  });

  it('refuses a run size that is not a positive integer', () => {
    expect(() => new ExternalSorter<number>({ compare: (a, b) => a - b, runRecords: 0 })).toThrow(RangeError);
  });
});

describe('string orders', () => {
  it('compareCodePoints orders as UTF-8 bytes do, also across surrogate pairs', () => {
    const words = ['CVE-2021-1234', 'CVE-2021-12345', 'a', '', '\uffff', '😀', 'é', 'z', 'a\u0000'];
    const byBytes = [...words].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...words].sort(compareCodePoints)).toEqual(byBytes);
    expect(compareUtf16('\uffff', '😀')).toBe(1); // JS order differs there
    expect(compareCodePoints('\uffff', '😀')).toBe(-1);
  });
});
