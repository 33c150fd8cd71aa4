/**
 * The monitor's HTTP server on real services, over a cut of the rustsec corpus: /metrics
 * is valid Prometheus text (our strict reader and `promtool check metrics`) whose counters
 * equal the run document at the end of a run, and declares every metric the dashboard and
 * the alert rules name; /api/runs agrees; the advisory summary returns the exact chain of
 * a 7-revision advisory computed from the corpus file, and never another tenant's data;
 * a non-loopback bind refuses to start without credentials, and with them every route but
 * /healthz answers 401 without and 200 with; a fired alert is counted under its code; Bull
 * Board refuses retries unless started with --board-write.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cancelRun, startBackfill, startMonitor, startWorker, waitForRun, type MonitorHandle, type RunStatus } from '../../api/index.js';
import { loadConfig } from '../../core/config.js';
import { ensureTools } from '../../core/services/tools.js';
import { getRun } from '../../core/store/runs.js';
import { METRICS } from '../../monitor/http/metric-catalog.js';
import { cliJson, pollUntil, quietLog, runCli } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import { ALERTS, DASHBOARD, dashboardExprs, metricNames, readJson, readYaml, ruleExprs, type RuleFile } from '../helpers/ops-files.js';
import { expectedChain, expectedRawId, revisionsById, rustsecLines, writeCorpus, type CorpusLine } from '../helpers/corpus-subset.js';
import { declaredSeries, parsePromText, sampleValue } from '../helpers/prom-text.js';

const KNOWN = 'RUSTSEC-2019-0001';
const ACME_ONLY = 'ACME-ONLY-0001';
const res = useResources();
const cfg = res.config('monitor_http', FAST_MONITOR_ENV);

const lines = rustsecLines();
const byId = revisionsById(lines);
const others = [...byId.keys()].filter((id) => id !== KNOWN).slice(0, 25);
const known = byId.get(KNOWN)!;
const subset: CorpusLine[] = [
  ...lines.filter((l) => l.upstream.upstream_id === KNOWN || others.includes(l.upstream.upstream_id)),
  // Tenant acme: the same advisory (same hashes, other raw ids) and one of its own.
  ...known.map((l) => ({ ...l, tenant: 'acme' })),
  ...byId.get(others[0]!)!.map((l) => ({ ...l, tenant: 'acme', upstream: { ...l.upstream, upstream_id: ACME_ONLY } })),
];

/** Import keeps one document per (tenant, vendor, upstream id, hash). */
const ACCEPTED = new Set(subset.map((l) => `${l.tenant}|${l.upstream.upstream_id}|${l.upstream.content_hash}`)).size;

let monitor: MonitorHandle;
let worker: { close(): Promise<void> };
let runId = '';

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers });
}

async function json<T>(url: string): Promise<T> {
  const r = await get(url);
  expect(r.status, `${url}: ${await r.clone().text()}`).toBe(200);
  return (await r.json()) as T;
}

