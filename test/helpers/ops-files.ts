/**
 * Reading the ops/ files for tests: the PromQL expressions of the Grafana dashboard, the
 * alert rules and the autoscaler, and a small extractor of the metric names an
 * expression selects, so a test can check them against monitor/http/metric-catalog.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DASHBOARD = path.join(ROOT, 'ops/grafana/lnm-backfill.json');
export const ALERTS = path.join(ROOT, 'ops/prometheus/alerts.yml');
export const ALERTS_TEST = path.join(ROOT, 'ops/prometheus/alerts.test.yml');
export const PROMETHEUS = path.join(ROOT, 'ops/prometheus/prometheus.yml');
export const COMPOSE = path.join(ROOT, 'docker-compose.yml');
export const K8S = path.join(ROOT, 'ops/k8s');

/** PromQL words that are neither metric names nor followed by `(`. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);

/**
 * Metric names an expression selects. Strings, label matchers `{…}`, ranges `[…]` and
 * grouping label lists (`by (…)`, `on (…)`, `group_left (…)`) are cut out first; what
 * is left is an identifier that is not a keyword and not called like a function (that
 * also covers aggregations: `sum by (x) (…)` becomes `sum (…)`).
 */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  const re = /(?<![\w:$.])[A-Za-z_:][\w:]*/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\s*\(/.test(s.slice(re.lastIndex))) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** `where: name` for every metric name in the expressions that is not in `known`. */
export function unknownMetrics(exprs: ReadonlyArray<{ where: string; expr: string }>, known: ReadonlySet<string>): string[] {
  return exprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !known.has(n)).map((n) => `${where}: ${n}`));
}

interface DashboardPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: DashboardPanel[];
}
interface Dashboard {
  panels: DashboardPanel[];
  templating?: { list: Array<{ name: string; query?: string | { query?: string } }> };
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Panel target expressions (rows' nested panels too) and `label_values(selector, …)` of variables. */
export function dashboardExprs(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (panels: DashboardPanel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const sel = q && /label_values\(\s*([^,]+?)\s*,/.exec(q);
    if (sel) out.push({ where: `variable $${v.name}`, expr: sel[1]! });
  }
  return out;
}

export interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

export function ruleExprs(rules: RuleFile): Array<{ where: string; expr: string }> {
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })));
}

export function readYaml<T>(file: string): T {
  return parse(readFileSync(file, 'utf8'), { merge: true }) as T;
}

/** Every document of a (multi-document) YAML file; throws on the first syntax error. */
export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  });
}

/** Repo-relative paths of the files under `dir` whose names end with one of `exts`. */
export function filesUnder(dir: string, exts: readonly string[]): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((n) => {
    const rel = path.join(dir, n);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return filesUnder(rel, exts);
    return exts.some((e) => n.endsWith(e)) ? [rel] : [];
  });
}
