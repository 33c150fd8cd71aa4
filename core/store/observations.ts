/**
 * `advisory_observations` (DESIGN §2): one per accepted raw document. Its `_id` derives
 * from the raw `_id`, so a backfill shard names an observation without reading it.
 */
import { canonicalJson } from '../canonical-json.js';
import { rawIdKey, sha256Hex, type RawId } from '../supersedes.js';

export interface ObservationDoc {
  _id: string;
  tenantId: string;
  source: string;
  advisoryId: string;
  rawId: RawId;
  documentSha: string;
  ingestedAt: Date;
}

export function observationIdFor(rawId: RawId): string {
  return `obs-${rawIdKey(rawId)}`;
}

export function observationFor(raw: {
  _id: RawId;
  tenant: string;
  source: { vendor: string };
  upstream: { upstream_id: string; content_hash: string };
  ingested_at: Date;
}): ObservationDoc {
  return {
    _id: observationIdFor(raw._id),
    tenantId: raw.tenant,
    source: raw.source.vendor,
    advisoryId: raw.upstream.upstream_id,
    rawId: raw._id,
    documentSha: raw.upstream.content_hash,
    ingestedAt: raw.ingested_at,
  };
}

/** SHA-256 over the observation's canonical JSON: what the event says the observation was. */
export function observationHash(obs: ObservationDoc): string {
  return `sha256:${sha256Hex(canonicalJson(obs))}`;
}
