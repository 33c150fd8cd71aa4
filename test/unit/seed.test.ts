import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRawDocument } from '../../core/aoc-guard.js';
import { generateCorpus, mulberry32, writeCorpusFile } from '../../producer/seed.js';

interface Doc {
  tenant: string;
  source: { vendor: string; connector?: string };
  upstream: { upstream_id: string; document_version: string; fetched_at: string; content_hash: string };
  identifiers: { aliases: string[] };
  content: { format: string; raw: unknown };
}

const corpus = (docs: number, seed = 7, tenants = 3): Doc[] => [...generateCorpus({ docs, seed, tenants })] as unknown as Doc[];
const key = (d: Doc): string => `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;
const BIG = corpus(5000, 12345, 4);

/** Revision counts per advisory, requiring each advisory's documents to be consecutive. */
function revisionsPerAdvisory(docs: Doc[]): Map<string, Doc[]> {
  const groups = new Map<string, Doc[]>();
  let prev: string | undefined;
  for (const d of docs) {
    const k = key(d);
    if (k !== prev && groups.has(k)) throw new Error(`advisory ${k} is not contiguous`);
    groups.set(k, [...(groups.get(k) ?? []), d]);
    prev = k;
  }
  return groups;
}

describe('mulberry32', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(99);
    const b = mulberry32(99);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(990);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(mulberry32(100)()).not.toBe(mulberry32(99)());
  });
});

describe('generateCorpus', () => {
  it('is deterministic: same seed, identical output; different seed, different output', () => {
    const a = corpus(400, 42);
    expect(corpus(400, 42)).toEqual(a);
    expect(JSON.stringify(corpus(400, 43))).not.toBe(JSON.stringify(a));
    expect(corpus(400, 43).map((d) => d.upstream.content_hash)).not.toEqual(a.map((d) => d.upstream.content_hash));
  });

  it('is a prefix-stable stream: asking for fewer docs changes at most the last advisory', () => {
    const long = corpus(300, 5);
    const short = corpus(120, 5);
    const cut = revisionsPerAdvisory(short);
    const lastKey = key(short[short.length - 1] as Doc);
    const complete = short.filter((d) => key(d) !== lastKey);
    expect(long.slice(0, complete.length)).toEqual(complete);
    expect(cut.size).toBeGreaterThan(10);
  });

  it.each([0, 1, 2, 17, 999, 1000])('produces exactly %i documents', (n) => {
    expect(corpus(n)).toHaveLength(n);
  });

  it('rejects invalid options', () => {
    expect(() => corpus(-1)).toThrow(RangeError);
    expect(() => corpus(1.5)).toThrow(RangeError);
    expect(() => corpus(10, 7, 0)).toThrow(RangeError);
  });

  it('names tenants default (one tenant) or tenant-1..tenant-T', () => {
    expect(new Set(corpus(300, 1, 1).map((d) => d.tenant))).toEqual(new Set(['default']));
    const names = new Set(BIG.map((d) => d.tenant));
    expect(names).toEqual(new Set(['tenant-1', 'tenant-2', 'tenant-3', 'tenant-4']));
  });

  it('passes the AOC guard for every document', () => {
    const rejected = BIG.map((d) => checkRawDocument(d)).filter((r) => !r.ok);
    expect(rejected).toEqual([]);
  });

  it('uses the corpus line format exactly (top-level and nested keys)', () => {
    for (const d of BIG.slice(0, 200)) {
      expect(Object.keys(d)).toEqual(['tenant', 'source', 'upstream', 'identifiers', 'content']);
      expect(Object.keys(d.source)).toEqual(['vendor', 'connector']);
      expect(Object.keys(d.upstream)).toEqual(['upstream_id', 'document_version', 'fetched_at', 'content_hash']);
      expect(Object.keys(d.content)).toEqual(['format', 'raw']);
      expect(d.upstream.fetched_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(d.identifiers.aliases.every((a) => /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})$/.test(a))).toBe(true);
    }
  });

  it('hashes the generated content bytes: content_hash = sha256 of JSON.stringify(content.raw)', () => {
    for (const d of BIG.slice(0, 500)) {
      const hex = createHash('sha256').update(JSON.stringify(d.content.raw), 'utf8').digest('hex');
      expect(d.upstream.content_hash).toBe(`sha256:${hex}`);
    }
  });

  it('has several vendors and aliases on most documents', () => {
    const vendors = new Set(BIG.map((d) => d.source.vendor));
    expect(vendors.size).toBeGreaterThanOrEqual(4);
    const withAliases = BIG.filter((d) => d.identifiers.aliases.length > 0).length;
    expect(withAliases / BIG.length).toBeGreaterThan(0.5);
  });

  it('keeps advisory identities apart and each advisory contiguous, in fetched_at order', () => {
    const groups = revisionsPerAdvisory(BIG);
    for (const docs of groups.values()) {
      const times = docs.map((d) => Date.parse(d.upstream.fetched_at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('has a long-tailed revisions-per-advisory histogram: most have 1, max between 5 and 15', () => {
    const counts = [...revisionsPerAdvisory(BIG).values()].map((d) => d.length);
    const ones = counts.filter((c) => c === 1).length;
    expect(ones / counts.length).toBeGreaterThan(0.5);
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...counts)).toBeLessThanOrEqual(15);
    expect(counts.filter((c) => c >= 2).length).toBeGreaterThan(counts.length * 0.1);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(5000);
  });

  it('has documents of about 1-3 KB on average', () => {
    const bytes = BIG.map((d) => Buffer.byteLength(JSON.stringify(d), 'utf8'));
    const avg = bytes.reduce((s, b) => s + b, 0) / bytes.length;
    expect(avg).toBeGreaterThanOrEqual(1024);
    expect(avg).toBeLessThanOrEqual(3072);
    expect(Math.min(...bytes)).toBeGreaterThan(512);
  });

  it('never repeats a content hash within an advisory', () => {
    for (const [k, docs] of revisionsPerAdvisory(BIG)) {
      const hashes = docs.map((d) => d.upstream.content_hash);
      expect(new Set(hashes).size, k).toBe(hashes.length);
    }
  });
});

describe('writeCorpusFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lnm-seed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { docs: 700, seed: 3, tenants: 2 };
  const expected = [...generateCorpus(opts)];

  it('writes plain JSONL and returns the count', async () => {
    const file = join(dir, 'corpus.jsonl');
    expect(await writeCorpusFile(file, opts)).toBe(700);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(expected);
  });

  it('gzips when the path ends with .gz', async () => {
    const file = join(dir, 'corpus.jsonl.gz');
    expect(await writeCorpusFile(file, opts)).toBe(700);
    const raw = readFileSync(file);
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    const lines = gunzipSync(raw).toString('utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(expected);
  });
});
