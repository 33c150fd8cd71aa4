import { describe, it, expect, vi, afterEach } from 'vitest';
import { Long, MongoServerError, Timestamp, type Db, type Document } from 'mongodb';
import {
  cpuPercent, lagFromReplSetStatus, makeMongoProbe, opcountersTotal, opsPerSecond, probeLag, probeLoad,
} from '../../monitor/probes.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

/** One member as the Node driver decodes MongoDB 7's replSetGetStatus (members[i]). */
function member(id: number, stateStr: 'PRIMARY' | 'SECONDARY' | 'ARBITER' | '(not reachable/healthy)', wallMs: number): Document {
  const state = { PRIMARY: 1, SECONDARY: 2, ARBITER: 7, '(not reachable/healthy)': 8 }[stateStr];
  const optime = { ts: new Timestamp({ t: Math.floor(wallMs / 1000), i: 1 }), t: Long.fromNumber(3) };
  const base: Document = {
    _id: id,
    name: `mongo-${id}.lnm.test:27017`,
    health: state === 8 ? 0 : 1,
    state,
    stateStr,
    uptime: 5231,
    optime,
    optimeDate: new Date(Math.floor(wallMs / 1000) * 1000),
    lastAppliedWallTime: new Date(wallMs),
    lastDurableWallTime: new Date(wallMs),
    syncSourceHost: state === 2 ? 'mongo-0.lnm.test:27017' : '',
    syncSourceId: state === 2 ? 0 : -1,
    infoMessage: '',
    configVersion: 1,
    configTerm: 3,
  };
  if (state === 1) return { ...base, electionTime: new Timestamp({ t: 1714560000, i: 1 }), electionDate: new Date(1714560000000), self: true, lastHeartbeatMessage: '' };
  if (state === 8) {
    // A down member reports epoch-0 optimes; it is not a SECONDARY and must not count.
    return { ...base, optime: { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) }, optimeDate: new Date(0), lastAppliedWallTime: new Date(0), lastDurableWallTime: new Date(0) };
  }
  return {
    ...base,
    optimeDurable: optime,
    optimeDurableDate: base.optimeDate,
    lastHeartbeat: new Date(T0),
    lastHeartbeatRecv: new Date(T0),
    pingMs: Long.fromNumber(0),
    lastHeartbeatMessage: '',
  };
}

function status(members: Document[]): Document {
  return {
    set: 'rs0',
    date: new Date(T0),
    myState: 1,
    term: Long.fromNumber(3),
    syncSourceHost: '',
    syncSourceId: -1,
    heartbeatIntervalMillis: Long.fromNumber(2000),
    majorityVoteCount: 2,
    writeMajorityCount: 2,
    votingMembersCount: members.length,
    writableVotingMembersCount: members.length,
    optimes: {
      lastCommittedOpTime: { ts: new Timestamp({ t: T0 / 1000, i: 1 }), t: Long.fromNumber(3) },
      lastCommittedWallTime: new Date(T0),
      appliedOpTime: { ts: new Timestamp({ t: T0 / 1000, i: 1 }), t: Long.fromNumber(3) },
      lastAppliedWallTime: new Date(T0),
    },
    members,
    ok: 1,
    $clusterTime: { clusterTime: new Timestamp({ t: T0 / 1000, i: 1 }) },
    operationTime: new Timestamp({ t: T0 / 1000, i: 1 }),
  };
}

describe('lagFromReplSetStatus', () => {
  it.each<[string, Document | null, unknown]>([
    ['1 primary + 2 secondaries lagging 3 s and 12 s -> 12',
      status([member(0, 'PRIMARY', T0), member(1, 'SECONDARY', T0 - 3000), member(2, 'SECONDARY', T0 - 12_000)]),
      { available: true, seconds: 12 }],
    ['sub-second precision from lastAppliedWallTime',
      status([member(0, 'PRIMARY', T0 + 400), member(1, 'SECONDARY', T0 - 1100)]),
      { available: true, seconds: 1.5 }],
    ['single-node replica set -> 0, available', status([member(0, 'PRIMARY', T0)]), { available: true, seconds: 0 }],
    ['secondary slightly ahead counts as 0',
      status([member(0, 'PRIMARY', T0), member(1, 'SECONDARY', T0 + 200)]), { available: true, seconds: 0 }],
    ['down member and arbiter are ignored',
      status([member(0, 'PRIMARY', T0), member(1, 'SECONDARY', T0 - 2000), member(2, '(not reachable/healthy)', 0), member(3, 'ARBITER', 0)]),
      { available: true, seconds: 2 }],
    ['no primary -> unavailable',
      status([member(1, 'SECONDARY', T0 - 3000), member(2, 'SECONDARY', T0)]), { available: false, reason: 'no primary' }],
    ['no members -> unavailable', { ok: 1 }, { available: false, reason: 'replSetGetStatus has no members' }],
    ['null reply -> unavailable', null, { available: false, reason: 'replSetGetStatus has no members' }],
  ])('%s', (_name, fixture, expected) => {
    expect(lagFromReplSetStatus(fixture)).toEqual(expected);
  });

  it('falls back to optimeDate when lastAppliedWallTime is absent', () => {
    const strip = (m: Document): Document => {
      const { lastAppliedWallTime: _drop, ...rest } = m;
      return rest;
    };
    const s = status([strip(member(0, 'PRIMARY', T0)), strip(member(1, 'SECONDARY', T0 - 7000))]);
    expect(lagFromReplSetStatus(s)).toEqual({ available: true, seconds: 7 });
  });
});

