/**
 * Planning and validation in bounded memory (the scale issue): a corpus whose identity rows
 * alone do not fit the heap limit is planned, processed and validated by processes started
 * with `--max-old-space-size=HEAP_MB`, through the external sort (LNM_PLAN_SORT=external, so
 * the same path runs on MongoDB too, in runs of SORT_RUN_ROWS rows).
 *
 * Size: DOCS documents with ~4000-character upstream ids (long ids reach the heap limit with
 * few documents: the server's time grows with the documents); an identity row then takes
 * ~4.3 KB of heap (measured with `--expose-gc`: 920 bytes with 580-character ids), DOCS
 * rows ~70 MB, above HEAP_MB (the CLI's modules alone take ~24 MB of it). The first test proves it: holding the
 * rows in an array, as validation used to, dies of heap exhaustion under the same limit. The
 * pipeline holds one sort run (SORT_RUN_ROWS rows), one cursor batch, one advisory and a few
 * shards, whatever DOCS is: memory grows with those knobs, not with the corpus.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliJson, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import type { RunJson } from '../helpers/oracle.js';
import { childEnv } from '../../core/config.js';
import { COLL } from '../../core/store/collections.js';
import { MAX_BATCH_SIZE } from '../../core/manifest-bound.js';
import { getRun } from '../../core/store/runs.js';
import { edgeDigest, edgeLine } from '../../core/supersedes.js';

const DOCS = 16_000;
const HEAP_MB = 64;
const SORT_RUN_ROWS = 1000;
const LONG = 900_000;
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

const res = useResources();
const cfg = res.config('bounded_memory');
const limited = { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`, LNM_PLAN_SORT: 'external', LNM_SORT_RUN_ROWS: String(SORT_RUN_ROWS) };

/** Two revisions per advisory; ids put the number last, so `…-1` is a prefix of `…-12`. */
const upstreamId = (a: number) => `GHSA-${'q'.repeat(4000)}-${a}`;
const hash = (a: number, r: number) => `sha256:${(a * 2 + r).toString(16).padStart(64, '0')}`;

function expectedEdges(): { count: number; digest: string } {
  const lines: string[] = [];
  for (let a = 0; a < DOCS / 2; a++) lines.push(edgeLine({ tenant: 'bm', vendor: 'osv', upstream_id: upstreamId(a), older_hash: hash(a, 0), newer_hash: hash(a, 1) }));
  return { count: lines.length, digest: edgeDigest(lines) };
}

describe('bounded memory', () => {
  it(`seeds ${DOCS} documents whose identity rows do not fit a ${HEAP_MB} MB heap`, async () => {
    const conns = await res.open(cfg);
    try {
      const raw = conns.db.collection<{ _id: string }>(COLL.raw);
      const ingested = new Date(Date.UTC(2025, 0, 1));
      for (let start = 0; start < DOCS; start += 1000) {
        const docs = [];
        for (let i = start; i < start + 1000 && i < DOCS; i++) {
          const a = Math.floor(i / 2);
          const r = i % 2;
          // _id order unrelated to planning order: the external sort has work to do.
          docs.push({
            _id: `bm-${String((i * 7919) % DOCS).padStart(6, '0')}-${i}`,
            tenant: 'bm',
            source: { vendor: 'osv' },
            upstream: { upstream_id: upstreamId(a), fetched_at: new Date(Date.UTC(2024, 0, 1) + r * 3_600_000), content_hash: hash(a, r) },
            ingested_at: ingested,
          });
        }
        await raw.insertMany(docs, { ordered: false });
      }
      expect(await raw.countDocuments({})).toBe(DOCS);
    } finally {
      await res.close(conns);
    }
    // Control: every identity row in one array under the same heap limit runs out of heap.
    const script = [
      `import { loadConfig } from ${JSON.stringify(path.join(DIST, 'core/config.js'))};`,
      `import { Connections } from ${JSON.stringify(path.join(DIST, 'core/connections.js'))};`,
      `import { identityRows } from ${JSON.stringify(path.join(DIST, 'core/store/corpus-scan.js'))};`,
      'const conns = await Connections.open(loadConfig());',
      'const rows = [];',
      `for await (const r of identityRows(conns.db, { snapshot_bound: new Date(), tenant: null }, { sort: 'server', sortRunRows: 1, sortDir: '' })) rows.push(r);`,
      'console.log(rows.length);',
      'await conns.close();',
    ].join('\n');
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--input-type=module', '-e', script], { env: childEnv(cfg), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/heap out of memory|Allocation failed/);
  }, LONG);

  it(`start --wait plans, runs and validates it with a ${HEAP_MB} MB heap in every process: the expected edges and digest`, async () => {
    const want = expectedEdges();
    const r = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=bounded-memory test', '--wait', '--local-workers=1', '--stop-on-error', '--json'], { env: limited });
    // succeeded = the validation in that process found no missing or extra edge, every tombstone.
    expect(r).toMatchObject({ state: 'succeeded', docs: DOCS, edges_inserted: want.count, tombstones_inserted: want.count, violations: 0, errors: 0 });
    const conns = await res.open(cfg);
    try {
      const run = await getRun(conns.db, r.run_id);
      expect(run.planner).toMatchObject({ sort: 'external', spilled_runs: DOCS / SORT_RUN_ROWS });
      const present: string[] = [];
      const edges = conns.db.collection(COLL.supersedes).find({}, { projection: { tenant: 1, vendor: 1, upstream_id: 1, 'older.content_hash': 1, 'newer.content_hash': 1 } });
      for await (const e of edges) present.push(edgeLine({ tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, older_hash: e.older.content_hash, newer_hash: e.newer.content_hash }));
      expect({ count: present.length, digest: edgeDigest(present) }).toEqual(want);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  it('start --batch-size above the manifest bound is refused before anything is recorded, naming the bound', async () => {
    const r = await runCli(cfg, ['start', '--dry-run', `--batch-size=${MAX_BATCH_SIZE + 1}`, '--json']);
    expect(r.code).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toContain('ERR_BATCH_TOO_LARGE');
    expect(`${r.stdout}${r.stderr}`).toContain(`bound of ${MAX_BATCH_SIZE}`);
    const conns = await res.open(cfg);
    try {
      expect(await conns.db.collection(COLL.runs).countDocuments({})).toBe(1);
    } finally {
      await res.close(conns);
    }
  }, LONG);

  res.leakCheck();
});
