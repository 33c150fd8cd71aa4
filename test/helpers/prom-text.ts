/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), written from
 * the format's rules, for tests: `# HELP` / `# TYPE` lines, then samples
 * `name{label="value",...} value [timestamp]`. It throws on any line it cannot read, on a
 * sample of a family with no TYPE, on a TYPE given twice or after the family's samples,
 * and on a sample repeated with the same labels.
 */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

function parseValue(v: string, line: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`bad value "${v}" in: ${line}`);
  return Number(v);
}

/** `{a="x",b="y\"z"}` from index 0 of `s`; returns the labels and the rest after `}`. */
function parseLabels(s: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    const name = s.slice(i, eq);
    if (eq < 0 || !LABEL.test(name) || s[eq + 1] !== '"') throw new Error(`bad label at "${s.slice(i)}" in: ${line}`);
    let j = eq + 2;
    let value = '';
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const next = s[++j];
        value += next === 'n' ? '\n' : next;
      } else value += s[j];
    }
    if (j >= s.length) throw new Error(`unterminated label value in: ${line}`);
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
  return { labels, rest: s.slice(i + 1) };
}

/** The family a series name belongs to (histogram `_bucket`, `_sum`, `_count`). */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  if (families.has(name)) return families.get(name);
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const f = m ? families.get(m[1]!) : undefined;
  return f && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      const f = families.get(name) ?? { name, type: '', help: '', samples: [] };
      families.set(name, f);
      if (kind === 'TYPE') {
        if (f.type) throw new Error(`TYPE twice for ${name}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        f.type = rest;
      } else f.help = rest;
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    if (nameEnd < 0 || !NAME.test(name)) throw new Error(`bad sample line: ${line}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`bad sample line: ${line}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in: ${line}`);
    const f = familyOf(name, families);
    if (!f?.type) throw new Error(`sample of ${name} without a TYPE line`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`sample repeated: ${line}`);
    seen.add(key);
    f.samples.push({ name, labels, value: parseValue(parts[0]!, line) });
  }
  return families;
}

/** The value of one series, or undefined when it is absent. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Every series name the exposition declares (histograms as `_bucket`, `_sum`, `_count`). */
export function declaredSeries(families: Map<string, PromFamily>): Set<string> {
  const out = new Set<string>();
  for (const f of families.values()) {
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(f.name + s);
    else out.add(f.name);
  }
  return out;
}
