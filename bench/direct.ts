/**
 * Cases run inside the bench process, without a queue:
 * - raw limit: one unsorted identity scan of `advisory_raw` (the same six fields and scope as
 *   the planner), the supersedes rule in memory, and the run's exact write set (edges and
 *   tombstones, stamped like a worker stamps them) in unordered `insertMany` bulks of 500
 *   with up to 4 in flight — the fastest this server takes this work;
 * - naive: what an operator writes in a hurry — a cursor over `advisory_raw`, one query per
 *   advisory for its revisions, one `updateOne` upsert per edge and per tombstone. It stops
 *   after a time budget; its rate is then over the documents of the advisories it finished,
 *   and only those advisories' edges are checked.
 */
import { loadavg } from 'node:os';
import type { Redis } from 'ioredis';
import type { Document } from 'mongodb';
import { COLL } from '../core/store/collections.js';
import { supersedesForAdvisory, type AdvisoryGroup } from '../core/supersedes.js';
import type { CaseEnv } from './corpus.js';
import { compareWritten, expectedFor, writtenEdges, type Expected } from './oracle.js';
import { kbToMb, sampleFixed, type Sampler } from './proc.js';
import { rate, round, type CaseResult } from './stats.js';

const BULK = 500;
const IN_FLIGHT = 4;
const PROJECTION = { _id: 1, tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.fetched_at': 1, 'upstream.content_hash': 1 };

export interface DirectOptions {
  docs: number;
  expected: Expected;
  serverPid: number | null;
  redis: Redis;
}

const keyOf = (d: Document): string => `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;

function groupOf(d: Document): AdvisoryGroup {
  return { tenant: d.tenant, vendor: d.source.vendor, upstream_id: d.upstream.upstream_id, revisions: [] };
}

function revisionOf(d: Document): AdvisoryGroup['revisions'][number] {
  return { raw_id: d._id, fetched_at: d.upstream.fetched_at as Date, content_hash: d.upstream.content_hash as string };
}

/** Insert documents in unordered bulks of 500, at most 4 bulks in flight. */
async function insertBulks(c: CaseEnv, coll: string, docs: Document[]): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < docs.length) {
      const bulk = docs.slice(next, (next += BULK));
      await c.conns.db.collection(coll).insertMany(bulk, { ordered: false });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

function rssOf(s: Sampler): CaseResult['rss'] {
  const server = s.byRole('server')[0];
  return { bench_mb: kbToMb(s.byRole('bench')[0]?.hwmKb ?? 0), server_mb: server ? kbToMb(server.maxRssKb) : null, redis_used_mb: s.redisUsedMb() };
}

export async function rawCase(c: CaseEnv, o: DirectOptions): Promise<CaseResult> {
  const load0 = loadavg()[0]!;
  const sampler = sampleFixed({ bench: process.pid, server: o.serverPid }, o.redis);
  const t0 = Date.now();
  const groups = new Map<string, AdvisoryGroup>();
  let scanned = 0;
  const cursor = c.conns.db.collection(COLL.raw).find({ ingested_at: { $lte: new Date() } }, { projection: PROJECTION }).batchSize(2000);
  for await (const d of cursor) {
    const key = keyOf(d);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = groupOf(d)));
    g.revisions.push(revisionOf(d));
    scanned++;
  }
  const t1 = Date.now();
  const stamp = { run_id: `bench-raw-${c.name}`, created_at: new Date() };
  const edges: Document[] = [];
  const tombstones: Document[] = [];
  for (const g of groups.values()) {
    const r = supersedesForAdvisory(g);
    for (const e of r.edges) edges.push({ ...e, ...stamp });
    for (const t of r.tombstones) tombstones.push({ ...t, ...stamp });
  }
  const t2 = Date.now();
  await insertBulks(c, COLL.supersedes, edges);
  await insertBulks(c, COLL.tombstones, tombstones);
  const t3 = Date.now();
  sampler.stop();
  const { ok, check } = compareWritten(o.expected, await writtenEdges(c.conns.db));
  return {
    kind: 'raw',
    docs: o.docs,
    ok: ok && scanned === o.docs,
    check: { ...check, scanned },
    wall_s: round((t3 - t0) / 1000, 1),
    docs_per_s: rate(o.docs, (t3 - t0) / 1000),
    phases: { scan_s: round((t1 - t0) / 1000, 1), compute_s: round((t2 - t1) / 1000, 1), write_s: round((t3 - t2) / 1000, 1) },
    rss: rssOf(sampler),
    load: [round(load0, 2), round(loadavg()[0]!, 2)],
    extra: { bulk: BULK, in_flight: IN_FLIGHT, writes: edges.length + tombstones.length, scan_docs_per_s: rate(scanned, (t1 - t0) / 1000) },
  };
}

export async function naiveCase(c: CaseEnv, o: DirectOptions & { budgetS: number }): Promise<CaseResult> {
  const load0 = loadavg()[0]!;
  const sampler = sampleFixed({ bench: process.pid, server: o.serverPid }, o.redis);
  const raw = c.conns.db.collection(COLL.raw);
  const stamp = { run_id: `bench-naive-${c.name}`, created_at: new Date() };
  const done = new Set<string>();
  let covered = 0;
  let upserts = 0;
  let partial = false;
  const t0 = Date.now();
  for await (const d of raw.find({})) {
    const key = keyOf(d);
    if (done.has(key)) continue;
    const g = groupOf(d);
    const revisions = await raw.find({ tenant: d.tenant, 'source.vendor': d.source.vendor, 'upstream.upstream_id': d.upstream.upstream_id }).toArray();
    g.revisions = revisions.map(revisionOf);
    const r = supersedesForAdvisory(g);
    for (const { _id, ...e } of r.edges) await c.conns.db.collection<{ _id: string }>(COLL.supersedes).updateOne({ _id }, { $setOnInsert: { ...e, ...stamp } }, { upsert: true });
    for (const { _id, ...t } of r.tombstones) await c.conns.db.collection<{ _id: string }>(COLL.tombstones).updateOne({ _id }, { $setOnInsert: { ...t, ...stamp } }, { upsert: true });
    upserts += r.edges.length + r.tombstones.length;
    done.add(key);
    covered += revisions.length;
    if (Date.now() - t0 > o.budgetS * 1000 && covered < o.docs) {
      partial = true;
      break;
    }
  }
  const elapsed = (Date.now() - t0) / 1000;
  sampler.stop();
  const want = partial ? expectedFor(o.expected, done) : o.expected;
  const { ok, check } = compareWritten(want, await writtenEdges(c.conns.db));
  return {
    kind: 'naive',
    docs: o.docs,
    ok,
    check: { ...check, advisories_done: done.size },
    wall_s: round(elapsed, 1),
    docs_per_s: rate(covered, elapsed),
    rss: rssOf(sampler),
    load: [round(load0, 2), round(loadavg()[0]!, 2)],
    extra: {
      partial,
      budget_s: o.budgetS,
      docs_covered: covered,
      upserts,
      ...(partial ? { projected_full_s: Math.round((elapsed * o.docs) / Math.max(1, covered)) } : {}),
    },
  };
}
