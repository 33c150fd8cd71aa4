/**
 * The benchmark's command line (pure):
 *   npm run bench [-- --sizes=10000,100000 --workers=1,2 --with-1m --batch-size=500
 *                    --naive-max-docs=10000 --naive-budget-s=300 --cases=pipeline,dry_run,rerun,raw,naive --append]
 */
import type { CaseKind } from './stats.js';

export interface BenchArgs {
  sizes: number[];
  workers: number[];
  batchSize: number;
  /** Naive runs only at sizes up to this (it is quadratic on FerretDB). */
  naiveMaxDocs: number;
  /** The naive case stops after this many seconds and reports its rate so far. */
  naiveBudgetS: number;
  cases: CaseKind[];
  /** Add these cases to today's results file instead of starting a new one (same kind, size and workers replaced). */
  append: boolean;
}

const ALL_CASES: CaseKind[] = ['raw', 'pipeline', 'dry_run', 'rerun', 'naive'];

function positiveList(name: string, v: string): number[] {
  const xs = v.split(',').map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--${name}: expected positive integers separated by commas, got "${v}"`);
  return xs;
}

function positive(name: string, v: string): number {
  return positiveList(name, v)[0]!;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { sizes: [10_000, 100_000], workers: [1, 2], batchSize: 500, naiveMaxDocs: 10_000, naiveBudgetS: 300, cases: ALL_CASES, append: false };
  let with1m = false;
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}" (options are --name=value)`);
    const [, name, value] = m as unknown as [string, string, string | undefined];
    if ((name === 'with-1m' || name === 'append') && value === undefined) {
      if (name === 'with-1m') with1m = true;
      else a.append = true;
      continue;
    }
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (name === 'sizes') a.sizes = positiveList(name, value);
    else if (name === 'workers') a.workers = positiveList(name, value);
    else if (name === 'batch-size') a.batchSize = positive(name, value);
    else if (name === 'naive-max-docs') a.naiveMaxDocs = positive(name, value);
    else if (name === 'naive-budget-s') a.naiveBudgetS = positive(name, value);
    else if (name === 'cases') {
      const cs = value.split(',') as CaseKind[];
      const bad = cs.filter((c) => !ALL_CASES.includes(c));
      if (bad.length) throw new Error(`--cases: unknown ${bad.join(', ')} (known: ${ALL_CASES.join(', ')})`);
      a.cases = cs;
    } else throw new Error(`unknown option --${name}`);
  }
  if (with1m && !a.sizes.includes(1_000_000)) a.sizes = [...a.sizes, 1_000_000];
  a.sizes = [...new Set(a.sizes)].sort((x, y) => x - y);
  a.workers = [...new Set(a.workers)].sort((x, y) => x - y);
  return a;
}
