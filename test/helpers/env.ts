/**
 * Per-test-file isolation: a unique database and queue prefix, cleanup through the
 * public API, a CLI runner for the built binary, and poll-until instead of sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { childEnv, loadConfig, type Config } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { obliterateAll } from '../../core/jobs.js';
import { pino, type Logger } from 'pino';

export const CLI = fileURLToPath(new URL('../../dist/bin/lnm-backfill.js', import.meta.url));
export const RUSTSEC = fileURLToPath(new URL('../../data/rustsec/advisory_raw.jsonl.gz', import.meta.url));
export const RUSTSEC_EXPECTED = fileURLToPath(new URL('../../data/rustsec/expected.json', import.meta.url));

/**
 * A configuration of the test's own: database, queue prefix, and event stream / subjects /
 * Redis keys (a freeze-window proof counts whatever was published on its subjects, so two
 * files on the default stream would see each other's events).
 */
export function testConfig(name: string, extra: Record<string, string> = {}): Config {
  const id = `${name}_${process.pid}_${Date.now().toString(36)}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 55);
  return loadConfig({
    ...process.env,
    LNM_DB: `t_${id}`,
    LNM_QUEUE_PREFIX: `t-${id}`,
    LNM_NATS_STREAM: `T_${id}`,
    LNM_EVENT_SUBJECT_PREFIX: `t_${id}`,
    LNM_EVENT_REDIS_PREFIX: `t_${id}`,
    LNM_LOG_LEVEL: 'warn',
    ...extra,
  });
}

export const quietLog: Logger = pino({ level: 'silent' });

/** Drop the test database and obliterate its queues. */
export async function cleanup(cfg: Config): Promise<void> {
  const conns = await Connections.open(cfg);
  try {
    await obliterateAll(conns);
    await conns.db.dropDatabase();
  } finally {
    await conns.close();
  }
}

export async function pollUntil<T>(fn: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI with the test's configuration; resolves when it exits. */
export async function runCli(cfg: Config, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...childEnv(cfg), ...extraEnv } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Start a worker process of the built CLI (for crash tests: kill it with SIGKILL). */
export function spawnWorker(cfg: Config, extraEnv: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], { env: { ...childEnv(cfg), ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}

/**
 * A test configuration with its own database, queue prefix and LNM_HOME (seed files
 * and rejects files then never collide with another test file running in parallel).
 */
export function pipelineConfig(name: string, extra: Record<string, string> = {}): { cfg: Config; home: string } {
  const home = mkdtempSync(path.join(tmpdir(), `lnm-${name}-`));
  return { cfg: testConfig(name, { LNM_HOME: home, LNM_ARTIFACTS_DIR: path.join(home, 'artifacts'), ...extra }), home };
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** Run the CLI, require the exit code, and parse the last stdout line as JSON. */
export async function cliJson<T>(cfg: Config, args: string[], opts: { code?: number; env?: Record<string, string> } = {}): Promise<T> {
  const r = await runCli(cfg, args, opts.env ?? {});
  const want = opts.code ?? 0;
  if (r.code !== want) {
    throw new Error(`lnm-backfill ${args.join(' ')} exited ${r.code} (expected ${want})\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-4000)}`);
  }
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as T;
  } catch {
    throw new Error(`lnm-backfill ${args.join(' ')}: stdout is not JSON: ${r.stdout}\nstderr: ${r.stderr.slice(-4000)}`);
  }
}
