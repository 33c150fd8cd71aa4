/** snapshot, restore: the edges and tombstones of a scope to a hashed file and back. */
import { restoreSnapshot, takeSnapshot } from '../../api/index.js';
import type { Command } from '../cli/command.js';

export const snapshot: Command = {
  name: 'snapshot',
  summary: 'export the edges and tombstones of a scope to a gzip JSONL file with its SHA-256 (<file>.sha256)',
  positionals: [{ name: 'run-or-tenant', description: "a run id or latest (that run's tenant, or every tenant), or a tenant" }],
  options: { out: { type: 'string', value: 'FILE', description: 'the file to write (default: .lnm/snapshots/snapshot-<tenant|all>-<UTC>.jsonl.gz)' } },
  async run(ctx) {
    const out = ctx.options.out as string | undefined;
    const r = await takeSnapshot(ctx.args[0]!, { config: ctx.cfg, log: ctx.log, ...(out ? { out } : {}) });
    const counts = Object.entries(r.counts).map(([c, n]) => `${n} ${c}`).join(', ');
    return { exitCode: 0, result: r, text: `snapshot of ${r.scope.tenant ?? 'every tenant'}: ${counts}\n${r.file}\nsha256 ${r.sha256} (${r.sha256_file})` };
  },
};

export const restore: Command = {
  name: 'restore',
  summary: "bring a scope's edges and tombstones back to a snapshot (checks its SHA-256 first; without --yes only shows what it would do)",
  positionals: [{ name: 'file', description: 'a snapshot file, with its <file>.sha256 next to it' }],
  options: { yes: { type: 'boolean', description: 'apply: remove what the snapshot lacks, insert what is missing' } },
  notes: ['Refused while an active run covers the scope, and when the file differs from its recorded SHA-256 (ERR_SNAPSHOT_HASH_MISMATCH).'],
  async run(ctx) {
    const r = await restoreSnapshot(ctx.args[0]!, { config: ctx.cfg, log: ctx.log, yes: ctx.options.yes === true });
    const per = (m: Record<string, number>) => Object.entries(m).map(([c, n]) => `${n} ${c}`).join(', ');
    const verb = r.applied ? 'restored' : 'would restore (pass --yes to apply)';
    const text = [
      `${verb} ${r.file} (sha256 ${r.sha256} verified) over ${r.scope.tenant ?? 'every tenant'}`,
      `  ${r.applied ? 'removed' : 'to remove'}: ${per(r.removed)}`,
      `  ${r.applied ? 'inserted' : 'to insert'}: ${per(r.inserted)}`,
      `  unchanged: ${per(r.unchanged)}`,
    ].join('\n');
    return { exitCode: 0, result: r, text };
  },
};
