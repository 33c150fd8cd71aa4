/**
 * The deployment files against the real tools: promtool (Debian `prometheus`) checks and
 * unit-tests the alert rules and parses every dashboard expression; docker-compose 1.29
 * (Debian `docker-compose`) validates the compose file without an engine. ensureTools
 * installs them on a fresh machine. Mutated copies prove each check can fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLog } from '../helpers/env.js';
import { stringify } from 'yaml';
import { run } from '../../core/services/proc.js';
import { ensureTools } from '../../core/services/tools.js';
import { ALERTS, ALERTS_TEST, COMPOSE, DASHBOARD, PROMETHEUS, ROOT, dashboardExprs, readJson } from '../helpers/ops-files.js';

/** A first install fetches the packages (measured ~31 s for all three tools). */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

let tools: Record<'promtool' | 'docker-compose', string>;
let tmp: string;

beforeAll(async () => {
  tools = await ensureTools(['promtool', 'docker-compose'], quietLog);
  tmp = await mkdtemp(path.join(tmpdir(), 'lnm-ops-'));
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const promtool = (...args: string[]) => run(tools.promtool, args, { timeoutMs: 60_000 });
const compose = (...args: string[]) => run(tools['docker-compose'], args, { cwd: ROOT, timeoutMs: 60_000 });

/** Makes a folder tree readable by every user (mkdtemp creates it 0700). */
async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chmodTree(p);
    else await chmod(p, 0o644);
  }
}

/** Processes whose command name is `name` (from /proc). */
function processesNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}

