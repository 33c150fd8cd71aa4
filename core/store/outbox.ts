/**
 * The outbox `advisory_observation_events` (DESIGN §2): one row per
 * `advisory.observation.updated@1` event, `publishedAt: null` and `pending: true` until
 * the publisher has published it. Written by import (one row per new observation) and
 * by backfill shards (one row per observation whose supersedes state the shard changed),
 * never by a dry run. The row `_id` is the eventId, derived from what happened, so a
 * re-import, a re-run shard or a retried job inserts nothing new.
 *
 * Backfill rows are written from the shard manifest alone (no reads on the worker's hot
 * path): the fields only the stored observation knows (ingestedAt, observationHash,
 * linksetSummary) are filled by the publisher with two `_id` point reads (`complete: false`;
 * ./outbox-publish.ts).
 */
import type { Db } from 'mongodb';
import { COLL } from './collections.js';
import { insertNew } from './insert-new.js';
import { observationHash, observationIdFor, type ObservationDoc } from './observations.js';
import { rawIdKey, sha256Hex, type Edge, type RawId, type Tombstone } from '../supersedes.js';

export const EVENT_TYPE = 'advisory.observation.updated@1';
/** Larger serialized events go to the dead-letter collection, never to the transport. */
export const MAX_EVENT_BYTES = 512 * 1024;

export type ObservationChange = 'created' | 'linked' | 'tombstoned';

export interface LinksetSummary {
  aliases: string[];
  /** Per linkset field: how many entries (an array's length, else 1). */
  linkset: Record<string, number>;
}

export interface ObservationEvent {
  /** The idempotency key: consumers drop an eventId they have seen. */
  eventId: string;
  tenantId: string;
  observationId: string;
  advisoryId: string;
  source: string;
  linksetSummary: LinksetSummary;
  /** Set when this observation now supersedes another (the older one's observation id). */
  supersedesId?: string;
  /** Set when this observation was tombstoned (the newer one's observation id). */
  supersededById?: string;
  changes: ObservationChange[];
  documentSha: string;
  observationHash: string;
  ingestedAt: string;
  /** Position of the change in the outbox's write order (time, then place in its batch). */
  replayCursor: string;
}

type StoreFields = 'linksetSummary' | 'observationHash' | 'ingestedAt';
export type EventDraft = Omit<ObservationEvent, StoreFields> & Partial<Pick<ObservationEvent, StoreFields>>;

export interface OutboxRow {
  _id: string;
  pending: boolean;
  publishedAt: Date | null;
  kind: 'import' | 'backfill';
  run_id: string | null;
  raw_id: RawId;
  created_at: Date;
  replayCursor: string;
  payload: EventDraft;
  /** False when the publisher must fill the stored-observation fields first. */
  complete: boolean;
  published_to?: 'stream' | 'blackhole';
  position?: string | null;
}


export const outboxColl = (db: Db) => db.collection<OutboxRow>(COLL.events);

/** Unambiguous: a JSON array of the parts, hashed. */
export function eventIdFor(parts: { kind: OutboxRow['kind']; tenant: string; observationId: string; change: string; runId: string | null }): string {
  return sha256Hex(JSON.stringify([parts.kind, parts.tenant, parts.observationId, parts.change, parts.runId ?? '']));
}

