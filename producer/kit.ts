/**
 * The offline-kit manifest (`kit hashes`): what an air-gapped mirror compares with its copy
 * before a run — the hash of the in-scope `advisory_raw` and of a run's planned backfill
 * bundle, with counts. Deterministic: no wall-clock value, and the same corpus gives the
 * same hashes whatever order it was imported in.
 *
 *  - `advisory_raw_sha256`: the one corpus bundle hash of core/store/corpus-hash.ts (the same
 *    value a run planned now records as `snapshot.corpus_sha256`): the lines
 *    `tenant|vendor|upstream_id|content_hash\n` of the raw documents in scope (one tenant,
 *    or all), advisory by advisory in planning order, within an advisory by content_hash,
 *    streamed in bounded memory; `preflight --kit FILE` recomputes it against the database.
 *  - `backfill_bundle.sha256`: sha256 over the run's shard manifests in shard order, each
 *    manifest's advisories and revisions in stored (planning) order, one line per revision
 *    `shard|tenant|vendor|upstream_id|fetched_at(ISO-8601)|content_hash\n`. Manifests are
 *    read one at a time by `_id` (memory: one shard).
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { shardId } from '../core/contract.js';
import { PayloadError } from '../core/errors.js';
import { corpusSha256 } from '../core/store/corpus-hash.js';
import type { ScanOptions } from '../core/store/corpus-scan.js';
import { getRun, runsColl } from '../core/store/runs.js';
import { checkManifest, manifestsColl } from '../core/store/shards.js';

export const KIT_FORMAT = 'lnm-backfill-kit/1';
export const RAW_LINE = 'tenant|vendor|upstream_id|content_hash\\n';
export const RAW_ORDER = 'by advisory (tenant, vendor, upstream_id compared as UTF-8 bytes), within an advisory by content_hash';
export const BUNDLE_ORDER = 'by shard number, then the manifest order (planning order: advisory, then fetched_at, content_hash)';
export const BUNDLE_LINE = 'shard|tenant|vendor|upstream_id|fetched_at|content_hash\\n';

export interface KitManifest {
  format: typeof KIT_FORMAT;
  tenant: string | null;
  advisory_raw_sha256: string;
  advisory_raw: { documents: number; line: string; order: string };
  backfill_bundle: { run_id: string; sha256: string; shards: number; advisories: number; documents: number; line: string; order: string } | null;
}

/** The newest run planned over exactly this tenant scope, if any (one small read of the runs). */
async function newestRunOfScope(db: Db, tenant: string | null): Promise<string | null> {
  const runs = await runsColl(db).find({}, { projection: { _id: 1, tenant: 1, created_at: 1 } }).toArray();
  const mine = runs.filter((r) => (r.tenant ?? null) === tenant).sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
  return mine[0]?._id ?? null;
}

export async function bundleSha256(db: Db, runId: string): Promise<NonNullable<KitManifest['backfill_bundle']>> {
  const run = await getRun(db, runId);
  const h = createHash('sha256');
  let advisories = 0;
  let documents = 0;
  for (let shard = 0; shard < run.shards_total; shard++) {
    const id = shardId(runId, shard);
    const doc = await manifestsColl(db).findOne({ _id: id });
    if (!doc) throw new PayloadError(`backfill_manifests/${id}`, 'the shard has no manifest (expired after LNM_MANIFEST_TTL_DAYS, or the run was never planned)');
    for (const g of checkManifest(doc)) {
      advisories++;
      for (const r of g.revisions) {
        documents++;
        h.update(`${shard}|${g.tenant}|${g.vendor}|${g.upstream_id}|${r.fetched_at.toISOString()}|${r.content_hash}\n`);
      }
    }
  }
  return { run_id: runId, sha256: h.digest('hex'), shards: run.shards_total, advisories, documents, line: BUNDLE_LINE, order: BUNDLE_ORDER };
}

/** The kit manifest of a tenant (or all), with the bundle of `runId` or else the newest run of that scope. */
export async function kitHashes(db: Db, opts: { tenant: string | null; runId?: string; scan: ScanOptions }): Promise<KitManifest> {
  const raw = await corpusSha256(db, { snapshot_bound: new Date(), tenant: opts.tenant }, opts.scan);
  const runId = opts.runId ?? (await newestRunOfScope(db, opts.tenant));
  return {
    format: KIT_FORMAT,
    tenant: opts.tenant,
    advisory_raw_sha256: raw.sha256,
    advisory_raw: { documents: raw.docs, line: RAW_LINE, order: RAW_ORDER },
    backfill_bundle: runId ? await bundleSha256(db, runId) : null,
  };
}
