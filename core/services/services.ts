/**
 * `services up|down|status`: one command that makes Redis, a MongoDB-wire server and
 * NATS with JetStream (the event transport) available. Env URLs are only checked; otherwise a server already answering on the
 * default loopback port is reused, else one is started detached (pid file in
 * <homeDir>/run). Starting is guarded by a lock file so parallel callers start it once.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { connect as natsConnect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ServiceError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { startFerretDB } from './ferretdb.js';
import {
  acquireLock,
  homePaths,
  isAlive,
  readPidFile,
  removePidFile,
  run,
  spawnDetached,
  stopPid,
  tailFile,
  tcpOpen,
  waitUntil,
  writePidFile,
  type PidInfo,
} from './proc.js';

/** What `services up/status` report; URLs are for display (credentials redacted). */
export interface ServicesStatus {
  mongo_url: string;
  redis_url: string;
  nats_url: string;
  mongo: ServiceState;
  redis: ServiceState;
  nats: ServiceState;
}

/**
 * source: 'env' = URL from MONGO_URL/REDIS_URL; 'started' = started by this servicesUp call
 * (for servicesStatus: by us, pid file + process alive); 'existing' = already answering.
 * pid/backend are set whenever our pid file names the running server.
 */
export interface ServiceState {
  url: string;
  source: 'env' | 'existing' | 'started';
  pid?: number;
  backend?: 'postgresql' | 'sqlite';
  up: boolean;
}

type Name = 'redis' | 'mongo' | 'nats';
const LOCAL = {
  redis: { host: '127.0.0.1', port: 6379, url: 'redis://127.0.0.1:6379' },
  mongo: { host: '127.0.0.1', port: 27017, url: 'mongodb://127.0.0.1:27017/' },
  nats: { host: '127.0.0.1', port: 4222, url: 'nats://127.0.0.1:4222' },
} as const;
const ENV_VAR: Record<Name, string> = { redis: 'REDIS_URL', mongo: 'MONGO_URL', nats: 'NATS_URL' };
const ENV_TIMEOUT_MS = 2000;
const LOCAL_TIMEOUT_MS = 1500;
const REDIS_START_TIMEOUT_MS = 15_000;
const NATS_START_TIMEOUT_MS = 15_000;
const MONGOD_START_TIMEOUT_MS = 30_000;
/** Long enough for a first FerretDB build (~2 min) plus its start. */
const LOCK_WAIT_MS = 10 * 60_000;

export async function pingMongo(url: string, timeoutMs: number, direct = false): Promise<void> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    socketTimeoutMS: timeoutMs * 2,
    maxPoolSize: 1,
    ...(direct ? { directConnection: true } : {}),
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function pingRedis(url: string, timeoutMs: number): Promise<void> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const pong = await r.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
  } finally {
    r.disconnect();
  }
}

/** A NATS handshake (INFO, CONNECT, PING/PONG), then close. */
export async function pingNats(url: string, timeoutMs: number): Promise<void> {
  const nc = await natsConnect({ servers: url, timeout: timeoutMs, reconnect: false, name: 'lnm-backfill-ping' });
  await nc.close();
}

const answers = (p: Promise<void>): Promise<boolean> => p.then(() => true, () => false);

function ping(name: Name, url: string, timeoutMs: number, direct = false): Promise<void> {
  if (name === 'redis') return pingRedis(url, timeoutMs);
  if (name === 'nats') return pingNats(url, timeoutMs);
  return pingMongo(url, timeoutMs, direct);
}

/** Cheap probe of the default local server: TCP first, then the protocol ping. */
async function localAnswers(name: Name): Promise<boolean> {
  const l = LOCAL[name];
  if (!(await tcpOpen(l.host, l.port, LOCAL_TIMEOUT_MS))) return false;
  return answers(ping(name, l.url, LOCAL_TIMEOUT_MS, true));
}

async function checkEnv(name: Name, url: string): Promise<ServiceState> {
  try {
    await ping(name, url, ENV_TIMEOUT_MS);
  } catch (err) {
    const v = ENV_VAR[name];
    throw new ServiceError(
      name,
      `${v}=${redactUrl(url)} does not answer ping (${(err as Error).message}). ` +
        `Fix: start that server or correct ${v}, or unset ${v} to let "services up" provide one on 127.0.0.1.`,
      err,
    );
  }
  return { url: redactUrl(url), source: 'env', up: true };
}

