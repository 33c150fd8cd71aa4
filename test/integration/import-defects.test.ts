/**
 * Import defects of issue 12, each reproduced against the real MongoDB-wire server:
 * unreadable input (missing file, truncated gzip) is a clear ERR_INPUT, never a crash;
 * one bad line (too large for BSON, '.'/'$' keys outside content, invalid UTF-8, a
 * server-stamped field, a value the server refuses) is rejected with its code and line
 * number while everything valid is imported, each stored raw document with its
 * observation; content keys like `__proto__` are kept; out-of-order duplicates are counted.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cliJson, quietLog, runCli } from '../helpers/env.js';
import type { ImportJson } from '../helpers/oracle.js';
import { useResources } from '../helpers/resources.js';
import type { Db } from 'mongodb';
import type { Connections } from '../../core/connections.js';
import { AOC_CODES } from '../../core/aoc-guard.js';
import { IMPORT_CODES, InputError } from '../../core/errors.js';
import { COLL } from '../../core/store/collections.js';
import { unescapeKeys } from '../../core/store/key-escape.js';
import { importCorpus, type ImportResult } from '../../producer/import.js';

const res = useResources();
const cfg = res.config('import_defects');
let conns: Connections | undefined;
let fileNo = 0;


const hash = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/** A valid raw document; `id` keeps every test's advisories apart. */
function doc(id: string, extra: { fetched?: string; content?: Record<string, unknown>; hashOf?: string } = {}): Record<string, any> {
  const content = extra.content ?? { format: 'osv', raw: { id, summary: `advisory ${id}` } };
  return {
    tenant: 'defects',
    source: { vendor: 'osv' },
    upstream: { upstream_id: id, fetched_at: extra.fetched ?? '2024-01-02T03:04:05Z', content_hash: hash(extra.hashOf ?? JSON.stringify(content)) },
    identifiers: { aliases: [id] },
    content,
  };
}

const line = (d: unknown): Buffer => Buffer.from(`${JSON.stringify(d)}\n`);

function writeInput(parts: Buffer[], ext = 'jsonl'): string {
  const file = path.join(cfg.homeDir, `input-${++fileNo}.${ext}`);
  const body = Buffer.concat(parts);
  writeFileSync(file, ext.endsWith('gz') ? gzipSync(body) : body);
  return file;
}

interface RejectRecord {
  line: number;
  code: string;
  path: string;
  message: string;
}

function rejectsOf(r: ImportResult): RejectRecord[] {
  if (!r.rejects_file) return [];
  return readFileSync(r.rejects_file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RejectRecord);
}

async function database(): Promise<Db> {
  conns ??= await res.open(cfg);
  return conns.db;
}

async function run(file: string): Promise<ImportResult> {
  return importCorpus(await database(), file, { homeDir: cfg.homeDir }, quietLog);
}

async function stored(upstreamId: string): Promise<Record<string, any> | null> {
  return (await database()).collection(COLL.raw).findOne({ tenant: 'defects', 'upstream.upstream_id': upstreamId });
}

/** Every raw document has its observation and no observation lacks its raw document. */
async function rawAndObservationsPaired(): Promise<{ raw: number; observations: number; unpaired: number }> {
  const d = await database();
  const raw = new Set((await d.collection(COLL.raw).find({}, { projection: { _id: 1 } }).toArray()).map((x) => String(x._id)));
  const obs = new Set((await d.collection(COLL.observations).find({}, { projection: { rawId: 1 } }).toArray()).map((x) => String(x.rawId)));
  let unpaired = 0;
  for (const id of raw) if (!obs.has(id)) unpaired++;
  for (const id of obs) if (!raw.has(id)) unpaired++;
  return { raw: raw.size, observations: obs.size, unpaired };
}

/** stderr lines that are not JSON log lines: what a person sees. No Node stack trace or crash text allowed. */
function humanLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
}

