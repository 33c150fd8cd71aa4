/**
 * The supersedes rule (DESIGN §3), pure. An advisory is (tenant, vendor, upstream_id);
 * its revisions are ordered by (fetched_at, content_hash) — content only, never _id —
 * and each revision supersedes its immediate predecessor. A revision repeating the
 * content hash of an earlier one is not a new revision (the earliest is kept).
 */
import { createHash } from 'node:crypto';

/** A raw document's `_id`, opaque here (string or ObjectId). */
export type RawId = unknown;

/** One raw document as the planner sees it: its identity fields only. */
export interface IdentityRow {
  raw_id: RawId;
  tenant: string;
  vendor: string;
  upstream_id: string;
  fetched_at: Date;
  content_hash: string;
}

export interface Revision {
  raw_id: RawId;
  fetched_at: Date;
  content_hash: string;
}

export interface AdvisoryGroup {
  tenant: string;
  vendor: string;
  upstream_id: string;
  revisions: Revision[];
}

export interface EdgeEnd {
  raw_id: RawId;
  content_hash: string;
  fetched_at: Date;
}

export interface Edge {
  _id: string;
  tenant: string;
  vendor: string;
  upstream_id: string;
  older: EdgeEnd;
  newer: EdgeEnd;
}

export interface Tombstone {
  _id: string;
  tenant: string;
  raw_id: RawId;
  superseded_by_raw_id: RawId;
  reason: 'superseded';
}

export interface SupersedesResult {
  edges: Edge[];
  tombstones: Tombstone[];
  /** Revisions dropped because an earlier revision had the same content hash. */
  duplicate_revisions: number;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Stable string form of a raw id, for hashing and comparison. */
export function rawIdKey(id: RawId): string {
  if (typeof id === 'string') return id;
  if (typeof id === 'object' && id !== null && 'toHexString' in id && typeof id.toHexString === 'function') {
    return `oid:${String(id.toHexString())}`;
  }
  return `${typeof id}:${JSON.stringify(id)}`;
}

/** The DESIGN §5 edge line: `tenant|vendor|upstream_id|older_hash|newer_hash`. */
export function edgeLine(e: { tenant: string; vendor: string; upstream_id: string; older_hash: string; newer_hash: string }): string {
  return `${e.tenant}|${e.vendor}|${e.upstream_id}|${e.older_hash}|${e.newer_hash}`;
}

export function edgeId(line: string): string {
  return sha256Hex(line);
}

export function tombstoneId(tenant: string, rawId: RawId): string {
  return sha256Hex(`${tenant}|${rawIdKey(rawId)}`);
}

export function compareRevisions(a: Revision, b: Revision): number {
  const t = a.fetched_at.getTime() - b.fetched_at.getTime();
  if (t !== 0) return t;
  if (a.content_hash !== b.content_hash) return a.content_hash < b.content_hash ? -1 : 1;
  // Same content twice (only possible without the idempotency index): the raw id only
  // decides which duplicate is kept, never the edge lines, so the result is stable.
  const ka = rawIdKey(a.raw_id);
  const kb = rawIdKey(b.raw_id);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Revisions in supersedes order, later duplicates of a content hash removed. */
export function orderedRevisions(revisions: readonly Revision[]): { kept: Revision[]; dropped: number } {
  const sorted = [...revisions].sort(compareRevisions);
  const seen = new Set<string>();
  const kept: Revision[] = [];
  for (const r of sorted) {
    if (seen.has(r.content_hash)) continue;
    seen.add(r.content_hash);
    kept.push(r);
  }
  return { kept, dropped: sorted.length - kept.length };
}

export function supersedesForAdvisory(group: AdvisoryGroup): SupersedesResult {
  const { kept, dropped } = orderedRevisions(group.revisions);
  const edges: Edge[] = [];
  const tombstones: Tombstone[] = [];
  for (let i = 1; i < kept.length; i++) {
    const older = kept[i - 1]!;
    const newer = kept[i]!;
    const line = edgeLine({
      tenant: group.tenant,
      vendor: group.vendor,
      upstream_id: group.upstream_id,
      older_hash: older.content_hash,
      newer_hash: newer.content_hash,
    });
    edges.push({
      _id: edgeId(line),
      tenant: group.tenant,
      vendor: group.vendor,
      upstream_id: group.upstream_id,
      older: { raw_id: older.raw_id, content_hash: older.content_hash, fetched_at: older.fetched_at },
      newer: { raw_id: newer.raw_id, content_hash: newer.content_hash, fetched_at: newer.fetched_at },
    });
    tombstones.push({
      _id: tombstoneId(group.tenant, older.raw_id),
      tenant: group.tenant,
      raw_id: older.raw_id,
      superseded_by_raw_id: newer.raw_id,
      reason: 'superseded',
    });
  }
  return { edges, tombstones, duplicate_revisions: dropped };
}

export function supersedesForGroups(groups: readonly AdvisoryGroup[]): SupersedesResult {
  const out: SupersedesResult = { edges: [], tombstones: [], duplicate_revisions: 0 };
  for (const g of groups) {
    const r = supersedesForAdvisory(g);
    out.edges.push(...r.edges);
    out.tombstones.push(...r.tombstones);
    out.duplicate_revisions += r.duplicate_revisions;
  }
  return out;
}

/**
 * The edge digest (DESIGN §5): SHA-256 over the edge lines in JavaScript's default string
 * order (UTF-16 units), each followed by "\n". `EdgeDigest` takes the lines already in
 * that order, one at a time (validation streams them from an external sort).
 */
export class EdgeDigest {
  private readonly h = createHash('sha256');

  add(line: string): void {
    this.h.update(`${line}\n`);
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

/** The edge digest of lines in any order (sorts them in memory: small sets only). */
export function edgeDigest(lines: Iterable<string>): string {
  const d = new EdgeDigest();
  for (const l of [...lines].sort()) d.add(l);
  return d.digest();
}
