/**
 * FerretDB v1.24.2 as the local MongoDB-wire server when no mongod is installed: built once
 * from the Go module cache into <homeDir>/bin/ferretdb, then started detached.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { serverEnv, type Config } from '../config.js';
import { ServiceError } from '../errors.js';
import {
  freePort,
  homePaths,
  isAlive,
  run,
  spawnDetached,
  stopPid,
  tail,
  tailFile,
  tcpOpen,
  waitUntil,
  writePidFile,
  removePidFile,
  type RunResult,
} from './proc.js';

export const FERRETDB_VERSION = 'v1.24.2';
const MODULE = `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`;
const RETRY_TOOLCHAIN = 'go1.24.3';
const GO_CANDIDATES = ['go', '/usr/local/go/bin/go'];
const BUILD_TIMEOUT_MS = 20 * 60_000;
const START_TIMEOUT_MS = 30_000;

export type FerretBackend = 'postgresql' | 'sqlite';
export interface FerretStarted {
  pid: number;
  backend: FerretBackend;
}

/**
 * Runs `go` with extra environment through /usr/bin/env, so this module never reads or
 * copies process.env (config.ts is its only reader). GOWORK=off: a go.work above homeDir
 * must not leak into the build.
 */
function goRun(go: string, args: string[], cwd: string, extraEnv: string[] = []): Promise<RunResult> {
  return run('env', ['GOWORK=off', ...extraEnv, go, ...args], { cwd, timeoutMs: BUILD_TIMEOUT_MS });
}

async function findGo(): Promise<string | undefined> {
  for (const go of GO_CANDIDATES) {
    const r = await run(go, ['version']);
    if (r.code === 0) return go;
  }
  return undefined;
}

