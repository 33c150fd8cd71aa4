/**
 * The runbook's fallback path end to end (issue 9: "snapshot → rollback → restore gives
 * back the exact edge set"): a snapshot of a tenant's backfilled state; new revisions
 * imported and a real run that inserts their edges and tombstones; the real rollback of
 * that run; then one edge of the earlier state lost (what a failed or wrong rollback
 * leaves) — restoring the snapshot gives back its edge digest and every document of it.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCorpus, restoreSnapshot, rollbackRun, takeSnapshot } from '../../api/index.js';
import { COLL } from '../../core/store/collections.js';
import type { TenantDoc } from '../../workers/idempotent-write.js';
import { cliJson } from '../helpers/env.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import type { RunJson } from '../helpers/oracle.js';
import { useResources } from '../helpers/resources.js';
import { scopeState } from '../helpers/scope-state.js';

const res = useResources();
const cfg = res.config('snap_rollback', FAST_MONITOR_ENV);
const api = { config: cfg };
const TENANT = 'snaprb';
const LONG = 300_000;
const START = ['start', '--force', '--reason=test', `--tenant=${TENANT}`, '--batch-size=2', '--wait', '--local-workers=1', '--json'];

/** Revision `n` (fetched on day `n`) of advisory `id`, as an import line. */
function line(id: string, n: number): string {
  const content = { format: 'osv', raw: { id, rev: n } };
  const content_hash = `sha256:${createHash('sha256').update(JSON.stringify(content)).digest('hex')}`;
  const upstream = { upstream_id: id, fetched_at: new Date(Date.UTC(2024, 0, n)).toISOString(), content_hash };
  return `${JSON.stringify({ tenant: TENANT, source: { vendor: 'osv' }, upstream, identifiers: { aliases: [id] }, content })}\n`;
}

function corpus(name: string, ids: string[], revisions: number[]): string {
  const file = path.join(cfg.homeDir, name);
  writeFileSync(file, ids.flatMap((id) => revisions.map((n) => line(id, n))).join(''));
  return file;
}

describe('snapshot → real run → rollback → damage → restore', () => {
  it('gives back the snapshot edge set, digest and documents', async () => {
    const ids = ['ADV-A', 'ADV-B', 'ADV-C', 'ADV-D', 'ADV-E'];
    expect((await importCorpus(corpus('first.jsonl', ids, [1, 2]), api)).accepted).toBe(10);
    const first = await cliJson<RunJson>(cfg, START, { env: FAST_MONITOR_ENV });
    expect(first).toMatchObject({ state: 'succeeded', edges_inserted: 5, tombstones_inserted: 5, violations: 0, errors: 0 });

    const conns = await res.open(cfg);
    const snapped = await scopeState(conns.db, TENANT);
    expect(snapped).toMatchObject({ edges: 5, tombstones: 5 });
    const snap = await takeSnapshot(TENANT, { ...api, out: path.join(cfg.homeDir, 'snap.jsonl.gz') });
    expect(snap.counts).toEqual({ [COLL.supersedes]: 5, [COLL.tombstones]: 5 });

    // New revisions: the second run has work (an edge and a tombstone per advisory).
    expect((await importCorpus(corpus('second.jsonl', ids.slice(0, 3), [3]), api)).accepted).toBe(3);
    const second = await cliJson<RunJson>(cfg, START, { env: FAST_MONITOR_ENV });
    expect(second).toMatchObject({ state: 'succeeded', edges_inserted: 3, tombstones_inserted: 3, violations: 0, errors: 0 });
    expect((await scopeState(conns.db, TENANT)).edges).toBe(8);

    const rolled = await rollbackRun(second.run_id, api);
    expect(rolled).toMatchObject({ run_id: second.run_id, edges_removed: 3, tombstones_removed: 3, remaining: 0 });
    expect(await conns.db.collection(COLL.supersedes).countDocuments({ run_id: second.run_id })).toBe(0);
    expect(await scopeState(conns.db, TENANT)).toEqual(snapped); // the rollback removed exactly the second run's writes

    // The earlier state damaged: one edge of the first run gone.
    const edges = conns.db.collection<TenantDoc>(COLL.supersedes);
    const lost = await edges.findOne({ tenant: TENANT, run_id: first.run_id });
    await edges.deleteOne({ _id: lost!._id });
    const damaged = await scopeState(conns.db, TENANT);
    expect(damaged.edges).toBe(4);
    expect(damaged.edge_digest).not.toBe(snapped.edge_digest);

    const restored = await restoreSnapshot(snap.file, { ...api, yes: true });
    expect(restored).toMatchObject({
      applied: true,
      sha256: snap.sha256,
      removed: { [COLL.supersedes]: 0, [COLL.tombstones]: 0 },
      inserted: { [COLL.supersedes]: 1, [COLL.tombstones]: 0 },
    });
    const back = await scopeState(conns.db, TENANT);
    expect(back.edge_digest).toBe(snapped.edge_digest);
    expect(back).toEqual(snapped);
    expect(await edges.findOne({ _id: lost!._id })).toEqual(lost);
    await res.close(conns);
  }, LONG);

  res.leakCheck();
});
