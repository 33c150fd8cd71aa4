/**
 * `snapshot`: the current `advisory_supersedes` and `advisory_observation_tombstones` of a
 * scope (one tenant, or every tenant) in a gzip-compressed JSONL file, with its SHA-256 in
 * `<file>.sha256` (the `sha256sum` format: `sha256sum -c` checks it). The fallback the
 * runbook names when a rollback fails: `restore` (producer/restore.ts) brings exactly this
 * state back.
 *
 * Format (version 1), one JSON object per line:
 *   line 1, the header: { format: "lnm-backfill-snapshot", version: 1, scope: { tenant, run_id },
 *                         counts: { <collection>: n, ... }, created_at }
 *   then one line per document: { coll: <collection>, doc: <the stored document> }
 * Documents are read without promoting BSON numbers to JS numbers (`promoteValues: false`)
 * and written as canonical Extended JSON, so dates, ObjectIds and number types (an int32
 * stays an int32, a double 5.0 a double) come back as they were stored. The counts are
 * taken first and the streamed documents must match them: a scope that changes while it
 * is written (a run writing) fails the snapshot instead of leaving an inconsistent file.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BSON, type Db, type Document } from 'mongodb';
import type { Logger } from 'pino';
import { COLL } from '../core/store/collections.js';
import { LnmError } from '../core/errors.js';
import { getRun, LATEST, resolveRunRef } from '../core/store/runs.js';
import { parseTenantOption } from '../core/tenant.js';
import { LineSplitter, type InputLine } from './line-reader.js';

export const SNAPSHOT_FORMAT = 'lnm-backfill-snapshot';
export const SNAPSHOT_VERSION = 1;
/** The collections a snapshot holds, in file order. */
export const SNAPSHOT_COLLECTIONS = [COLL.supersedes, COLL.tombstones] as const;
export type SnapshotCollection = (typeof SNAPSHOT_COLLECTIONS)[number];
/** A document line is at most 16 MiB of BSON; its Extended JSON can be longer. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface SnapshotScope {
  /** null: every tenant. */
  tenant: string | null;
  /** The run the scope was taken from, if any (informative). */
  run_id: string | null;
}

export interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  scope: SnapshotScope;
  counts: Record<SnapshotCollection, number>;
  created_at: string;
}

export interface SnapshotResult {
  file: string;
  sha256_file: string;
  sha256: string;
  scope: SnapshotScope;
  counts: Record<SnapshotCollection, number>;
}

/**
 * `latest` or a run id: that run's scope (its tenant, or every tenant); anything else is a
 * tenant. `{ tenant }` names the scope directly (null: every tenant).
 */
export async function resolveScope(db: Db, ref: string | { tenant: string | null }): Promise<SnapshotScope> {
  if (typeof ref !== 'string') return { tenant: ref.tenant, run_id: null };
  if (ref === LATEST || ref.startsWith('run-')) {
    const run = await getRun(db, await resolveRunRef(db, ref));
    return { tenant: run.tenant, run_id: run._id };
  }
  return { tenant: parseTenantOption(ref, 'tenant'), run_id: null };
}

/** `<home>/snapshots/snapshot-<tenant or all>-<UTC stamp>.jsonl.gz`. */
export function defaultSnapshotFile(homeDir: string, scope: SnapshotScope, now = new Date()): string {
  const label = (scope.tenant ?? 'all').replace(/[^A-Za-z0-9._-]/g, '_');
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return path.join(homeDir, 'snapshots', `snapshot-${label}-${stamp}.jsonl.gz`);
}

export function scopeFilter(scope: Pick<SnapshotScope, 'tenant'>): Document {
  return scope.tenant === null ? {} : { tenant: scope.tenant };
}

export async function sha256OfFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const shaFileOf = (file: string): string => `${file}.sha256`;

const invalid = (file: string, message: string, cause?: unknown): LnmError =>
  new LnmError('ERR_SNAPSHOT_INVALID', `${file}: ${message}`, { path: file, unrecoverable: true, ...(cause === undefined ? {} : { cause }) });

