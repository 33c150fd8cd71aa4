/**
 * The producer's single streaming pass (DESIGN §4): identity fields only, in
 * (tenant, vendor, upstream_id, fetched_at) order, cut into shards of whole advisories.
 * Manifests are stored under `<run>-s<n>` (replace-by-_id: re-planning is idempotent).
 */
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { shardId } from '../core/contract.js';
import { COLL } from '../core/store/collections.js';
import type { RunDoc } from '../core/store/runs.js';
import { shardsColl, type ShardDoc } from '../core/store/shards.js';
import { identityCursor, identityRow } from '../core/store/corpus-scan.js';
import { BundleHash } from '../core/store/corpus-hash.js';
import { ShardCutter, type PlannedShard } from './shard-planner.js';

export interface PlanResult {
  shards: number;
  docs: number;
  advisories: number;
  corpus_sha256: string;
}

export async function planShards(db: Db, run: RunDoc, log: Logger): Promise<PlanResult> {
  const cutter = new ShardCutter(run.batch_size);
  const bundle = new BundleHash();
  const result: PlanResult = { shards: 0, docs: 0, advisories: 0, corpus_sha256: '' };
  let pending: ShardDoc[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await shardsColl(db).bulkWrite(
      pending.map((s) => ({ replaceOne: { filter: { _id: s._id }, replacement: s, upsert: true } })),
      { ordered: false },
    );
    pending = [];
  };
  const store = async (planned: PlannedShard[]): Promise<void> => {
    for (const p of planned) {
      const now = new Date();
      for (const g of p.advisories) bundle.add(g);
      const first = p.advisories[0]!;
      const last = p.advisories[p.advisories.length - 1]!;
      pending.push({
        _id: shardId(run._id, p.index),
        run_id: run._id,
        shard: p.index,
        state: 'pending',
        docs: p.docs,
        first_key: `${first.tenant}|${first.vendor}|${first.upstream_id}`,
        last_key: `${last.tenant}|${last.vendor}|${last.upstream_id}`,
        manifest: p.advisories,
        attempts: 0,
        created_at: now,
        updated_at: now,
      });
      result.shards++;
      result.docs += p.docs;
      result.advisories += p.advisories.length;
      if (pending.length >= 20) await flush();
    }
  };
  for await (const d of identityCursor(db, run)) await store(cutter.push(identityRow(d)));
  await store(cutter.finish());
  await flush();
  result.corpus_sha256 = bundle.digest();
  log.info(result, 'planned');
  return result;
}
