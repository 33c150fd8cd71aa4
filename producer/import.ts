/**
 * `import`: stream a JSONL(.gz) corpus through the AOC guard into `advisory_raw`, one
 * observation per accepted document. Batched, constant memory. A duplicate of the
 * idempotency key is an idempotency hit (counted), never an error; a rejected line
 * is written to the rejects file with its code and path — nothing is dropped silently.
 */
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { MongoBulkWriteError, type Db, type Document } from 'mongodb';
import type { Logger } from 'pino';
import { checkRawDocument, type RawDocument } from '../core/aoc-guard.js';
import { escapeKeys } from '../core/store/key-escape.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { sha256Hex } from '../core/supersedes.js';
import { InputError } from '../core/errors.js';

export interface ImportResult {
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
  rejects_file: string | null;
}

const BATCH = 500;
const DUPLICATE_KEY = 11000;

/** Deterministic raw `_id` from the idempotency key: re-imports collide instead of duplicating. */
export function rawIdFor(d: Pick<RawDocument, 'tenant' | 'source' | 'upstream'>): string {
  return sha256Hex(`${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}|${d.upstream.content_hash}`);
}

export function observationFor(raw: RawDocument & { _id: string; ingested_at: Date }): Document {
  return {
    _id: `obs-${raw._id}`,
    tenantId: raw.tenant,
    source: raw.source.vendor,
    advisoryId: raw.upstream.upstream_id,
    rawId: raw._id,
    documentSha: raw.upstream.content_hash,
    ingestedAt: raw.ingested_at,
  };
}

/** Unordered insert; returns how many were duplicates of an existing `_id`/unique key. */
async function insertIgnoringDuplicates(db: Db, coll: string, docs: Document[]): Promise<number> {
  if (docs.length === 0) return 0;
  try {
    await db.collection(coll).insertMany(docs, { ordered: false });
    return 0;
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    const other = errors.find((w) => w.code !== DUPLICATE_KEY);
    if (other) throw err;
    return errors.length;
  }
}

function openInput(file: string): NodeJS.ReadableStream {
  const stream = createReadStream(file);
  return file.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
}

export async function importCorpus(
  db: Db,
  file: string,
  opts: { rejectsFile?: string; homeDir: string; now?: Date },
  log: Logger,
): Promise<ImportResult> {
  await ensureIndexes(db);
  const result: ImportResult = { accepted: 0, duplicates: 0, rejected: {}, rejects_file: null };
  const rejectsPath = opts.rejectsFile ?? path.join(opts.homeDir, 'rejects', `${path.basename(file)}.${Date.now()}.rejects.jsonl`);
  let rejects: WriteStream | undefined;
  const reject = (line: number, code: string, p: string, message: string): void => {
    if (!rejects) {
      mkdirSync(path.dirname(rejectsPath), { recursive: true });
      rejects = createWriteStream(rejectsPath);
      result.rejects_file = rejectsPath;
    }
    rejects.write(`${JSON.stringify({ line, code, path: p, message })}\n`);
    result.rejected[code] = (result.rejected[code] ?? 0) + 1;
  };
  const ingestedAt = opts.now ?? new Date();
  let batch: Array<RawDocument & { _id: string; ingested_at: Date }> = [];
  const flush = async (): Promise<void> => {
    const dups = await insertIgnoringDuplicates(db, COLL.raw, batch);
    result.duplicates += dups;
    result.accepted += batch.length - dups;
    // Observations for every accepted-or-duplicate document: a re-import repairs a missing one.
    await insertIgnoringDuplicates(db, COLL.observations, batch.map(observationFor));
    batch = [];
  };
  const input = openInput(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  input.on('error', (err) => lines.emit('error', new InputError(file, `cannot read after line ${n}: ${err.message}`)));
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      reject(n, 'ERR_INPUT_JSON', `line ${n}`, (err as Error).message);
      continue;
    }
    const checked = checkRawDocument(parsed);
    if (!checked.ok) {
      reject(n, checked.rejection.code, checked.rejection.path, checked.rejection.message);
      continue;
    }
    const doc = checked.doc;
    batch.push({ ...doc, content: escapeKeys(doc.content), _id: rawIdFor(doc), ingested_at: doc.ingested_at ?? ingestedAt });
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  const r = rejects;
  if (r) await new Promise<void>((resolve, reject) => r.end((err?: Error | null) => (err ? reject(err) : resolve())));
  log.info({ file, ...result }, 'import finished');
  return result;
}