describe('unreadable input is a clear ERR_INPUT, never a crash', () => {
  it.each(['jsonl', 'jsonl.gz'])('a missing .%s file: in process and through the CLI', async (ext) => {
    const file = path.join(cfg.homeDir, `does-not-exist.${ext}`);
    await expect(run(file)).rejects.toMatchObject({ code: 'ERR_INPUT', path: file });
    const r = await runCli(cfg, ['import', file, '--json']);
    expect(r.code).toBe(1);
    expect(humanLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^lnm-backfill: ERR_INPUT: ${file}: cannot open`))]);
    expect(r.stdout).toBe('');
  });

  it('a truncated .gz: the complete lines before the cut are imported, then ERR_INPUT names the file', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => line(doc(`TRUNC-${i}`, { content: { format: 'osv', raw: { i, pad: 'x'.repeat(200 + (i % 50)) } } })));
    const full = gzipSync(Buffer.concat(lines));
    const file = path.join(cfg.homeDir, 'truncated.jsonl.gz');
    writeFileSync(file, full.subarray(0, Math.floor(full.length * 0.6)));
    let caught: unknown;
    try {
      await run(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputError);
    const err = caught as InputError;
    expect(err).toMatchObject({ code: 'ERR_INPUT', path: file });
    const partial = err.details?.result as ImportResult;
    expect(partial.accepted).toBeGreaterThan(100);
    expect(partial.accepted).toBeLessThan(400);
    expect(partial.rejected).toEqual({ [IMPORT_CODES.TRUNCATED]: 1 });
    const rejects = rejectsOf(partial);
    expect(rejects).toEqual([expect.objectContaining({ line: partial.accepted + 1, code: IMPORT_CODES.TRUNCATED })]);
    const d = await database();
    expect(await d.collection(COLL.raw).countDocuments({ 'upstream.upstream_id': /^TRUNC-/ })).toBe(partial.accepted);
    expect((await rawAndObservationsPaired()).unpaired).toBe(0);

    const cli = await runCli(cfg, ['import', file, '--json']);
    expect(cli.code).toBe(1);
    expect(humanLines(cli.stderr)).toEqual([expect.stringMatching(new RegExp(`^lnm-backfill: ERR_INPUT: ${file}: `))]);
  });

  it('a small truncated .gz (it fails before import reads it) is ERR_INPUT too, never an unhandled zlib error', async () => {
    const full = gzipSync(Buffer.concat(Array.from({ length: 40 }, (_, i) => line(doc(`SMALL-${i}`)))));
    const file = path.join(cfg.homeDir, 'small-truncated.jsonl.gz');
    writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
    const cli = await runCli(cfg, ['import', file, '--json']);
    expect(cli.stderr).not.toContain("Unhandled 'error' event");
    expect(cli.code).toBe(1);
    expect(humanLines(cli.stderr)).toEqual([expect.stringMatching(new RegExp(`^lnm-backfill: ERR_INPUT: ${file}: `))]);
  });
});

describe('one bad line is rejected with its code and line number; everything valid is imported', () => {
  it('a document over the 16 MiB BSON limit', async () => {
    const huge = doc('HUGE-1', { content: { format: 'osv', raw: { blob: 'h'.repeat(16 * 1024 * 1024 + 10) } }, hashOf: 'huge' });
    const file = writeInput([line(doc('BIG-BEFORE')), line(huge), line(doc('BIG-AFTER'))]);
    const r = await run(file);
    expect(r).toMatchObject({ accepted: 2, duplicates: 0, rejected: { [IMPORT_CODES.TOO_LARGE]: 1 } });
    expect(rejectsOf(r)).toEqual([expect.objectContaining({ line: 2, code: IMPORT_CODES.TOO_LARGE, path: '$' })]);
    expect(await stored('BIG-AFTER')).not.toBeNull();
    expect(await stored('HUGE-1')).toBeNull();
  });

  it.each([
    ['identifiers', (d: Record<string, any>) => (d.identifiers = { 'cve.id': 'CVE-1' }), 'identifiers["cve.id"]'],
    ['linkset', (d: Record<string, any>) => (d.linkset = { $where: 'sleep(1000)' }), 'linkset["$where"]'],
    ['source', (d: Record<string, any>) => (d.source.$set = { tenant: 'other' }), 'source["$set"]'],
    ['upstream', (d: Record<string, any>) => (d.upstream.signature = { present: true, 'key.id': 'k' }), 'upstream.signature["key.id"]'],
  ])("a '.' or '$' key in %s: rejected with its path, the batch around it imported with observations", async (where, change, keyPath) => {
    const bad = doc(`KEYS-${where}-bad`);
    change(bad);
    const file = writeInput([line(doc(`KEYS-${where}-1`)), line(bad), line(doc(`KEYS-${where}-2`))]);
    const r = await run(file);
    expect(r).toMatchObject({ accepted: 2, rejected: { [AOC_CODES.FORBIDDEN_KEY]: 1 } });
    expect(rejectsOf(r)).toEqual([expect.objectContaining({ line: 2, code: AOC_CODES.FORBIDDEN_KEY, path: keyPath })]);
    expect(await stored(`KEYS-${where}-2`)).not.toBeNull();
    expect((await rawAndObservationsPaired()).unpaired).toBe(0);
  });

  it('`__proto__` and `constructor` keys inside content are stored unchanged', async () => {
    const text =
      '{"tenant":"defects","source":{"vendor":"osv"},"upstream":{"upstream_id":"PROTO-1","fetched_at":"2024-01-02T03:04:05Z",' +
      `"content_hash":"${hash('proto')}"},"content":{"format":"osv","raw":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},` +
      '"list":[{"__proto__":null}],"a.b":{"__proto__":"s"}}}}\n';
    const r = await run(writeInput([Buffer.from(text)]));
    expect(r).toMatchObject({ accepted: 1, rejected: {} });
    const got = await stored('PROTO-1');
    const expected = (JSON.parse(text) as { content: unknown }).content;
    expect(JSON.stringify(unescapeKeys(got?.content))).toBe(JSON.stringify(expected));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('invalid UTF-8 (in upstream_id or in content) is rejected, never replaced by U+FFFD', async () => {
    const ok = line(doc('UTF8-OK', { content: { format: 'osv', raw: { title: 'naïve – ✓ 漢字 😀' } } }));
    const inId = Buffer.concat([Buffer.from(JSON.stringify(doc('UTF8-ID-X')).replace('UTF8-ID-X', 'UTF8-ID-\u0001')), Buffer.from('\n')]);
    inId[inId.indexOf(0x01)] = 0xff;
    const inContent = Buffer.from(`${JSON.stringify(doc('UTF8-CONTENT', { content: { format: 'osv', raw: { t: 'a~b' } } })).replace('a~b', 'a\u0001b')}\n`);
    inContent[inContent.indexOf(0x01)] = 0xc3; // a lead byte followed by ASCII: invalid
    const r = await run(writeInput([ok, inId, inContent]));
    expect(r).toMatchObject({ accepted: 1, rejected: { [IMPORT_CODES.UTF8]: 2 } });
    expect(rejectsOf(r).map((x) => [x.line, x.code])).toEqual([[2, IMPORT_CODES.UTF8], [3, IMPORT_CODES.UTF8]]);
    expect((await stored('UTF8-OK'))?.content.raw.title).toBe('naïve – ✓ 漢字 😀');
    const d = await database();
    const all = await d.collection(COLL.raw).find({ tenant: 'defects' }).toArray();
    expect(all.filter((x) => JSON.stringify(x).includes('\uFFFD'))).toEqual([]);
    expect(await stored('UTF8-CONTENT')).toBeNull();
  });

  it('an ingested_at in the input is rejected (the importer stamps it)', async () => {
    const future = { ...doc('INGESTED-1'), ingested_at: '2999-01-01T00:00:00Z' };
    const r = await run(writeInput([line(future), line(doc('INGESTED-2'))]));
    expect(r).toMatchObject({ accepted: 1, rejected: { [AOC_CODES.SERVER_ASSIGNED]: 1 } });
    expect(rejectsOf(r)).toEqual([expect.objectContaining({ line: 1, code: AOC_CODES.SERVER_ASSIGNED, path: 'ingested_at' })]);
    const kept = await stored('INGESTED-2');
    expect(kept?.ingested_at.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('a document the server refuses fails alone: rejected with the server refusal, its batch imported with observations', async () => {
    // NUL inside a string value: MongoDB stores it, FerretDB's PostgreSQL backend refuses the whole insert command.
    const nul = doc('REFUSED-NUL', { content: { format: 'osv', raw: { t: 'a\u0000b' } } });
    const batch = [line(doc('REFUSED-1')), line(nul), line(doc('REFUSED-2')), line(doc('REFUSED-3'))];
    const r = await run(writeInput(batch));
    const refused = r.rejected[IMPORT_CODES.REFUSED] ?? 0;
    expect(r.accepted + refused).toBe(4);
    if (refused === 1) expect(rejectsOf(r)).toEqual([expect.objectContaining({ line: 2, code: IMPORT_CODES.REFUSED, path: '$' })]);
    else expect((await stored('REFUSED-NUL'))?.content.raw.t).toBe('a\u0000b');
    for (const id of ['REFUSED-1', 'REFUSED-2', 'REFUSED-3']) expect(await stored(id), id).not.toBeNull();
    expect((await rawAndObservationsPaired()).unpaired).toBe(0);
    // A second import of the same file: the refused line again, the rest are duplicates (nothing counted as new).
    const again = await run(writeInput(batch));
    expect(again).toMatchObject({ accepted: 0, duplicates: 4 - refused, rejected: refused === 1 ? { [IMPORT_CODES.REFUSED]: 1 } : {} });
  });
});

describe('out-of-order duplicates (DESIGN §3)', () => {
  it('a line older than the stored duplicate is counted, in another file and within one file', async () => {
    const content = { format: 'osv', raw: { v: 'A' } };
    const late = doc('OOO-1', { content, fetched: '2024-03-01T00:00:00Z' });
    const early = doc('OOO-1', { content, fetched: '2024-01-01T00:00:00Z' });
    const first = await run(writeInput([line(late)]));
    expect(first).toMatchObject({ accepted: 1, duplicates: 0, out_of_order_duplicates: 0 });
    const second = await run(writeInput([line(early), line(late)]));
    expect(second).toMatchObject({ accepted: 0, duplicates: 2, out_of_order_duplicates: 1 });
    const within = await run(writeInput([line(doc('OOO-2', { content, fetched: '2024-05-01T00:00:00Z' })), line(doc('OOO-2', { content, fetched: '2024-04-01T00:00:00Z' }))]));
    expect(within).toMatchObject({ accepted: 1, duplicates: 1, out_of_order_duplicates: 1 });
    expect(existsSync(within.rejects_file ?? '')).toBe(false);
  });

  it('import reports them with a sample: a revert A, B, A imported line-reversed keeps the late A', async () => {
    const a = { format: 'osv', raw: { v: 'A' } };
    const b = { format: 'osv', raw: { v: 'B' } };
    const revert = (id: string) => [
      doc(id, { content: a, fetched: '2024-01-01T00:00:00Z' }),
      doc(id, { content: b, fetched: '2024-02-01T00:00:00Z' }),
      doc(id, { content: a, fetched: '2024-03-01T00:00:00Z' }),
    ];
    const inOrder = await cliJson<ImportJson>(cfg, ['import', writeInput(revert('OOO-REV-1').map(line)), '--json']);
    expect(inOrder).toMatchObject({ accepted: 2, duplicates: 1, out_of_order_duplicates: 0, out_of_order_sample: [] });
    const reversed = await cliJson<ImportJson>(cfg, ['import', writeInput(revert('OOO-REV-2').reverse().map(line)), '--json']);
    expect(reversed).toMatchObject({ accepted: 2, duplicates: 1, out_of_order_duplicates: 1 });
    expect(reversed.out_of_order_sample).toEqual([
      {
        line: 3,
        tenant: 'defects',
        vendor: 'osv',
        upstream_id: 'OOO-REV-2',
        content_hash: hash(JSON.stringify(a)),
        fetched_at: '2024-01-01T00:00:00.000Z',
        stored_fetched_at: '2024-03-01T00:00:00.000Z',
      },
    ]);
    const text = await runCli(cfg, ['import', writeInput(revert('OOO-REV-2').reverse().map(line))]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('1 out-of-order duplicate(s)');
    expect(text.stdout).toContain('line 3, defects/osv/OOO-REV-2 fetched 2024-01-01T00:00:00.000Z, stored 2024-03-01T00:00:00.000Z');
  });
});

describe('resources', () => {
  it('closes its connection', async () => {
    if (conns) await res.close(conns);
    expect(res.openConnections()).toBe(0);
  });

  res.leakCheck();
});
