/**
 * The idempotency probe of preflight (DESIGN §1 step 1): insert one probe raw document
 * twice (two `_id`s, one idempotency key) in the reserved tenant `__lnm_probe__`; the
 * second insert must be refused by the unique index. Then remove the probe.
 *
 * Nothing is left behind: the probe tenant is emptied before (a probe of a killed run)
 * and after, and a probe's `ingested_at` lies far in the future, so even a leftover is
 * outside every run's snapshot bound and every corpus hash until the next preflight
 * removes it. The probe record and its SHA-256 go to the log and the evidence bundle.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { canonicalJson } from '../core/canonical-json.js';
import { COLL, RAW_IDEMPOTENCY_INDEX } from '../core/store/collections.js';
import { DUPLICATE_KEY } from '../core/store/insert-new.js';
import { sha256Hex } from '../core/supersedes.js';

export const PROBE_TENANT = '__lnm_probe__';
/** Later than any snapshot bound: a probe document is never in a run's scope. */
export const PROBE_INGESTED_AT = new Date('9999-12-31T00:00:00.000Z');

export interface ProbeRecord {
  db: string;
  collection: string;
  index: string;
  probe_tenant: string;
  probe_key: { tenant: string; vendor: string; upstream_id: string; content_hash: string };
  /** Probe documents of an interrupted earlier probe, removed first. */
  leftovers_removed: number;
  first_insert: 'accepted' | string;
  second_insert: 'rejected_duplicate_key' | 'accepted' | string;
  removed: number;
  remaining: number;
  at: string;
}

export interface ProbeResult {
  /** The unique index really rejected the duplicate and nothing of the probe remains. */
  ok: boolean;
  record: ProbeRecord;
  /** SHA-256 of the record's canonical JSON (the evidence's "log hash"). */
  sha256: string;
}

export interface ProbeHooks {
  /** Test hook: runs between the two inserts (a test kills the process here). */
  afterFirstInsert?: () => Promise<void>;
}

const describe = (err: unknown): string => {
  const e = err as { code?: unknown; message?: string };
  return `error ${String(e.code ?? '')}: ${e.message ?? String(err)}`;
};

export async function idempotencyProbe(db: Db, log: Logger, hooks: ProbeHooks = {}): Promise<ProbeResult> {
  const raw = db.collection(COLL.raw);
  const leftovers = (await raw.deleteMany({ tenant: PROBE_TENANT })).deletedCount;
  const nonce = randomBytes(8).toString('hex');
  const key = { tenant: PROBE_TENANT, vendor: 'lnm-preflight', upstream_id: `probe-${nonce}`, content_hash: `sha256:${sha256Hex(nonce)}` };
  const doc = (suffix: string) => ({
    _id: `lnm-probe-${nonce}-${suffix}` as never,
    tenant: key.tenant,
    source: { vendor: key.vendor },
    upstream: { upstream_id: key.upstream_id, content_hash: key.content_hash, fetched_at: new Date() },
    content: { format: 'lnm-probe', raw: {} },
    ingested_at: PROBE_INGESTED_AT,
  });
  let first = 'accepted';
  let second = 'not attempted';
  let removed = 0;
  try {
    try {
      await raw.insertOne(doc('a'));
    } catch (err) {
      first = describe(err);
    }
    if (first === 'accepted') {
      await hooks.afterFirstInsert?.();
      try {
        await raw.insertOne(doc('b'));
        second = 'accepted';
      } catch (err) {
        second = (err as { code?: unknown }).code === DUPLICATE_KEY ? 'rejected_duplicate_key' : describe(err);
      }
    }
  } finally {
    // Runs on any error too; only a killed process skips it (the next probe cleans up).
    removed = (await raw.deleteMany({ tenant: PROBE_TENANT })).deletedCount;
  }
  const remaining = await raw.countDocuments({ tenant: PROBE_TENANT });
  const record: ProbeRecord = {
    db: db.databaseName,
    collection: COLL.raw,
    index: RAW_IDEMPOTENCY_INDEX,
    probe_tenant: PROBE_TENANT,
    probe_key: key,
    leftovers_removed: leftovers,
    first_insert: first,
    second_insert: second,
    removed,
    remaining,
    at: new Date().toISOString(),
  };
  const sha256 = sha256Hex(canonicalJson(record));
  const ok = first === 'accepted' && second === 'rejected_duplicate_key' && remaining === 0;
  log.info({ probe: record, probe_sha256: sha256, ok }, 'idempotency probe');
  return { ok, record, sha256 };
}
