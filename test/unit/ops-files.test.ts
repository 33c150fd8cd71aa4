/**
 * The deployment files parse, agree with each other, and name only metrics the monitor
 * exposes (monitor/http/metric-catalog.ts), so the dashboard, the alert rules and the
 * autoscaler cannot drift from the code. The tools (promtool, docker-compose) run in
 * test/integration/ops-tools.test.ts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARD_QUEUE_FAMILY } from '../../core/contract.js';
import { DEFAULT_METRICS, METRIC_CATALOG, METRICS, seriesNames } from '../../monitor/http/metric-catalog.js';
import {
  ALERTS, COMPOSE, DASHBOARD, PROMETHEUS, ROOT, dashboardExprs, filesUnder, metricNames, readJson, readYaml,
  readYamlDocuments, ruleExprs, unknownMetrics, type RuleFile,
} from '../helpers/ops-files.js';

const KNOWN = new Set(seriesNames([...METRIC_CATALOG, ...DEFAULT_METRICS]));

interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; datasource?: { uid?: string } }>;
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}
interface Service {
  image?: string;
  command?: string[];
  container_name?: string;
  ports?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  entrypoint?: string[];
}
interface K8sDoc {
  kind: string;
  apiVersion: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

const dashboard = readJson<Dashboard>(DASHBOARD);
const rules = readYaml<RuleFile>(ALERTS);
const compose = readYaml<{ services: Record<string, Service> }>(COMPOSE);
const services = compose.services;
const k8s = filesUnder('ops/k8s', ['.yaml', '.yml']).flatMap((f) => readYamlDocuments(path.join(ROOT, f)) as K8sDoc[]);
const scaledObject = k8s.find((d) => d.kind === 'ScaledObject');
const autoscalerQueries = ((scaledObject?.spec?.triggers ?? []) as Array<{ metadata: { query: string } }>).map((t) => ({
  where: 'ScaledObject',
  expr: t.metadata.query,
}));

describe('metric names in PromQL', () => {
  it('the extractor finds names in every syntax the files use and skips everything else', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le) (rate(a_bucket[$__rate_interval]))) + on (run_id, job) group_left () ' +
      'sum(b{state=~"x|y",run_id=~"$run_id"}) / clamp_min(c offset 5m, 1e3) > bool 2 and time() - d unless absent(e{job="f"})';
    expect(metricNames(expr).sort()).toEqual(['a_bucket', 'b', 'c', 'd', 'e']);
  });

  it('reports a metric that is not in the catalog (negative check on a dashboard snippet)', () => {
    const snippet = { panels: [{ title: 'typo', targets: [{ expr: 'sum(rate(lnm_backfill_edges_insertd_total[5m])) + lnm_backfill_shards_bucket + up' }] }] };
    expect(unknownMetrics(dashboardExprs(snippet), KNOWN)).toEqual([
      'panel "typo": lnm_backfill_edges_insertd_total',
      'panel "typo": lnm_backfill_shards_bucket',
      'panel "typo": up',
    ]);
    expect(unknownMetrics([{ where: 'ok', expr: 'lnm_backfill_collect_duration_seconds_bucket' }], KNOWN)).toEqual([]);
  });

  it('every metric in the dashboard, the alert rules and the autoscaler is exposed by the monitor', () => {
    const exprs = [...dashboardExprs(dashboard), ...ruleExprs(rules), ...autoscalerQueries];
    expect(exprs.length).toBeGreaterThan(25);
    expect(autoscalerQueries).toHaveLength(1);
    expect(unknownMetrics(exprs, KNOWN)).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  it('has the panels the runbook asks for, each on its metric', () => {
    const required: Record<string, string> = {
      'Idempotency violations': METRICS.idempotencyViolations.name,
      'MongoDB ops/s': METRICS.mongoOps.name,
      'Insert rate': METRICS.insertRate.name,
      'Error rate': METRICS.errors.name,
      'Oplog lag': METRICS.oplogLag.name,
      'Queue depth': METRICS.queueJobs.name,
      Progress: METRICS.runProgress.name,
      'Run state': METRICS.runState.name,
      ETA: METRICS.runEta.name,
    };
    for (const [title, metric] of Object.entries(required)) {
      const panels = dashboard.panels.filter((p) => p.title === title);
      expect(panels.length, title).toBeGreaterThan(0);
      const names = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)));
      expect(names, title).toContain(metric);
    }
  });

  it('uses the DS_PROMETHEUS datasource variable everywhere, so it imports and provisions alike', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')?.type).toBe('datasource');
    for (const p of dashboard.panels) {
      expect(p.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
    }
  });

  it('panels have unique ids and do not overlap on the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { title, gridPos: g } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe('alert rules', () => {
  it('has the rules issue 11 asks for, each with a severity and a summary naming the run', () => {
    const alerts = new Map(rules.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    for (const name of ['LnmBackfillRunTooLong', 'LnmBackfillOplogLagHigh', 'LnmBackfillIdempotencyViolation', 'LnmBackfillErrorRateHigh', 'LnmBackfillProgressStalled']) {
      const r = alerts.get(name);
      expect(r, name).toBeDefined();
      expect(['warning', 'critical']).toContain(r!.labels?.severity);
      expect(r!.annotations?.summary, name).toContain('{{ $labels.run_id }}');
    }
    expect(alerts.get('LnmBackfillRunTooLong')!.expr).toContain(METRICS.runActive.name);
  });
});

describe('docker-compose.yml', () => {
  it('keeps the data services and adds NATS JetStream for the app', () => {
    expect(services.mongo?.image).toBe('mongo:7');
    expect(services.mongo?.command).toEqual(expect.arrayContaining(['--replSet', 'rs0']));
    expect(services.redis?.image).toBe('redis:7');
    expect(services.redis?.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(services.nats?.image).toMatch(/^nats:2/);
    expect(services.nats?.command).toContain('-js');
    for (const name of ['producer', 'worker', 'monitor', 'publisher']) {
      expect(services[name]?.environment?.NATS_URL, name).toBe('nats://nats:4222');
      expect(Object.keys(services[name]?.depends_on ?? {}), name).toEqual(expect.arrayContaining(['mongo', 'redis', 'nats']));
    }
  });

  it('workers scale (no container name, no published port) and every published port is loopback', () => {
    expect(services.worker?.container_name).toBeUndefined();
    expect(services.worker?.ports).toBeUndefined();
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('the monitor listens on 9464 inside the container, is published on loopback and gets a token', () => {
    const m = services.monitor!;
    expect(m.command).toEqual(['monitor', '--port=9464', '--host=0.0.0.0']);
    expect(m.ports).toEqual(['127.0.0.1:9464:9464']);
    expect(m.environment?.LNM_MONITOR_TOKEN).toBe('${LNM_MONITOR_TOKEN:-}');
    expect(m.environment?.MONGO_URL).toBe(services.worker?.environment?.MONGO_URL);
  });

  it('the observability profile runs Prometheus and Grafana on the files in ops/', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(services[name]?.profiles, name).toEqual(['observability']);
      for (const v of services[name]?.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('./')) expect(existsSync(path.join(ROOT, src)), `${name} mounts ${src}`).toBe(true);
      }
    }
    const prom = services.prometheus!;
    expect(prom.volumes).toEqual(expect.arrayContaining([
      './ops/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
      './ops/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    ]));
    const graf = services.grafana!;
    const home = graf.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(graf.volumes).toContain(`./ops/grafana/lnm-backfill.json:${home}:ro`);
    expect(graf.volumes).toContain('./ops/grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});

describe('Prometheus and Grafana provisioning agree with compose and the rules', () => {
  type Scrape = { job_name: string; authorization: { credentials_file: string }; static_configs: Array<{ targets: string[] }> };
  const prom = readYaml<{ rule_files: string[]; scrape_configs: Scrape[] }>(PROMETHEUS);

  it('scrapes the monitor on its compose port with the token file the service writes, as the job the rules name', () => {
    const job = prom.scrape_configs[0]!;
    expect(job.static_configs[0]!.targets).toEqual(['monitor:9464']);
    expect(services.prometheus?.entrypoint?.join(' ')).toContain(`> ${job.authorization.credentials_file}`);
    expect(ruleExprs(rules).find((r) => r.where === 'rule LnmBackfillMonitorDown')?.expr).toContain(`job="${job.job_name}"`);
    expect(prom.rule_files).toEqual(['alerts.yml']);
  });

  it('Grafana reads the compose Prometheus and the folder the dashboard is mounted in', () => {
    const ds = readYaml<{ datasources: Array<{ type: string; url: string; isDefault: boolean }> }>(
      path.join(ROOT, 'ops/grafana/provisioning/datasources/prometheus.yml'),
    );
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    const prov = readYaml<{ providers: Array<{ type: string; options: { path: string } }> }>(
      path.join(ROOT, 'ops/grafana/provisioning/dashboards/lnm-backfill.yml'),
    );
    const home = services.grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(prov.providers[0]!.options.path).toBe(path.posix.dirname(home));
  });
});

describe('ops/ YAML and Kubernetes manifests', () => {
  it('every YAML file under ops/ parses', () => {
    const files = filesUnder('ops', ['.yaml', '.yml']);
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const f of files) expect(readYamlDocuments(path.join(ROOT, f)).length, f).toBeGreaterThan(0);
  });

  it('a YAML syntax error is reported (the parse check can fail)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lnm-yaml-'));
    try {
      const bad = path.join(dir, 'bad.yaml');
      writeFileSync(bad, 'kind: Deployment\n---\nspec: [1, 2\n');
      expect(() => readYamlDocuments(bad)).toThrow(/bad\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a worker Deployment, a single-replica monitor Deployment with its Service, config and an autoscaler', () => {
    const byKind = (kind: string, name: string): K8sDoc => {
      const d = k8s.find((x) => x.kind === kind && x.metadata.name === name);
      expect(d, `${kind}/${name}`).toBeDefined();
      return d!;
    };
    const worker = byKind('Deployment', 'lnm-backfill-worker');
    const monitor = byKind('Deployment', 'lnm-backfill-monitor');
    byKind('ConfigMap', 'lnm-backfill-config');
    expect(byKind('Secret', 'lnm-backfill-secrets').kind).toBe('Secret');
    const svc = byKind('Service', 'lnm-backfill-monitor');
    expect(monitor.spec?.replicas).toBe(1);
    expect(monitor.spec?.strategy).toEqual({ type: 'Recreate' });
    for (const dep of [worker, monitor]) {
      const spec = dep.spec as { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> } } };
      expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    }
    const monitorLabels = (monitor.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(monitorLabels).toMatchObject((svc.spec as { selector: Record<string, string> }).selector);
    const so = byKind('ScaledObject', 'lnm-backfill-worker');
    expect((so.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name).toBe(worker.metadata.name);
  });

  it('the autoscaler scales on waiting shard jobs of the shard queue', () => {
    const q = autoscalerQueries[0]!.expr;
    expect(metricNames(q)).toEqual([METRICS.queueJobs.name]);
    expect(q).toContain(`queue="${SHARD_QUEUE_FAMILY}"`);
    expect(q).toMatch(/state=~"[^"]*\bwaiting\b/);
  });
});
