/**
 * `status <run>` on a terminal (a pseudo-terminal from `script`): the live panel
 * is redrawn while the run goes on and the command returns by itself once the run
 * settles; off a terminal, with --json or with --once, it prints one snapshot and returns at once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cancelRun, startBackfill, startMonitor, startWorker, type RunStatus } from '../../api/index.js';
import { childEnv } from '../../core/config.js';
import { CLI, cliJson, pollUntil, quietLog, runCli } from '../helpers/env.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';
import { useResources } from '../helpers/resources.js';
import { revisionsById, rustsecLines, writeCorpus } from '../helpers/corpus-subset.js';

const res = useResources();
const cfg = res.config('status_watch', FAST_MONITOR_ENV);
const byId = revisionsById(rustsecLines());
const corpus = [...byId.values()].filter((r) => r.length >= 2).slice(0, 6).flat();

describe('status', () => {
  it('on a terminal: a live panel redrawn until the run settles, then it returns', async () => {
    const file = writeCorpus(path.join(mkdtempSync(path.join(tmpdir(), 'lnm-watch-')), 'cut.jsonl.gz'), corpus);
    await cliJson(cfg, ['import', file, '--json'], { env: FAST_MONITOR_ENV });
    // Queued with no worker: the run waits until the worker below starts.
    const run = await startBackfill({ config: cfg, log: quietLog, batchSize: 3, force: { reason: 'status test' } });

    const child = spawn('script', ['-qec', `"${process.execPath}" "${CLI}" status ${run.run_id}`, '/dev/null'], { env: { ...childEnv(cfg), ...FAST_MONITOR_ENV } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(child, 'exit');
    await pollUntil(async () => out.includes(`0/${run.shards} shards`) && out.includes('throttle: off'), 'the first panel', 60_000, 100);
    expect(out).toContain('alerts: none');
    expect(out).toMatch(/docs\/s ETA/);

    const worker = res.track(await startWorker({ config: cfg, log: quietLog }));
    const monitor = res.track(await startMonitor({ config: cfg, log: quietLog })); // validates and settles the run
    const [code] = (await exited) as [number | null];
    await worker.close();
    await monitor.close();
    expect(code).toBe(0);
    expect(out).toMatch(/\u001b\[\d+A\r\u001b\[J/); // redrawn in place at least once
    expect(out).toContain(`${run.shards}/${run.shards} shards`);
    expect(out).toMatch(new RegExp(`run ${run.run_id}: succeeded`));
  }, 150_000);

  it('off a terminal, with --json or with --once: one snapshot, at once', async () => {
    const plain = await runCli(cfg, ['status', 'latest'], FAST_MONITOR_ENV);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/shards succeeded/);
    expect(plain.stdout + plain.stderr).not.toContain('\u001b[');
    const json = await cliJson<RunStatus>(cfg, ['status', 'latest', '--json'], { env: FAST_MONITOR_ENV });
    expect(json).toMatchObject({ state: 'succeeded', terminal: true, throttle_reasons: [], alerts: [] });
  });

  it('--once on a terminal, or its output piped: one snapshot of a run still queued, at once', async () => {
    const run = await startBackfill({ config: cfg, log: quietLog, batchSize: 3, force: { reason: 'status --once test' } });
    const child = spawn('script', ['-qec', `"${process.execPath}" "${CLI}" status ${run.run_id} --once`, '/dev/null'], { env: { ...childEnv(cfg), ...FAST_MONITOR_ENV } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(out).toContain(`0/${run.shards} shards`);
    expect(out).not.toMatch(/\u001b\[\d+A/); // never redrawn
    // Its output piped (stderr still on the terminal): one snapshot too, never a wait for the run.
    const piped = spawn('script', ['-qec', `"${process.execPath}" "${CLI}" status ${run.run_id} | cat`, '/dev/null'], { env: { ...childEnv(cfg), ...FAST_MONITOR_ENV } });
    let pipedOut = '';
    piped.stdout.on('data', (d: Buffer) => (pipedOut += d.toString()));
    const [pipedCode] = (await once(piped, 'exit')) as [number | null];
    expect(pipedCode).toBe(0);
    expect(pipedOut).toContain(`0/${run.shards} shards`);
    await cancelRun(run.run_id, { config: cfg, log: quietLog });
  });
});

res.leakCheck();
