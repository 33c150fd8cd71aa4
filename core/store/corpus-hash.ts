/**
 * Corpus hashes over the in-scope raw documents (DESIGN §5), from their canonical lines
 * `tenant|vendor|upstream_id|content_hash\n`:
 *  - the plan's bundle hash (`snapshot.corpus_sha256` of a run): the lines fed advisory by
 *    advisory in planning order, by `BundleHash` — the planner and `plannedCorpusSha256`
 *    (a fresh scan, e.g. to tell whether an approved dry run's corpus is still current)
 *    share it, so both give the same value for the same corpus;
 *  - the offline-kit hash (`advisory_raw_sha256`): the same lines sorted bytewise.
 * The scale issue makes these one streaming definition; until then both live here.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Db } from 'mongodb';
import type { AdvisoryGroup } from '../supersedes.js';
import { bundleLines, identityCursor, identityRow } from './corpus-scan.js';
import type { RunDoc } from './runs.js';

export type CorpusScope = Pick<RunDoc, 'snapshot_bound' | 'tenant'>;

export class BundleHash {
  private readonly h: Hash = createHash('sha256');

  add(group: AdvisoryGroup): void {
    for (const line of bundleLines(group)) this.h.update(line);
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

/** Stream the scope's identity rows, one advisory at a time (bounded by one advisory). */
async function forEachAdvisory(db: Db, scope: CorpusScope, fn: (g: AdvisoryGroup) => void): Promise<number> {
  let open: AdvisoryGroup | undefined;
  let docs = 0;
  for await (const d of identityCursor(db, scope)) {
    const r = identityRow(d);
    docs++;
    if (open && open.tenant === r.tenant && open.vendor === r.vendor && open.upstream_id === r.upstream_id) {
      open.revisions.push({ raw_id: r.raw_id, fetched_at: r.fetched_at, content_hash: r.content_hash });
      continue;
    }
    if (open) fn(open);
    open = { tenant: r.tenant, vendor: r.vendor, upstream_id: r.upstream_id, revisions: [{ raw_id: r.raw_id, fetched_at: r.fetched_at, content_hash: r.content_hash }] };
  }
  if (open) fn(open);
  return docs;
}

/** The bundle hash a run planned now over this scope would record (one corpus scan). */
export async function plannedCorpusSha256(db: Db, scope: CorpusScope): Promise<{ sha256: string; docs: number }> {
  const bundle = new BundleHash();
  const docs = await forEachAdvisory(db, scope, (g) => bundle.add(g));
  return { sha256: bundle.digest(), docs };
}

/** The offline-kit `advisory_raw_sha256`: sha256 over the scope's lines sorted bytewise. */
export async function rawCorpusSha256(db: Db, scope: CorpusScope): Promise<{ sha256: string; docs: number }> {
  const lines: Buffer[] = [];
  const docs = await forEachAdvisory(db, scope, (g) => {
    for (const line of bundleLines(g)) lines.push(Buffer.from(line));
  });
  lines.sort(Buffer.compare);
  const h = createHash('sha256');
  for (const l of lines) h.update(l);
  return { sha256: h.digest('hex'), docs };
}
