/**
 * Preflight against the real services: passes on a migrated, frozen database with a
 * noeviction Redis; fails naming the check for a missing index, an index with the wrong
 * keys, a non-unique idempotency index (the probe then proves duplicates get in), ingest
 * not frozen, a publisher that has not acknowledged the stop, a Redis with an evicting
 * policy (a throwaway redis-server of this test), a stale kit. The probe leaves nothing
 * behind, even when its process is SIGKILLed between its two inserts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, quietLog } from '../helpers/env.js';
import { exited, useResources } from '../helpers/resources.js';
import { rustsecHead } from '../helpers/events.js';
import { childEnv, loadConfig } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { freePort } from '../../core/services/proc.js';
import { COLL, ensureIndexes, RAW_IDEMPOTENCY_INDEX } from '../../core/store/collections.js';
import { corpusSha256 } from '../../core/store/corpus-hash.js';
import { resolveScan } from '../../core/store/corpus-scan.js';
import { FLAGS, getFlag } from '../../core/store/flags.js';
import { writeHeartbeat } from '../../core/store/heartbeats.js';
import { freeze, unfreeze } from '../../producer/freeze.js';
import { PROBE_TENANT } from '../../producer/idempotency-probe.js';
import { importCorpus } from '../../producer/import.js';
import { preflightBefore } from '../../core/store/preflights.js';
import { preflight, type PreflightResult } from '../../producer/preflight.js';

const LONG = 300_000;
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const res = useResources();
const cfg = res.config('preflight');
const home = cfg.homeDir;
let conns: Connections;

const failed = (r: PreflightResult): string[] => r.checks.filter((c) => !c.ok).map((c) => c.name);
const check = (r: PreflightResult, name: string) => r.checks.find((c) => c.name === name)!;
const probeDocs = () => conns.db.collection(COLL.raw).countDocuments({ tenant: PROBE_TENANT });

beforeAll(async () => {
  conns = res.track(await Connections.open(cfg));
  await importCorpus(conns.db, await rustsecHead(home, 100), { homeDir: home }, quietLog);
  await freeze(conns, { by: 'tester', reason: 'preflight test' });
}, LONG);

describe('preflight', () => {
  it('passes on a migrated, frozen database, and the probe leaves nothing behind', async () => {
    const r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['mongodb', 'migrations', 'raw_idempotency_index', 'raw_idempotency_probe', 'index:advisory_supersedes.edge_newer', 'ingest_frozen', 'publisher_stopped', 'redis']));
    expect(r.server?.topology).toMatch(/^(standalone|replica_set|sharded)$/);
    expect(check(r, 'mongodb').reason).toContain(r.server!.product === 'ferretdb' ? 'FerretDB' : 'MongoDB');
    expect(r.probe!.record).toMatchObject({ first_insert: 'accepted', second_insert: 'rejected_duplicate_key', removed: 1, remaining: 0 });
    expect(r.probe!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(check(r, 'raw_idempotency_probe').reason).toContain(r.probe!.sha256);
    expect(await probeDocs()).toBe(0);
  }, LONG);

  it('fails naming ingest_frozen (and publisher_stopped) when not frozen', async () => {
    await unfreeze(conns, { reason: 'test' });
    const r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['ingest_frozen', 'publisher_stopped']);
    expect(check(r, 'ingest_frozen').fix).toContain('freeze');
    await freeze(conns, { reason: 'back' });
  }, LONG);

  it('fails naming the publisher that has not acknowledged the stop', async () => {
    const flag = (await getFlag(conns.db, FLAGS.publisher))!;
    const beat = { _id: 'publisher:elsewhere:1', component: 'publisher' as const, host: 'elsewhere', pid: 1, state: 'publishing' as const, flag_updated_at: new Date(flag.updated_at.getTime() - 1000), interval_ms: 60_000, transport: 'nats', started_at: new Date(), at: new Date() };
    await writeHeartbeat(conns.db, beat);
    const r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['publisher_stopped']);
    expect(check(r, 'publisher_stopped').reason).toContain('publisher:elsewhere:1');
    // Acknowledged: it reports `stopped` for the current flag.
    await writeHeartbeat(conns.db, { ...beat, state: 'stopped', flag_updated_at: flag.updated_at, at: new Date() });
    const ok = await preflight(conns, {}, quietLog);
    expect(failed(ok)).toEqual([]);
    expect(check(ok, 'publisher_stopped').reason).toContain('acknowledged by 1 live publisher');
    await conns.db.collection(COLL.heartbeats).deleteOne({ _id: beat._id as never });
  }, LONG);

  it('fails naming a missing index, then an index with the wrong keys', async () => {
    await conns.db.collection(COLL.supersedes).dropIndex('edge_newer');
    let r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['index:advisory_supersedes.edge_newer']);
    expect(check(r, 'index:advisory_supersedes.edge_newer').reason).toContain('missing');
    await ensureIndexes(conns.db);

    await conns.db.collection(COLL.shards).dropIndex('shard_run');
    await conns.db.collection(COLL.shards).createIndex({ shard: 1, run_id: 1 }, { name: 'shard_run' });
    r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['index:backfill_shards.shard_run']);
    expect(check(r, 'index:backfill_shards.shard_run').reason).toContain('wrong keys');
    await conns.db.collection(COLL.shards).dropIndex('shard_run');
    await ensureIndexes(conns.db);
    expect((await preflight(conns, {}, quietLog)).ok).toBe(true);
  }, LONG);

  it('fails naming migrations when an applied migration\'s checksum changed; each run is recorded for the evidence', async () => {
    const records = conns.db.collection<{ _id: string; checksum: string }>(COLL.migrations);
    const original = (await records.findOne({ _id: '0002_indexes' }))!.checksum;
    await records.updateOne({ _id: '0002_indexes' }, { $set: { checksum: 'f'.repeat(64) } });
    const r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['migrations']);
    expect(check(r, 'migrations').reason).toMatch(/0002_indexes.*changed|changed.*0002_indexes/);
    await records.updateOne({ _id: '0002_indexes' }, { $set: { checksum: original } });
    const recorded = await preflightBefore(conns.db, new Date());
    expect(recorded).toMatchObject({ ok: false, failing_checks: ['migrations'], probe: { ok: true, sha256: r.probe!.sha256 } });
    expect((await preflight(conns, {}, quietLog)).ok).toBe(true);
  }, LONG);

  it('a non-unique idempotency index fails both the index check and the probe, which still cleans up', async () => {
    const raw = conns.db.collection(COLL.raw);
    await raw.dropIndex(RAW_IDEMPOTENCY_INDEX);
    await raw.createIndex({ tenant: 1, 'source.vendor': 1, 'upstream.upstream_id': 1, 'upstream.content_hash': 1 }, { name: RAW_IDEMPOTENCY_INDEX });
    const r = await preflight(conns, {}, quietLog);
    expect(failed(r)).toEqual(['raw_idempotency_index', 'raw_idempotency_probe']);
    expect(check(r, 'raw_idempotency_index').reason).toContain('not unique');
    expect(r.probe!.record).toMatchObject({ second_insert: 'accepted', removed: 2, remaining: 0 });
    expect(await probeDocs()).toBe(0);
    await raw.dropIndex(RAW_IDEMPOTENCY_INDEX);
    await ensureIndexes(conns.db);
    expect((await preflight(conns, {}, quietLog)).ok).toBe(true);
  }, LONG);

  it('a probe SIGKILLed between its inserts leaves a document only the next preflight removes, out of every corpus hash meanwhile', async () => {
    const kitBefore = await corpusSha256(conns.db, { snapshot_bound: new Date(), tenant: null }, await resolveScan(conns.db, conns.cfg.scan));
    const script = [
      `import { loadConfig } from ${JSON.stringify(path.join(DIST, 'core/config.js'))};`,
      `import { Connections } from ${JSON.stringify(path.join(DIST, 'core/connections.js'))};`,
      `import { idempotencyProbe } from ${JSON.stringify(path.join(DIST, 'producer/idempotency-probe.js'))};`,
      `import { pino } from 'pino';`,
      'setInterval(() => undefined, 1000);',
      'const conns = await Connections.open(loadConfig());',
      `await idempotencyProbe(conns.db, pino({ level: 'silent' }), { afterFirstInsert: () => { process.stdout.write('inserted\\n'); return new Promise(() => undefined); } });`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: childEnv(cfg), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await pollUntil(async () => out.includes('inserted') || exited(child), 'the probe child to insert', 60_000, 50);
    expect(out).toContain('inserted');
    const gone = once(child, 'exit');
    child.kill('SIGKILL');
    await gone;
    expect(await probeDocs()).toBe(1);
    expect(await corpusSha256(conns.db, { snapshot_bound: new Date(), tenant: null }, await resolveScan(conns.db, conns.cfg.scan))).toEqual(kitBefore);

    const r = await preflight(conns, {}, quietLog);
    expect(r.ok).toBe(true);
    expect(r.probe!.record).toMatchObject({ leftovers_removed: 1, remaining: 0 });
    expect(await probeDocs()).toBe(0);
  }, LONG);

  it('fails naming redis when its maxmemory-policy evicts', async () => {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
    res.children.push({ child: server, stderr: [] }); // the leak check requires it stopped; teardown kills it otherwise
    const evictCfg = loadConfig({ ...process.env, LNM_DB: cfg.db, REDIS_URL: `redis://127.0.0.1:${port}` });
    const evictConns = await res.open(evictCfg);
    const r = await pollUntil(async () => {
      const p = await preflight(evictConns, {}, quietLog);
      return check(p, 'redis').reason.includes('unreachable') ? null : p;
    }, 'the throwaway redis-server to answer', 30_000, 100);
    expect(failed(r)).toEqual(['redis']);
    expect(check(r, 'redis').reason).toContain('allkeys-lru');
    expect(check(r, 'redis').fix).toContain('noeviction');
    await res.close(evictConns);
    const stopped = once(server, 'exit');
    server.kill('SIGTERM');
    await stopped;
  }, LONG);

  it('with a kit file: passes when its advisory_raw_sha256 is current, fails when stale or unreadable', async () => {
    const current = await corpusSha256(conns.db, { snapshot_bound: new Date(), tenant: null }, await resolveScan(conns.db, conns.cfg.scan));
    const good = path.join(home, 'kit.json');
    writeFileSync(good, JSON.stringify({ advisory_raw_sha256: current.sha256, tenant: null }));
    expect(check(await preflight(conns, { kitFile: good }, quietLog), 'kit')).toMatchObject({ ok: true, reason: expect.stringContaining(`${current.docs} documents`) });
    const stale = path.join(home, 'stale.json');
    writeFileSync(stale, JSON.stringify({ advisory_raw_sha256: 'a'.repeat(64) }));
    const r = await preflight(conns, { kitFile: stale }, quietLog);
    expect(failed(r)).toEqual(['kit']);
    expect(check(r, 'kit').reason).toContain(current.sha256);
    const broken = path.join(home, 'broken.json');
    writeFileSync(broken, '{"advisory_raw_sha256": 12}');
    expect(check(await preflight(conns, { kitFile: broken }, quietLog), 'kit')).toMatchObject({ ok: false, reason: expect.stringContaining('64 lowercase hex') });
  }, LONG);

  res.leakCheck();
});
