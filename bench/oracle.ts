/**
 * What every case is checked against: the expected edges re-derived straight from
 * `advisory_raw` (DESIGN §3, written here without core/supersedes.ts so that the check does
 * not share code with what it checks), and the edges and tombstones a case left behind.
 * Digest: sha256 over the sorted DESIGN §5 lines `tenant|vendor|upstream_id|older|newer`,
 * each followed by a newline — the same definition as the validator's edge digest.
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { COLL } from '../core/store/collections.js';

export interface Expected {
  documents: number;
  advisories: number;
  edges: number;
  digest: string;
  /** Edge lines per advisory key `tenant|vendor|upstream_id` (for partial runs). */
  linesByKey: Map<string, string[]>;
}

export function digestOf(lines: string[]): string {
  const h = createHash('sha256');
  for (const l of [...lines].sort()) h.update(`${l}\n`);
  return h.digest('hex');
}

export async function expectedEdges(db: Db): Promise<Expected> {
  const groups = new Map<string, Array<{ t: number; h: string }>>();
  let documents = 0;
  const cursor = db.collection(COLL.raw).find({}, { projection: { tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.fetched_at': 1, 'upstream.content_hash': 1 } });
  for await (const d of cursor.batchSize(2000)) {
    documents++;
    const key = `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;
    const t = new Date(d.upstream.fetched_at as Date).getTime();
    let revs = groups.get(key);
    if (!revs) groups.set(key, (revs = []));
    revs.push({ t, h: String(d.upstream.content_hash) });
  }
  const linesByKey = new Map<string, string[]>();
  const all: string[] = [];
  for (const [key, revs] of groups) {
    revs.sort((a, b) => a.t - b.t || (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    const seen = new Set<string>();
    const kept = revs.filter((r) => (seen.has(r.h) ? false : (seen.add(r.h), true)));
    const lines: string[] = [];
    for (let i = 1; i < kept.length; i++) lines.push(`${key}|${kept[i - 1]!.h}|${kept[i]!.h}`);
    if (lines.length) linesByKey.set(key, lines);
    all.push(...lines);
  }
  return { documents, advisories: groups.size, edges: all.length, digest: digestOf(all), linesByKey };
}

/** Digest and count of the expected edges of some advisories only. */
export function expectedFor(expected: Expected, keys: Iterable<string>): { edges: number; digest: string } {
  const lines: string[] = [];
  for (const k of keys) lines.push(...(expected.linesByKey.get(k) ?? []));
  return { edges: lines.length, digest: digestOf(lines) };
}

export interface Written {
  edges: number;
  digest: string;
  tombstones: number;
}

/** What the database holds after a case: its edges' digest and its tombstone count. */
export async function writtenEdges(db: Db): Promise<Written> {
  const lines: string[] = [];
  const cursor = db.collection(COLL.supersedes).find({}, { projection: { tenant: 1, vendor: 1, upstream_id: 1, 'older.content_hash': 1, 'newer.content_hash': 1 } });
  for await (const e of cursor.batchSize(2000)) lines.push(`${e.tenant}|${e.vendor}|${e.upstream_id}|${e.older?.content_hash}|${e.newer?.content_hash}`);
  const tombstones = await db.collection(COLL.tombstones).countDocuments({});
  return { edges: lines.length, digest: digestOf(lines), tombstones };
}

/** The check of a case that wrote edges: every figure compared, and whether all agree. */
export function compareWritten(want: { edges: number; digest: string }, got: Written): { ok: boolean; check: Record<string, unknown> } {
  const ok = got.digest === want.digest && got.edges === want.edges && got.tombstones === want.edges;
  return { ok, check: { expected_edges: want.edges, edges: got.edges, tombstones: got.tombstones, expected_digest: want.digest, digest: got.digest } };
}
