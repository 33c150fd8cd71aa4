/**
 * Probes of the MongoDB-wire server: replication lag and primary load. Every probe has
 * a timeout and never throws: what cannot be measured is reported as unavailable/null.
 * The computations are pure and exported for unit tests.
 */
import type { Db, Document } from 'mongodb';
import type { Lag, ProbeSample } from './decisions.js';

/** Anything that yields a sample; the monitor accepts any implementation. */
export type Probe = () => Promise<ProbeSample>;

/** A cumulative server counter reading. `total` is null when the server has no opcounters. */
export interface LoadSample {
  at: number;
  total: number | null;
  /** mongod user + system CPU time in microseconds, null when not reported. */
  cpuUs: number | null;
}

export interface LoadReading {
  opsPerS: number | null;
  cpuPct: number | null;
  flowControl: { enabled: boolean; isLagged: boolean } | null;
  /** Pass back as `prev` next time; null when serverStatus failed. */
  sample: LoadSample | null;
}

const NO_REPL_CODES: Readonly<Record<number, string>> = {
  76: 'not a replica set (NoReplicationEnabled)',
  59: 'replSetGetStatus not supported (CommandNotFound)',
  115: 'replSetGetStatus not supported (CommandNotSupported)',
  238: 'replSetGetStatus not implemented (NotImplemented)',
  94: 'replica set not yet initialized (NotYetInitialized)',
};

class ProbeTimeout extends Error {}

/** Resolves with `p` or rejects with ProbeTimeout after `ms`; the loser is left to settle quietly. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`timeout after ${ms}ms`)), ms);
    timer.unref();
  });
  p.catch(() => undefined);
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(err: unknown): string {
  if (err instanceof ProbeTimeout) return 'timeout';
  const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
  if (typeof e.code === 'number' && NO_REPL_CODES[e.code]) return NO_REPL_CODES[e.code]!;
  const name = typeof e.codeName === 'string' ? e.codeName : typeof e.code === 'number' ? `code ${e.code}` : 'error';
  const msg = typeof e.message === 'string' ? e.message : String(err);
  return `${name}: ${msg}`.slice(0, 300);
}

/** Wall-clock ms of a value that may be a Date, an ISO string or epoch ms. */
function toMs(v: unknown): number | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.getTime();
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** A member's last applied write as wall time: lastAppliedWallTime, else optimeDate. */
function memberWallMs(m: Document): number | null {
  const applied = toMs(m.lastAppliedWallTime);
  // An epoch-0 wall time means "never applied / unknown" in replSetGetStatus.
  if (applied !== null && applied > 0) return applied;
  const opt = toMs(m.optimeDate);
  return opt !== null && opt > 0 ? opt : null;
}

const isPrimary = (m: Document): boolean => m.state === 1 || m.stateStr === 'PRIMARY';
const isSecondary = (m: Document): boolean => m.state === 2 || m.stateStr === 'SECONDARY';

/**
 * Lag of the most lagging SECONDARY behind the primary, in seconds, from a
 * `replSetGetStatus` reply. No secondaries = 0 (nothing lags). No primary, or a
 * primary without an optime, = unavailable. A secondary that looks ahead counts as 0.
 */
export function lagFromReplSetStatus(status: Document | null | undefined): Lag {
  const members: unknown = status?.members;
  if (!Array.isArray(members)) return { available: false, reason: 'replSetGetStatus has no members' };
  const docs = members.filter((m): m is Document => typeof m === 'object' && m !== null);
  const primary = docs.find(isPrimary);
  if (!primary) return { available: false, reason: 'no primary' };
  const primaryMs = memberWallMs(primary);
  if (primaryMs === null) return { available: false, reason: 'primary has no optime' };
  let worst = 0;
  for (const m of docs) {
    if (!isSecondary(m)) continue;
    const ms = memberWallMs(m);
    if (ms === null) continue;
    worst = Math.max(worst, (primaryMs - ms) / 1000);
  }
  return { available: true, seconds: worst };
}

/** Replication lag via `replSetGetStatus`; never throws. */
export async function probeLag(db: Db, timeoutMs: number): Promise<Lag> {
  try {
    const status = await withTimeout(db.admin().command({ replSetGetStatus: 1 }), timeoutMs);
    return lagFromReplSetStatus(status);
  } catch (err) {
    return { available: false, reason: describeError(err) };
  }
}

const OPS = ['insert', 'query', 'update', 'delete', 'getmore', 'command'] as const;

