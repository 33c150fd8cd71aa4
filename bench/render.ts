/**
 * bench/RESULTS.md: a hand-written part (the command and the reading), kept as it is, and a
 * generated part between markers, rewritten from the latest results JSON. Pure.
 */
import { computeRatios, targets, type BenchResult, type CaseResult } from './stats.js';

export const GENERATED_START = '<!-- bench:generated:start -->';
export const GENERATED_END = '<!-- bench:generated:end -->';

const STUB = '# Benchmark results\n\n(The command and the reading of the numbers go here, by hand.)\n';

const n = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : x.toLocaleString('en-US').replace(/,/g, ' '));
const yes = (c: CaseResult): string => (c.ok ? 'yes' : `**no**${c.error ? ` (${c.error})` : ''}`);
const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;

function table(head: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['(not run)'];
  return [row(head), row(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(row)];
}

function pipelineRows(cases: CaseResult[]): string[][] {
  return cases.map((c) => {
    const ph = c.rss?.producer_phase_mb;
    return [
      n(c.docs),
      String(c.workers ?? '–'),
      yes(c),
      n(c.wall_s),
      n(c.docs_per_s),
      n(c.phases?.planning_s),
      n(c.phases?.shards_s),
      n(c.phases?.validation_s),
      `${n(c.shard_ms?.p50)} / ${n(c.shard_ms?.p95)}`,
      `${n(c.rss?.producer_monitor_mb)} (${n(ph?.planning)} / ${n(ph?.shards)} / ${n(ph?.validation)})`,
      (c.rss?.workers_mb ?? []).join(', ') || '–',
      n(c.rss?.server_mb),
      `${n(c.rss?.redis_used_mb)} / ${n(c.rss?.redis_peak_mb)}`,
      c.load ? `${c.load[0]} → ${c.load[1]}` : '–',
    ];
  });
}

export function renderGenerated(r: BenchResult): string {
  const of = (kind: string): CaseResult[] => r.cases.filter((c) => c.kind === kind);
  const ratios = computeRatios(r.cases);
  const lines = [
    `## Latest run: ${r.date}`,
    '',
    `- machine: ${r.machine.cpus} × ${r.machine.cpu_model}, ${r.machine.mem_gb} GB; load average (1 min) ${r.machine.load_start.join(' ')} at the start, ${r.machine.load_end.join(' ')} at the end (shared with other work)`,
    `- server: ${r.server.kind} ${r.server.version}${r.server.backend ? ` (${r.server.backend} backend)` : ''}; Redis ${r.redis.version}; Node ${r.node}; ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- command: \`${r.command.join(' ')}\``,
    '',
    '### Pipeline: `start --wait --local-workers=N` (producer + in-process monitor and validation, N worker processes)',
    '',
    'RSS in MB: the start process\'s peak (its highest sample while planning / running shards / validating); workers one figure each; server = the database server\'s highest sampled RSS; Redis = used_memory highest sampled / used_memory_peak of the server.',
    '',
    ...table(['docs', 'workers', 'ok', 'wall s', 'docs/s', 'planning s', 'shards s', 'validation s', 'shard ms p50 / p95', 'start MB (plan / shards / valid.)', 'workers MB', 'server MB', 'Redis MB', 'load'], pipelineRows(of('pipeline'))),
    '',
    '### Dry run and re-run (all hits)',
    '',
    ...table(
      ['case', 'docs', 'workers', 'ok', 'wall s', 'docs/s', 'planning s', 'shards s', 'validation s'],
      [...of('dry_run'), ...of('rerun')].map((c) => [c.kind, n(c.docs), String(c.workers ?? '–'), yes(c), n(c.wall_s), n(c.docs_per_s), n(c.phases?.planning_s), n(c.phases?.shards_s), n(c.phases?.validation_s)]),
    ),
    '',
    '### Raw limit (one process, no queue: identity scan + the write set in unordered bulks of 500, 4 in flight)',
    '',
    ...table(
      ['docs', 'ok', 'wall s', 'docs/s', 'scan s', 'compute s', 'write s', 'server MB'],
      of('raw').map((c) => [n(c.docs), yes(c), n(c.wall_s), n(c.docs_per_s), n(c.phases?.scan_s), n(c.phases?.compute_s), n(c.phases?.write_s), n(c.rss?.server_mb)]),
    ),
    '',
    '### Naive (cursor, a query per advisory, an upsert per edge and tombstone; stops after its time budget)',
    '',
    ...table(
      ['docs', 'ok', 'ran s', 'docs/s', 'docs done', 'partial', 'projected full run s'],
      of('naive').map((c) => [n(c.docs), yes(c), n(c.wall_s), n(c.docs_per_s), n(c.extra?.docs_covered as number), String(c.extra?.partial ?? '–'), n(c.extra?.projected_full_s as number | undefined)]),
    ),
    '',
    '### Ratios',
    '',
    `pipeline_over_raw ${ratios.pipeline_over_raw ?? 'null'}, pipeline_over_naive ${ratios.pipeline_over_naive ?? 'null'}, time_1m_over_100k ${ratios.time_1m_over_100k ?? 'null'}`,
    '',
    '### Targets of issue 8 (goals, not CI gates)',
    '',
    ...table(
      ['target', 'measured', 'met'],
      targets(r.cases, ratios).map((t) => [t.target, t.value, t.met === null ? 'n/a' : t.met ? 'yes' : 'no']),
    ),
  ];
  if (r.notes.length) lines.push('', '### Notes', '', ...r.notes.map((x) => `- ${x}`));
  return `${lines.join('\n')}\n`;
}

/** The whole file: the hand-written part of `existing` (or a stub) and the generated part. */
export function renderResultsMd(r: BenchResult, existing: string | null): string {
  const start = existing?.indexOf(GENERATED_START) ?? -1;
  const handWritten = existing === null ? STUB : start >= 0 ? existing.slice(0, start) : existing;
  return `${handWritten.trimEnd()}\n\n${GENERATED_START}\n${renderGenerated(r)}${GENERATED_END}\n`;
}
