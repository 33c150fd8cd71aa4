/**
 * `import`: stream a JSONL(.gz) corpus through the AOC guard into `advisory_raw`, one
 * observation per stored document. Batched (count and bytes), constant memory. A duplicate
 * of the idempotency key is an idempotency hit (counted), never an error.
 *
 * One bad line never aborts an import: it is rejected with its stable code, path and line
 * number into the rejects file, and everything valid is imported. Line by line: over the
 * line limit, not UTF-8 (decoded with a fatal decoder, never U+FFFD), not JSON, refused by
 * the AOC guard, over the 16 MiB BSON limit, or refused by the server (import-batch.ts).
 * A file that cannot be opened or read to its end (missing, truncated gzip) is an
 * InputError (ERR_INPUT, path = the file) after the complete lines before the damage are
 * imported, with the cut-off line in the rejects file as ERR_INPUT_TRUNCATED.
 *
 * Refused while ingest is frozen (checked before the first and every later batch), and
 * every new observation gets its outbox row (an `advisory.observation.updated` event).
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { BSON, type Db, type Document } from 'mongodb';
import type { Logger } from 'pino';
import { checkRawDocument, type RawDocument } from '../core/aoc-guard.js';
import { escapeKeys } from '../core/store/key-escape.js';
import { COLL, ensureIndexes } from '../core/store/collections.js';
import { assertIngestEnabled } from '../core/store/flags.js';
import { observationFor } from '../core/store/observations.js';
import { importEventRow, insertOutboxRows } from '../core/store/outbox.js';
import { sha256Hex } from '../core/supersedes.js';
import { IMPORT_CODES, InputError } from '../core/errors.js';
import { insertEach, nextStamp, type Status } from './import-batch.js';
import { LineSplitter, openInput, type InputLine } from './line-reader.js';

export interface ImportResult {
  /** Lines read (blank lines included). */
  lines: number;
  accepted: number;
  duplicates: number;
  /** Duplicates fetched earlier than the stored copy (DESIGN §3): the input is not in time order. */
  out_of_order_duplicates: number;
  /** The first of them (up to OUT_OF_ORDER_SAMPLE), in line order within each checked chunk. */
  out_of_order_sample: OutOfOrderDuplicate[];
  rejected: Record<string, number>;
  rejects_file: string | null;
}

/**
 * A line whose content the raw store already holds with a later `fetched_at`: the store
 * keeps the first arrival, so the stored chain departs from the upstream's time order.
 */
export interface OutOfOrderDuplicate {
  line: number;
  tenant: string;
  vendor: string;
  upstream_id: string;
  content_hash: string;
  /** The line's `fetched_at` (ISO). */
  fetched_at: string;
  /** The stored duplicate's `fetched_at` (ISO), later than the line's. */
  stored_fetched_at: string;
}

export const OUT_OF_ORDER_SAMPLE = 20;
const BATCH = 500;
/** A batch is flushed before it holds this many BSON bytes. */
const BATCH_BYTES = 16 * 1024 * 1024;
/** MongoDB's document size limit (FerretDB does not enforce it; the importer does). */
export const MAX_BSON_BYTES = 16 * 1024 * 1024;
/** The JSON text of a document under 16 MiB of BSON can be longer (escapes): lines up to 64 MiB are read. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
/**
 * Duplicates whose arrival order is checked together, in one `_id $in` read: an index
 * lookup on MongoDB; on FerretDB 1.24 every read is a full scan (its `_id` filter is a
 * jsonb containment the btree index cannot serve: ~300 ms per point read at 30 k
 * documents), so the check reads the collection once per this many duplicates, not once
 * per duplicate.
 */
const ORDER_CHECK_CHUNK = 10_000;

type StoredRaw = RawDocument & { _id: string; ingested_at: Date };
interface Pending {
  line: number;
  doc: StoredRaw;
}

/** Deterministic raw `_id` from the idempotency key: re-imports collide instead of duplicating. */
export function rawIdFor(d: Pick<RawDocument, 'tenant' | 'source' | 'upstream'>): string {
  return sha256Hex(`${d.tenant}|${d.source.vendor}|${d.upstream.upstream_id}|${d.upstream.content_hash}`);
}