describe('monitor http during and after a run', () => {
  it('imports the cut corpus, serves while a run goes through, and the run succeeds', async () => {
    expect(known.length, 'the known advisory has 7 revisions, no repeated hash').toBe(7);
    const file = writeCorpus(path.join(mkdtempSync(path.join(tmpdir(), 'lnm-http-')), 'cut.jsonl.gz'), subset);
    const imp = await cliJson<{ accepted: number }>(cfg, ['import', file, '--json'], { env: FAST_MONITOR_ENV });
    expect(imp.accepted).toBe(ACCEPTED);
    monitor = res.track(await startMonitor({ config: cfg, log: quietLog, http: { port: 0, boardRefreshMs: 100 } }));
    expect(monitor.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${monitor.url}/healthz`)).status).toBe(200);
    worker = res.track(await startWorker({ config: cfg, log: quietLog }));
    const started = await startBackfill({ config: cfg, log: quietLog, batchSize: 10, force: { reason: 'test' } });
    runId = started.run_id;
    let last: RunStatus | undefined;
    const final = await pollUntil(async () => {
      last = await json<RunStatus>(`${monitor.url}/api/runs/${runId}`);
      return last.terminal ? last : undefined;
    }, 'the run to settle', 120_000, 200).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
    expect(final).toMatchObject({ state: 'succeeded', docs: ACCEPTED, violations: 0, errors: 0, throttle_reasons: [] });
  }, 150_000);

  it('/metrics is valid Prometheus text and its counters equal the run document', async () => {
    const r = await get(`${monitor.url}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const families = parsePromText(text);
    const conns = await res.open(cfg);
    const doc = await getRun(conns.db, runId);
    const build = await conns.db.admin().command({ buildInfo: 1 });
    await res.close(conns);
    const c = doc.counters!;
    const l = { run_id: runId };
    expect(sampleValue(families, METRICS.documentsProcessed.name, l)).toBe(c.docs);
    expect(sampleValue(families, METRICS.advisoriesProcessed.name, l)).toBe(c.advisories);
    expect(sampleValue(families, METRICS.edgesInserted.name, l)).toBe(c.edges_inserted);
    expect(sampleValue(families, METRICS.tombstonesInserted.name, l)).toBe(c.tombstones_inserted);
    expect(sampleValue(families, METRICS.idempotentHits.name, l)).toBe(c.idempotent_hits);
    expect(sampleValue(families, METRICS.writeAttempts.name, l)).toBe(c.write_attempts);
    expect(sampleValue(families, METRICS.idempotencyViolations.name, l)).toBe(0);
    expect(sampleValue(families, METRICS.errors.name, l)).toBe(0);
    expect(sampleValue(families, METRICS.shards.name, { ...l, state: 'done' })).toBe(doc.shards_total);
    expect(sampleValue(families, METRICS.runState.name, { ...l, state: 'succeeded' })).toBe(1);
    expect(sampleValue(families, METRICS.runActive.name, l)).toBe(0);
    expect(sampleValue(families, METRICS.runProgress.name, l)).toBe(1);
    expect(sampleValue(families, METRICS.runDuration.name, l)).toBeCloseTo((doc.finished_at!.getTime() - doc.started_at!.getTime()) / 1000, 3);
    expect(c.edges_inserted).toBeGreaterThan(40);
    // FerretDB has no replica set: the lag is absent, never 0.
    if (build.ferretdbVersion) expect(families.get(METRICS.oplogLag.name)?.samples).toEqual([]);
    expect(sampleValue(families, 'lnm_backfill_process_resident_memory_bytes')).toBeGreaterThan(0);

    const tools = await ensureTools(['promtool'], quietLog);
    // promtool parses the whole exposition and lints it: it must find no problem with our
    // metrics (prom-client's own nodejs_active_*_total gauges do not follow its naming lint).
    const lint = spawnSync(tools.promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    const problems = `${lint.stdout}${lint.stderr}`.split('\n').filter((x) => x.trim() !== '');
    expect(problems.filter((x) => !/^lnm_backfill_nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(x))).toEqual([]);
    expect(lint.status === 0 || problems.length > 0, 'exit status 3 only for lint findings').toBe(true);
    expect(() => parsePromText(`${text}lnm_backfill_undeclared 1\n`)).toThrow(/without a TYPE/);
  });

  it('declares every metric the Grafana dashboard and the alert rules query', async () => {
    const exposed = declaredSeries(parsePromText(await (await get(`${monitor.url}/metrics`)).text()));
    const exprs = [...dashboardExprs(readJson(DASHBOARD)), ...ruleExprs(readYaml<RuleFile>(ALERTS))];
    const names = new Set(exprs.flatMap((e) => metricNames(e.expr)));
    expect(names.size).toBeGreaterThan(10);
    expect([...names].filter((n) => !exposed.has(n))).toEqual([]);
    expect(exposed.has('lnm_backfill_not_a_metric')).toBe(false);
  });

  it('/api/runs lists the run with the same counters', async () => {
    const { runs } = await json<{ runs: RunStatus[] }>(`${monitor.url}/api/runs?take=5`);
    expect(runs.map((x) => x.run_id)).toContain(runId);
    const one = await json<RunStatus>(`${monitor.url}/api/runs/latest`);
    expect(runs.find((x) => x.run_id === runId)).toEqual(one);
    expect((await get(`${monitor.url}/api/runs/run-20200101T000000Z-000000`)).status).toBe(404);
    expect((await get(`${monitor.url}/api/runs/not-a-run`)).status).toBe(400);
  });
});

describe('advisory summary', () => {
  interface Page {
    tenant: string;
    items: Array<{ key: string; source: string; advisory: string; aliases: string[]; latest_raw_id: string; revisions: number; supersedes_chain: Array<Record<string, unknown>>; tombstoned_observations: Array<{ observation_raw_id: string; superseded_by_raw_id: string }> }>;
    next: string | null;
  }

  it('returns the exact chain of a 7-revision rustsec advisory, computed from the corpus file', async () => {
    const page = await json<Page>(`${monitor.url}/advisories/summary?tenant=default&advisory=${KNOWN}`);
    expect(page.items).toHaveLength(1);
    const item = page.items[0]!;
    const chain = expectedChain(known);
    expect(item.supersedes_chain.map(({ newer, older }) => ({ newer, older }))).toEqual(chain);
    expect(item.supersedes_chain.every((e) => e.run_id === runId)).toBe(true);
    expect(item).toMatchObject({ key: `rustsec|${KNOWN}`, source: 'rustsec', advisory: KNOWN, revisions: 7, latest_raw_id: chain[0]!.newer.raw_id });
    expect(item.aliases).toEqual([...new Set(known.flatMap((l) => l.identifiers?.aliases ?? []))].sort());
    expect(item.tombstoned_observations).toEqual(chain.map((e) => expect.objectContaining({ observation_raw_id: e.older.raw_id, superseded_by_raw_id: e.newer.raw_id })));
  });

  it('pages through every advisory of the tenant once, in key order', async () => {
    const keys: string[] = [];
    let after = '';
    for (let i = 0; i < 20; i++) {
      const page = await json<Page>(`${monitor.url}/advisories/summary?tenant=default&take=20${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      keys.push(...page.items.map((x) => x.key));
      if (!page.next) break;
      after = page.next;
    }
    const want = [KNOWN, ...others].map((id) => `rustsec|${id}`).sort();
    expect(keys).toEqual(want);
  });

  it('never reads another tenant: same advisory, other raw ids; an acme-only advisory is invisible to default', async () => {
    const acme = await json<Page>(`${monitor.url}/advisories/summary?tenant=acme&advisory=${KNOWN}`);
    const acmeChain = expectedChain(known.map((l) => ({ ...l, tenant: 'acme' })));
    expect(acme.items[0]!.supersedes_chain.map(({ newer, older }) => ({ newer, older }))).toEqual(acmeChain);
    const defaultIds = new Set(known.map((l) => expectedRawId(l)));
    expect(JSON.stringify(acme).match(/[0-9a-f]{64}(?=")/g)!.filter((h) => defaultIds.has(h))).toEqual([]);
    expect((await json<Page>(`${monitor.url}/advisories/summary?tenant=default&advisory=${ACME_ONLY}`)).items).toEqual([]);
    expect((await json<Page>(`${monitor.url}/advisories/summary?tenant=acme&advisory=${ACME_ONLY}`)).items).toHaveLength(1);
    const acmeAll = await json<Page>(`${monitor.url}/advisories/summary?tenant=acme&take=100`);
    expect(acmeAll.items.map((x) => x.advisory).sort()).toEqual([ACME_ONLY, KNOWN]);
  });

  it('a missing, empty or "|" tenant is a 400', async () => {
    for (const q of ['', '?tenant=', '?tenant=a%7Cb', '?tenant=default&take=0', '?tenant=default&take=101']) {
      const r = await get(`${monitor.url}/advisories/summary${q}`);
      expect(r.status, q).toBe(400);
    }
  });
});

describe('access control', () => {
  it('a non-loopback bind without credentials refuses to start', async () => {
    const r = await runCli(cfg, ['monitor', '--host=0.0.0.0', '--port=0'], { LNM_MONITOR_TOKEN: '', LNM_MONITOR_BASIC_AUTH: '' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('refusing to serve on 0.0.0.0 without credentials');
  });

  it('with a token or basic auth: 401 without, 200 with, /healthz always open', async () => {
    const token = 'tok-0123456789abcdef';
    const basic = 'ops:correct-horse';
    const secured = loadConfig({ ...process.env, LNM_DB: cfg.db, LNM_QUEUE_PREFIX: cfg.queuePrefix, LNM_MONITOR_TOKEN: token, LNM_MONITOR_BASIC_AUTH: basic });
    const m = res.track(await startMonitor({ config: secured, log: quietLog, http: { port: 0, host: '0.0.0.0' } }));
    const url = m.url!.replace('0.0.0.0', '127.0.0.1');
    expect((await get(`${url}/healthz`)).status).toBe(200);
    for (const route of ['/metrics', '/api/runs', `/api/runs/${runId}`, '/advisories/summary?tenant=default', '/ui/']) {
      const none = await get(`${url}${route}`);
      expect(none.status, route).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/Basic realm=/);
      expect((await get(`${url}${route}`, { authorization: 'Bearer wrong-token-0000000' })).status, route).toBe(401);
      expect((await get(`${url}${route}`, { authorization: `Bearer ${token}` })).status, route).toBe(200);
      expect((await get(`${url}${route}`, { authorization: `Basic ${Buffer.from(basic).toString('base64')}` })).status, route).toBe(200);
    }
    await m.close();
  });
});

describe('alerts in /metrics, and the board\'s write switch', () => {
  /** The same database and queues as `cfg`, with other settings. */
  const sameQueues = (env: Record<string, string>) => loadConfig({ ...process.env, ...FAST_MONITOR_ENV, LNM_DB: cfg.db, LNM_QUEUE_PREFIX: cfg.queuePrefix, ...env });

  it('a fired alert is counted under its code', async () => {
    // No worker, and a monitor that alerts after 1 s of run time: the run waits, the alert fires.
    await worker.close();
    await monitor.close();
    const m = res.track(await startMonitor({ config: sameQueues({ LNM_ALERT_RUNTIME_S: '1' }), log: quietLog, http: { port: 0 } }));
    const run = await startBackfill({ config: cfg, log: quietLog, batchSize: 10, force: { reason: 'alert test' } });
    const fired = await pollUntil(async () => {
      const families = parsePromText(await (await get(`${m.url}/metrics`)).text());
      return sampleValue(families, METRICS.alertsFired.name, { code: 'ALERT_RUNTIME' });
    }, 'the run-time alert in /metrics', 60_000, 200);
    expect(fired).toBe(1);
    await cancelRun(run.run_id, { config: cfg, log: quietLog });
    expect((await waitForRun(run.run_id, { config: cfg, log: quietLog, monitor: false })).state).toBe('cancelled');
    await m.close();
  });

  it('Bull Board is read-only unless --board-write', async () => {
    const retry = (url: string) => fetch(`${url}/ui/api/queues/backfill-rollback/retry/failed`, { method: 'PUT' });
    const ro = res.track(await startMonitor({ config: sameQueues({}), log: quietLog, http: { port: 0 } }));
    expect((await retry(ro.url!)).status).toBe(405);
    const rw = res.track(await startMonitor({ config: sameQueues({}), log: quietLog, http: { port: 0, boardWrite: true } }));
    expect((await retry(rw.url!)).status).toBe(200);
    await rw.close();
    await ro.close();
  });
});

res.leakCheck();
