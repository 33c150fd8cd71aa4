/**
 * The same corpus in another import order: advisories (tenant, vendor, upstream_id) in
 * reverse order of first appearance, each advisory's lines kept in their arrival order — the
 * reordering under which DESIGN §3 promises the same stored state (unlike a full reversal,
 * which also reverses revert arrivals).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export function advisoryReordered(lines: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const line of lines) {
    if (line.trim() === '') continue;
    const d = JSON.parse(line) as { tenant: string; source: { vendor: string }; upstream: { upstream_id: string } };
    const key = `${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}`;
    const g = groups.get(key) ?? [];
    g.push(line);
    groups.set(key, g);
  }
  return [...groups.values()].reverse().flat();
}

/** Write `file`'s lines advisory-reordered to `out`; returns `out`. */
export function writeAdvisoryReordered(file: string, out: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  writeFileSync(out, `${advisoryReordered(lines).join('\n')}\n`);
  return out;
}