/** Write the scope's documents to `file` (gzip JSONL) and its SHA-256 next to it. */
export async function writeSnapshot(db: Db, scope: SnapshotScope, file: string, log: Logger): Promise<SnapshotResult> {
  const filter = scopeFilter(scope);
  const counts = {} as Record<SnapshotCollection, number>;
  for (const c of SNAPSHOT_COLLECTIONS) counts[c] = await db.collection(c).countDocuments(filter);
  const header: SnapshotHeader = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, scope, counts, created_at: new Date().toISOString() };

  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  const gzip = createGzip();
  gzip.pipe(out);
  const put = async (line: string): Promise<void> => {
    if (!gzip.write(`${line}\n`)) await once(gzip, 'drain');
  };
  try {
    await put(JSON.stringify(header));
    for (const coll of SNAPSHOT_COLLECTIONS) {
      let n = 0;
      for await (const doc of db.collection(coll).find(filter, { promoteValues: false })) {
        await put(`{"coll":${JSON.stringify(coll)},"doc":${BSON.EJSON.stringify(doc, { relaxed: false })}}`);
        n++;
      }
      if (n !== counts[coll]) {
        throw new LnmError('ERR_SNAPSHOT_CHANGED', `${coll} changed while the snapshot was written (${counts[coll]} counted, ${n} read): is a run writing? take it again`, {
          path: coll,
        });
      }
    }
    gzip.end();
    await finished(out);
  } catch (err) {
    gzip.destroy();
    out.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  await rename(partial, file);
  const sha256 = await sha256OfFile(file);
  await writeFile(shaFileOf(file), `${sha256}  ${path.basename(file)}\n`);
  log.info({ file, sha256, scope, counts }, 'snapshot written');
  return { file, sha256_file: shaFileOf(file), sha256, scope, counts };
}

/** The hash recorded next to `file`; refuses a file whose bytes no longer match it. */
export async function verifySnapshotHash(file: string): Promise<string> {
  let recorded: string;
  try {
    const text = await readFile(shaFileOf(file), 'utf8');
    recorded = text.trim().split(/\s+/)[0] ?? '';
  } catch (err) {
    throw invalid(file, `its hash file ${shaFileOf(file)} cannot be read`, err);
  }
  if (!/^[0-9a-f]{64}$/.test(recorded)) throw invalid(file, `${shaFileOf(file)} holds no SHA-256`);
  let actual: string;
  try {
    actual = await sha256OfFile(file);
  } catch (err) {
    throw invalid(file, 'cannot be read', err);
  }
  if (actual !== recorded) {
    throw new LnmError('ERR_SNAPSHOT_HASH_MISMATCH', `${file}: SHA-256 ${actual} differs from the recorded ${recorded}: the file was modified or truncated; restore refused`, {
      path: file,
      unrecoverable: true,
      details: { recorded, actual },
    });
  }
  return actual;
}

export type SnapshotLine = { header: SnapshotHeader } | { coll: SnapshotCollection; doc: Document };

/** The file's lines: the header first (checked), then each document (streamed). */
export async function* readSnapshot(file: string): AsyncGenerator<SnapshotLine> {
  const lines = new LineSplitter(MAX_LINE_BYTES);
  let n = 0;
  const parse = (line: InputLine): SnapshotLine | undefined => {
    if ('tooLong' in line) throw invalid(file, `line ${line.n} is too long`);
    const text = line.bytes.toString('utf8');
    if (text.trim() === '') return undefined;
    n++;
    try {
      if (n === 1) {
        const header = JSON.parse(text) as SnapshotHeader;
        if (header.format !== SNAPSHOT_FORMAT || header.version !== SNAPSHOT_VERSION) throw new Error(`not a ${SNAPSHOT_FORMAT} version ${SNAPSHOT_VERSION} header`);
        return { header };
      }
      const { coll, doc } = BSON.EJSON.parse(text, { relaxed: false }) as { coll: SnapshotCollection; doc: Document };
      if (!SNAPSHOT_COLLECTIONS.includes(coll) || typeof doc !== 'object' || doc === null) throw new Error('not a document line');
      return { coll, doc };
    } catch (err) {
      throw invalid(file, `line ${line.n}: ${(err as Error).message}`, err);
    }
  };
  // Always gzip, whatever the file is called.
  const raw = createReadStream(file);
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  try {
    for await (const chunk of raw.pipe(gunzip) as AsyncIterable<Buffer>) {
      for (const line of lines.push(chunk)) {
        const l = parse(line);
        if (l) yield l;
      }
    }
    for (const line of lines.end()) {
      const l = parse(line);
      if (l) yield l;
    }
  } catch (err) {
    if (err instanceof LnmError && err.code === 'ERR_SNAPSHOT_INVALID') throw err;
    throw invalid(file, `cannot be read to its end: ${(err as Error).message}`, err);
  } finally {
    gunzip.destroy();
    raw.destroy();
  }
  if (n === 0) throw invalid(file, 'is empty');
}
