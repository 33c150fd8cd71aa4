/**
 * `preflight` (DESIGN §1 step 1): a table of checks, each pass/fail with its reason and
 * the fix. Read-only except the idempotency probe, which removes what it inserts, and its
 * own record in `backfill_preflights` (for the evidence bundle).
 *
 *   mongodb                 server and topology (reported; lag is real only on a replica set)
 *   migrations              every migration applied, none changed since
 *   raw_idempotency_index   the DESIGN §2 unique key on advisory_raw, exact keys
 *   raw_idempotency_probe   a duplicate insert really is rejected (probe, then clean up)
 *   index:<coll>.<name>     every other index the pipeline needs (keys, uniqueness)
 *   ingest_frozen           `ingest_enabled` is false
 *   publisher_stopped       `outbox_publisher_enabled` is false, acknowledged by live publishers
 *   redis                   reachable, `maxmemory-policy noeviction` (BullMQ loses jobs otherwise)
 *   kit                     (with a kit file) its advisory_raw_sha256 equals the database's
 */
import { readFile } from 'node:fs/promises';
import type { Db, Document, IndexDescription } from 'mongodb';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisNodes, type Connections } from '../core/connections.js';
import type { ScanConfig } from '../core/config.js';
import { errorSummary, LnmError } from '../core/errors.js';
import { INDEXES, RAW_IDEMPOTENCY_INDEX } from '../core/store/collections.js';
import { corpusSha256 } from '../core/store/corpus-hash.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { FLAGS, flagEnabled, getFlag } from '../core/store/flags.js';
import { isLive, listHeartbeats } from '../core/store/heartbeats.js';
import { migrationStatus } from '../core/store/migrations.js';
import { recordPreflight } from '../core/store/preflights.js';
import { idempotencyProbe, type ProbeHooks, type ProbeResult } from './idempotency-probe.js';

export interface PreflightCheck {
  name: string;
  ok: boolean;
  reason: string;
  /** What to do about a failure (null when the check passed). */
  fix: string | null;
}

export interface ServerInfo {
  product: 'mongodb' | 'ferretdb';
  version: string;
  topology: 'replica_set' | 'standalone' | 'sharded';
  replica_set: string | null;
}

export interface PreflightResult {
  ok: boolean;
  checks: PreflightCheck[];
  server: ServerInfo | null;
  probe: ProbeResult | null;
}

export interface PreflightOptions {
  /** An offline-kit manifest (`{ advisory_raw_sha256, tenant? }`) to compare with the database. */
  kitFile?: string;
  probeHooks?: ProbeHooks;
}

const pass = (name: string, reason: string): PreflightCheck => ({ name, ok: true, reason, fix: null });
const fail = (name: string, reason: string, fix: string): PreflightCheck => ({ name, ok: false, reason, fix });
const keys = (k: Document): string => JSON.stringify(k);

export async function serverInfo(db: Db): Promise<ServerInfo> {
  const admin = db.admin();
  const build = await admin.command({ buildInfo: 1 });
  const hello = await admin.command({ hello: 1 });
  const ferret = typeof build.ferretdbVersion === 'string' ? build.ferretdbVersion : null;
  return {
    product: ferret ? 'ferretdb' : 'mongodb',
    version: ferret ? `${ferret} (MongoDB wire ${String(build.version)})` : String(build.version),
    topology: hello.msg === 'isdbgrid' ? 'sharded' : typeof hello.setName === 'string' ? 'replica_set' : 'standalone',
    replica_set: typeof hello.setName === 'string' ? hello.setName : null,
  };
}

function serverCheck(s: ServerInfo): PreflightCheck {
  const what = `${s.product === 'ferretdb' ? 'FerretDB' : 'MongoDB'} ${s.version}`;
  if (s.topology === 'replica_set') return pass('mongodb', `${what}, replica set ${s.replica_set}: oplog lag is measured`);
  return pass('mongodb', `${what}, ${s.topology}: oplog lag monitoring unavailable (reported as unavailable, not 0)`);
}

