/**
 * Where a process's CPU time goes, from V8 `.cpuprofile` files (`node --cpu-prof`):
 *   node dist/bench/profile.js <dir or file>... [--top=15]
 * Self time is summed per category (the package or part of Node a frame belongs to) and per
 * function; `(idle)` is time the process waited on I/O (the database, Redis).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The category of a frame: a package under node_modules, our compiled code, Node itself, or V8's pseudo-frames. */
export function category(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0]!;
  const ours = /\/dist\/([^/]+)\//.exec(url);
  return ours ? `lnm:${ours[1]}` : url;
}

export interface ProfileSummary {
  totalMs: number;
  byCategory: Array<{ name: string; ms: number; pct: number }>;
  byFunction: Array<{ name: string; ms: number; pct: number }>;
}

/** Self time per category and per function over one or more profiles. */
export function summarize(profiles: CpuProfile[], top = 15): ProfileSummary {
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const us = p.timeDeltas[i] ?? 0;
      const node = byId.get(id);
      if (!node || us <= 0) return;
      const { functionName, url, lineNumber } = node.callFrame;
      const cat = category(url, functionName);
      total += us;
      cats.set(cat, (cats.get(cat) ?? 0) + us);
      const fn = `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''} [${cat}]`;
      fns.set(fn, (fns.get(fn) ?? 0) + us);
    });
  }
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: total ? Math.round((1000 * us) / total) / 10 : 0 }));
  return { totalMs: Math.round(total / 1000), byCategory: rank(cats), byFunction: rank(fns) };
}

function profileFiles(arg: string): string[] {
  if (!statSync(arg).isDirectory()) return [arg];
  return readdirSync(arg).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(arg, f));
}

function main(argv: string[]): void {
  const topArg = argv.find((a) => a.startsWith('--top='));
  const top = topArg ? Number(topArg.slice(6)) : 15;
  const files = argv.filter((a) => !a.startsWith('--')).flatMap(profileFiles);
  if (files.length === 0) throw new Error('usage: node dist/bench/profile.js <dir or .cpuprofile>... [--top=15]');
  for (const f of files) {
    const s = summarize([JSON.parse(readFileSync(f, 'utf8')) as CpuProfile], top);
    console.log(`\n${f}: ${s.totalMs} ms sampled`);
    console.log('  by category:');
    for (const c of s.byCategory) console.log(`    ${String(c.pct).padStart(5)} %  ${String(c.ms).padStart(7)} ms  ${c.name}`);
    console.log('  by function (self time):');
    for (const c of s.byFunction) console.log(`    ${String(c.pct).padStart(5)} %  ${String(c.ms).padStart(7)} ms  ${c.name}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
