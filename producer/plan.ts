/**
 * The producer's single streaming pass (DESIGN §4): identity fields only, in planning
 * order (a server sort, or an unsorted scan through the external sort: `ScanOptions`),
 * cut into shards of whole advisories.
 * Manifests are stored under `<run>-s<n>` (replace-by-_id: re-planning is idempotent).
 */
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { shardId } from '../core/contract.js';
import type { PlannerInfo, RunDoc } from '../core/store/runs.js';
import { manifestsColl, shardsColl, type ManifestDoc, type ShardDoc } from '../core/store/shards.js';
import { identityRows, type ScanOptions } from '../core/store/corpus-scan.js';
import { BundleHash } from '../core/store/corpus-hash.js';
import { ShardCutter, type PlannedShard } from './shard-planner.js';

export interface PlanResult {
  shards: number;
  docs: number;
  advisories: number;
  corpus_sha256: string;
  planner: PlannerInfo;
}

/** Manifests written per bulk: up to 20 shards, fewer when they hold 2000+ documents (memory). */
const FLUSH_SHARDS = 20;
const FLUSH_DOCS = 2000;

export async function planShards(db: Db, run: RunDoc, scan: ScanOptions, log: Logger): Promise<PlanResult> {
  const began = Date.now();
  const cutter = new ShardCutter(run.batch_size);
  const bundle = new BundleHash();
  const result: PlanResult = { shards: 0, docs: 0, advisories: 0, corpus_sha256: '', planner: { sort: scan.sort, spilled_runs: 0, ms: 0 } };
  let pending: Array<{ shard: ShardDoc; manifest: ManifestDoc }> = [];
  let pendingDocs = 0;
  // Manifests before shards: a shard document always has its manifest. Replace-by-_id
  // makes re-planning the same run (start --resume) idempotent.
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const replace = <T extends { _id: string }>(d: T) => ({ replaceOne: { filter: { _id: d._id }, replacement: d, upsert: true } });
    await manifestsColl(db).bulkWrite(pending.map((p) => replace(p.manifest)), { ordered: false });
    await shardsColl(db).bulkWrite(pending.map((p) => replace(p.shard)), { ordered: false });
    pending = [];
    pendingDocs = 0;
  };
  const store = async (planned: PlannedShard[]): Promise<void> => {
    for (const p of planned) {
      const now = new Date();
      for (const g of p.advisories) bundle.add(g);
      const first = p.advisories[0]!;
      const last = p.advisories[p.advisories.length - 1]!;
      const _id = shardId(run._id, p.index);
      pending.push({
        manifest: { _id, run_id: run._id, advisories: p.advisories, created_at: now },
        shard: {
          _id,
          run_id: run._id,
          shard: p.index,
          state: 'pending',
          docs: p.docs,
          first_key: `${first.tenant}|${first.vendor}|${first.upstream_id}`,
          last_key: `${last.tenant}|${last.vendor}|${last.upstream_id}`,
          attempts: 0,
          created_at: now,
          updated_at: now,
        },
      });
      result.shards++;
      result.docs += p.docs;
      result.advisories += p.advisories.length;
      pendingDocs += p.docs;
      if (pending.length >= FLUSH_SHARDS || pendingDocs >= FLUSH_DOCS) await flush();
    }
  };
  const rows = identityRows(db, run, scan, (s) => (result.planner.spilled_runs = s.spilled_runs));
  for await (const row of rows) await store(cutter.push(row));
  await store(cutter.finish());
  await flush();
  result.corpus_sha256 = bundle.digest();
  result.planner.ms = Date.now() - began;
  log.info(result, 'planned');
  return result;
}
