/**
 * examples/enqueue-backfill.ts, run as a user would (node on the built file, its
 * configuration from the environment) against the real services, with a worker process
 * of the CLI: the run it enqueues for one tenant succeeds with the expected edges.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliJson, quietLog, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { type ImportJson, type RunJson, rustsecExpected, type SeedJson } from '../helpers/oracle.js';
import { childEnv } from '../../core/config.js';
import { approveDryRun, freeze, startBackfill, waitForRun } from '../../api/index.js';

const EXAMPLE = fileURLToPath(new URL('../../dist/examples/enqueue-backfill.js', import.meta.url));
const X = rustsecExpected();
const res = useResources();
const cfg = res.config('example');

describe('examples/enqueue-backfill.ts', () => {
  it('enqueues a run for one tenant and prints progress until it succeeds', async () => {
    const imp = await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json']);
    expect(imp.accepted).toBe(X.accepted_documents_after_duplicate_drop);
    // Another tenant the run must not touch.
    const other = await cliJson<SeedJson>(cfg, ['seed', '--docs', '300', '--seed', '5', '--tenants', '2', '--json']);
    expect(other.import?.accepted).toBe(300);
    const worker = res.worker(cfg);
    // The start gate, as an operator would satisfy it: frozen, and an approved dry run with
    // the example's arguments (tenant default, stop-on-error, the default batch size).
    const o = { config: cfg, log: quietLog };
    await freeze({ ...o, reason: 'example', by: 'test' });
    const dry = await startBackfill({ ...o, dryRun: true, tenant: 'default', stopOnError: true });
    expect((await waitForRun(dry.run_id, o)).state).toBe('succeeded');
    await approveDryRun(dry.run_id, { ...o, role: 'storage', by: 'alice' });
    await approveDryRun(dry.run_id, { ...o, role: 'security', by: 'bob' });

    const child = spawn(process.execPath, [EXAMPLE, 'default'], { env: childEnv(cfg) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code, `${stdout}\n${stderr}`).toBe(0);

    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^enqueued run-\S+ for tenant default: \d+ shard\(s\), 3033 document\(s\)$/);
    expect(lines.some((l) => /^running \d+\/\d+ shards/.test(l))).toBe(true);
    const final = JSON.parse(lines[lines.length - 1]!) as RunJson & { tenant: string };
    expect(final).toMatchObject({
      state: 'succeeded',
      tenant: 'default',
      docs: X.accepted_documents_after_duplicate_drop,
      edges_inserted: X.expected_supersedes_edges,
      tombstones_inserted: X.expected_supersedes_edges,
      violations: 0,
      errors: 0,
    });
    await res.stop(worker);
  }, 600_000);

  res.leakCheck();
});
