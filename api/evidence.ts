/**
 * The evidence bundle of a run and its offline re-check: `writeEvidence` creates
 * `<LNM_ARTIFACTS_DIR>/aoc-supersedes/<UTC timestamp>/` (or the folder given) and fills it;
 * `verifyEvidence` re-checks a folder's SHA256SUMS and report hashes without a database.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { withConnections } from '../core/connections.js';
import { ConfigError } from '../core/errors.js';
import { resolveRunRef } from '../core/store/runs.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { toolInfo } from '../core/tool-info.js';
import { writeEvidence as writeBundle, type EvidenceResult } from '../monitor/evidence/bundle.js';
import { verifyFolder, type VerifyResult } from '../monitor/evidence/sums.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { EvidenceResult, VerifyResult };

export interface EvidenceOptions extends ApiOptions {
  /** Write into this folder (created; it must be empty) instead of a new timestamped one. */
  outDir?: string;
  /** The command line recorded as the evidence command (default: this API call). */
  commandLine?: string[];
}

/** `20261129T051503Z`: the UTC timestamp naming a bundle folder. */
export function utcStamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** Create the bundle folder: the given one if new or empty, else a new timestamped one. */
function makeFolder(base: string, outDir: string | undefined, now: Date): string {
  if (outDir) {
    const dir = path.resolve(outDir);
    mkdirSync(dir, { recursive: true });
    if (readdirSync(dir).length > 0) throw new ConfigError('--out', `${dir} is not empty: an evidence folder holds only its own files`);
    return dir;
  }
  const parent = path.join(base, 'aoc-supersedes');
  mkdirSync(parent, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = path.join(parent, n === 1 ? utcStamp(now) : `${utcStamp(now)}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export async function writeEvidence(runId: string, opts: EvidenceOptions = {}): Promise<EvidenceResult> {
  const { cfg } = resolveOptions(opts);
  const tool = await toolInfo();
  return withConnections(cfg, async (conns) => {
    const id = await resolveRunRef(conns.db, runId);
    const folder = makeFolder(cfg.artifactsDir, opts.outDir, new Date());
    return writeBundle(conns.db, id, { folder, tool, commandLine: opts.commandLine ?? ['api:writeEvidence', id], scan: await resolveScan(conns.db, cfg.scan) });
  });
}

/** Re-check an evidence folder: sums of every file, no unlisted file, report hashes of evidence.json. */
export async function verifyEvidence(folder: string): Promise<VerifyResult> {
  return verifyFolder(path.resolve(folder));
}
