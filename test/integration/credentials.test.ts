/**
 * No credential ever reaches stdout, stderr or a file under LNM_HOME. The CLI runs with
 * password-bearing URLs: against the real services where they accept them (the shared
 * Redis takes any password for its passwordless default user; FerretDB would open a new
 * PostgreSQL pool per user/password, so MongoDB carries its secret in a parameter the
 * server ignores, tlsCertificateKeyFilePassword), and against closed ports for every
 * error path (user:password@ in both URLs). Every captured line is searched for the password.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pipelineConfig, removeHome, runCli, type CliResult } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';

const PW = 'Zq7-s3cr3t-PW';
const OK_ENV = {
  MONGO_URL: `mongodb://127.0.0.1:27017/?tlsCertificateKeyFilePassword=${PW}`,
  REDIS_URL: `redis://:${PW}@127.0.0.1:6379`,
  LNM_LOG_LEVEL: 'debug',
};
const BAD_ENV = {
  MONGO_URL: `mongodb://admin:${PW}@127.0.0.1:1/?serverSelectionTimeoutMS=1000`,
  REDIS_URL: `redis://default:${PW}@127.0.0.1:1`,
  LNM_LOG_LEVEL: 'debug',
};
const res = useResources();
const ok = pipelineConfig('credentials', OK_ENV);
res.adopt(ok); // migrated by the test itself, through the CLI
const bad = pipelineConfig('credentials_bad', BAD_ENV);
// Its services are closed ports: only its home is left to remove.
res.track({ close: async () => removeHome(bad.home) });
const captured: Array<{ what: string; text: string }> = [];

async function cli(which: typeof ok, args: string[]): Promise<CliResult> {
  const r = await runCli(which.cfg, args);
  captured.push({ what: `lnm-backfill ${args.join(' ')} (stdout)`, text: r.stdout }, { what: `lnm-backfill ${args.join(' ')} (stderr)`, text: r.stderr });
  return r;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const doc = (id: string, rev: number) =>
  JSON.stringify({
    tenant: 'cred',
    source: { vendor: 'osv' },
    upstream: { upstream_id: id, fetched_at: `2024-01-0${rev + 1}T00:00:00Z`, content_hash: `sha256:${String(rev).repeat(64)}` },
    content: { raw: { id, rev } },
  });

describe('credentials never reach the output', () => {
  it('services status/up show the env URLs redacted', async () => {
    const status = await cli(ok, ['services', 'status', '--json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { mongo: { url: string; up: boolean }; redis: { url: string; up: boolean } };
    expect(s.mongo).toMatchObject({ up: true, url: 'mongodb://127.0.0.1:27017/?tlsCertificateKeyFilePassword=***' });
    expect(s.redis).toMatchObject({ up: true, url: 'redis://:***@127.0.0.1:6379' });
    const down = await cli(bad, ['services', 'status', '--json']);
    expect(JSON.parse(down.stdout)).toMatchObject({ mongo: { up: false, url: expect.stringContaining('admin:***@') }, redis: { up: false } });
    const up = await cli(bad, ['services', 'up', '--json']);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/ERR_SERVICE: .*(MONGO_URL|REDIS_URL)=\S+:\*\*\*@/);
  });

  it('import, a run with a local worker, status and validate log nothing secret', async () => {
    const file = path.join(ok.home, 'cred.jsonl');
    writeFileSync(file, `${[doc('C-1', 0), doc('C-1', 1), doc('C-2', 0), '{"broken":'].join('\n')}\n`);
    expect((await cli(ok, ['migrate', '--json'])).code).toBe(0);
    const imp = await cli(ok, ['import', file, '--json']);
    expect(imp.code).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ accepted: 3, rejected: { ERR_INPUT_JSON: 1 } });
    const start = await cli(ok, ['start', '--force', '--reason=test', '--wait', '--local-workers=1', '--json']);
    expect(start.code).toBe(0);
    const run = JSON.parse(start.stdout.trim().split('\n').pop()!) as { run_id: string; state: string; edges_inserted: number };
    expect(run).toMatchObject({ state: 'succeeded', edges_inserted: 1 });
    expect((await cli(ok, ['status', run.run_id, '--json'])).code).toBe(0);
    expect((await cli(ok, ['validate', run.run_id, '--json'])).code).toBe(0);
    expect((await cli(ok, ['status', 'run-20200101T000000Z-abcdef', '--json'])).code).toBe(1);
    expect(captured.some((c) => c.text.includes('"msg":"import finished"'))).toBe(true);
  }, 300_000);

  it('connection failures name the URL redacted', async () => {
    const status = await cli(bad, ['status', 'run-20200101T000000Z-abcdef', '--json']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('lnm-backfill: ERR_SERVICE: mongodb: cannot connect to mongodb://admin:***@127.0.0.1:1/');
    const imp = await cli(bad, ['import', path.join(ok.home, 'cred.jsonl'), '--json']);
    expect(imp.code).toBe(1);
    expect(imp.stderr).toContain('admin:***@127.0.0.1:1');
  }, 120_000);

  it('an unparseable URL is not echoed with its password', async () => {
    const r = await runCli(ok.cfg, ['services', 'status'], { MONGO_URL: `mongodb://admin:${PW}@h1:27017,h2:oops/` });
    captured.push({ what: 'bad MONGO_URL (stderr)', text: r.stderr }, { what: 'bad MONGO_URL (stdout)', text: r.stdout });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('lnm-backfill: ERR_CONFIG: MONGO_URL: "mongodb://admin:***@h1:27017,h2:oops/"');
  });

  it('no captured line and no file under LNM_HOME holds the password', async () => {
    for (const home of [ok.home, bad.home]) {
      for (const f of filesUnder(home)) captured.push({ what: f, text: readFileSync(f, 'utf8') });
    }
    expect(captured.length).toBeGreaterThan(20);
    const lines = captured.flatMap((c) => c.text.split('\n').map((line) => ({ what: c.what, line })));
    expect(lines.filter((l) => l.line.includes(PW))).toEqual([]);
    expect(lines.filter((l) => l.line.includes('***')).length).toBeGreaterThan(5);
  });

  res.leakCheck(); // no live worker on the run's prefix, no monitor lock held
});
