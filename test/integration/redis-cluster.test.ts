/**
 * Redis Cluster (issue: scale out on the engines users run): a real 3-master cluster on
 * loopback ports started here (redis-server --cluster-enabled yes, redis-cli --cluster
 * create), the queue prefix a hash tag, the rustsec corpus through 2 worker processes:
 * the exact edge digest of the corpus's oracle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, run } from '../../core/services/proc.js';
import { cliJson, pollUntil, RUSTSEC } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { driveToEnd, rustsecExpected, type ImportJson, type RunJson, type ValidateJson } from '../helpers/oracle.js';
import { FAST_MONITOR_ENV } from '../helpers/monitor.js';

const X = rustsecExpected();
const dir = mkdtempSync(path.join(tmpdir(), 'lnm-cluster-'));
const servers: ChildProcess[] = [];
const ports: number[] = [];

// Registered before the resources: after-hooks run in reverse, so the cluster stops last.
afterAll(async () => {
  for (const s of servers) {
    if (s.exitCode !== null || s.signalCode !== null) continue;
    const gone = once(s, 'exit');
    s.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
});

const res = useResources();
let env: Record<string, string> = {};

describe('Redis Cluster', () => {
  it('starts a 3-master cluster on loopback', async () => {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      servers.push(
        spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }),
      );
    }
    for (const p of ports) await pollUntil(async () => (await run('redis-cli', ['-p', String(p), 'ping'])).stdout.trim() === 'PONG', `redis ${p}`, 30_000, 50);
    const create = await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeoutMs: 60_000 });
    expect(create.code, create.stdout + create.stderr).toBe(0);
    await pollUntil(async () => (await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'])).stdout.includes('cluster_state:ok'), 'cluster_state:ok', 60_000, 100);
    env = { ...FAST_MONITOR_ENV, REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(','), LNM_QUEUE_PREFIX: `{t-cluster-${process.pid}}` };
  }, 120_000);

  it('the rustsec corpus through 2 worker processes on the cluster: the exact digest', async () => {
    const cfg = res.config('redis_cluster', env);
    expect(cfg.redisClusterNodes).toHaveLength(3);
    // res.config migrates in a beforeAll of the file; this config is made late, so migrate now.
    expect((await cliJson<{ applied: string[] }>(cfg, ['migrate', '--json'])).applied.length).toBeGreaterThan(0);
    expect((await cliJson<ImportJson>(cfg, ['import', RUSTSEC, '--json'])).accepted).toBe(X.accepted_documents_after_duplicate_drop);
    const started = await cliJson<RunJson>(cfg, ['start', '--force', '--reason=test', '--batch-size=200', '--stop-on-error', '--json']);
    const workers = [res.worker(cfg), res.worker(cfg)];
    const conns = await res.open(cfg);
    const end = await driveToEnd(conns, started.run_id, 600_000);
    expect(end.run.state).toBe('succeeded');
    expect(end.counts.edges_inserted).toBe(X.expected_supersedes_edges);
    const v = await cliJson<ValidateJson>(cfg, ['validate', started.run_id, '--json']);
    expect(v.ok).toBe(true);
    expect(v.edges.digest).toBe(X.edges_sha256_oracle_format);
    // The run's queue keys live in the cluster, under the prefix's hash tag.
    expect(await conns.queue('shards', started.run_id).getJobCounts('completed')).toMatchObject({ completed: started.shards });
    for (const w of workers) await res.stop(w);
    await res.close(conns);
  }, 600_000);

  res.leakCheck();
});