function ours(info: PidInfo | undefined): Pick<ServiceState, 'pid' | 'backend'> {
  if (!info || !isAlive(info.pid, info.name)) return {};
  return { pid: info.pid, ...(info.backend ? { backend: info.backend } : {}) };
}

/** Reuse what answers on the default port, else start it (once, under the lock). */
async function ensureLocal(cfg: Config, name: Name, log?: Logger): Promise<ServiceState> {
  const home = await homePaths(cfg.homeDir);
  const url = LOCAL[name].url;
  const existing = async (): Promise<ServiceState> => ({ url, source: 'existing', up: true, ...ours(await readPidFile(home.run, name)) });
  if (await localAnswers(name)) return existing();

  const release = await acquireLock(path.join(home.run, `${name}.lock`), {
    timeoutMs: LOCK_WAIT_MS,
    ready: () => localAnswers(name),
    onWait: (holder) => log?.info({ holder }, `waiting for another process to start ${name}`),
  }).catch((err: unknown) => {
    throw new ServiceError(name, `${(err as Error).message}. Fix: if no other "services up" runs, delete the lock file.`, err);
  });
  if (!release) return existing();
  try {
    if (await localAnswers(name)) return existing();
    const stale = await readPidFile(home.run, name);
    if (stale && isAlive(stale.pid, stale.name)) {
      log?.warn({ serverPid: stale.pid }, `our ${stale.name} does not answer; restarting it`);
      await stopPid(stale.pid);
    }
    await removePidFile(home.run, name);
    const { port, host } = LOCAL[name];
    if (await tcpOpen(host, port, LOCAL_TIMEOUT_MS)) {
      throw new ServiceError(name, `${host}:${port} is taken by a process that does not answer ${name} ping. Fix: stop it, or set ${ENV_VAR[name]}.`);
    }
    const started = name === 'redis' ? await startRedis(cfg, log) : name === 'nats' ? await startNats(cfg, log) : await startMongo(cfg, log);
    return { url, source: 'started', up: true, ...started };
  } finally {
    await release();
  }
}

async function startDetachedServer(
  cfg: Config,
  name: Name,
  cmd: string,
  args: string[],
  timeoutMs: number,
  log?: Logger,
): Promise<{ pid: number }> {
  const home = await homePaths(cfg.homeDir);
  const logFile = path.join(home.logs, `${cmd}.log`);
  const cwd = path.join(home.data, cmd);
  await fsp.mkdir(cwd, { recursive: true });
  const t0 = Date.now();
  const proc = await spawnDetached(cmd, args, { logFile, cwd }).catch((err: NodeJS.ErrnoException) => {
    const install = { redis: 'Redis (apt-get install redis-server / brew install redis)', mongo: 'MongoDB', nats: 'nats-server (apt-get install nats-server)' };
    const fix = `install ${install[name]} or set ${ENV_VAR[name]}`;
    throw new ServiceError(name, `cannot run ${cmd}: ${err.message}. Fix: ${fix}.`, err);
  });
  await writePidFile(home.run, name, { pid: proc.pid, name: cmd, startedAt: new Date().toISOString() });
  const res = await waitUntil(() => localAnswers(name), { timeoutMs, intervalMs: 100, abort: proc.exited });
  if (!res.ok) {
    if (isAlive(proc.pid, cmd)) await stopPid(proc.pid);
    await removePidFile(home.run, name);
    throw new ServiceError(name, `${cmd} did not answer ping: ${res.reason}. Log ${logFile}:\n${await tailFile(logFile)}\nFix: see the log.`);
  }
  log?.info({ serverPid: proc.pid, ms: Date.now() - t0 }, `${cmd} started`);
  return { pid: proc.pid };
}

function startRedis(cfg: Config, log?: Logger): Promise<{ pid: number }> {
  const { port, host } = LOCAL.redis;
  const args = ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  return startDetachedServer(cfg, 'redis', 'redis-server', args, REDIS_START_TIMEOUT_MS, log);
}