/** Sum of the opcounters, or null when the reply has none (FerretDB). */
export function opcountersTotal(serverStatus: Document): number | null {
  const oc: unknown = serverStatus.opcounters;
  if (typeof oc !== 'object' || oc === null) return null;
  let total = 0;
  let seen = 0;
  for (const k of OPS) {
    const v = Number((oc as Record<string, unknown>)[k]); // counters may be Long/Int64
    if (Number.isFinite(v)) {
      total += v;
      seen += 1;
    }
  }
  return seen > 0 ? total : null;
}

/**
 * Operations per second between two cumulative readings. Null without a previous
 * reading, without elapsed time, or when the counter went backwards (server restart).
 */
export function opsPerSecond(
  prev: { at: number; total: number | null } | null | undefined,
  cur: { at: number; total: number | null },
): number | null {
  if (!prev || prev.total === null || cur.total === null) return null;
  const dtMs = cur.at - prev.at;
  const dOps = cur.total - prev.total;
  if (dtMs <= 0 || dOps < 0) return null;
  return (dOps * 1000) / dtMs;
}

/** CPU percent of the whole machine between two readings; null when unknown. */
export function cpuPercent(
  prev: { at: number; cpuUs: number | null } | null | undefined,
  cur: { at: number; cpuUs: number | null },
  cores: number | null,
): number | null {
  if (!prev || prev.cpuUs === null || cur.cpuUs === null || !cores || cores <= 0) return null;
  const dtUs = (cur.at - prev.at) * 1000;
  const dCpu = cur.cpuUs - prev.cpuUs;
  if (dtUs <= 0 || dCpu < 0) return null;
  return Math.min(100, (dCpu / dtUs / cores) * 100);
}

function cpuUsOf(serverStatus: Document): number | null {
  const x: unknown = serverStatus.extra_info;
  if (typeof x !== 'object' || x === null) return null;
  const u = Number((x as Document).user_time_us);
  const s = Number((x as Document).system_time_us);
  return Number.isFinite(u) && Number.isFinite(s) ? u + s : null;
}

function flowControlOf(serverStatus: Document): LoadReading['flowControl'] {
  const fc: unknown = serverStatus.flowControl;
  if (typeof fc !== 'object' || fc === null) return null;
  const d = fc as Document;
  return { enabled: d.enabled === true, isLagged: d.isLagged === true };
}

/**
 * Primary load via `serverStatus`: ops/s from the opcounters delta with `prev`, CPU from
 * extra_info user/system time (Linux) normalised by `cores`, flow control if reported.
 * Never throws.
 */
export async function probeLoad(
  db: Db,
  prev: LoadSample | null | undefined,
  timeoutMs: number,
  cores: number | null = null,
): Promise<LoadReading> {
  let status: Document;
  try {
    status = await withTimeout(
      db.admin().command({ serverStatus: 1, locks: 0, metrics: 0, wiredTiger: 0, tcmalloc: 0, repl: 0 }),
      timeoutMs,
    );
  } catch {
    return { opsPerS: null, cpuPct: null, flowControl: null, sample: null };
  }
  const sample: LoadSample = { at: Date.now(), total: opcountersTotal(status), cpuUs: cpuUsOf(status) };
  return {
    opsPerS: opsPerSecond(prev, sample),
    cpuPct: cpuPercent(prev, sample, cores),
    flowControl: flowControlOf(status),
    sample,
  };
}

/** Number of cores of the server's host via `hostInfo`, null when unknown. Never throws. */
export async function probeCores(db: Db, timeoutMs: number): Promise<number | null> {
  try {
    const info = await withTimeout(db.admin().command({ hostInfo: 1 }), timeoutMs);
    const n = Number((info.system as Document | undefined)?.numCores);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Lag + load in one sample; keeps the previous load reading (and the core count) in a closure. */
export function makeMongoProbe(db: Db, timeoutMs: number): Probe {
  let prev: LoadSample | null = null;
  let cores: number | null = null;
  let coreAttempts = 0;
  return async () => {
    if (cores === null && coreAttempts < 3) {
      coreAttempts += 1;
      cores = await probeCores(db, timeoutMs);
    }
    const [lag, load] = await Promise.all([probeLag(db, timeoutMs), probeLoad(db, prev, timeoutMs, cores)]);
    if (load.sample) prev = load.sample;
    return {
      at: load.sample?.at ?? Date.now(),
      lag,
      opsPerS: load.opsPerS,
      cpuPct: load.cpuPct,
      flowControl: load.flowControl,
    };
  };
}