/** One needed index against what the collection has: missing, wrong keys, or not unique. */
export function indexCheck(name: string, coll: string, spec: IndexDescription, existing: Document[]): PreflightCheck {
  const want = `${coll} ${keys(spec.key)}${spec.unique ? ' unique' : ''}`;
  const fix = `run "lnm-backfill migrate"${existing.some((i) => i.name === spec.name) ? ` after dropping the wrong index "${spec.name}"` : ''}`;
  const byKeys = existing.find((i) => keys(i.key) === keys(spec.key));
  if (byKeys) {
    if (spec.unique && !byKeys.unique) return fail(name, `index "${String(byKeys.name)}" on ${coll} ${keys(spec.key)} is not unique`, `drop it, then ${fix}`);
    return pass(name, `${want}${byKeys.name === spec.name ? '' : ` (named "${String(byKeys.name)}")`}`);
  }
  const byName = existing.find((i) => i.name === spec.name);
  if (byName) return fail(name, `index "${spec.name}" has the wrong keys ${keys(byName.key)}, expected ${keys(spec.key)}`, fix);
  return fail(name, `missing: ${want}`, fix);
}

async function indexChecks(db: Db): Promise<PreflightCheck[]> {
  const out: PreflightCheck[] = [];
  for (const [coll, specs] of Object.entries(INDEXES)) {
    const existing = await db.collection(coll).listIndexes().toArray().catch(() => [] as Document[]);
    for (const spec of specs) {
      const name = spec.name === RAW_IDEMPOTENCY_INDEX ? 'raw_idempotency_index' : `index:${coll}.${spec.name}`;
      out.push(indexCheck(name, coll, spec, existing));
    }
  }
  return out;
}

async function migrationsCheck(conns: Connections): Promise<PreflightCheck> {
  const status = await migrationStatus(conns.db, conns.cfg);
  const bad = status.filter((s) => s.state !== 'applied');
  if (bad.length > 0) {
    return fail('migrations', bad.map((s) => `${s.id} ${s.state === 'pending' ? 'pending' : 'changed since applied (checksum differs)'}`).join('; '), 'run "lnm-backfill migrate"');
  }
  const notes = status.flatMap((s) => s.notes);
  return pass('migrations', `${status.length} applied${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`);
}

async function flagChecks(db: Db): Promise<PreflightCheck[]> {
  const ingest = await getFlag(db, FLAGS.ingest);
  const publisher = await getFlag(db, FLAGS.publisher);
  const freezeFix = 'run "lnm-backfill freeze --reason <why>"';
  const out = [
    flagEnabled(ingest)
      ? fail('ingest_frozen', `${FLAGS.ingest} is ${ingest ? 'true' : 'absent (enabled)'}`, freezeFix)
      : pass('ingest_frozen', `frozen since ${ingest!.updated_at.toISOString()} by ${ingest!.updated_by}: ${ingest!.reason}`),
  ];
  if (flagEnabled(publisher)) {
    out.push(fail('publisher_stopped', `${FLAGS.publisher} is ${publisher ? 'true' : 'absent (enabled)'}`, freezeFix));
    return out;
  }
  const mode = publisher!.mode ?? 'stop';
  const expected = mode === 'blackhole' ? 'blackhole' : 'stopped';
  const now = new Date();
  const live = (await listHeartbeats(db, 'publisher')).filter((b) => isLive(b, now));
  const lagging = live.filter((b) => b.state !== expected || !b.flag_updated_at || b.flag_updated_at < publisher!.updated_at);
  if (lagging.length > 0) {
    const who = lagging.map((b) => `${b._id} (${b.state}, beat ${b.at.toISOString()})`).join(', ');
    out.push(fail('publisher_stopped', `flag set (${mode}) but not acknowledged by ${who}`, 'wait a few seconds and re-run preflight; if it persists, stop that publisher'));
  } else {
    out.push(pass('publisher_stopped', `${mode}${live.length > 0 ? `, acknowledged by ${live.length} live publisher(s)` : '; no live publisher heartbeat (flag only)'}`));
  }
  return out;
}

async function policies(conns: Connections): Promise<string[]> {
  const nodes = redisNodes(conns.sharedRedis());
  return Promise.all(nodes.map(async (n) => /^maxmemory_policy:(\S+)/m.exec(await n.info('memory'))?.[1] ?? 'unknown'));
}

