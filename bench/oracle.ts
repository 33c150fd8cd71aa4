/**
 * What every case is checked against: the expected edges re-derived from the seeded corpus
 * file as import stores it (DESIGN §3, written here without core/supersedes.ts so that the
 * check does not share code with what it checks), and the edges and tombstones a case left
 * in the database.
 * Digest: sha256 over the sorted DESIGN §5 lines `tenant|vendor|upstream_id|older|newer`,
 * each followed by a newline — the same definition as the validator's edge digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
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

type Groups = Map<string, Array<{ t: number; h: string }>>;

/** Add one stored document; false when the store would keep an earlier arrival of its hash instead. */
function add(groups: Groups, d: { tenant: string; source: { vendor: string }; upstream: { upstream_id: string; fetched_at: string; content_hash: string } }): boolean {
  const key = `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;
  let revs = groups.get(key);
  if (!revs) groups.set(key, (revs = []));
  const h = String(d.upstream.content_hash);
  if (revs.some((r) => r.h === h)) return false;
  revs.push({ t: new Date(d.upstream.fetched_at).getTime(), h });
  return true;
}

/**
 * The oracle over the seeded file itself, stored as import stores it (the first arrival of
 * a content hash per advisory is kept): no corpus-sized read of the server, which is the
 * bottleneck. `documents` = what the import accepts, compared with its own count.
 */
export async function expectedFromFile(file: string): Promise<Expected> {
  const groups: Groups = new Map();
  let documents = 0;
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim()) documents += add(groups, JSON.parse(line)) ? 1 : 0;
  return fromGroups(groups, documents);
}

function fromGroups(groups: Groups, documents: number): Expected {
  const linesByKey = new Map<string, string[]>();
  const all: string[] = [];
  for (const [key, revs] of groups) {
    const kept = revs.sort((a, b) => a.t - b.t || (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
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