export function replayCursor(at: Date, seq: number): string {
  return `${String(at.getTime()).padStart(13, '0')}.${String(seq).padStart(6, '0')}`;
}

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function linksetSummary(raw: { identifiers?: unknown; linkset?: unknown }): LinksetSummary {
  const aliases = asRecord(raw.identifiers).aliases;
  const linkset: Record<string, number> = {};
  for (const [k, v] of Object.entries(asRecord(raw.linkset)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    linkset[k] = Array.isArray(v) ? v.length : 1;
  }
  return { aliases: Array.isArray(aliases) ? [...new Set(aliases.map(String))].sort() : [], linkset };
}

/** (a) The row of a newly accepted observation; everything is at hand at import. */
export function importEventRow(
  raw: { _id: RawId; identifiers?: unknown; linkset?: unknown },
  obs: ObservationDoc,
  at: Date,
  seq: number,
): OutboxRow {
  const eventId = eventIdFor({ kind: 'import', tenant: obs.tenantId, observationId: obs._id, change: 'created', runId: null });
  const cursor = replayCursor(at, seq);
  return {
    _id: eventId,
    pending: true,
    publishedAt: null,
    kind: 'import',
    run_id: null,
    raw_id: raw._id,
    created_at: at,
    replayCursor: cursor,
    complete: true,
    payload: {
      eventId,
      tenantId: obs.tenantId,
      observationId: obs._id,
      advisoryId: obs.advisoryId,
      source: obs.source,
      linksetSummary: linksetSummary(raw),
      changes: ['created'],
      documentSha: obs.documentSha,
      observationHash: observationHash(obs),
      ingestedAt: obs.ingestedAt.toISOString(),
      replayCursor: cursor,
    },
  };
}

interface Touched {
  raw_id: RawId;
  tenant: string;
  vendor: string;
  upstream_id: string;
  content_hash: string;
  supersedesId?: string;
  supersededById?: string;
}

/**
 * (b) One row per observation whose supersedes state this run changed: the newer end of
 * each edge it wrote (linked), the observation of each tombstone it wrote (tombstoned);
 * an observation in the middle of a chain gets one row with both changes. `written`
 * holds the `_id`s this run inserted or resumed (never idempotency hits: those edges
 * were another run's change). Rows come out in chain order.
 */
export function backfillEventRows(
  runId: string,
  edges: readonly Edge[],
  tombstones: readonly Tombstone[],
  written: { edges: ReadonlySet<string>; tombstones: ReadonlySet<string> },
  at: Date,
): OutboxRow[] {
  const tombstoneOf = new Map<string, Tombstone>();
  for (const t of tombstones) if (written.tombstones.has(t._id)) tombstoneOf.set(rawIdKey(t.raw_id), t);
  const touched = new Map<string, Touched>();
  const touch = (e: Edge, end: Edge['older']): Touched => {
    const key = rawIdKey(end.raw_id);
    let t = touched.get(key);
    if (!t) {
      t = { raw_id: end.raw_id, tenant: e.tenant, vendor: e.vendor, upstream_id: e.upstream_id, content_hash: end.content_hash };
      touched.set(key, t);
    }
    return t;
  };
  for (const e of edges) {
    const tomb = tombstoneOf.get(rawIdKey(e.older.raw_id));
    if (tomb) touch(e, e.older).supersededById = observationIdFor(tomb.superseded_by_raw_id);
    if (written.edges.has(e._id)) touch(e, e.newer).supersedesId = observationIdFor(e.older.raw_id);
  }
  let seq = 0;
  return [...touched.values()].map((t) => {
    const changes: ObservationChange[] = [];
    if (t.supersedesId) changes.push('linked');
    if (t.supersededById) changes.push('tombstoned');
    const observationId = observationIdFor(t.raw_id);
    const eventId = eventIdFor({ kind: 'backfill', tenant: t.tenant, observationId, change: changes.join('+'), runId });
    const cursor = replayCursor(at, seq++);
    return {
      _id: eventId,
      pending: true,
      publishedAt: null,
      kind: 'backfill',
      run_id: runId,
      raw_id: t.raw_id,
      created_at: at,
      replayCursor: cursor,
      complete: false,
      payload: {
        eventId,
        tenantId: t.tenant,
        observationId,
        advisoryId: t.upstream_id,
        source: t.vendor,
        ...(t.supersedesId ? { supersedesId: t.supersedesId } : {}),
        ...(t.supersededById ? { supersededById: t.supersededById } : {}),
        changes,
        documentSha: t.content_hash,
        replayCursor: cursor,
      },
    };
  });
}

/** Insert rows; existing eventIds are left as they are. */
export async function insertOutboxRows(db: Db, rows: readonly OutboxRow[]): Promise<{ inserted: number; duplicates: number }> {
  const r = await insertNew(outboxColl(db), rows);
  return { inserted: r.inserted, duplicates: r.duplicates.size };
}

/**
 * Rollback: remove the run's rows not yet published (published ones are history), a page
 * of ids at a time and in `chunk`-sized bulks (FerretDB: no unbounded multi-document delete).
 */
export async function deleteUnpublishedRunRows(db: Db, runId: string, chunk: number): Promise<number> {
  let removed = 0;
  for (;;) {
    const ids = (await outboxColl(db).find({ run_id: runId, pending: true }, { projection: { _id: 1 } }).limit(500).toArray()).map((r) => r._id);
    if (ids.length === 0) return removed;
    for (let i = 0; i < ids.length; i += chunk) {
      const ops = ids.slice(i, i + chunk).map((_id) => ({ deleteOne: { filter: { _id, pending: true } } }));
      removed += (await outboxColl(db).bulkWrite(ops, { ordered: false })).deletedCount;
    }
  }
}