async function redisCheck(conns: Connections): Promise<PreflightCheck> {
  if (conns.cfg.redisClusterNodes.length > 0) {
    const all = await policies(conns).catch((err: Error) => [`unreachable: ${err.message}`]);
    const bad = all.filter((p) => p !== 'noeviction');
    return bad.length === 0
      ? pass('redis', `cluster of ${all.length} master(s) reachable, maxmemory-policy noeviction on each`)
      : fail('redis', `cluster masters not all noeviction: ${bad.join(', ')}`, 'set "maxmemory-policy noeviction" on every master');
  }
  const r = new Redis(conns.cfg.redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const policy = /^maxmemory_policy:(\S+)/m.exec(await r.info('memory'))?.[1] ?? 'unknown';
    return policy === 'noeviction'
      ? pass('redis', 'reachable, maxmemory-policy noeviction')
      : fail('redis', `maxmemory-policy is ${policy}: Redis may evict BullMQ keys (lost jobs) under memory pressure`, 'set "maxmemory-policy noeviction" in redis.conf (or CONFIG SET maxmemory-policy noeviction)');
  } catch (err) {
    return fail('redis', `unreachable: ${(err as Error).message}`, 'start Redis ("lnm-backfill services up") or set REDIS_URL');
  } finally {
    r.disconnect();
  }
}

/** A kit file: `{ advisory_raw_sha256: <64 hex>, tenant?: string | null }` (the evidence issue's `kit hashes`). */
export async function readKit(file: string): Promise<{ advisory_raw_sha256: string; tenant: string | null }> {
  let kit: unknown;
  try {
    kit = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new LnmError('ERR_KIT_INVALID', `${file}: cannot read a JSON kit file (${(err as Error).message})`, { path: file, unrecoverable: true });
  }
  const k = kit as { advisory_raw_sha256?: unknown; tenant?: unknown };
  if (typeof k.advisory_raw_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(k.advisory_raw_sha256)) {
    throw new LnmError('ERR_KIT_INVALID', `${file}: advisory_raw_sha256 must be 64 lowercase hex characters`, { path: `${file}#advisory_raw_sha256`, unrecoverable: true });
  }
  return { advisory_raw_sha256: k.advisory_raw_sha256, tenant: typeof k.tenant === 'string' && k.tenant !== '' ? k.tenant : null };
}

async function kitCheck(db: Db, scan: ScanConfig, file: string): Promise<PreflightCheck> {
  let kit;
  try {
    kit = await readKit(file);
  } catch (err) {
    return fail('kit', errorSummary(err).message, 'regenerate the kit with "lnm-backfill kit hashes"');
  }
  const current = await corpusSha256(db, { snapshot_bound: new Date(), tenant: kit.tenant }, await resolveScan(db, scan));
  const scope = kit.tenant ? `tenant ${kit.tenant}` : 'all tenants';
  return current.sha256 === kit.advisory_raw_sha256
    ? pass('kit', `advisory_raw_sha256 ${current.sha256} matches (${current.docs} documents, ${scope})`)
    : fail('kit', `advisory_raw_sha256 differs: kit ${kit.advisory_raw_sha256}, database ${current.sha256} (${current.docs} documents, ${scope})`, 'refresh the offline kit ("lnm-backfill kit hashes") or find the corpus change');
}

export async function preflight(conns: Connections, opts: PreflightOptions, log: Logger): Promise<PreflightResult> {
  const { db } = conns;
  const checks: PreflightCheck[] = [];
  let server: ServerInfo | null = null;
  try {
    server = await serverInfo(db);
    checks.push(serverCheck(server));
  } catch (err) {
    checks.push(fail('mongodb', `server info unavailable: ${(err as Error).message}`, 'check MONGO_URL'));
  }
  checks.push(await migrationsCheck(conns));
  const indexes = await indexChecks(db);
  checks.push(...indexes.filter((c) => c.name === 'raw_idempotency_index'));
  const probe = await idempotencyProbe(db, log, opts.probeHooks);
  checks.push(
    probe.ok
      ? pass('raw_idempotency_probe', `duplicate insert rejected; probe removed (record sha256 ${probe.sha256})`)
      : fail('raw_idempotency_probe', `first insert ${probe.record.first_insert}, second insert ${probe.record.second_insert}, ${probe.record.remaining} probe document(s) remain`, 'create the unique raw idempotency index: run "lnm-backfill migrate"'),
  );
  checks.push(...indexes.filter((c) => c.name !== 'raw_idempotency_index'));
  checks.push(...(await flagChecks(db)));
  checks.push(await redisCheck(conns));
  if (opts.kitFile) checks.push(await kitCheck(db, conns.cfg.scan, opts.kitFile));
  const ok = checks.every((c) => c.ok);
  const failing = checks.filter((c) => !c.ok).map((c) => c.name);
  const recorded = await recordPreflight(db, { at: new Date(), ok, failing_checks: failing, probe: { ok: probe.ok, sha256: probe.sha256, record: { ...probe.record } } });
  log.info({ ok, failed: failing, preflight_id: recorded._id }, 'preflight finished');
  return { ok, checks, server, probe };
}