describe('ensureTools', () => {
  it('returns absolute paths of working tools and leaves no Prometheus server running', async () => {
    expect(path.isAbsolute(tools.promtool)).toBe(true);
    expect((await promtool('--version')).stdout).toMatch(/^promtool, version 2\./);
    expect((await compose('version')).stdout).toMatch(/docker-compose version 1\.29/);
    // Installing the `prometheus` package must not have started its server (:9090).
    expect(processesNamed('prometheus')).toEqual([]);
    const again = await ensureTools(['promtool', 'docker-compose']);
    expect(again).toEqual(tools);
  });

  it('without root it installs nothing and throws ERR_SERVICE naming the apt-get command', async () => {
    // The built module, copied where any user can read it, run as `nobody` (when we are
    // root) with a PATH that has no tool, no sh and no sudo: every tool is missing.
    const dir = await mkdtemp(path.join(tmp, 'nonroot-'));
    for (const f of ['core/errors.js', 'core/redact.js', 'core/services/proc.js', 'core/services/tools.js']) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await copyFile(path.join(ROOT, 'dist', f), path.join(dir, f));
    }
    await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
    await chmodTree(tmp);
    const script =
      `import(${JSON.stringify(path.join(dir, 'core/services/tools.js'))}).then((m) => m.ensureTools(['promtool', 'chromium']))` +
      '.then(() => console.log("{}"), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })))';
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    const [cmd, ...args] = [...asNobody, 'env', '-i', 'PATH=/nonexistent', process.execPath, '-e', script];
    const t0 = Date.now();
    const r = await run(cmd!, args, { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    // Fails fast and exits: no timer of a failed spawn keeps the process alive (10 s each).
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(JSON.parse(r.stdout)).toEqual({
      name: 'ServiceError',
      code: 'ERR_SERVICE',
      message: 'tools: missing promtool, chromium and not root (no passwordless sudo). Fix: as root, apt-get install -y --no-install-recommends prometheus chromium',
    });
  });
});

describe('alert rules (promtool)', () => {
  it('promtool check rules passes', async () => {
    const r = await promtool('check', 'rules', ALERTS);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 6 rules found/);
  });

  it('promtool test rules passes: every alert fires when it should and not before', async () => {
    const r = await promtool('test', 'rules', ALERTS_TEST);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  // Each threshold moved one way makes a rule fire too early, the other way too late:
  // the unit tests must catch both, for every rule.
  const mutations: Array<[string, string, string]> = [
    ['LnmBackfillRunTooLong', 'lnm_backfill_run_duration_seconds > 7200', 'lnm_backfill_run_duration_seconds > 7000'],
    ['LnmBackfillRunTooLong', 'lnm_backfill_run_duration_seconds > 7200', 'lnm_backfill_run_duration_seconds > 7300'],
    ['LnmBackfillRunTooLong', '7200\n          and on (run_id) lnm_backfill_run_active == 1\n', '7200\n'],
    ['LnmBackfillOplogLagHigh', '(lnm_backfill_oplog_lag_seconds > 60)', '(lnm_backfill_oplog_lag_seconds > 58)'],
    ['LnmBackfillOplogLagHigh', '(lnm_backfill_oplog_lag_seconds > 60)', '(lnm_backfill_oplog_lag_seconds > 62)'],
    ['LnmBackfillOplogLagHigh', '(lnm_backfill_run_active == 1)', 'lnm_backfill_run_active'],
    ['LnmBackfillIdempotencyViolation', 'lnm_backfill_idempotency_violations_total > 0', 'lnm_backfill_idempotency_violations_total >= 0'],
    ['LnmBackfillIdempotencyViolation', 'lnm_backfill_idempotency_violations_total > 0', 'lnm_backfill_idempotency_violations_total > 1'],
    ['LnmBackfillErrorRateHigh', ') > 0.01', ') >= 0.01'],
    ['LnmBackfillErrorRateHigh', ') > 0.01', ') > 0.02'],
    ['LnmBackfillErrorRateHigh', ') > 0.01\n          and on (run_id) lnm_backfill_run_active == 1\n', ') > 0.01\n'],
    ['LnmBackfillProgressStalled', '> 900', '> 800'],
    ['LnmBackfillProgressStalled', '> 900', '> 1000'],
    ['LnmBackfillProgressStalled', 'lnm_backfill_run_state{state="running"} == 1', 'lnm_backfill_run_state == 1'],
    ['LnmBackfillMonitorDown', 'for: 5m', 'for: 3m'],
    ['LnmBackfillMonitorDown', 'for: 5m', 'for: 7m'],
  ];
  it.each(mutations)('a mutated %s (%s -> %s) fails the rule tests', async (alert, from, to) => {
    const src = readFileSync(ALERTS, 'utf8');
    expect(src).toContain(from);
    const dir = await mkdtemp(path.join(tmp, 'mut-'));
    await writeFile(path.join(dir, 'alerts.yml'), src.replace(from, to));
    await writeFile(path.join(dir, 'alerts.test.yml'), readFileSync(ALERTS_TEST, 'utf8'));
    const r = await promtool('test', 'rules', path.join(dir, 'alerts.test.yml'));
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`alertname: ${alert}`);
  });

  it('prometheus.yml is valid Prometheus configuration', async () => {
    const r = await promtool('check', 'config', '--syntax-only', PROMETHEUS);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe('dashboard expressions (promtool)', () => {
  /** Grafana's variables replaced by values PromQL accepts, as Grafana does before querying. */
  const expand = (expr: string): string =>
    expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m').replace(/\$run_id/g, '.*');

  async function checkAsRules(exprs: string[]): Promise<{ code: number | null; out: string }> {
    const file = path.join(tmp, `dashboard-${Date.now()}.rules.yml`);
    const rules = exprs.map((expr, i) => ({ record: `lnm_backfill:dashboard_check_${i}`, expr: expand(expr) }));
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = await promtool('check', 'rules', file);
    return { code: r.code, out: r.stdout + r.stderr };
  }

  it('every panel expression is valid PromQL', async () => {
    const exprs = dashboardExprs(readJson(DASHBOARD)).map((e) => e.expr);
    expect(exprs.length).toBeGreaterThan(20);
    const r = await checkAsRules(exprs);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${exprs.length} rules found`);
  });

  it('a broken expression is reported (the check can fail)', async () => {
    const r = await checkAsRules(['sum by (run_id) (lnm_backfill_shards{run_id=~"$run_id"}']);
    expect(r.code).toBe(1);
  });
});

describe('docker-compose.yml (docker-compose 1.29, no engine)', () => {
  it('docker-compose config -q accepts it, profiles and depends_on conditions included', async () => {
    const r = await compose('-f', COMPOSE, 'config', '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/WARN/i);
    const services = await compose('-f', COMPOSE, '--profile', 'observability', 'config', '--services');
    expect(services.stdout.trim().split('\n').sort()).toEqual(['grafana', 'mongo', 'monitor', 'nats', 'producer', 'prometheus', 'publisher', 'redis', 'worker']);
  });

  it('an invalid depends_on condition is refused (the check can fail)', async () => {
    const bad = path.join(tmp, 'bad-compose.yml');
    await writeFile(bad, readFileSync(COMPOSE, 'utf8').replaceAll('condition: service_healthy', 'condition: service_ready'));
    const r = await compose('-f', bad, '--project-directory', ROOT, 'config', '-q');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('service_ready');
  });
});
