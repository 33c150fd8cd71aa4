/**
 * The corpus bundle hash (DESIGN §5) — one definition for the planner (`snapshot.corpus_sha256`
 * of a run), validation (`corpus_sha256` of the report), the approval gate and the offline
 * kit (`advisory_raw_sha256`):
 *
 *   sha256 over the lines `tenant|vendor|upstream_id|content_hash\n` of the in-scope raw
 *   documents, advisory by advisory in planning order — (tenant, vendor, upstream_id)
 *   compared field by field as UTF-8 bytes — and within an advisory by content_hash.
 *
 * Field by field, not line by line: sorting whole lines would put `CVE-2021-12345|…` before
 * `CVE-2021-1234|…` ('5' < '|'), which no streaming pass in planning order can produce.
 * It is computed incrementally while the advisories stream by, in bounded memory.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Db } from 'mongodb';
import type { AdvisoryGroup } from '../supersedes.js';
import { advisoryGroups, bundleLines, identityRows, type CorpusScope, type ScanOptions } from './corpus-scan.js';

export type { CorpusScope } from './corpus-scan.js';

export class BundleHash {
  private readonly h: Hash = createHash('sha256');

  /** Feed the advisories in planning order. */
  add(group: AdvisoryGroup): void {
    for (const line of bundleLines(group)) this.h.update(line);
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

/** The corpus bundle hash of this scope now (one identity scan). */
export async function corpusSha256(db: Db, scope: CorpusScope, scan: ScanOptions): Promise<{ sha256: string; docs: number }> {
  const bundle = new BundleHash();
  let docs = 0;
  for await (const g of advisoryGroups(identityRows(db, scope, scan))) {
    bundle.add(g);
    docs += g.revisions.length;
  }
  return { sha256: bundle.digest(), docs };
}
