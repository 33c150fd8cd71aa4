/**
 * Bull Board in a real browser: headless Debian chromium (ensureTools; never a downloaded
 * browser) driven by playwright-core. During a running backfill the board lists the run's
 * shards queue with the shared queues and its completed count moves; a shard failed by a
 * seeded idempotency violation under --stop-on-error shows its error code and message in
 * the job's detail. Screenshots go to artifacts/screenshots/ (git-ignored, kept by CI).
 * Every wait is on a state the page or the database reaches, never a fixed sleep.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackfill, startMonitor, startWorker, type MonitorHandle } from '../../api/index.js';
import { ensureTools } from '../../core/services/tools.js';
import { COLL } from '../../core/store/collections.js';
import { getRun } from '../../core/store/runs.js';
import { cliJson, pollUntil, quietLog } from '../helpers/env.js';
import { FAST_MONITOR_ENV, Permits } from '../helpers/monitor.js';
import { ROOT } from '../helpers/ops-files.js';
import { useResources } from '../helpers/resources.js';
import { revisionsById, rustsecLines, writeCorpus } from '../helpers/corpus-subset.js';

const SHOTS = path.join(ROOT, 'artifacts/screenshots');
const res = useResources();
const cfg = res.config('bull_board', FAST_MONITOR_ENV);

// 12 advisories with 2+ revisions: shards of 4 documents, one worker of concurrency 1.
const byId = revisionsById(rustsecLines());
const ids = [...byId.keys()].filter((id) => byId.get(id)!.length >= 2).slice(0, 12);
const corpus = ids.flatMap((id) => byId.get(id)!);

let browser: Browser;
let page: Page;
let monitor: MonitorHandle;
let firstRun = '';

beforeAll(async () => {
  const { chromium: executablePath } = await ensureTools(['chromium'], quietLog);
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  mkdirSync(SHOTS, { recursive: true });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The count badge of a status tab on a queue page (0 when the tab shows none). */
async function tabCount(status: string): Promise<number> {
  const badge = page.locator(`a[href$="status=${status}"] span[class*="badge"]`);
  return (await badge.count()) === 0 ? 0 : Number((await badge.first().innerText()).trim());
}

async function waitForTab(status: string, ok: (n: number) => boolean, what: string): Promise<number> {
  return pollUntil(async () => {
    const n = await tabCount(status);
    return ok(n) ? { n } : undefined;
  }, what, 90_000, 250).then((r) => r.n);
}

describe('Bull Board in chromium', () => {
  it('shows the shards queue of a running backfill with the shared queues, and its completed count moves', async () => {
    const file = writeCorpus(path.join(mkdtempSync(path.join(tmpdir(), 'lnm-board-')), 'cut.jsonl.gz'), corpus);
    await cliJson(cfg, ['import', file, '--json'], { env: FAST_MONITOR_ENV });
    monitor = res.track(await startMonitor({ config: cfg, log: quietLog, http: { port: 0, boardRefreshMs: 100 } }));
    // Planned and queued with no worker yet: every shard waits.
    const run = await startBackfill({ config: cfg, log: quietLog, batchSize: 4, force: { reason: 'browser test' } });
    firstRun = run.run_id;
    expect(run.shards).toBeGreaterThan(4);
    const queue = `shards-${firstRun}`;

    await page.goto(`${monitor.url}/ui/`);
    for (const name of [queue, 'backfill-rollback', 'backfill-validate']) await page.getByRole('link', { name }).first().waitFor();
    await page.goto(`${monitor.url}/ui/queue/${queue}?status=waiting`);
    expect(await waitForTab('waiting', (n) => n === run.shards, `${run.shards} waiting shards on the board`)).toBe(run.shards);
    expect(await tabCount('completed')).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'bull-board-waiting.png'), });

    // Two shards may write, the third is held in flight: the board shows the count moved
    // while shards still wait, whatever the speed of the server or of the board's polling.
    const permits = new Permits();
    permits.grant(2);
    res.track(await startWorker({ config: cfg, log: quietLog, concurrency: 1, hooks: { beforeWrite: permits.take } }));
    expect(await waitForTab('completed', (n) => n === 2, 'two completed shards on the board')).toBe(2);
    expect(await tabCount('waiting')).toBe(run.shards - 3);
    await page.screenshot({ path: path.join(SHOTS, 'bull-board-running.png'), });
    permits.grant(Number.POSITIVE_INFINITY); // from now on every shard (this run's and the next test's) writes freely
    expect(await waitForTab('completed', (n) => n === run.shards, 'every shard completed on the board')).toBe(run.shards);
    const conns = await res.open(cfg);
    await pollUntil(async () => (await getRun(conns.db, firstRun)).state === 'succeeded', 'the first run to succeed', 90_000, 200);
    await res.close(conns);
  }, 240_000);

  it('a shard failed by a seeded violation (--stop-on-error) shows its error code and message in the job detail', async () => {
    expect(firstRun).not.toBe('');
    const conns = await res.open(cfg);
    const edges = conns.db.collection<{ _id: string; older: { raw_id: string }; run_id: string }>(COLL.supersedes);
    // One edge of the first run now names another older revision: the second run's write collides.
    const victim = (await edges.findOne({ run_id: firstRun }))!;
    await edges.updateOne({ _id: victim._id }, { $set: { 'older.raw_id': 'seeded-conflict', run_id: 'run-seeded' } });
    const second = await startBackfill({ config: cfg, log: quietLog, batchSize: 4, stopOnError: true, force: { reason: 'browser test' } });
    const queue = `shards-${second.run_id}`;
    const failed = await pollUntil(async () => (await conns.queue('shards', second.run_id).getFailed())[0], 'the violating shard job to fail', 90_000, 200);
    await pollUntil(async () => ['rolled_back', 'failed'].includes((await getRun(conns.db, second.run_id)).state), 'the second run to stop', 90_000, 200);

    await page.goto(`${monitor.url}/ui/queue/${queue}?status=failed`);
    expect(await waitForTab('failed', (n) => n === 1, 'one failed shard on the board')).toBe(1);
    await page.goto(`${monitor.url}/ui/queue/${queue}/${failed.id}`);
    await page.getByText(String(failed.id)).first().waitFor();
    const errorTab = page.getByRole('button', { name: 'Error' });
    if ((await errorTab.count()) > 0) await errorTab.first().click();
    const detail = page.getByText(/ERR_IDEMPOTENCY_VIOLATION/).first();
    await detail.waitFor({ timeout: 30_000 });
    const text = await page.locator('main').innerText();
    expect(text).toContain('ERR_IDEMPOTENCY_VIOLATION');
    expect(text).toMatch(new RegExp(`shard ${failed.id}: \\d+ idempotency violation\\(s\\)`));
    await page.screenshot({ path: path.join(SHOTS, 'bull-board-failed-job.png'), });
    await res.close(conns);
  }, 240_000);
});

res.leakCheck();