async function binaryOk(bin: string): Promise<boolean> {
  const r = await run(bin, ['--version'], { timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.includes(FERRETDB_VERSION);
}

/** Returns the path of a working FerretDB binary, building it when missing or of another version. */
export async function ensureFerretBinary(cfg: Config, log?: Logger): Promise<string> {
  const home = await homePaths(cfg.homeDir);
  const bin = path.join(home.bin, 'ferretdb');
  if (await binaryOk(bin)) return bin;

  const go = await findGo();
  if (!go) {
    throw new ServiceError(
      'ferretdb',
      'no MongoDB server on 127.0.0.1:27017, no mongod on PATH, and no Go toolchain to build FerretDB. ' +
        'Fix: install Go >= 1.24 (https://go.dev/dl/), or install mongod, or set MONGO_URL to a running MongoDB.',
    );
  }
  log?.info({ version: FERRETDB_VERSION }, 'building FerretDB (first time only, ~2 min)');
  const t0 = Date.now();

  const dl = await goRun(go, ['mod', 'download', '-json', MODULE], home.build);
  let dir: string | undefined;
  try {
    const info = JSON.parse(dl.stdout) as { Dir?: string; Error?: string };
    dir = info.Error ? undefined : info.Dir;
  } catch {
    dir = undefined;
  }
  if (dl.code !== 0 || !dir) {
    throw new ServiceError(
      'ferretdb',
      `"go mod download ${MODULE}" failed:\n${tail(dl.stdout + dl.stderr)}\n` +
        'Fix: check network access to the Go module proxy (GOPROXY), or set MONGO_URL to a running MongoDB.',
    );
  }

  // The module cache is read-only: copy it, make it writable, and add the file that
  // `go generate` would create (missing from the module zip; without it the binary panics at start).
  const src = path.join(home.build, 'ferretdb-src');
  await run('chmod', ['-R', 'u+w', src]);
  await fsp.rm(src, { recursive: true, force: true });
  await fsp.cp(dir, src, { recursive: true });
  const chmod = await run('chmod', ['-R', 'u+w', src]);
  if (chmod.code !== 0) throw new ServiceError('ferretdb', `chmod -R u+w ${src} failed: ${tail(chmod.stderr)}`);
  await fsp.writeFile(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);

  const tmp = `${bin}.tmp-${process.pid}`;
  const buildArgs = ['build', '-buildvcs=false', '-o', tmp, './cmd/ferretdb'];
  let b = await goRun(go, buildArgs, src);
  if (b.code !== 0) {
    log?.warn({ stderr: tail(b.stderr, 5) }, `FerretDB build failed with the local Go; retrying with GOTOOLCHAIN=${RETRY_TOOLCHAIN}`);
    b = await goRun(go, buildArgs, src, [`GOTOOLCHAIN=${RETRY_TOOLCHAIN}`]);
  }
  if (b.code !== 0) {
    await fsp.rm(tmp, { force: true });
    throw new ServiceError(
      'ferretdb',
      `building FerretDB ${FERRETDB_VERSION} failed:\n${tail(b.stderr + (b.spawnError?.message ?? ''))}\n` +
        `Fix: install Go >= 1.24 (or allow GOTOOLCHAIN=${RETRY_TOOLCHAIN} to download), or set MONGO_URL to a running MongoDB.`,
    );
  }
  await fsp.rename(tmp, bin);
  if (!(await binaryOk(bin))) {
    throw new ServiceError('ferretdb', `built ${bin} but "--version" does not report ${FERRETDB_VERSION}. Fix: delete ${cfg.homeDir}/bin and retry.`);
  }
  log?.info({ bin, ms: Date.now() - t0 }, 'FerretDB built');
  return bin;
}

/**
 * Picks the storage backend. PostgreSQL first: measured here, FerretDB 1.24.2's SQLite
 * backend does not use its `_id` index (index expression `_ferretdb_sjson->"_id"` differs
 * from the queries' `->'$._id'`), so every lookup of a missing `_id` and every upsert is a
 * full table scan (~25 ms/op at 10k docs, growing linearly); PostgreSQL stays ~2-6 ms/op.
 */
interface BackendChoice {
  backend: FerretBackend;
  args: string[];
  /** FerretDB reads every flag from FERRETDB_<FLAG> too (kong DefaultEnvars): the PostgreSQL URL, with its password, goes there. */
  secrets: Record<string, string>;
}

async function chooseBackend(cfg: Config, dataDir: string, log?: Logger): Promise<BackendChoice> {
  const pg = cfg.ferretPostgresUrl ? await postgresReady(cfg.ferretPostgresUrl, log) : false;
  if (pg) return { backend: 'postgresql', args: ['--handler=postgresql'], secrets: { FERRETDB_POSTGRESQL_URL: cfg.ferretPostgresUrl } };
  const dir = path.join(dataDir, 'ferretdb');
  await fsp.mkdir(dir, { recursive: true });
  log?.warn('FerretDB uses its SQLite backend (upserts get slower as collections grow); start PostgreSQL for speed');
  return { backend: 'sqlite', args: ['--handler=sqlite', `--sqlite-url=file:${dir}/`], secrets: {} };
}

/** True when the PostgreSQL in `url` answers and the database it names exists (created if missing). */
async function postgresReady(url: string, log?: Logger): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    log?.warn('LNM_FERRETDB_POSTGRES_URL is not a URL; using SQLite');
    return false;
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  if (!(await tcpOpen(host, Number(u.port || 5432), 1500))) {
    log?.info({ host, port: u.port || 5432 }, 'PostgreSQL not answering');
    return false;
  }
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!db) return true;
  // The password goes to psql through PGPASSWORD, never on its command line.
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const password = decodeURIComponent(admin.password);
  admin.password = '';
  const env = serverEnv(password ? { PGPASSWORD: password } : {});
  const psql = (sql: string): Promise<RunResult> =>
    run('psql', [admin.toString(), '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { timeoutMs: 30_000, env });
  const lit = db.replace(/'/g, "''");
  const found = await psql(`SELECT 1 FROM pg_database WHERE datname='${lit}'`);
  if (found.spawnError) {
    log?.warn('psql not found; cannot prepare the PostgreSQL database, using SQLite');
    return false;
  }
  if (found.code !== 0) {
    log?.warn({ stderr: tail(found.stderr, 3) }, 'psql failed; using SQLite');
    return false;
  }
  if (found.stdout.trim() === '1') return true;
  const created = await psql(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
  if (created.code !== 0 && !/already exists/.test(created.stderr)) {
    log?.warn({ stderr: tail(created.stderr, 3) }, `cannot create database ${db}; using SQLite`);
    return false;
  }
  log?.info({ db }, 'created PostgreSQL database for FerretDB');
  return true;
}

/**
 * Builds (if needed) and starts FerretDB on 127.0.0.1:<port>, detached, with a pid file in
 * run/. Resolves once `ready()` answers; otherwise stops it and throws with the log tail.
 */
export async function startFerretDB(
  cfg: Config,
  port: number,
  pidName: string,
  ready: () => Promise<boolean>,
  log?: Logger,
): Promise<FerretStarted> {
  const bin = await ensureFerretBinary(cfg, log);
  const home = await homePaths(cfg.homeDir);
  const { backend, args, secrets } = await chooseBackend(cfg, home.data, log);
  const logFile = path.join(home.logs, 'ferretdb.log');
  const fullArgs = [
    ...args,
    `--listen-addr=127.0.0.1:${port}`,
    `--state-dir=${path.join(home.data, 'ferretdb-state')}`,
    '--telemetry=disable',
    `--debug-addr=127.0.0.1:${await freePort()}`,
    '--log-level=warn',
  ];
  await fsp.mkdir(path.join(home.data, 'ferretdb-state'), { recursive: true });
  const t0 = Date.now();
  const proc = await spawnDetached(bin, fullArgs, { logFile, cwd: cfg.homeDir, env: serverEnv(secrets) });
  await writePidFile(home.run, pidName, { pid: proc.pid, name: 'ferretdb', startedAt: new Date().toISOString(), backend });
  const res = await waitUntil(ready, { timeoutMs: START_TIMEOUT_MS, intervalMs: 200, abort: proc.exited });
  if (!res.ok) {
    if (isAlive(proc.pid, 'ferretdb')) await stopPid(proc.pid);
    await removePidFile(home.run, pidName);
    throw new ServiceError(
      'ferretdb',
      `FerretDB (${backend}) did not answer ping on 127.0.0.1:${port}: ${res.reason}. Log ${logFile}:\n${await tailFile(logFile)}\n` +
        'Fix: see the log; delete the .lnm/data/ferretdb* folders if the state is corrupt, or set MONGO_URL.',
    );
  }
  log?.info({ serverPid: proc.pid, backend, ms: Date.now() - t0 }, 'FerretDB started');
  return { pid: proc.pid, backend };
}
