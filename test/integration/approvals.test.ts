/**
 * Approvals and the production start gate (real MongoDB-wire server): without both
 * approvals of a matching dry run, or without the freeze, a start is refused; after both
 * it is allowed and the run goes; one person cannot hold both roles; a raw document
 * added after approval makes the approval stale; `force` needs a reason and is recorded.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { quietLog } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { runInProcess, rustsecHead } from '../helpers/events.js';
import { Connections } from '../../core/connections.js';
import { LnmError } from '../../core/errors.js';
import { COLL } from '../../core/store/collections.js';
import type { RunDoc } from '../../core/store/runs.js';
import { approve, assertStartAllowed } from '../../producer/approvals.js';
import { freeze, unfreeze } from '../../producer/freeze.js';
import { importCorpus } from '../../producer/import.js';

const LONG = 300_000;
const res = useResources();
const cfg = res.config('approvals');
const home = cfg.homeDir;
let conns: Connections;
let dry: RunDoc;
const ARGS = { dry_run: false, batch_size: 100, stop_on_error: false, rollback_on_stop: false, tenant: null };

async function refusal(p: Promise<unknown>): Promise<LnmError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof LnmError)) throw new Error(`expected an LnmError, got ${String(err)}`);
  return err;
}
const gate = (extra: Partial<Parameters<typeof assertStartAllowed>[1]> = {}) => assertStartAllowed(conns, { args: ARGS, ...extra }, quietLog);

beforeAll(async () => {
  conns = res.track(await Connections.open(cfg));
  await importCorpus(conns.db, await rustsecHead(home, 300), { homeDir: home }, quietLog);
  dry = await runInProcess(conns, { dryRun: true, batchSize: 100 });
}, LONG);

describe('approvals and the start gate', () => {
  it('refuses a start while ingest is not frozen, then without approvals', async () => {
    expect(dry.state).toBe('succeeded');
    expect((await refusal(gate())).code).toBe('ERR_START_NOT_FROZEN');
    expect((await refusal(runInProcess(conns, { dryRun: false, batchSize: 100 }))).code).toBe('ERR_START_NOT_FROZEN');
    await freeze(conns, { by: 'devops', reason: 'backfill' });
    const err = await refusal(gate());
    expect(err.code).toBe('ERR_START_NOT_APPROVED');
    expect(err.details).toMatchObject({ missing: ['storage', 'security'], stale: false, corpus_sha256: dry.snapshot!.corpus_sha256 });
  }, LONG);

  it('records one approval per role, never two roles by one person', async () => {
    const a = await approve(conns, { dryRunId: dry._id, role: 'storage', by: 'Alice', note: 'counts look right' }, quietLog);
    expect(a).toMatchObject({ role: 'storage', by: 'Alice', dry_run_id: dry._id, plan: { corpus_sha256: dry.snapshot!.corpus_sha256 } });
    expect((await refusal(approve(conns, { dryRunId: dry._id, role: 'security', by: ' alice ' }, quietLog))).code).toBe('ERR_APPROVAL_SAME_PERSON');
    expect((await refusal(approve(conns, { dryRunId: dry._id, role: 'storage', by: 'Carol' }, quietLog))).code).toBe('ERR_APPROVAL_EXISTS');
    expect((await refusal(approve(conns, { dryRunId: dry._id, role: 'admin', by: 'Carol' }, quietLog))).code).toBe('ERR_CONFIG');
    expect((await refusal(gate())).details).toMatchObject({ missing: ['security'] });
    expect(await conns.db.collection(COLL.approvals).countDocuments({})).toBe(1);
  }, LONG);

  it('with both approvals the start is allowed (with or without a fresh corpus scan), and the run goes', async () => {
    await approve(conns, { dryRunId: dry._id, role: 'security', by: 'Bob' }, quietLog);
    const g = await gate();
    expect(g).toMatchObject({ frozen: true, forced: [], corpus_sha256: dry.snapshot!.corpus_sha256 });
    expect(g.approvals.map((x) => [x.role, x.by])).toEqual([['storage', 'Alice'], ['security', 'Bob']]);
    expect((await gate({ corpusSha256: dry.snapshot!.corpus_sha256 })).plan_hash).toBe(g.plan_hash);
    // Other arguments are another plan.
    expect((await refusal(assertStartAllowed(conns, { args: { ...ARGS, batch_size: 50 } }, quietLog))).code).toBe('ERR_START_NOT_APPROVED');

    const real = await runInProcess(conns, { dryRun: false, batchSize: 100 });
    expect(real.state).toBe('succeeded');
    expect(real.counters!.edges_inserted).toBe(dry.counters!.edges_inserted);
    expect((await refusal(approve(conns, { dryRunId: real._id, role: 'storage', by: 'Dan' }, quietLog))).code).toBe('ERR_APPROVAL_NOT_APPROVABLE');
  }, LONG);

  it('one raw document added after the approval makes it stale: refused again', async () => {
    await unfreeze(conns, { reason: 'late import' });
    const imported = await importCorpus(conns.db, await rustsecHead(home, 301, 'head-301.jsonl'), { homeDir: home }, quietLog);
    expect(imported.accepted).toBe(1);
    await freeze(conns, { reason: 'backfill again' });
    const err = await refusal(gate());
    expect(err.code).toBe('ERR_START_NOT_APPROVED');
    expect(err.details).toMatchObject({ missing: ['storage', 'security'], stale: true });
    expect(err.message).toContain(`dry run ${dry._id} are stale`);
    // The start itself (not only its gate) is refused.
    const before = await conns.db.collection(COLL.supersedes).countDocuments({});
    expect((await refusal(runInProcess(conns, { dryRun: false, batchSize: 100 }))).code).toBe('ERR_START_NOT_APPROVED');
    expect(await conns.db.collection(COLL.supersedes).countDocuments({})).toBe(before);
  }, LONG);

  it('--force needs a reason; with one the refusals are overridden and recorded', async () => {
    expect((await refusal(gate({ force: true }))).code).toBe('ERR_REASON_REQUIRED');
    const g = await gate({ force: true, reason: 'incident 42: approvals by phone', by: 'devops' });
    expect(g.forced.map((f) => [f.check, f.reason, f.by])).toEqual([['approvals', 'incident 42: approvals by phone', 'devops']]);
    await unfreeze(conns, { reason: 'test' });
    expect((await gate({ force: true, reason: 'emergency' })).forced.map((f) => f.check)).toEqual(['frozen', 'approvals']);
  }, LONG);

  res.leakCheck();
});