/** The rejects file, opened on the first rejection; one JSON line per rejected input line. */
class Rejects {
  private out: WriteStream | undefined;
  constructor(private readonly file: string, private readonly result: ImportResult) {}

  async add(line: number, code: string, p: string, message: string): Promise<void> {
    if (!this.out) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.out = createWriteStream(this.file);
      this.result.rejects_file = this.file;
    }
    this.result.rejected[code] = (this.result.rejected[code] ?? 0) + 1;
    if (!this.out.write(`${JSON.stringify({ line, code, path: p, message })}\n`)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    const out = this.out;
    if (out) await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

export async function importCorpus(db: Db, file: string, opts: { rejectsFile?: string; homeDir: string }, log: Logger): Promise<ImportResult> {
  await assertIngestEnabled(db);
  await ensureIndexes(db);
  // Opened last before reading: nothing can fail between the open and the read that closes it.
  const input = await openInput(file);
  const result: ImportResult = { lines: 0, accepted: 0, duplicates: 0, out_of_order_duplicates: 0, out_of_order_sample: [], rejected: {}, rejects_file: null };
  const rejects = new Rejects(opts.rejectsFile ?? path.join(opts.homeDir, 'rejects', `${path.basename(file)}.${Date.now()}.rejects.jsonl`), result);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const raw = db.collection<{ _id: string } & Document>(COLL.raw);
  let batch: Pending[] = [];
  let batchBytes = 0;
  let stamp: Date | undefined;
  /** Identity of each pending duplicate only (never the document: up to ORDER_CHECK_CHUNK of them wait). */
  let dups: Array<{ id: string; fetched: number; sample: Omit<OutOfOrderDuplicate, 'fetched_at' | 'stored_fetched_at'> }> = [];
  let seq = 0;

  /** Count the pending duplicates fetched earlier than their stored copy (DESIGN §3). */
  const checkOrder = async (): Promise<void> => {
    if (dups.length === 0) return;
    const pending = dups;
    dups = [];
    const stored = new Map<string, number>();
    const ids = [...new Set(pending.map((d) => d.id))];
    for await (const d of raw.find({ _id: { $in: ids } }, { projection: { 'upstream.fetched_at': 1 } })) {
      const at = d.upstream?.fetched_at;
      if (at instanceof Date) stored.set(d._id, at.getTime());
    }
    for (const d of pending) {
      const at = stored.get(d.id);
      if (at === undefined || d.fetched >= at) continue;
      result.out_of_order_duplicates++;
      if (result.out_of_order_sample.length >= OUT_OF_ORDER_SAMPLE) continue;
      result.out_of_order_sample.push({ ...d.sample, fetched_at: new Date(d.fetched).toISOString(), stored_fetched_at: new Date(at).toISOString() });
    }
  };

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await assertIngestEnabled(db);
    const items = batch;
    batch = [];
    batchBytes = 0;
    stamp = nextStamp(stamp);
    for (const it of items) it.doc.ingested_at = stamp;
    const statuses: Status[] = await insertEach(raw, items.map((i) => i.doc), 'ingested_at', stamp);
    const stored = items.flatMap((_item, i) => (statuses[i] === 'inserted' || statuses[i] === 'duplicate' ? [i] : []));
    const observations = stored.map((i) => observationFor(items[i]!.doc));
    const at = new Date();
    const rows = (keep: (i: number, k: number) => boolean) =>
      stored.flatMap((i, k) => (keep(i, k) ? [importEventRow(items[i]!.doc, observations[k]!, at, seq + i)] : []));
    // Rows of the new raw documents go in before their observations: after a crash in
    // between, the re-import repairs the observations and finds the rows already there.
    await insertOutboxRows(db, rows((i) => statuses[i] === 'inserted'));
    const observed = await insertEach(db.collection<{ _id: string } & Document>(COLL.observations), observations, 'ingestedAt', stamp);
    await insertOutboxRows(db, rows((i, k) => statuses[i] === 'duplicate' && observed[k] === 'inserted'));
    seq += items.length;
    for (const [k, i] of stored.entries()) {
      const o = observed[k]!;
      if (typeof o === 'string') continue;
      // Never a raw document without its observation: take back the one this batch stored.
      if (statuses[i] === 'inserted') await raw.deleteOne({ _id: items[i]!.doc._id, ingested_at: stamp });
      statuses[i] = { refused: `observation: ${o.refused}` };
    }
    for (const [i, s] of statuses.entries()) {
      const { line, doc } = items[i]!;
      if (s === 'inserted') result.accepted++;
      else if (s === 'duplicate') {
        result.duplicates++;
        const u = doc.upstream;
        const sample = { line, tenant: doc.tenant, vendor: doc.source.vendor, upstream_id: u.upstream_id, content_hash: u.content_hash };
        dups.push({ id: doc._id, fetched: u.fetched_at.getTime(), sample });
      } else await rejects.add(line, IMPORT_CODES.REFUSED, '$', s.refused);
    }
    if (dups.length >= ORDER_CHECK_CHUNK) await checkOrder();
  };

  const take = async (line: InputLine): Promise<void> => {
    result.lines = line.n;
    if ('tooLong' in line) {
      return rejects.add(line.n, IMPORT_CODES.LINE_TOO_LONG, '$', `${line.tooLong} bytes > ${MAX_LINE_BYTES}; skipped unread`);
    }
    let text: string;
    try {
      text = utf8.decode(line.bytes);
    } catch {
      return rejects.add(line.n, IMPORT_CODES.UTF8, '$', 'the line is not valid UTF-8');
    }
    if (text.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return rejects.add(line.n, IMPORT_CODES.JSON, '$', (err as Error).message);
    }
    const checked = checkRawDocument(parsed);
    if (!checked.ok) return rejects.add(line.n, checked.rejection.code, checked.rejection.path, checked.rejection.message);
    const doc: StoredRaw = { _id: rawIdFor(checked.doc), ...checked.doc, content: escapeKeys(checked.doc.content), ingested_at: new Date(0) };
    const bytes = BSON.calculateObjectSize(doc);
    if (bytes > MAX_BSON_BYTES) return rejects.add(line.n, IMPORT_CODES.TOO_LARGE, '$', `${bytes} bytes of BSON > ${MAX_BSON_BYTES}`);
    if (batchBytes + bytes > BATCH_BYTES) await flush();
    batch.push({ line: line.n, doc });
    batchBytes += bytes;
    if (batch.length >= BATCH) await flush();
  };

  const lines = new LineSplitter(MAX_LINE_BYTES);
  let readError: InputError | undefined;
  try {
    for await (const chunk of input) for (const line of lines.push(chunk)) await take(line);
    for (const line of lines.end()) await take(line);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    readError = err;
  }
  await flush();
  await checkOrder();
  if (readError) {
    const cut = lines.partial() ?? { line: result.lines + 1, bytes: 0 };
    await rejects.add(cut.line, IMPORT_CODES.TRUNCATED, '$', `input ends after ${cut.bytes} byte(s) of this line: ${readError.message}`);
  }
  await rejects.close();
  if (readError) {
    const reason = readError.message.replace(`${file}: `, '');
    throw new InputError(
      file,
      `cannot read past line ${result.lines} (${reason}); the complete lines before were imported ` +
        `(${result.accepted} accepted, ${result.duplicates} duplicate(s)); fix the file and import it again (idempotent)`,
      { details: { result }, cause: readError },
    );
  }
  if (result.out_of_order_duplicates > 0) {
    log.warn(
      { file, out_of_order_duplicates: result.out_of_order_duplicates, first: result.out_of_order_sample[0] },
      'lines older than their stored duplicate: the raw store kept the first arrival, so its history departs from the upstream time order',
    );
  }
  log.info({ file, ...result, out_of_order_sample: undefined }, 'import finished');
  return result;
}
