/**
 * The evidence bundle of a run and its offline re-check: `writeEvidence` creates
 * `<LNM_ARTIFACTS_DIR>/aoc-supersedes/<UTC timestamp>/` (or the folder given) and fills it;
 * `verifyEvidence` re-checks a folder's SHA256SUMS and report hashes without a database;
 * `writeKitHashes` writes the offline-kit manifest (`kit hashes`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withConnections } from '../core/connections.js';
import { canonicalJson } from '../core/canonical-json.js';
import { ConfigError } from '../core/errors.js';
import { getRun, resolveRunRef } from '../core/store/runs.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { toolInfo } from '../core/tool-info.js';
import { checkRunFreezeWindow } from '../monitor/freeze-window.js';
import { writeEvidence as writeBundle, type EvidenceResult } from '../monitor/evidence/bundle.js';
import { verifyFolder, type VerifyResult } from '../monitor/evidence/sums.js';
import { kitHashes, type KitManifest } from '../producer/kit.js';
import { resolveOptions, type ApiOptions } from './context.js';

export type { EvidenceResult, VerifyResult, KitManifest };

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
    const freezeWindow = await checkRunFreezeWindow(conns, await getRun(conns.db, id));
    return writeBundle(conns.db, id, { folder, tool, commandLine: opts.commandLine ?? ['api:writeEvidence', id], scan: await resolveScan(conns.db, cfg.scan), freezeWindow });
  });
}

/** Re-check an evidence folder: sums of every file, no unlisted file, report hashes of evidence.json. */
export async function verifyEvidence(folder: string): Promise<VerifyResult> {
  return verifyFolder(path.resolve(folder));
}

export interface KitOptions extends ApiOptions {
  /** One tenant (default: every tenant). */
  tenant?: string | null;
  /** The run whose planned bundle to hash (id or latest; default: the newest run of the tenant scope). */
  runId?: string;
  /** Folder of kit-hashes.json (default LNM_ARTIFACTS_DIR/offline-kit). */
  outDir?: string;
}

export interface KitResult {
  file: string;
  /** SHA-256 of the file's bytes. */
  sha256: string;
  kit: KitManifest;
}

/** The offline-kit manifest: hashes of the in-scope advisory_raw and of a run's planned bundle. */
export async function writeKitHashes(opts: KitOptions = {}): Promise<KitResult> {
  const { cfg } = resolveOptions(opts);
  return withConnections(cfg, async (conns) => {
    const runId = opts.runId ? await resolveRunRef(conns.db, opts.runId) : undefined;
    const kit = await kitHashes(conns.db, { tenant: opts.tenant ?? null, scan: await resolveScan(conns.db, cfg.scan), ...(runId ? { runId } : {}) });
    const dir = path.resolve(opts.outDir ?? path.join(cfg.artifactsDir, 'offline-kit'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'kit-hashes.json');
    const bytes = `${canonicalJson(kit, 2)}\n`;
    writeFileSync(file, bytes);
    return { file, sha256: createHash('sha256').update(bytes).digest('hex'), kit };
  });
}
