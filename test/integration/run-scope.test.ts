/**
 * Overlapping runs and the stop decision (issue: run control):
 *  - a second writing run over an active run's scope is refused (same tenant, or every
 *    tenant over one), unless --force with a reason, recorded on the run; other tenants
 *    and dry runs are not blocked, and the scope is free again once the run is terminal;
 *  - a threshold breach without --stop-on-error stops the run and leaves it failed (no
 *    rollback) by default; with --rollback-on-stop it is rolled back.
 */
import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { Connections } from '../../core/connections.js';
import { COLL } from '../../core/store/collections.js';
import { getRun } from '../../core/store/runs.js';
import { edgeId, edgeLine } from '../../core/supersedes.js';
import { cliJson, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { driveToEnd, type RunJson, type SeedJson } from '../helpers/oracle.js';
import { FAST_MONITOR_ENV, stamped } from '../helpers/monitor.js';

const ENV = { ...FAST_MONITOR_ENV, LNM_VIOLATIONS_MAX: '0' };
const res = useResources();
const cfg = res.config('run_scope', ENV);
const LONG = 600_000;
const FORCE = ['--force', '--reason=test'];

describe('one writing run per scope', () => {
  it('refuses an overlapping run; allows other tenants, dry runs and --force with a reason', async () => {
    const seed = await cliJson<SeedJson>(cfg, ['seed', '--docs', '600', '--seed', '9', '--tenants', '2', '--json'], { env: ENV });
    expect(seed.import?.accepted).toBe(600);
    // No worker and no monitor: the first run stays running, holding tenant-1.
    const first = await cliJson<RunJson>(cfg, ['start', ...FORCE, '--tenant=tenant-1', '--json'], { env: ENV });
    expect(first.state).toBe('running');

    // Refused before anything else is checked (these starts are not approved either).
    for (const scope of [['--tenant=tenant-1'], []]) {
      const r = await runCli(cfg, ['start', ...scope, '--json'], ENV);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('ERR_SCOPE_OVERLAP');
      expect(r.stderr).toContain(first.run_id);
    }
    const other = await cliJson<RunJson>(cfg, ['start', ...FORCE, '--tenant=tenant-2', '--json'], { env: ENV });
    expect(other.state).toBe('running');
    const dry = await cliJson<RunJson>(cfg, ['start', '--dry-run', '--tenant=tenant-1', '--json'], { env: ENV });
    expect(dry.state).toBe('running');
    const forced = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=incident 7: rerun', '--by=oncall', '--tenant=tenant-1', '--json'], { env: ENV });
    expect(forced.state).toBe('running');
    const conns = await res.open(cfg);
    expect((await getRun(conns.db, forced.run_id)).forced).toMatchObject({ reason: 'incident 7: rerun', by: 'oncall' });

    // Once the runs are over (cancelled here), the scope is free again.
    for (const r of [first, other, dry, forced]) await cliJson(cfg, ['cancel', r.run_id, '--json'], { env: ENV });
    const again = await cliJson<RunJson>(cfg, ['start', ...FORCE, '--json'], { env: ENV });
    expect(again.state).toBe('running');
    await cliJson(cfg, ['cancel', again.run_id, '--json'], { env: ENV });
    await res.close(conns);
  }, LONG);

  /**
   * Plant an edge "written by another run" under the _id of an edge the backfill will
   * compute for tenant-1, with a different newer revision: the run's write is a violation.
   */
  async function plantViolation(conns: Connections): Promise<string> {
    const groups = new Map<string, Document[]>();
    for await (const d of conns.db.collection(COLL.raw).find({ tenant: 'tenant-1' })) {
      const key = `${d.source.vendor}|${d.upstream.upstream_id}`;
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const revs = [...groups.values()].find((g) => g.length >= 2)!;
    revs.sort((x, y) => x.upstream.fetched_at - y.upstream.fetched_at || (x.upstream.content_hash < y.upstream.content_hash ? -1 : 1));
    const [older, newer] = [revs[0]!, revs[1]!];
    const end = (d: Document) => ({ raw_id: d._id, content_hash: d.upstream.content_hash, fetched_at: d.upstream.fetched_at });
    const _id = edgeId(edgeLine({ tenant: 'tenant-1', vendor: older.source.vendor, upstream_id: older.upstream.upstream_id, older_hash: older.upstream.content_hash, newer_hash: newer.upstream.content_hash }));
    await conns.db.collection<{ _id: string } & Document>(COLL.supersedes).insertOne({
      _id, tenant: 'tenant-1', vendor: older.source.vendor, upstream_id: older.upstream.upstream_id,
      older: end(older), newer: { ...end(newer), raw_id: 'another-raw-id' }, run_id: 'planted', created_at: new Date(),
    });
    return _id;
  }

  it('a threshold breach without --stop-on-error: failed without rollback by default; rolled back with --rollback-on-stop', async () => {
    const conns = await res.open(cfg);
    const planted = await plantViolation(conns);
    const worker = res.worker(cfg, ENV);

    const plain = (await cliJson<RunJson>(cfg, ['start', ...FORCE, '--tenant=tenant-1', '--json'], { env: ENV })).run_id;
    const end = await driveToEnd(conns, plain, LONG);
    expect(end.run.state).toBe('failed');
    expect(end.run.rollback_on_stop).toBe(false);
    expect(end.run.history.map((h) => h.to)).toEqual(['running', 'stopping', 'failed']);
    expect(end.run.error?.code).toBe('ERR_STOP_VIOLATIONS_THRESHOLD');
    expect((await stamped(conns.db, plain)).edges).toBeGreaterThan(0); // left in place for an operator

    const undo = (await cliJson<RunJson>(cfg, ['start', ...FORCE, '--tenant=tenant-1', '--rollback-on-stop', '--json'], { env: ENV })).run_id;
    const undone = await driveToEnd(conns, undo, LONG);
    expect(undone.run.state).toBe('rolled_back');
    expect(undone.run.rollback_on_stop).toBe(true);
    expect(undone.run.history.map((h) => h.to)).toEqual(['running', 'stopping', 'rolling_back', 'rolled_back']);
    // What others wrote stays: the planted edge and the first run's edges.
    expect(await conns.db.collection(COLL.supersedes).countDocuments({ _id: planted as never, run_id: 'planted' })).toBe(1);
    expect((await stamped(conns.db, plain)).edges).toBeGreaterThan(0);
    await res.stop(worker);
    await res.close(conns);
  }, LONG);

  res.leakCheck();
});