describe('opsPerSecond', () => {
  it.each<[string, { at: number; total: number | null } | null, { at: number; total: number | null }, number | null]>([
    ['first sample -> null', null, { at: 2000, total: 500 }, null],
    ['delta over one second', { at: 1000, total: 100 }, { at: 2000, total: 600 }, 500],
    ['delta over half a second', { at: 1000, total: 100 }, { at: 1500, total: 600 }, 1000],
    ['no elapsed time -> null', { at: 1000, total: 100 }, { at: 1000, total: 600 }, null],
    ['counter reset (restart) -> null', { at: 1000, total: 600 }, { at: 2000, total: 10 }, null],
    ['no opcounters -> null', { at: 1000, total: null }, { at: 2000, total: null }, null],
    ['idle server -> 0', { at: 1000, total: 100 }, { at: 3000, total: 100 }, 0],
  ])('%s', (_name, prev, cur, expected) => {
    expect(opsPerSecond(prev, cur)).toBe(expected);
  });
});

describe('opcountersTotal', () => {
  it('sums insert/query/update/delete/getmore/command, including Long counters', () => {
    const ss = { opcounters: { insert: Long.fromNumber(10), query: 20, update: 30, delete: 4, getmore: 5, command: 100, deprecated: { total: 999 } } };
    expect(opcountersTotal(ss)).toBe(169);
  });
  it('is null without opcounters (FerretDB)', () => {
    expect(opcountersTotal({ host: 'ferretdb', version: '7.0.77', ok: 1 })).toBeNull();
  });
});

describe('cpuPercent', () => {
  it.each<[string, { at: number; cpuUs: number | null } | null, number | null, number | null]>([
    ['one core fully busy on 4 cores -> 25%', { at: 0, cpuUs: 0 }, 4, 25],
    ['first sample -> null', null, 4, null],
    ['unknown core count -> null', { at: 0, cpuUs: 0 }, null, null],
    ['no extra_info times -> null', { at: 0, cpuUs: null }, 4, null],
  ])('%s', (_name, prev, cores, expected) => {
    expect(cpuPercent(prev, { at: 1000, cpuUs: 1_000_000 }, cores)).toBe(expected);
  });
});

/** A stand-in for `Db` whose admin().command answers from a function (the only call the probes make). */
function fakeDb(answer: (cmd: Document) => Promise<Document>): Db {
  return { admin: () => ({ command: answer }) } as unknown as Db;
}
const serverError = (code: number, codeName: string, errmsg: string) => new MongoServerError({ ok: 0, code, codeName, errmsg });

describe('probeLag / probeLoad / makeMongoProbe error handling', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each<[string, () => Promise<Document>, RegExp]>([
    ['standalone (code 76)', () => Promise.reject(serverError(76, 'NoReplicationEnabled', 'not running with --replSet')), /NoReplicationEnabled/],
    ['FerretDB (code 59)', () => Promise.reject(serverError(59, 'CommandNotFound', "no such command: 'replSetGetStatus'")), /CommandNotFound/],
    ['other server error', () => Promise.reject(serverError(13, 'Unauthorized', 'not authorized on admin')), /^Unauthorized: not authorized/],
    ['network error', () => Promise.reject(new Error('connection reset')), /connection reset/],
    ['timeout', () => new Promise<Document>(() => undefined), /^timeout$/],
  ])('probeLag never throws: %s -> unavailable', async (_name, answer, reason) => {
    const lag = await probeLag(fakeDb(answer), 30);
    expect(lag.available).toBe(false);
    expect(lag.available ? '' : lag.reason).toMatch(reason);
  });

  it('probeLag computes lag from a replica set reply', async () => {
    const reply = status([member(0, 'PRIMARY', T0), member(1, 'SECONDARY', T0 - 4000)]);
    expect(await probeLag(fakeDb(async () => reply), 1000)).toEqual({ available: true, seconds: 4 });
  });

  it('probeLoad never throws: a failing or hanging serverStatus gives nulls', async () => {
    const empty = { opsPerS: null, cpuPct: null, flowControl: null, sample: null };
    expect(await probeLoad(fakeDb(() => Promise.reject(new Error('boom'))), null, 30)).toEqual(empty);
    expect(await probeLoad(fakeDb(() => new Promise<Document>(() => undefined)), null, 30)).toEqual(empty);
  });

  it('makeMongoProbe keeps the previous reading: ops/s, cpu and flow control on the second sample', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    let ops = 1000;
    let cpuUs = 0;
    const db = fakeDb(async (cmd) => {
      if ('hostInfo' in cmd) return { system: { numCores: 2 }, ok: 1 };
      if ('replSetGetStatus' in cmd) return status([member(0, 'PRIMARY', T0), member(1, 'SECONDARY', T0 - 3000)]);
      return {
        opcounters: { insert: ops, query: 0, update: 0, delete: 0, getmore: 0, command: 0 },
        extra_info: { note: 'fields vary by platform', user_time_us: cpuUs, system_time_us: 0 },
        flowControl: { enabled: true, targetRateLimit: 1_000_000_000, isLagged: false, isLaggedCount: 0 },
        ok: 1,
      };
    });
    const probe = makeMongoProbe(db, 1000);
    const first = await probe();
    expect(first).toMatchObject({ at: T0, lag: { available: true, seconds: 3 }, opsPerS: null, cpuPct: null });
    vi.setSystemTime(T0 + 2000);
    ops += 600;
    cpuUs += 1_000_000; // 1 s of CPU in 2 s on 2 cores = 25%
    const second = await probe();
    expect(second).toEqual({
      at: T0 + 2000,
      lag: { available: true, seconds: 3 },
      opsPerS: 300,
      cpuPct: 25,
      flowControl: { enabled: true, isLagged: false },
    });
  });
});
