/**
 * `import`: stream a JSONL(.gz) corpus through the AOC guard into `advisory_raw`, one
 * observation per accepted document. Batched, constant memory. A duplicate of the
 * idempotency key is an idempotency hit (counted), never an error; a rejected line
 * is written to the rejects file with its code and path — nothing is dropped silently.
 * Refused while ingest is frozen (checked before the first and every later batch), and
 * every new observation gets its outbox row (an `advisory.observation.updated` event).
 */
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { checkRawDocument, type RawDocument } from '../core/aoc-guard.js';
import { escapeKeys } from '../core/store/key-escape.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { assertIngestEnabled } from '../core/store/flags.js';
import { insertNew } from '../core/store/insert-new.js';
import { observationFor, type ObservationDoc } from '../core/store/observations.js';
import { importEventRow, insertOutboxRows } from '../core/store/outbox.js';
import { sha256Hex } from '../core/supersedes.js';
import { InputError } from '../core/errors.js';

export interface ImportResult {
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
  rejects_file: string | null;
}

const BATCH = 500;

/** Deterministic raw `_id` from the idempotency key: re-imports collide instead of duplicating. */
export function rawIdFor(d: Pick<RawDocument, 'tenant' | 'source' | 'upstream'>): string {
  return sha256Hex(`${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}|${d.upstream.content_hash}`);
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
  await assertIngestEnabled(db);
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
  let seq = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await assertIngestEnabled(db);
    const raw = await insertNew(db.collection<RawDocument>(COLL.raw), batch);
    result.duplicates += raw.duplicates.size;
    result.accepted += raw.inserted;
    const at = new Date();
    const observations = batch.map(observationFor);
    const rows = (keep: (i: number) => boolean) =>
      batch.flatMap((d, i) => (keep(i) ? [importEventRow(d, observations[i]!, at, seq + i)] : []));
    // Rows of the new raw documents go in before their observations: after a crash in
    // between, the re-import repairs the observations and finds the rows already there.
    await insertOutboxRows(db, rows((i) => !raw.duplicates.has(i)));
    // Observations for every accepted-or-duplicate document: a re-import repairs a missing one.
    const obs = await insertNew(db.collection<ObservationDoc>(COLL.observations), observations);
    await insertOutboxRows(db, rows((i) => raw.duplicates.has(i) && !obs.duplicates.has(i)));
    seq += batch.length;
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