/** JetStream on, its store under <homeDir>/data/nats-server. */
async function startNats(cfg: Config, log?: Logger): Promise<{ pid: number }> {
  const { port, host } = LOCAL.nats;
  const home = await homePaths(cfg.homeDir);
  const args = ['-js', '-a', host, '-p', String(port), '-sd', path.join(home.data, 'nats-server', 'jetstream')];
  return startDetachedServer(cfg, 'nats', 'nats-server', args, NATS_START_TIMEOUT_MS, log);
}

async function startMongo(cfg: Config, log?: Logger): Promise<Pick<ServiceState, 'pid' | 'backend'>> {
  const { port, host } = LOCAL.mongo;
  if ((await run('mongod', ['--version'], { timeoutMs: 10_000 })).code === 0) {
    const home = await homePaths(cfg.homeDir);
    const dbpath = path.join(home.data, 'mongod');
    await fsp.mkdir(dbpath, { recursive: true });
    const args = ['--dbpath', dbpath, '--bind_ip', host, '--port', String(port)];
    return startDetachedServer(cfg, 'mongo', 'mongod', args, MONGOD_START_TIMEOUT_MS, log);
  }
  return startFerretDB(cfg, port, 'mongo', () => localAnswers('mongo'), log);
}

function settle<T>(results: PromiseSettledResult<T>[]): T[] {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Idempotent. Env URLs are checked first, so a wrong URL fails fast before anything starts. */
export async function servicesUp(cfg: Config, log?: Logger): Promise<ServicesStatus> {
  const envChecks = settle(
    await Promise.allSettled([
      cfg.redisUrlFromEnv ? checkEnv('redis', cfg.redisUrl) : undefined,
      cfg.mongoUrlFromEnv ? checkEnv('mongo', cfg.mongoUrl) : undefined,
      cfg.events.natsUrlFromEnv ? checkEnv('nats', cfg.events.natsUrl) : undefined,
    ]),
  );
  const [redis, mongo, nats] = settle(
    await Promise.allSettled([
      envChecks[0] ?? ensureLocal(cfg, 'redis', log),
      envChecks[1] ?? ensureLocal(cfg, 'mongo', log),
      envChecks[2] ?? ensureLocal(cfg, 'nats', log),
    ]),
  );
  if (!redis || !mongo || !nats) throw new ServiceError('services', 'internal: missing service state');
  return { mongo_url: mongo.url, redis_url: redis.url, nats_url: nats.url, mongo, redis, nats };
}

/** Stops only the servers whose pid files we wrote; never touches others. */
export async function servicesDown(cfg: Config, log?: Logger): Promise<{ stopped: string[] }> {
  const home = await homePaths(cfg.homeDir);
  const stopped: string[] = [];
  for (const name of ['redis', 'mongo', 'nats'] as const) {
    const info = await readPidFile(home.run, name);
    if (info && isAlive(info.pid, info.name)) {
      log?.info({ serverPid: info.pid }, `stopping ${info.name}`);
      await stopPid(info.pid);
      stopped.push(info.name);
    }
    await removePidFile(home.run, name);
  }
  return { stopped };
}

export async function servicesStatus(cfg: Config): Promise<ServicesStatus> {
  const home = await homePaths(cfg.homeDir);
  const state = async (name: Name, url: string, fromEnv: boolean): Promise<ServiceState> => {
    const up = fromEnv ? await answers(ping(name, url, ENV_TIMEOUT_MS)) : await localAnswers(name);
    if (fromEnv) return { url: redactUrl(url), source: 'env', up };
    const mine = ours(await readPidFile(home.run, name));
    return { url: LOCAL[name].url, source: mine.pid !== undefined ? 'started' : 'existing', up, ...mine };
  };
  const [redis, mongo, nats] = await Promise.all([
    state('redis', cfg.redisUrl, cfg.redisUrlFromEnv),
    state('mongo', cfg.mongoUrl, cfg.mongoUrlFromEnv),
    state('nats', cfg.events.natsUrl, cfg.events.natsUrlFromEnv),
  ]);
  return { mongo_url: mongo.url, redis_url: redis.url, nats_url: nats.url, mongo, redis, nats };
}
