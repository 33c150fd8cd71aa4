/**
 * The hostile corpus (test/helpers/hostile-corpus.ts) end to end on the real services:
 * every bad line rejected with its stable code, path and line number, counted and written
 * to the rejects file; every valid document imported with its observation and stored
 * unchanged; a dry run writes nothing to advisory_*; the real run gives the edge digest the
 * generator computed on its own; a truncated gzip of the same corpus fails with a clear
 * ERR_INPUT after importing exactly the complete lines before the cut.
 */
import { createReadStream, createWriteStream, readFileSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliJson, quietLog, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { independentEdges, type RunJson, snapshotAdvisoryCollections, type ValidateJson } from '../helpers/oracle.js';
import type { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { unescapeKeys } from '../../core/store/key-escape.js';
import { importCorpus } from '../../producer/import.js';
import { writeHostileCorpus, type HostileCorpus, type Outcome } from '../helpers/hostile-corpus.js';

const res = useResources();
const main = { cfg: res.config('hostile') };
const gz = { cfg: res.config('hostile_gz') };
const LONG = 600_000;
let corpus: HostileCorpus;
let conns: Connections;

beforeAll(async () => {
  corpus = await writeHostileCorpus(path.join(main.cfg.homeDir, 'hostile.jsonl'));
  conns = await res.open(main.cfg);
}, LONG);


interface RejectRecord {
  line: number;
  code: string;
  path: string;
  message: string;
}

const readRejects = (file: string): RejectRecord[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RejectRecord);

/** The expected rejects file content (line, code, path) for lines before `beforeLine`. */
function expectedRejects(beforeLine = Infinity): Array<Omit<RejectRecord, 'message'>> {
  return corpus.outcomes.flatMap((o: Outcome, i) => (typeof o === 'object' && i + 1 < beforeLine ? [{ line: i + 1, code: o.code, path: o.path }] : []));
}

/** stderr lines a person sees (not JSON log lines). */
const humanLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

describe('hostile corpus', () => {
  it('covers every kind of bad line of issue 12, duplicates in and out of order, and several tenants', () => {
    expect(Object.keys(corpus.rejected).sort()).toEqual([
      'ERR_AOC_001', 'ERR_AOC_002', 'ERR_AOC_003', 'ERR_AOC_004', 'ERR_AOC_005', 'ERR_AOC_006', 'ERR_AOC_007',
      'ERR_AOC_009', 'ERR_AOC_010', 'ERR_AOC_011', 'ERR_AOC_012', 'ERR_AOC_013',
      'ERR_IMPORT_TOO_LARGE', 'ERR_INPUT_JSON', 'ERR_INPUT_LINE_TOO_LONG', 'ERR_INPUT_UTF8',
    ]);
    expect(corpus.duplicates).toBeGreaterThanOrEqual(2);
    expect(corpus.outOfOrder).toBeGreaterThanOrEqual(1);
    expect(Object.keys(corpus.perTenant).sort()).toEqual(['acm', 'acme', 'acme-eu', 'acme:eu', 'beta']);
    expect(corpus.edges.count).toBeGreaterThan(50);
  });

  it('import: each bad line rejected with its code, path and line number; every valid document imported unchanged', async () => {
    const rejectsFile = path.join(main.cfg.homeDir, 'rejects.jsonl');
    const r = await importCorpus(conns.db, corpus.file, { homeDir: main.cfg.homeDir, rejectsFile }, quietLog);
    expect(r).toEqual({
      lines: corpus.outcomes.length,
      accepted: corpus.accepted,
      duplicates: corpus.duplicates,
      out_of_order_duplicates: corpus.outOfOrder,
      out_of_order_sample: corpus.outOfOrderLines.map((line) => expect.objectContaining({ line })),
      rejected: corpus.rejected,
      rejects_file: rejectsFile,
    });
    expect(readRejects(rejectsFile).map(({ line, code, path: p }) => ({ line, code, path: p }))).toEqual(expectedRejects());

    const { db } = conns;
    expect(await db.collection(COLL.raw).countDocuments({})).toBe(corpus.accepted);
    expect(await db.collection(COLL.observations).countDocuments({})).toBe(corpus.accepted);
    for (const [tenant, n] of Object.entries(corpus.perTenant)) {
      expect(await db.collection(COLL.raw).countDocuments({ tenant }), tenant).toBe(n);
      expect(await db.collection(COLL.observations).countDocuments({ tenantId: tenant }), tenant).toBe(n);
    }
    const proto = await db.collection(COLL.raw).findOne({ 'upstream.upstream_id': 'PROTO' });
    expect(Object.keys(proto?.content ?? {}).slice(0, 2)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(proto?.content.__proto__)).toBe('{"isAdmin":true}');
    const keys = await db.collection(COLL.raw).findOne({ 'upstream.upstream_id': 'KEYS-CONTENT' });
    expect(unescapeKeys(keys?.content.raw)).toEqual({ '>= 1.0, < 2.0': ['a::b'], $ref: 'x', 'a$b': 1, '': 'empty key' });
    const unicode = await db.collection(COLL.raw).findOne({ 'upstream.upstream_id': 'UNICODE' });
    expect(unicode?.content.raw).toEqual({ title: 'naïve – ✓ 漢字 😀 \u2028', rtl: 'مرحبا' });
    expect(await db.collection(COLL.raw).countDocuments({ 'upstream.upstream_id': 'JUST-UNDER-16MIB' })).toBe(1);

    const expected = await independentEdges(db);
    expect({ edges: expected.edges, digest: expected.digest }).toEqual({ edges: corpus.edges.count, digest: corpus.edges.digest });
  }, LONG);

  it('a dry run over it writes nothing to any advisory_* collection', async () => {
    const before = await snapshotAdvisoryCollections(conns.db);
    const dry = await cliJson<RunJson>(main.cfg, ['start', '--dry-run', '--wait', '--local-workers=1', '--json']);
    expect(dry).toMatchObject({ state: 'succeeded', dry_run: true, docs: corpus.accepted, edges_inserted: corpus.edges.count, violations: 0, errors: 0 });
    expect(await snapshotAdvisoryCollections(conns.db)).toEqual(before);
  }, LONG);

  it('the real run gives the expected edge digest, no duplicates, no violations', async () => {
    const run = await cliJson<RunJson>(main.cfg, ['start', '--force', '--reason=test', '--wait', '--local-workers=1', '--json']);
    expect(run).toMatchObject({ state: 'succeeded', docs: corpus.accepted, edges_inserted: corpus.edges.count, tombstones_inserted: corpus.edges.count, idempotent_hits: 0, violations: 0, errors: 0 });
    const v = await cliJson<ValidateJson>(main.cfg, ['validate', run.run_id, '--json']);
    expect(v.ok).toBe(true);
    expect(v.edges).toMatchObject({ expected: corpus.edges.count, present: corpus.edges.count, missing: 0, extra: 0, digest: corpus.edges.digest });
    expect(v.observations).toEqual({ before: corpus.accepted, after: corpus.accepted });
  }, LONG);

  it('a truncated gzip of it: exit 1 with one clear ERR_INPUT line, the complete lines before the cut accounted exactly', async () => {
    const file = path.join(gz.cfg.homeDir, 'hostile.jsonl.gz');
    await pipeline(createReadStream(corpus.file), createGzip(), createWriteStream(file));
    truncateSync(file, Math.floor(statSync(file).size * 0.7));
    const rejectsFile = path.join(gz.cfg.homeDir, 'rejects.jsonl');
    const r = await runCli(gz.cfg, ['import', file, '--rejects', rejectsFile, '--json']);
    expect(r.code).toBe(1);
    expect(humanLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^lnm-backfill: ERR_INPUT: ${file}: cannot read past line \\d+ `))]);
    const rejects = readRejects(rejectsFile);
    const cut = rejects[rejects.length - 1]!;
    expect(cut.code).toBe('ERR_INPUT_TRUNCATED');
    expect(cut.line).toBeGreaterThan(10);
    expect(cut.line).toBeLessThan(corpus.outcomes.length);
    expect(rejects.slice(0, -1).map(({ line, code, path: p }) => ({ line, code, path: p }))).toEqual(expectedRejects(cut.line));
    const acceptedBefore = corpus.outcomes.slice(0, cut.line - 1).filter((o) => o === 'accepted').length;
    const g = await res.open(gz.cfg);
    try {
      expect(await g.db.collection(COLL.raw).countDocuments({})).toBe(acceptedBefore);
      expect(await g.db.collection(COLL.observations).countDocuments({})).toBe(acceptedBefore);
    } finally {
      await res.close(g);
    }
  }, LONG);

  it('closes its connection', async () => {
    await res.close(conns);
    expect(res.openConnections()).toBe(0);
  });

  res.leakCheck();
});
